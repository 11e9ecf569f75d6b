"""Run the hedge bot on the simulator from a test, with faults and a scripted market."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

from core.clock import VirtualClock
from core.records import MemoryRecorder
from exchanges.sim.faults import Faults
from exchanges.sim.world import SimWorld
from strategies.hedge.config import HedgeConfig
from strategies.hedge.result import RunResult, hedge_result
from strategies.hedge.strategy import HedgeStrategy
from strategies.runtime.runner import Runner

Script = Callable[[SimWorld, Runner], Awaitable[Any]]


class BotRun:
    def __init__(self, *, seed: int = 3, faults: Mapping[str, Faults] | None = None, start: float | None = None,
                 **cfg: Any) -> None:
        self.cfg = HedgeConfig(seed=seed, **cfg)
        clock = VirtualClock() if start is None else VirtualClock(start)
        self.world = SimWorld(venues=(self.cfg.primary, self.cfg.hedge), symbols=(self.cfg.ticker,), seed=seed,
                              clock=clock, warmup=900, faults=faults)
        self.recorder = MemoryRecorder()
        self.strategy = HedgeStrategy(self.cfg)
        self.runner = Runner(self.strategy, "run-test", [self.world.venue(self.cfg.primary),
                                                         self.world.venue(self.cfg.hedge)], self.recorder, clock)
        self.net_trace: list[tuple[float, Decimal]] = []
        self.overran = False

    def true_net(self) -> Decimal:
        return sum((ex.account.positions.get(self.cfg.ticker, Decimal(0)) for ex in self.world.exchanges.values()),
                   Decimal(0))

    def position(self, venue: str) -> Decimal:
        return self.world.exchanges[venue].account.positions.get(self.cfg.ticker, Decimal(0))

    def run(self, script: Script | None = None, before: Script | None = None, limit: float = 6 * 3600) -> RunResult:
        """Run the bot; past ``limit`` virtual seconds it is stopped and the test told so."""
        async def sample() -> None:
            while True:
                self.net_trace.append((self.world.clock.now(), self.true_net()))
                await asyncio.sleep(0.05)

        async def watchdog() -> None:
            await asyncio.sleep(limit)
            self.overran = True
            self.runner.request_stop(flatten=True)

        async def main() -> RunResult:
            sampler = asyncio.create_task(sample())
            guard = asyncio.create_task(watchdog())
            try:
                if before is not None:
                    await before(self.world, self.runner)
                if script is None:
                    return hedge_result(await self.runner.run(), self.strategy)
                task = asyncio.create_task(script(self.world, self.runner))
                try:
                    return hedge_result(await self.runner.run(), self.strategy)
                finally:
                    task.cancel()
            finally:
                sampler.cancel()
                guard.cancel()
                await self.world.stop()

        return self.world.clock.run(main)

    def open_orders(self) -> int:
        return sum(len(ex.open) for ex in self.world.exchanges.values())


async def until(cond: Callable[[], bool], limit: float = 600.0, step: float = 0.1) -> None:
    """Poll (in virtual time) until ``cond()`` holds; the market has no event for test conditions."""
    for _ in range(int(limit / step)):
        if cond():
            return
        await asyncio.sleep(step)
    raise TimeoutError(f"condition not met within {limit}s")
