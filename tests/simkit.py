"""Scenario helpers for simulator tests: a venue whose book holds still until a test moves it."""

from __future__ import annotations

import random
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any, TypeVar

from core.clock import VirtualClock
from exchanges.sim.exchange import SimExchange
from exchanges.sim.flow import StaticSource
from exchanges.sim.market import SimMarket
from exchanges.sim.profiles import load_profiles
from exchanges.sim.world import SimWorld, build_market

R = TypeVar("R")

T0 = 1_767_571_200.0


def static_exchange(venue: str = "paradex", symbol: str = "SOL", *, fees: tuple[str, str] | None = None,
                    equity: str | None = None) -> tuple[SimExchange, SimMarket]:
    profile = load_profiles().venue(venue)
    if fees is not None:
        profile = profile.with_fees(*fees)
    ex = SimExchange(profile, seed=1, now=T0)
    if equity is not None:
        ex.account.cash = Decimal(equity)
    market = build_market(profile, symbol, 100.0, random.Random(1))
    ex.add_market(symbol, market, StaticSource())
    return ex, market


def ticks(ex: SimExchange, symbol: str, price: str) -> int:
    return int(Decimal(price) / ex.slots[symbol].tick)


def lots(ex: SimExchange, symbol: str, size: str) -> int:
    return int(Decimal(size) / ex.slots[symbol].lot)


def set_book(ex: SimExchange, symbol: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]],
             t: float = T0) -> None:
    """Replace others' displayed levels: [(price, size)] best first."""
    m = ex.slots[symbol].market
    for direction, side, levels in ((-1, m.bids, bids), (1, m.asks, asks)):
        for p in list(side):
            m.update_level(direction, p, 0)
        for price, size in levels:
            m.update_level(direction, ticks(ex, symbol, price), lots(ex, symbol, size))
    m.adopt_book(t)


def settle(ex: SimExchange, t: float) -> None:
    """Let the engine settle maker fills produced by trades (what a world step does)."""
    ex.step(t, 0.1)


def model_world(venues: tuple[str, ...] = ("paradex", "grvt"), symbols: tuple[str, ...] = ("SOL",),
                seed: int = 3, **kw: object) -> SimWorld:
    return SimWorld(venues=venues, symbols=symbols, seed=seed, clock=VirtualClock(), **kw)  # type: ignore[arg-type]


def run(world: SimWorld, main: Callable[[], Coroutine[Any, Any, R]]) -> R:
    """Run ``main`` on the world's clock, then stop the world's driver."""

    async def wrapped() -> R:
        try:
            return await main()
        finally:
            await world.stop()

    return world.clock.run(wrapped)
