"""Grid market maker figures on the simulator: ``naive`` vs ``fixed`` on the same seeded markets.

For every scenario and seed, both modes quote the same market (same seed, same scenario: the
fair value's path is identical; the book differs only where their own orders touch it) and print:

- fills per simulated day; average fill PnL (spread capture at the fill plus fees) in USD and bps;
- markout-adjusted PnL per $1M of volume (each fill marked to the mid 60 s later, minus fees);
- total PnL (spread capture + inventory + fees + funding) per simulated hour;
- time-weighted and maximum |inventory| as a fraction of the limit; quote uptime; pause time.

The grid's own decisions (``strategies.grid.quoter.GridQuoter``) run against the simulator's
matching engine in one synchronous loop: the market steps every 0.1 s, the bot sees the book and
its fills at each step, and what it sends reaches the engine at the next step (0.1 s, more than
the venue profile's order and cancel round trips), so a quote can be run over before its cancel
lands. The bot wakes on a new best bid/ask, a fill or an order that ended, and once a second.
No asyncio and no journal: this measures the strategy, fast enough for many markets.

    .venv/bin/python bench/grid.py [--seeds 3] [--hours 1] [--scenarios quiet,trending_up,...]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import time
from dataclasses import dataclass

from core.errors import OrderRejected
from core.types import ZERO, Fill, Side
from exchanges.sim.world import SimWorld
from strategies.grid.params import GridParams, scenarios
from strategies.grid.quoter import Cancel, GridQuoter, Note, OpenQuote, Place

MARKOUT_S = 60.0
STEP = 0.1


@dataclass
class Figures:
    mode: str
    scenario: str
    seed: int
    hours: float
    fills: int
    volume: float
    fill_pnl: float  # spread capture + fees (USD), summed
    markout_pnl: float  # per fill: side * (mid 60 s later - price) * size - fee, summed
    total_pnl: float
    spread: float
    inventory_pnl: float
    fees: float
    tw_abs_q: float  # time-weighted |position| / limit
    max_abs_q: float
    uptime: float  # share of the time with a quote resting
    paused_s: float
    pauses: int
    requotes: dict[str, int]
    wall_s: float

    @property
    def fills_per_day(self) -> float:
        return self.fills / self.hours * 24

    @property
    def avg_fill_usd(self) -> float:
        return self.fill_pnl / self.fills if self.fills else 0.0

    @property
    def avg_fill_bps(self) -> float:
        return self.fill_pnl / self.volume * 1e4 if self.volume else 0.0

    @property
    def markout_per_1m(self) -> float:
        return self.markout_pnl / self.volume * 1e6 if self.volume else 0.0


def simulate(p: GridParams, hours: float, warmup: float = 300.0) -> Figures:
    """Run the grid ``p`` for ``hours`` of market on the simulator; figures of the run."""
    t_wall = time.perf_counter()
    world = SimWorld(venues=(p.venue,), symbols=(p.symbol,), seed=p.seed, regime=p.scenario, warmup=warmup)
    ex = world.exchanges[p.venue]
    ins = ex.slots[p.symbol].instrument
    market = ex.slots[p.symbol].market  # others' book: the strategy takes its own orders out of the book
    q = GridQuoter(p, ins)
    sym = p.symbol
    position = ZERO
    opened: dict[str, tuple[str, Side]] = {}  # client_id -> (tag, side) of orders we believe open
    cancelling: set[str] = set()
    outbox: list[Place | Cancel] = []
    n_fill = 0
    seq = 0
    marks: list[tuple[float, float]] = []  # (t, mid) once a second, for markouts
    fills: list[Fill] = []
    abs_q_time = 0.0
    max_abs_q = 0.0
    t0 = world.t
    last_state: tuple | None = None
    last_call = float("-inf")
    end = t0 + hours * 3600
    while world.t < end:
        world.run_for(STEP)
        t = world.t
        # what the bot sent at the previous step reaches the engine now
        for a in outbox:
            if isinstance(a, Cancel):
                with contextlib.suppress(OrderRejected):
                    ex.cancel(sym, None, a.client_id, t)
            else:
                seq += 1
                cid = f"g{seq}"
                try:
                    ex.place_limit(sym, a.side, a.price, a.size, cid, True, False, t)
                    opened[cid] = (a.tag, a.side)
                    q.placed_order(cid, a, t, (market.best_bid + market.best_ask) * ins.tick / 2)
                except OrderRejected:
                    pass
        outbox = []
        for f in ex.fill_log[n_fill:]:
            position += f.signed_size
            q.on_fill(f)
            fills.append(f)
        n_fill = len(ex.fill_log)
        aq = float(abs(position) / p.max_position)
        abs_q_time += aq * STEP
        max_abs_q = max(max_abs_q, aq)
        still_open = {o.client_id for o in ex.open.values()}
        for cid in [c for c in opened if c not in still_open]:
            opened.pop(cid)
            cancelling.discard(cid)
            q.order_done(cid)
        if not market.best_bid or not market.best_ask:
            continue
        bid, ask = market.best_bid * ins.tick, market.best_ask * ins.tick
        if not marks or t - marks[-1][0] >= 1.0:
            marks.append((t, float(bid + ask) / 2))
        # the bot wakes on a new book, a fill or an order that ended, and on a 1 s timer
        state = (bid, ask, n_fill, len(opened), len(cancelling))
        if state == last_state and t - last_call < 1.0:
            continue
        last_state, last_call = state, t
        open_quotes = []
        for cid, (tag, side) in opened.items():
            o = ex.by_client[cid]
            open_quotes.append(OpenQuote(tag, cid, side, o.price * ins.tick, (o.size - o.filled) * ins.lot,
                                         cid in cancelling))
        for a in q.on_book(t, bid, ask, position, open_quotes):
            if isinstance(a, Note):
                continue
            if isinstance(a, Cancel):
                cancelling.add(a.client_id)
            outbox.append(a)
    q.final_notes(world.t, market.best_bid * ins.tick, market.best_ask * ins.tick)
    for pay in ex.funding_log:
        q.on_funding(pay.payment, pay.ts)
    split = q.pnl.split()
    markout = 0.0
    j = 0
    for f in fills:
        target = f.ts + MARKOUT_S
        while j < len(marks) and marks[j][0] < f.ts:
            j += 1
        k = j
        while k < len(marks) and marks[k][0] < target:
            k += 1
        later = marks[k][1] if k < len(marks) else marks[-1][1]
        markout += f.side.sign * (later - float(f.price)) * float(f.size) - float(f.fee)
    return Figures(p.mode, p.scenario, p.seed, hours, split.fills, float(split.volume),
                   float(split.spread_capture + split.fees), markout, float(split.total),
                   float(split.spread_capture), float(split.inventory_pnl), float(split.fees),
                   abs_q_time / (world.t - t0), max_abs_q, q.quoting_seconds / (world.t - t0), q.paused_seconds,
                   q.pauses, dict(q.requotes), time.perf_counter() - t_wall)


def on_runner(p: GridParams, hours: float) -> tuple[int, float, float, float]:
    """The same grid through the real runner and kernel (async, virtual clock): fills, avg fill PnL
    in bps, max |q| and wall seconds - to show the synchronous loop above measures the same bot."""

    from core.clock import VirtualClock
    from core.records import MemoryRecorder
    from strategies.grid.strategy import GridStrategy
    from strategies.runtime.runner import Runner

    p = p.model_copy(update={"duration_s": hours * 3600, "on_cancel": "leave"})  # no closing taker fill
    clock = VirtualClock()
    world = SimWorld(venues=(p.venue,), symbols=(p.symbol,), seed=p.seed, clock=clock, warmup=300, regime=p.scenario)
    strategy = GridStrategy(p)
    runner = Runner(strategy, f"bench-{p.mode}", [world.venue(p.venue)], MemoryRecorder(), clock)

    async def main() -> object:
        try:
            return await runner.run()
        finally:
            await world.stop()

    t0 = time.perf_counter()
    clock.run(main)
    split = strategy.split()
    assert split is not None
    fill_bps = float((split.spread_capture + split.fees) / split.volume * 10_000) if split.volume else 0.0
    return split.fills, fill_bps, float(strategy.max_abs_inventory / p.max_position), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--hours", type=float, default=0.25)
    ap.add_argument("--scenarios", default="quiet,trending_up,trending_down,volatile,mean_reverting")
    ap.add_argument("--symbol", default="BTC")
    ap.add_argument("--set", action="append", default=[], help="a grid parameter for both modes, name=value")
    ap.add_argument("--runner-minutes", type=float, default=0.0,
                    help="also run each mode of the first scenario this long on the real runner (slow)")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    extra = dict(kv.split("=", 1) for kv in args.set)
    names = [s for s in args.scenarios.split(",") if s]
    for s in names:
        if s not in scenarios():
            raise SystemExit(f"scenario: {s!r}; allowed: {', '.join(scenarios())}")
    print(f"grid on paradex {args.symbol}, {args.hours} h x {args.seeds} seeds per scenario and mode, "
          f"simulator (seeded, same market for both modes)\n")
    head = (f"{'scenario':<16}{'mode':<7}{'fills/day':>10}{'avg fill $':>11}{'bps':>7}{'mo60/$1M':>10}"
            f"{'total $/h':>10}{'tw|q|':>7}{'max|q|':>7}{'uptime':>8}{'paused':>8}")
    print(head)
    print("-" * len(head))
    wall = 0.0
    verdicts: list[str] = []
    for sc in names:
        for mode in ("naive", "fixed"):
            runs = [simulate(GridParams(mode=mode, scenario=sc, seed=seed, symbol=args.symbol, **extra), args.hours)
                    for seed in range(1, args.seeds + 1)]
            wall += sum(r.wall_s for r in runs)
            fills = sum(r.fills for r in runs)
            fill_pnl = sum(r.fill_pnl for r in runs)
            volume = sum(r.volume for r in runs)
            markout = sum(r.markout_pnl for r in runs)
            hours = sum(r.hours for r in runs)
            print(f"{sc:<16}{mode:<7}{fills / hours * 24:>10.0f}{(fill_pnl / fills if fills else 0):>11.4f}"
                  f"{(fill_pnl / volume * 1e4 if volume else 0):>7.2f}"
                  f"{(markout / volume * 1e6 if volume else 0):>10.0f}"
                  f"{sum(r.total_pnl for r in runs) / hours:>10.2f}"
                  f"{statistics.mean(r.tw_abs_q for r in runs):>7.2f}{max(r.max_abs_q for r in runs):>7.2f}"
                  f"{statistics.mean(r.uptime for r in runs):>8.0%}"
                  f"{sum(r.paused_s for r in runs) / (hours * 3600):>8.0%}")
            total = sum(r.total_pnl for r in runs)
            if mode == "fixed":
                ok = fill_pnl >= 0 and max(r.max_abs_q for r in runs) <= 1.0
                verdicts.append(f"fixed in {sc}: avg fill PnL {'>= 0' if fill_pnl >= 0 else '< 0'}, inventory "
                                f"{'bounded' if max(r.max_abs_q for r in runs) <= 1.0 else 'PAST THE LIMIT'}"
                                f"{'' if ok else '  <-- not as expected'}")
            elif sc.startswith("trending"):
                verdicts.append(f"naive in {sc}: total {'loses' if total < 0 else 'does not lose'}"
                                f"{'' if total < 0 else '  <-- not as expected'}")
    print(f"\navg fill: (spread capture at the fill + fees) per fill, and per volume in bps; mo60/$1M: each fill "
          f"marked to the mid {MARKOUT_S:.0f} s later, minus fees, per $1M of volume; total: spread + inventory + "
          f"fees + funding per simulated hour; |q|: |position| / limit; paused: share of time the momentum filter "
          f"held a side. Wall time {wall:.1f} s.\n")
    print("\n".join(verdicts))
    if args.runner_minutes > 0:
        sc = names[0]
        print(f"\nsame bot on the real runner, {sc}, seed 1, {args.runner_minutes:.0f} min "
              f"(fills, avg fill bps, max|q|):")
        for mode in ("naive", "fixed"):
            p = GridParams(mode=mode, scenario=sc, seed=1, symbol=args.symbol, **extra)
            h = args.runner_minutes / 60
            r = simulate(p, h)
            n, bps, q, w = on_runner(p, h)
            print(f"  {mode:<6} loop: {r.fills:>5} {r.avg_fill_bps:>7.2f} {r.max_abs_q:>5.2f}   "
                  f"runner: {n:>5} {bps:>7.2f} {q:>5.2f}  ({w:.1f} s wall)")


if __name__ == "__main__":
    main()
