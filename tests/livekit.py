"""The hedge bot in live mode against the protocol fakes: real adapters, real SDK code, loopback.

Both fakes share one ``SimWorld`` (``exchanges.fakes.venues.FakeVenues``); the bot reaches them
through the live-adapter registry (``open_venues("live", ...)``) with settings pointing at them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from exchanges.connect import open_venues
from exchanges.fakes.venues import FakeVenues
from exchanges.sim.flow import StaticSource
from strategies.hedge.config import HedgeConfig
from strategies.hedge.result import RunResult, hedge_result
from strategies.hedge.strategy import HedgeStrategy
from strategies.runtime.runner import Runner
from warehouse.journal import Journal
from warehouse.paths import WarehousePaths

T = TypeVar("T")


async def run_bot(fakes: FakeVenues, cfg: HedgeConfig, run_id: str, paths: WarehousePaths) -> RunResult:
    """One hedge-bot run in live mode against ``fakes``, journaled under ``paths``."""
    session = open_venues("live", (cfg.primary, cfg.hedge), (cfg.ticker,), seed=cfg.seed, settings=fakes.settings())
    journal = Journal(run_id, paths.journal_dir)
    try:
        strategy = HedgeStrategy(cfg)
        runner = Runner(strategy, run_id, [session.venue(cfg.primary), session.venue(cfg.hedge)], journal,
                        session.clock)
        await runner.preflight()
        return hedge_result(await runner.run(), strategy)
    finally:
        await session.close()
        await journal.close()


def position(fakes: FakeVenues, venue: str, symbol: str) -> Decimal:
    """The position the fake venue itself holds for the account (not what a bot believes)."""
    return fakes.world.exchanges[venue].account.positions.get(symbol, Decimal(0))


def hold_still(fakes: FakeVenues) -> Callable[[], None]:
    """Freeze every book (changes only by orders and ``market_trade``); returns the undo."""
    saved = {(v, s): slot.source for v, ex in fakes.world.exchanges.items() for s, slot in ex.slots.items()}
    for v, s in saved:
        fakes.world.exchanges[v].slots[s].source = StaticSource()

    def restore() -> None:
        for (v, s), source in saved.items():
            fakes.world.exchanges[v].slots[s].source = source
    return restore


def rows(paths: WarehousePaths, sql: str, params: list[Any] | None = None) -> list[tuple]:
    con = duckdb.connect(str(paths.published), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


async def wait_for(cond: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)


def journal_text(paths: WarehousePaths) -> str:
    return "\n".join(p.read_text() for p in sorted(Path(paths.journal_dir).glob("*.jsonl")))


class FakesInThread:
    """``FakeVenues`` served from their own event loop in a thread, for code that runs its own loops
    (the CLI, ``Clock.run`` phases). ``call`` runs a coroutine function on the fakes' loop."""

    def __init__(self, **kw: Any) -> None:
        self._kw = kw
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fakes", daemon=True)

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(fn(), self.loop).result(timeout)

    def __enter__(self) -> FakeVenues:
        self._thread.start()

        async def started() -> FakeVenues:
            fakes = FakeVenues(**self._kw)
            await fakes.start()
            return fakes

        self.fakes = self.call(started)
        return self.fakes

    def __exit__(self, *exc: object) -> None:
        try:
            self.call(self.fakes.stop)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()
