"""Harnesses for the venue conformance suite: the simulator, and every registered venue's live
adapter talking to its protocol fake (found in the registry, so a new venue folder joins the suite
by itself).

Every harness gives a started ``Venue`` on a fresh simulated market that holds still (books change
only by orders and ``trade_against``), and the same controls (``exchanges.spec.FakeControls``
for the fakes; the simulator's own fault switches behind the same words).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.clock import RealClock
from core.types import Side
from exchanges import registry
from exchanges.base import Venue
from exchanges.sim.flow import StaticSource
from exchanges.sim.profiles import load_profiles
from exchanges.sim.world import SimWorld

SYMBOL = "SOL"
REQUEST_TIMEOUT_S = 0.5


@dataclass
class Harness:
    """One venue under test. ``controls`` is the fake (None: the simulator); ``secrets`` the
    credentials that must never show up."""

    name: str
    venue: Venue
    world: SimWorld
    controls: Any = None
    secrets: list[str] = field(default_factory=list)

    @property
    def exchange(self) -> Any:
        return self.world.exchanges[self.name]

    @property
    def adapter(self) -> bool:
        """A live adapter over the wire (the request policy applies), not the simulator."""
        return self.controls is not None

    def trade_against(self, symbol: str, taker_side: Side, size: Decimal) -> Decimal:
        """Someone else's market order: it walks the book, our resting orders included."""
        ex = self.exchange
        slot = ex.slots[symbol]
        t = self.world.clock.now()
        lots = slot.market.flow_trade(t, taker_side.sign, int(size / slot.lot))
        self.world.sync()
        ex.step(t, 0.0)
        return lots * slot.lot

    def orders_with(self, client_id: str) -> int:
        if self.controls is not None:
            return int(self.controls.orders_with(client_id))
        return sum(1 for o in self.exchange.orders.values() if o.client_id == client_id)

    def lose_next_order_answer(self) -> None:
        """The next order reaches the venue and is placed, but its answer is lost (a timeout)."""
        if self.controls is not None:
            self.controls.fail("slow_after", "place", seconds=REQUEST_TIMEOUT_S * 4)
        else:
            f = self.exchange.faults
            f.timeout_prob, f.timeout_after_accept_prob, f.request_timeout_s = 1.0, 1.0, REQUEST_TIMEOUT_S

    def clear_faults(self) -> None:
        if self.controls is None:
            self.exchange.faults.timeout_prob = 0.0

    async def drop_streams(self) -> None:
        if self.controls is not None:
            await self.controls.drop_streams()
        else:
            self.exchange.drop_streams()


def venues_under_test() -> list[str]:
    """"sim" (the simulator as a paradex-profiled venue) and every venue with a live adapter and a fake."""
    return ["sim", *(n for n in registry.names(live=True, fake=True))]


def _world(name: str, fees: tuple[str, str] | None) -> SimWorld:
    world = SimWorld(venues=(name,), symbols=(SYMBOL, "ETH"), seed=11, clock=RealClock(), warmup=60,
                     fee_overrides={name: fees} if fees else None)
    for slot in world.exchanges[name].slots.values():
        slot.source = StaticSource()
    return world


@contextlib.asynccontextmanager
async def harness(which: str, *, fees: tuple[str, str] | None = None, **settings: Any) -> AsyncIterator[Harness]:
    """A started venue: ``which`` is "sim" or a registered venue name; ``fees``: the account's
    (maker, taker) rates on the venue; ``settings`` override the adapter's request policy settings."""
    if which == "sim":
        name = next(iter(load_profiles().venues))  # the simulator with its first profile
        world = _world(name, fees)
        world.ensure_running()
        venue = world.venue(name)
        try:
            await venue.start()
            yield Harness(name, venue, world)
        finally:
            await world.stop()
        return
    spec = registry.get(which, live=True, fake=True)
    world = _world(spec.name, fees)
    assert spec.fake is not None and spec.adapter is not None
    demo = spec.fake(world, False)
    await demo.server.start()
    venue_settings = demo.settings().model_copy(update={"request_timeout_s": REQUEST_TIMEOUT_S} | settings)
    venue = spec.adapter(venue_settings, RealClock())
    try:
        await venue.start()
        yield Harness(spec.name, venue, world, demo.server, spec.secrets(venue_settings))
    finally:
        await venue.close()
        await demo.server.stop()
        await world.stop()


async def until(cond: Callable[[], bool], within: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(0.01)


async def resting_price(venue: Venue, side: Side, symbol: str = SYMBOL, bps: int = 200) -> Decimal:
    """A price ``bps`` behind the touch on ``side``'s own side: a post-only order there rests."""
    b, ins = await venue.bbo(symbol), await venue.instrument(symbol)
    raw = b.bid * (1 - Decimal(bps) / 10_000) if side is Side.BUY else b.ask * (1 + Decimal(bps) / 10_000)
    return ins.round_price(raw, side)


async def crossing_price(venue: Venue, side: Side, symbol: str = SYMBOL, bps: int = 100) -> Decimal:
    """A price ``bps`` through the opposite touch: a limit order there takes liquidity."""
    b, ins = await venue.bbo(symbol), await venue.instrument(symbol)
    raw = b.ask * (1 + Decimal(bps) / 10_000) if side is Side.BUY else b.bid * (1 - Decimal(bps) / 10_000)
    return ins.round_price(raw, side)
