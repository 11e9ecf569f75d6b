"""A scripted hedge run on the simulator, recorded through a real ``Journal``.

Stands in for the hedge bot (not written yet) so the warehouse can be tested on realistic data:
a maker order on the primary (paradex) for each cycle, every primary fill hedged at market on
grvt *before* awaiting the fill's durability, cycles computed from the fill prices as
``CycleRecord`` documents them, positions after each cycle, and risk events. Replace with a
real hedge-bot run once it exists. Everything recorded is also returned, so tests can compute
expected answers independently of SQL.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from pydantic import SecretStr

from core.clock import VirtualClock
from core.errors import OrderRejected
from core.reasons import Reason
from core.records import CycleRecord, RiskEvent, RunEnd, RunInfo
from core.types import Fill, Order, OrderStatus, Position, Side
from exchanges.sim.world import SimWorld
from warehouse.journal import Journal

SYMBOL = "ETH"
PRIMARY, HEDGE = "paradex", "grvt"
SIZES = (Decimal("0.05"), Decimal("0.1"), Decimal("0.2"))


@dataclass
class SimRun:
    run_id: str
    orders: list[Order] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    cycles: list[CycleRecord] = field(default_factory=list)
    positions: list[Position] = field(default_factory=list)
    risk: list[RiskEvent] = field(default_factory=list)


def _vwap(fills: list[Fill]) -> Decimal | None:
    size = sum((f.size for f in fills), Decimal(0))
    return sum((f.price * f.size for f in fills), Decimal(0)) / size if size else None


def run_hedge(journal_dir: Path, run_id: str = "sim-hedge-1", cycles: int = 6, seed: int = 11) -> SimRun:
    """Run ``cycles`` open/close cycles (open long on the primary, close it) and record them."""
    world = SimWorld(venues=(PRIMARY, HEDGE), symbols=(SYMBOL,), seed=seed, clock=VirtualClock())
    out = SimRun(run_id)

    async def main() -> None:
        journal = Journal(run_id, journal_dir)
        clock = world.clock
        p, h = world.venue(PRIMARY), world.venue(HEDGE)
        journal.run_started(RunInfo(run_id, "hedge", (PRIMARY, HEDGE), SYMBOL,
                                    {"cycles": cycles, "sizes": [str(s) for s in SIZES], "seed": seed,
                                     "grvt_api_key": SecretStr("never-journaled"), "price_mode": "bbo"},
                                    clock.now()))
        ledger = {PRIMARY: Decimal(0), HEDGE: Decimal(0)}

        def order(o: Order) -> None:
            out.orders.append(o)
            journal.order(o)

        async def fill(f: Fill) -> None:
            out.fills.append(f)
            ledger[f.venue] += f.signed_size
            await journal.fill(f)

        for n in range(1, cycles + 1):
            kind = "open" if n % 2 else "close"
            size = SIZES[(n - 1) // 2 % len(SIZES)]
            side = Side.BUY if kind == "open" else Side.SELL
            started = clock.now()
            primary_fills: list[Fill] = []
            hedge_fills: list[Fill] = []
            since = clock.now()
            bbo = await p.bbo(SYMBOL)
            try:
                o = await p.place_limit(SYMBOL, side, bbo.best(side), size, client_id=f"{run_id}-p{n}", post_only=True)
            except OrderRejected as err:
                ev = RiskEvent(run_id, clock.now(), "pre_trade", err.reason, detail=str(err))
                out.risk.append(ev)
                journal.risk_event(ev)
                o = await p.place_market(SYMBOL, side, size, client_id=f"{run_id}-p{n}m", max_slippage_bps=Decimal(50))
            order(o)
            deadline = clock.now() + 90
            seen: set[str] = set()
            while True:
                new = [f for f in await p.fills(since, SYMBOL) if f.order_id == o.order_id and f.trade_id not in seen]
                for pf in new:
                    seen.add(pf.trade_id)
                    primary_fills.append(pf)
                    hedge_since = clock.now()
                    ho = await h.place_market(SYMBOL, side.opposite, pf.size, client_id=f"{run_id}-h{n}-{len(seen)}",
                                              max_slippage_bps=Decimal(30))
                    order(ho)  # hedged first ...
                    await fill(pf)  # ... then the primary fill is made durable
                    for hf in await h.fills(hedge_since, SYMBOL):
                        if hf.order_id == ho.order_id:
                            hedge_fills.append(hf)
                            await fill(hf)
                filled = sum((f.size for f in primary_fills), Decimal(0))
                if filled >= size or clock.now() >= deadline:
                    break
                await asyncio.sleep(1.0)
            if filled < size:
                final = await p.cancel(SYMBOL, order_id=o.order_id)
                order(final)
            else:
                order(o.evolve(status=OrderStatus.FILLED, filled=filled, avg_price=_vwap(primary_fills),
                               ts=clock.now()))
            pp, hp = _vwap(primary_fills), _vwap(hedge_fills)
            hedged = sum((f.size for f in hedge_fills), Decimal(0))
            if pp is not None and hp is not None:
                per_unit = (hp - pp) if side is Side.BUY else (pp - hp)
                edge_bps = per_unit / pp * 10_000
                gross = per_unit * hedged
            else:
                edge_bps, gross = None, Decimal(0)
            pfee = sum((f.fee for f in primary_fills), Decimal(0))
            hfee = sum((f.fee for f in hedge_fills), Decimal(0))
            latency = ((hedge_fills[0].ts - primary_fills[0].ts) * 1000) if primary_fills and hedge_fills else None
            status = "ok" if primary_fills and hedged == filled else ("aborted" if not primary_fills else "partial")
            c = CycleRecord(run_id, "hedge", n, (n + 1) // 2, kind, "long", PRIMARY, HEDGE, SYMBOL, hedged, pp, hp,
                            edge_bps, pfee, hfee, gross, gross - pfee - hfee, ledger[PRIMARY] + ledger[HEDGE],
                            latency, status, started, clock.now())
            out.cycles.append(c)
            journal.cycle(c)
            for venue in (p, h):
                for pos in await venue.positions():
                    out.positions.append(pos)
                    journal.position(pos)
            if c.net_delta_after != 0:
                ev = RiskEvent(run_id, clock.now(), "net_delta", Reason.NET_DELTA_TOLERANCE,
                               detail=f"net delta {c.net_delta_after}", data={"cycle": n})
                out.risk.append(ev)
                journal.risk_event(ev)
        ev = RiskEvent(run_id, clock.now(), "state", Reason.RUN_COMPLETE, "ACTIVE", "HALTED", "scripted run done")
        out.risk.append(ev)
        journal.risk_event(ev)
        journal.run_ended(RunEnd(run_id, clock.now(), "COMPLETED"))
        await journal.close()
        await world.stop()

    world.clock.run(main)
    return out
