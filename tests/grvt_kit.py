"""Helpers for the GRVT adapter tests: a fake GRVT on loopback and an adapter pointed at it.

Everything is real: the fake is an aiohttp server speaking GRVT's protocol over the simulator's
engine (on a real clock), and the adapter runs grvt-pysdk's code against it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from pydantic import SecretStr

from core.clock import RealClock
from core.types import Order, Side
from exchanges.grvt.adapter import GrvtVenue
from exchanges.grvt.fake import FakeGrvt, demo_account
from exchanges.grvt.settings import GrvtSettings
from exchanges.policy import RequestSettings
from exchanges.sim.world import SimWorld

ACCOUNT, PRIVATE_KEY = demo_account("perpflow grvt tests")
SIZE = Decimal("0.01")


def settings(url: str, ws_url: str | None = None, *, api_key: str | None = None,
             private_key: str | None = None) -> GrvtSettings:
    return GrvtSettings(env="testnet", endpoint=url, ws_endpoint=ws_url,
                        api_key=SecretStr(api_key or ACCOUNT.api_key),
                        private_key=SecretStr(private_key or PRIVATE_KEY), trading_account_id=ACCOUNT.sub_account_id)


@asynccontextmanager
async def grvt_env(*, clock: RealClock | None = None, start: bool = True, fake_kw: dict[str, Any] | None = None,
                   **venue_kw: Any) -> AsyncIterator[tuple[FakeGrvt, GrvtVenue]]:
    world = SimWorld(venues=("grvt",), symbols=("ETH",), seed=11, clock=clock or RealClock())
    fake = FakeGrvt(world, accounts=[ACCOUNT], **(fake_kw or {}))
    url = await fake.start()
    venue_kw.setdefault("ws_reconnect_max_s", 0.2)
    policy = {k: venue_kw.pop(k) for k in list(venue_kw) if k in RequestSettings.model_fields}
    policy.setdefault("request_timeout_s", 2.0)
    venue = GrvtVenue(settings(url).model_copy(update=policy), **venue_kw)
    try:
        if start:
            await venue.start()
        yield fake, venue
    finally:
        await venue.close()
        await fake.stop()


async def wait_until(cond: Callable[[], bool], within: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def taker(venue: GrvtVenue, client_id: str, side: Side = Side.BUY, size: Decimal = SIZE) -> Order:
    """A small order that crosses the spread by a wide margin, so it fills at once."""
    ins = await venue.instrument("ETH")
    bbo = await venue.bbo("ETH")
    price = ins.round_price(bbo.ask * Decimal("1.01"), side) if side is Side.BUY else \
        ins.round_price(bbo.bid * Decimal("0.99"), side)
    return await venue.place_limit("ETH", side, price, size, client_id=client_id)


async def resting(venue: GrvtVenue, client_id: str, side: Side = Side.BUY, **kw: Any) -> Order:
    """A limit order 2 % away from the touch: it rests."""
    ins = await venue.instrument("ETH")
    bbo = await venue.bbo("ETH")
    price = ins.round_price(bbo.bid * Decimal("0.98"), side) if side is Side.BUY else \
        ins.round_price(bbo.ask * Decimal("1.02"), side)
    return await venue.place_limit("ETH", side, price, SIZE, client_id=client_id, **kw)


def subscribed(fake: FakeGrvt, stream: str) -> bool:
    return any(key[0] == stream for conn in fake.streams.connections for key in conn.pumps)


async def collect(stream: AsyncIterator[Any], into: list[Any]) -> None:
    async for item in stream:
        into.append(item)
