"""Real hedge-bot runs on the simulator, recorded through a real ``Journal``: the warehouse tests' data.

Each run is the hedge strategy on the kernel's ``Runner``, as the ``hedge`` flow drives it (without
Prefect around it), on its own seeded ``SimWorld`` in virtual time, so the warehouse and the
cookbook queries are tested on what the bot really records: re-priced and cancelled maker
orders, hedges that escalate to takers, partial fills, cycles, positions and risk events. A
``Tee`` hands every record to the journal and keeps a copy in memory, so tests compute expected
answers in Python, independently of SQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.clock import VirtualClock
from core.records import CycleRecord, FundingRecord, MemoryRecorder, RiskEvent, RunEnd, RunInfo
from core.types import Fill, Order, Position
from exchanges.sim.world import SimWorld
from strategies.hedge.config import HedgeConfig
from strategies.hedge.result import RunResult, hedge_result
from strategies.hedge.strategy import HedgeStrategy
from strategies.runtime.runner import Runner
from warehouse.journal import Journal

# Two sizes, maker and taker hedges, both directions, two symbols; long enough (virtual time) for
# net delta to span minutes. Different seeds: different simulated sessions, as separate runs are.
RUNS: dict[str, dict[str, Any]] = {
    "hedge-sol-maker": dict(ticker="SOL", size=Decimal("0.1"), iterations=10, hedge_mode="bbo_minus_1", seed=5),
    "hedge-sol-taker": dict(ticker="SOL", size=Decimal("0.2"), iterations=4, hedge_mode="market",
                            direction="short", seed=6),
    "hedge-eth-alt": dict(ticker="ETH", size=Decimal("0.01"), iterations=4, hedge_mode="bbo_minus_1",
                          direction="alternate", seed=7),
}


class Tee:
    """A recorder that hands every record to the journal and keeps a copy in memory."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.memory = MemoryRecorder()

    def run_started(self, info: RunInfo) -> None:
        self.memory.run_started(info)
        self.journal.run_started(info)

    def run_ended(self, end: RunEnd) -> None:
        self.memory.run_ended(end)
        self.journal.run_ended(end)

    def order(self, order: Order) -> None:
        self.memory.order(order)
        self.journal.order(order)

    async def fill(self, fill: Fill) -> None:
        await self.memory.fill(fill)
        await self.journal.fill(fill)

    def cycle(self, cycle: CycleRecord) -> None:
        self.memory.cycle(cycle)
        self.journal.cycle(cycle)

    def position(self, position: Position) -> None:
        self.memory.position(position)
        self.journal.position(position)

    def risk_event(self, event: RiskEvent) -> None:
        self.memory.risk_event(event)
        self.journal.risk_event(event)

    def funding(self, record: FundingRecord) -> None:
        self.memory.funding(record)
        self.journal.funding(record)

    async def flush(self) -> None:
        await self.journal.flush()

    async def close(self) -> None:
        await self.journal.close()


@dataclass
class RecordedRun:
    """What one run recorded (in the order it recorded it) and how it ended."""

    run_id: str
    result: RunResult
    orders: list[Order]
    fills: list[Fill]  # as recorded: the same fill may come twice (stream, then catch-up)
    cycles: list[CycleRecord]
    positions: list[Position]
    risk: list[RiskEvent]

    @property
    def unique_fills(self) -> list[Fill]:
        """One fill per natural key (venue, order_id, trade_id), the first recorded."""
        seen: dict[tuple[str, str, str], Fill] = {}
        for f in self.fills:
            seen.setdefault(f.key, f)
        return list(seen.values())


def record_hedge_run(journal_dir: Path, run_id: str = "hedge-sol-maker", *,
                     script: Callable[[SimWorld, Runner], Awaitable[Any]] | None = None,
                     start: float | None = None, **cfg: Any) -> RecordedRun:
    """Run the hedge bot on the simulator (``RUNS[run_id]`` unless ``cfg`` is given), journaled.
    ``script`` runs beside the bot (to cancel it, say); ``start`` is the virtual clock's start."""
    cfg = cfg or RUNS[run_id]
    config = HedgeConfig(primary="paradex", hedge="grvt", **cfg)
    clock = VirtualClock() if start is None else VirtualClock(start)
    world = SimWorld(venues=(config.primary, config.hedge), symbols=(config.ticker,), seed=config.seed,
                     clock=clock, warmup=900)
    tee = Tee(Journal(run_id, journal_dir))
    strategy = HedgeStrategy(config)
    runner = Runner(strategy, run_id, [world.venue(config.primary), world.venue(config.hedge)], tee, clock)

    async def main() -> RunResult:
        side = asyncio.ensure_future(script(world, runner)) if script is not None else None
        try:
            return hedge_result(await runner.run(), strategy)
        finally:
            if side is not None:
                side.cancel()
            await world.stop()
            await tee.close()

    result = clock.run(main)
    m = tee.memory
    return RecordedRun(run_id, result, m.orders, m.fills, m.cycles, m.positions, m.risk_events)


async def cancel_when_hedged(world: SimWorld, runner: Runner, *, flatten: bool) -> None:
    """Cancel the run (as a user would) once both venues hold a hedged position."""
    for _ in range(60_000):
        k, strategy = runner.kernel, runner.strategy
        assert isinstance(strategy, HedgeStrategy)
        if k is not None and k.ledger.position(strategy.pv) != 0 and not strategy.hedge_busy(k.ctx):
            runner.request_stop(flatten=flatten)
            return
        await asyncio.sleep(0.01)


async def thin_hedge_book_at_first(world: SimWorld, runner: Runner) -> None:
    """GRVT executes nothing until the first hedge has failed, then the book fills in again."""
    from exchanges.sim.faults import Faults

    grvt = world.exchanges["grvt"]
    grvt.faults = Faults(exec_size_cap=Decimal(0))
    for _ in range(60_000):
        if isinstance(runner.strategy, HedgeStrategy) and runner.strategy.stats.hedge_failures:
            break
        await asyncio.sleep(0.01)
    grvt.faults = Faults()


def record_ended_runs(journal_dir: Path) -> list[RecordedRun]:
    """A run cancelled and flattened, one cancelled leaving its positions, one failed (daily loss
    limit, flattened) - the runs whose summaries used to disagree with SQL - and one whose first
    hedge found no liquidity on GRVT and was redone."""
    from functools import partial

    return [
        record_hedge_run(journal_dir, "hedge-cancel-flatten", script=partial(cancel_when_hedged, flatten=True),
                         ticker="SOL", size=Decimal("0.1"), iterations=10, on_cancel="flatten", seed=8),
        record_hedge_run(journal_dir, "hedge-cancel-leave", script=partial(cancel_when_hedged, flatten=False),
                         ticker="SOL", size=Decimal("0.1"), iterations=10, on_cancel="leave", seed=9),
        record_hedge_run(journal_dir, "hedge-failed-loss", ticker="SOL", size=Decimal("0.1"), iterations=30,
                         hedge_mode="market", primary_mode="market", daily_loss_limit=Decimal("0.05"), seed=10),
        record_hedge_run(journal_dir, "hedge-thin-grvt", script=thin_hedge_book_at_first, ticker="SOL",
                         size=Decimal("0.1"), iterations=2, hedge_mode="market", seed=11),
    ]


def record_hedge_runs(journal_dir: Path) -> list[RecordedRun]:
    """Every run of ``RUNS``, each into its own journal."""
    return [record_hedge_run(journal_dir, run_id) for run_id in RUNS]
