"""Benchmark hooks for ``bench/adapters.py``: Paradex's own parts of an order and a stream message.

- ``signer``: build one SDK order and sign it (typed-data hash + Stark ECDSA), as ``place_limit``
  does before sending;
- ``bare_sign``: the Stark ECDSA signature alone (the floor any signing scheme pays);
- ``frames``: WebSocket frames captured from the fake (bbo, 15-level book, fills) and the adapter's
  decoder for each.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import websockets

from core.types import Side
from exchanges.paradex import wire
from exchanges.paradex.adapter import BOOK_CHANNEL, ParadexVenue
from exchanges.paradex.fake import FakeParadex
from exchanges.paradex.stream import WsFeed


def signer(venue: ParadexVenue, symbol: str, price: Decimal, size: Decimal) -> Callable[[int], Any]:
    market = f"{symbol}-USD-PERP"
    account = venue.account

    def sign(i: int) -> Any:
        order = venue.build_order(market, Side.BUY, size, price, "POST_ONLY", f"bench-sign-{i}", False)
        order.signature = account.sign_order(order)
        return order
    return sign


def bare_sign(venue: ParadexVenue) -> Callable[[int], Any]:
    from paradex_py.account.utils import message_signature

    key = venue.account.starknet.signer.private_key
    return lambda i: message_signature(msg_hash=10**70 + i, priv_key=key)


async def _capture(fake: FakeParadex, venue: ParadexVenue, channel: str, count: int,
                   traffic: Callable[[], Awaitable[Any]] | None = None) -> list[str]:
    frames: list[str] = []
    async with websockets.connect(fake.ws_url) as ws:
        await ws.send(json.dumps({"id": 1, "jsonrpc": "2.0", "method": "auth",
                                  "params": {"bearer": venue.account.jwt_token}}))
        await ws.send(json.dumps({"id": 2, "jsonrpc": "2.0", "method": "subscribe", "params": {"channel": channel}}))
        while len(frames) < count:
            if traffic is not None:
                await traffic()
            raw = await asyncio.wait_for(ws.recv(), 10)
            if '"subscription"' in raw:
                frames.append(str(raw))
    return frames


async def frames(venue: ParadexVenue, fake: FakeParadex, symbol: str,
                 trade: Callable[[], Awaitable[Any]]) -> dict[str, tuple[list[str], Callable[[str], Any]]]:
    market = f"{symbol}-USD-PERP"
    book = BOOK_CHANNEL.format(market=market)
    out: dict[str, tuple[list[str], Callable[[str], Any]]] = {}
    for name, channel, parse, traffic in (("bbo", f"bbo.{market}", wire.bbo, None),
                                          ("book (15 levels)", book, lambda d: wire.book_snapshot(d, 15), None),
                                          ("fill", "fills.ALL", wire.fill, trade)):
        feed: WsFeed[Any] = WsFeed(venue, channel, parse)  # type: ignore[arg-type]
        out[name] = (await _capture(fake, venue, channel, 10 if traffic else 30, traffic), feed.decode)
    return out
