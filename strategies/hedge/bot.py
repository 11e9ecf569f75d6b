"""The hedge bot: the hedge strategy on the kernel's runner, answering with its ``RunResult``.

Scripts, benchmarks and tests that want a hedge run without Prefect use this; the flow uses the
same strategy and runner through the bot scaffold (``tasks/botrun.py``).
"""

from __future__ import annotations

from typing import Any

from core.clock import Clock
from core.reasons import Reason
from core.records import CycleRecord, Recorder
from exchanges.base import Venue
from strategies.hedge.config import HedgeConfig
from strategies.hedge.result import RunResult, hedge_result
from strategies.hedge.strategy import HedgeStrategy
from strategies.kernel import Kernel
from strategies.runtime.runner import Observer, Runner


class HedgeBot:
    def __init__(self, cfg: HedgeConfig, run_id: str, primary: Venue, hedge: Venue, recorder: Recorder,
                 clock: Clock, *, flow_run_id: str | None = None, on_record: Observer | None = None) -> None:
        self.cfg = cfg
        self.strategy = HedgeStrategy(cfg)
        self.runner = Runner(self.strategy, run_id, [primary, hedge], recorder, clock, flow_run_id=flow_run_id,
                             on_record=on_record)

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

    def request_stop(self, *, flatten: bool, status: str = "CANCELLED", reason: Reason = Reason.CANCELLED_BY_USER,
                     detail: str = "") -> None:
        self.runner.request_stop(flatten=flatten, status=status, reason=reason, detail=detail)
