"""Benchmark hooks for ``bench/adapters.py``: Backpack's own parts of an order and a stream message.

- ``signer``: the order body and its ED25519 request signature, as ``place_limit`` builds them;
- ``bare_sign``: the ED25519 signature of a message of the same length alone (the floor);
- ``frames``: WebSocket envelopes as the fake encodes them (bookTicker, depth, orderFill) and the
  adapter's decoding of each.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from core.types import Side
from exchanges.backpack import wire
from exchanges.backpack.adapter import BackpackVenue
from exchanges.backpack.fake import FakeBackpack
from exchanges.backpack.stream import BackpackFeed


def _body(symbol: str, price: Decimal, size: Decimal, i: int) -> dict[str, Any]:
    return {"symbol": wire.market_symbol(symbol), "side": wire.SIDES[Side.BUY], "orderType": "Limit",
            "price": wire.text(price), "quantity": wire.text(size), "timeInForce": "GTC",
            "clientId": wire.client_number(f"bench-sign-{i}"), "postOnly": True}


def signer(venue: BackpackVenue, symbol: str, price: Decimal, size: Decimal) -> Callable[[int], Any]:
    return lambda i: venue._headers("orderExecute", _body(symbol, price, size, i))


def bare_sign(venue: BackpackVenue) -> Callable[[int], Any]:
    assert venue._seed is not None
    seed = venue._seed
    message = wire.signing_string("orderExecute", _body("SOL", Decimal(1), Decimal(1), 0), int(time.time() * 1000))
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed))
    data = message.encode()
    return lambda i: key.sign(data)


async def frames(venue: BackpackVenue, fake: FakeBackpack, symbol: str,
                 trade: Callable[[], Awaitable[Any]]) -> dict[str, tuple[list[str], Callable[[str], Any]]]:
    await trade()
    ex, now = fake.ex, fake.now()
    fill = ex.fill_log[-1]
    empty: dict[str, dict[Decimal, Decimal]] = {"b": {}, "a": {}}
    items = {"bookTicker": (f"bookTicker.{wire.market_symbol(symbol)}", ex.bbo(symbol, now),
                            lambda d: [wire.bbo_of(symbol, d)]),
             "depth (15 levels)": (f"depth.{wire.market_symbol(symbol)}", ex.book(symbol, 15, now),
                                   lambda d: [len(d["a"]) + len(d["b"])]),
             "orderFill": ("account.orderUpdate", fill, lambda d: [wire.fill_event(d, venue._client_ids)])}
    out: dict[str, tuple[list[str], Callable[[str], Any]]] = {}
    for name, (stream, item, parse) in items.items():
        raw = json.dumps({"stream": stream, "data": fake._event(stream, item, {k: dict(v) for k, v in empty.items()})})
        out[name] = ([raw], BackpackFeed("ws://unused", stream, parse).decode)
    return out
