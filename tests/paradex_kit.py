"""A fake Paradex on loopback and an adapter signed in to it, for the Paradex tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

from pydantic import SecretStr

from core.types import Side
from exchanges.paradex.adapter import ParadexVenue
from exchanges.paradex.fake import FakeParadex
from exchanges.policy import RequestSettings
from exchanges.sim.flow import StaticSource
from tests.stark import TEST_PRIVATE_KEY, TEST_PUBLIC_KEY

KEY = TEST_PRIVATE_KEY
PUBLIC_KEY = TEST_PUBLIC_KEY
ADDRESS = "0x5a1c0d3e9b2f4a7c"  # the account's L2 address (any felt: registered with the fake)


def settings_for(fake: FakeParadex, key: str = hex(KEY), address: str = ADDRESS) -> Any:
    """Settings for ``fake``; ``key`` is the setting's value (a hex key or ``prefect-secret:<block>``)."""
    return fake.settings(l2_private_key=SecretStr(key), l2_address=address)


def hold_still(fake: FakeParadex) -> None:
    """Freeze the fake's books: they change only by our orders and ``fake.market_trade``."""
    for slot in fake.exchange.slots.values():
        slot.source = StaticSource()


@contextlib.asynccontextmanager
async def session(*, register: bool = True, start: bool = True, static: bool = True, key: str = hex(KEY),
                  **venue_kw: Any) -> AsyncIterator[tuple[FakeParadex, ParadexVenue]]:
    """A running fake with the test account onboarded, and a started ``ParadexVenue`` on it.

    ``static``: books hold still, so prices a test computes stay valid (see ``hold_still``).
    """
    fake = FakeParadex(accounts={ADDRESS: PUBLIC_KEY} if register else None)
    if static:
        hold_still(fake)
    await fake.start()
    policy = {k: venue_kw.pop(k) for k in list(venue_kw) if k in RequestSettings.model_fields}
    policy.setdefault("request_timeout_s", 3.0)
    venue = ParadexVenue(settings_for(fake, key).model_copy(update=policy), **venue_kw)
    try:
        if start:
            await venue.start()
        yield fake, venue
    finally:
        await venue.close()
        await fake.stop()


async def resting_price(venue: ParadexVenue, side: Side, symbol: str = "SOL", bps: int = 200) -> Decimal:
    """A price ``bps`` behind the touch on ``side``'s own side: a post-only order there rests."""
    b = await venue.bbo(symbol)
    ins = await venue.instrument(symbol)
    raw = b.bid * (1 - Decimal(bps) / 10_000) if side is Side.BUY else b.ask * (1 + Decimal(bps) / 10_000)
    return ins.round_price(raw, side)


async def crossing_price(venue: ParadexVenue, side: Side, symbol: str = "SOL", ticks: int = 5) -> Decimal:
    """A price ``ticks`` through the opposite touch: a limit order there takes liquidity."""
    b = await venue.bbo(symbol)
    ins = await venue.instrument(symbol)
    return b.opposite(side) + side.sign * ticks * ins.tick


async def until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until ``predicate()`` holds (polling every 10 ms); fail after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)
