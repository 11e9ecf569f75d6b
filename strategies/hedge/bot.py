"""The hedge bot: the hedge strategy on the kernel's runner, answering with its ``RunResult``.

Scripts, benchmarks and tests that want a hedge run without Prefect use this; the flow uses the
same strategy and runner through the bot scaffold (``tasks/botrun.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.clock import Clock
from core.reasons import Reason
from core.records import CycleRecord, Recorder
from exchanges.base import Venue
from strategies.base import Record
from strategies.hedge.config import HedgeConfig
from strategies.hedge.result import RunResult, hedge_result
from strategies.hedge.strategy import HedgeStrategy
from strategies.kernel import Kernel
from strategies.runtime.runner import Observer, Runner


class HedgeBot:
    def __init__(self, cfg: HedgeConfig, run_id: str, primary: Venue, hedge: Venue, recorder: Recorder,
                 clock: Clock, *, flow_run_id: str | None = None, on_record: Observer | None = None,
                 on_cycle: Callable[[int, int, CycleRecord], None] | None = None) -> None:
        """``on_cycle(done, total, cycle)`` is told of every finished cycle (progress reporting)."""
        self.cfg = cfg
        self.strategy = HedgeStrategy(cfg)

        def observe(runner: Runner, record: Record) -> None:
            if on_record is not None:
                on_record(runner, record)
            if on_cycle is not None and record.kind == "cycle":
                on_cycle(self.strategy.plan.cycles_done, self.strategy.plan.total_cycles, record.payload)

        self.runner = Runner(self.strategy, run_id, [primary, hedge], recorder, clock, flow_run_id=flow_run_id,
                             on_record=observe)

    @property
    def kernel(self) -> Kernel | None:
        return self.runner.kernel

    @property
    def cycles(self) -> list[CycleRecord]:
        """The cycles recorded so far."""
        return list(self.runner.records.get("cycle", []))

    async def preflight(self) -> dict[str, Any]:
        """Validate the run against both venues; raises ``PreTradeError`` before any order."""
        return await self.runner.preflight()

    async def run(self) -> RunResult:
        return hedge_result(await self.runner.run(), self.strategy)

    def fail(self, detail: str, reason: Reason = Reason.RECORD_FAILED) -> None:
        """Stop adding risk now (the journal cannot record): cancel, flatten, end FAILED."""
        self.runner.fail(detail, reason)

    def request_stop(self, *, flatten: bool, status: str = "CANCELLED", reason: Reason = Reason.CANCELLED_BY_USER,
                     detail: str = "") -> None:
        self.runner.request_stop(flatten=flatten, status=status, reason=reason, detail=detail)
