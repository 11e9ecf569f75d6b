"""Benchmark hooks for ``bench/adapters.py``: Paradex's own parts of an order and a stream message.

- ``signer``: build one SDK order and sign it (typed-data hash + Stark ECDSA), as ``place_limit``
  does before sending;
- ``bare_sign``: the scheme's floor: the 9 Pedersen hashes an order's typed data needs once the
  constant links are cached (``signing.py``), on full-size field elements, and the Stark ECDSA
  signature, each on the fastest implementation installed (fast_stark_crypto's Pedersen, paradex-py's
  ``message_signature``); what any implementation of Paradex's order signature pays on this machine;
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


BARE_LABEL = "9 Pedersen + Stark ECDSA (the scheme's floor)"


def bare_sign(venue: ParadexVenue) -> Callable[[int], Any]:
    """The primitives an order's signature cannot do without, on an order's own field elements (a
    Pedersen hash costs more the more bits it hashes): 7 links of the order struct's chain (its six
    members and its length; the type hash's link is constant), 2 of the message's (the order's hash
    and the length; the prefix, domain and account are constant), then the ECDSA signature."""
    from fast_stark_crypto import pedersen_hash
    from paradex_py.account.utils import message_signature
    from paradex_py.message.order import build_order_message

    from exchanges.paradex.signing import felt

    account = venue.account
    key = account.starknet.signer.private_key
    order = venue.build_order("SOL-USD-PERP", Side.BUY, Decimal("0.5"), Decimal("123.45"), "POST_ONLY", "b", False)
    members = [felt(v) for v in build_order_message(account.l2_chain_id, order)["message"].values()]
    start = pedersen_hash(0, 2**249 + 12345)  # a full-size chain state, as the cached type hash link is

    def sign(i: int) -> Any:
        h = start
        for x in (members[0] + i, *members[1:], len(members) + 1):
            h = pedersen_hash(h, x)
        h = pedersen_hash(pedersen_hash(start, h), 4)
        return message_signature(msg_hash=h, priv_key=key)
    return sign


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
