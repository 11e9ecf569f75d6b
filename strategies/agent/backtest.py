"""The agent over simulated days: the desk, the adviser and the rules against a price path.

A backtest drives exactly what a live run drives (``Desk`` for allowed actions, signals, exits,
entries and records; ``advise`` for the question, its validation and the decision record),
with a deterministic policy in place of the LLM and a bar-level broker in place of the venue:

- a taker order fills at the bar's bid/ask (the spread is paid) with the venue's taker fee;
- a post-only order rests at its price and fills, at that price with the maker fee, only when a
  later bar trades through it (the market came to us: adverse selection is kept);
- funding is paid every hour on open positions at the path's rate;
- every order, fill and funding payment is kept, so a backtest recorded to the warehouse
  (``record_backtest``) has the volume, fees and funding a run's summary and the daily report show;
- the calibration table is rebuilt every hour from the trades closed so far (what the insights
  flow does across bots), so the agent learns how much its stated confidence is worth.

Time only moves forward bar by bar (the virtual clock of the backtest) and every decision reads
prices from at or before its time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from core.records import FundingRecord, Recorder, RunEnd, RunInfo
from core.types import BBO, Fill, Instrument, Liquidity, Order, OrderStatus, OrderType, Position, Side
from exchanges.sim.paths import PricePath
from exchanges.sim.profiles import load_profiles
from prompts import agent as prompt
from strategies.agent.adviser import Ask, advise
from strategies.agent.calibration import BUCKET_EDGES, Calibration, bucket_of
from strategies.agent.desk import Act, CancelEntry, Desk, Enter, Exit, Note, Outlook
from strategies.agent.exits import ExitRule
from strategies.agent.inputs import build_inputs, digest, market_view
from strategies.agent.params import AgentParams

ZERO = Decimal(0)


@dataclass(slots=True)
class _Resting:
    symbol: str
    side: Side
    price: Decimal
    size: Decimal
    client_id: str


@dataclass(slots=True)
class BacktestResult:
    params: AgentParams
    seed: int
    days: float
    trades: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    equity: list[tuple[float, float]] = field(default_factory=list)  # (ts, realised + open PnL), hourly
    start: float = 0.0
    end: float = 0.0
    orders: list[Order] = field(default_factory=list)  # each order in its final state
    fills: list[Fill] = field(default_factory=list)
    funding: list[tuple[float, str, Decimal, Decimal, Decimal]] = field(default_factory=list)
    # (ts, symbol, hourly rate, signed position, payment: paid by us, negative = received)

    @property
    def volume(self) -> Decimal:
        return sum((f.price * f.size for f in self.fills), ZERO)

    @property
    def llm_calls(self) -> int:
        return sum(1 for d in self.decisions if d["llm_called"])

    @property
    def llm_skipped(self) -> int:
        return sum(1 for d in self.decisions if not d["llm_called"])

    @property
    def pnl(self) -> float:
        return sum(float(t["pnl"]) for t in self.trades)

    @property
    def max_drawdown(self) -> float:
        peak, dd = 0.0, 0.0
        for _, e in self.equity:
            peak = max(peak, e)
            dd = max(dd, peak - e)
        return dd

    def figures(self) -> dict[str, float]:
        n = len(self.trades)
        return {
            "trades_per_day": n / self.days,
            "avg_hold_h": sum(t["hold_s"] for t in self.trades) / n / 3600 if n else 0.0,
            "drag_pct": sum(float(t["drag_pct"]) for t in self.trades) / n if n else 0.0,
            "win_rate": sum(1 for t in self.trades if t["win"]) / n if n else 0.0,
            "pnl": self.pnl,
            "max_drawdown": self.max_drawdown,
            "llm_calls": float(self.llm_calls),
            "llm_skipped": float(self.llm_skipped),
        }


def calibration_of(trades: Sequence[dict[str, Any]]) -> Calibration:
    """Confidence bucket -> realised win rate, from closed trades (stated confidence at entry)."""
    counts: dict[tuple[float, float], list[int]] = {}
    for t in trades:
        b = bucket_of(float(t["confidence"]))
        c = counts.setdefault(b, [0, 0])
        c[0] += 1
        c[1] += 1 if t["win"] else 0
    return Calibration.of((lo, hi, *counts[(lo, hi)]) for lo, hi in itertools.pairwise(BUCKET_EDGES)
                          if (lo, hi) in counts)


def _d(x: float, tick: Decimal) -> Decimal:
    return (Decimal(repr(x)) / tick).to_integral_value() * tick


def run_backtest(params: AgentParams, path: PricePath, ask: Ask, *, calibrate: bool = True,
                 outlook: Outlook | None = None,
                 on_decision: Callable[[dict[str, Any]], None] | None = None) -> BacktestResult:
    """Trade ``path`` with ``ask`` as the adviser's LLM. ``outlook``: fixed shared insights
    (blocked combos, blackout, other bots' positions); the calibration is learned as trades close."""
    vp = load_profiles().venue(params.venue)
    instruments: dict[str, Instrument] = {s: vp.instrument(s) for s in params.symbols}
    result = BacktestResult(params, path.seed, len(next(iter(path.symbols.values()))) * path.bar_s / 86_400,
                            start=path.start, end=path.end)
    desk = Desk(params, instruments, run_id=f"bt-{path.seed}", client_prefix="a", now=path.start)
    resting: dict[str, _Resting] = {}
    base = outlook or Outlook()
    outlook = base
    next_decision = path.start + 24 * 3600  # a day of history before the first decision
    next_hour = path.start + 3600
    n_bars = len(next(iter(path.symbols.values())))
    realised = 0.0

    def filled(cid: str, symbol: str, side: Side, price: Decimal, size: Decimal, fee: Decimal, liquidity: Liquidity,
               bbo: BBO, now: float, limit: Decimal | None = None, reduce_only: bool = False) -> None:
        """The order and its one fill, as a venue would report them."""
        kind = OrderType.MARKET if limit is None else OrderType.LIMIT
        result.orders.append(Order(params.venue, cid, cid, symbol, side, kind, limit, size, size, price,
                                   OrderStatus.FILLED, post_only=limit is not None, reduce_only=reduce_only, ts=now))
        result.fills.append(Fill(params.venue, cid, cid, f"{cid}-1", symbol, side, price, size, fee, liquidity, now,
                                 bbo.bid, bbo.ask))

    def execute(acts: list[Act], now: float) -> None:
        nonlocal realised
        queue = list(acts)
        while queue:
            act = queue.pop(0)
            if isinstance(act, Note):
                result.notes.append(act)
                if act.kind == "agent_trade":
                    result.trades.append(act.payload)
                    realised += float(act.payload["pnl"])
            elif isinstance(act, Enter | Exit):
                bbo = desk.bbos[act.symbol]
                inst = instruments[act.symbol]
                if isinstance(act, Enter) and act.price is not None:
                    resting[act.client_id] = _Resting(act.symbol, act.side, act.price, act.size, act.client_id)
                    continue
                price = bbo.opposite(act.side)
                fee = inst.fee(price * act.size, Liquidity.TAKER)
                filled(act.client_id, act.symbol, act.side, price, act.size, fee, Liquidity.TAKER, bbo, now,
                       reduce_only=isinstance(act, Exit))
                queue += desk.on_fill(act.client_id, act.symbol, price, act.size, fee, maker=False, mid=bbo.mid,
                                      now=now)
                queue += desk.on_order_done(act.client_id, act.symbol, now, filled=act.size)
            elif isinstance(act, CancelEntry) and (gone := resting.pop(act.client_id, None)) is not None:
                result.orders.append(Order(params.venue, gone.client_id, gone.client_id, gone.symbol, gone.side,
                                           OrderType.LIMIT, gone.price, gone.size, status=OrderStatus.CANCELLED,
                                           post_only=True, ts=now))
                queue += desk.on_order_done(act.client_id, act.symbol, now, filled=ZERO)

    execute(list(desk.start_notes), path.start)
    for i in range(n_bars):
        now = path.start + (i + 1) * path.bar_s
        for s in params.symbols:
            sp = path.symbols[s]
            inst = instruments[s]
            bar = sp.bar(i)
            bid, ask_ = _d(bar.bid, inst.tick), _d(bar.ask, inst.tick)
            if ask_ <= bid:
                ask_ = bid + inst.tick
            bbo = BBO(params.venue, s, bid, Decimal(1), ask_, Decimal(1), now)
            for cid, r in list(resting.items()):  # the market trading through a resting order fills it
                if r.symbol != s:
                    continue
                if (r.side is Side.BUY and bid < r.price) or (r.side is Side.SELL and ask_ > r.price):
                    del resting[cid]
                    fee = inst.fee(r.price * r.size, Liquidity.MAKER)
                    # filled the moment the market touched our price: the mid was half a spread away
                    touch_mid = r.price + r.side.sign * (ask_ - bid) / 2
                    filled(cid, s, r.side, r.price, r.size, fee, Liquidity.MAKER, bbo, now, limit=r.price)
                    execute(desk.on_fill(cid, s, r.price, r.size, fee, maker=True, mid=touch_mid, now=now), now)
                    execute(desk.on_order_done(cid, s, now, filled=r.size), now)
            execute(desk.on_bbo(bbo, now), now)
        if now >= next_hour:
            next_hour += 3600
            for s, t in list(desk.trades.items()):
                if t.position > 0:
                    sp = path.symbols[s]
                    rate = Decimal(repr(sp.funding_hourly[i]))
                    sign = 1 if t.direction == "LONG" else -1
                    payment = t.position * desk.bbos[s].mid * rate * sign
                    result.funding.append((now, s, rate, t.position * sign, payment))
                    desk.on_funding(s, payment)
            if calibrate:
                outlook = replace(base, calibration=calibration_of(result.trades))
            result.equity.append((now, realised + _open_pnl(desk)))
        if now >= next_decision:
            next_decision = now + desk.decision_interval_s
            rec = _decide(params, desk, path, i, now, outlook, ask, execute)
            result.decisions.append(rec)
            if on_decision is not None:
                on_decision(rec)
    execute(desk.close_all(ExitRule.RUN_END), path.end)
    for cid in list(resting):
        r = resting.pop(cid)
        result.orders.append(Order(params.venue, cid, cid, r.symbol, r.side, OrderType.LIMIT, r.price, r.size,
                                   status=OrderStatus.CANCELLED, post_only=True, ts=path.end))
        execute(desk.on_order_done(cid, r.symbol, path.end, filled=ZERO), path.end)
    result.equity.append((path.end, realised))
    return result


async def record_backtest(result: BacktestResult, recorder: Recorder, run_id: str,
                          adviser: str = "a deterministic policy") -> None:
    """Record a backtest as a run: its orders, fills and funding (so the warehouse's run summary and
    the daily report show its volume, fees and funding), its decisions, round trips and mode
    changes, and the final (flat) positions. ``recorder``: a journal of ``run_id``; ``adviser``:
    which policy answered in the LLM's place (recorded with the parameters)."""
    p = result.params
    who = {"kind": "policy", "about": f"{adviser} (backtest); no LLM called"}
    recorder.run_started(RunInfo(run_id, "agent", (p.venue,), ",".join(p.symbols),
                                 {**p.model_dump(mode="json"), "seed": result.seed, "adviser": who}, result.start,
                                 mode="backtest", clock="virtual"))
    for order in result.orders:
        recorder.order(order)
    for fill in result.fills:
        await recorder.fill(fill)
    for ts, symbol, rate, position, payment in result.funding:
        recorder.funding(FundingRecord(run_id, p.venue, symbol, rate, position, payment, ts))
    record = getattr(recorder, "record", None)
    if record is not None:  # decision ids are the warehouse's key: made unique by the run's id
        for d in result.decisions:
            record("decision", **{**d, "decision_id": f"{run_id}-{d['decision_id']}"})
        for n in result.notes:
            if n.kind == "agent_trade":
                record(n.kind, **{**n.payload, "decision_id": f"{run_id}-{n.payload['decision_id']}"})
            elif n.kind == "mode_change":
                record(n.kind, **n.payload)
    for symbol in p.symbols:
        recorder.position(Position(p.venue, symbol, ZERO, None, result.end))
    recorder.run_ended(RunEnd(run_id, result.end, "COMPLETED", "backtest complete; flat"))
    await recorder.flush()


def _open_pnl(desk: Desk) -> float:
    total = 0.0
    for s, t in desk.trades.items():
        if t.position > 0 and s in desk.bbos:
            entry = t.entry.notional / t.entry.size
            sign = 1 if t.direction == "LONG" else -1
            total += float((desk.bbos[s].mid - entry) * t.position * sign - t.entry.fee - t.funding)
    return total


def _decide(params: AgentParams, desk: Desk, path: PricePath, i: int, now: float, outlook: Outlook, ask: Ask,
            execute: Callable[[list[Act], float], None]) -> dict[str, Any]:
    allowed = desk.allowed(now, outlook)
    views = []
    for s in params.symbols:
        sp = path.symbols[s]
        views.append(market_view(s, now, sp.ts, sp.mid, funding_hourly=sp.funding_hourly[i],
                                 spread_bps=sp.spread_bps[i]))
    inputs = build_inputs(now, views, allowed=allowed.as_dict(), mode=desk.mode, positions=desk.positions_view(now),
                          pnl_today_usd=float(desk.pnl_today(now)), sentiment=None, insights=None,
                          max_size_usd=float(params.max_size_usd))
    rules = params.rules(desk.mode)
    messages = prompt.messages(inputs, venue=params.venue, mode=desk.mode, max_size_usd=float(params.max_size_usd),
                               exit_table=f"SL {rules.stop_loss_pct}%, TP {rules.take_profit_pct}%, "
                                          f"max hold {rules.max_hold_s / 3600:g} h")
    advice = advise(decision_id=f"{path.seed}-{i}", now=now, venue=params.venue, mode=desk.mode, inputs=inputs,
                    inputs_digest=digest(inputs), prompt_hash=prompt.prompt_hash(), messages=messages,
                    allowed=allowed, outlook=outlook, ask=ask, max_size_usd=params.max_size_usd,
                    default_size_usd=params.size_usd)
    if advice.signal is not None:
        execute(desk.on_signal(advice.signal, now), now)
    return advice.record
