"""Benchmark hooks for ``bench/adapters.py``: Hibachi's own parts of an order and a stream message.

- ``signer``: the order body with its signature (binary payload + ECDSA secp256k1 or HMAC), as
  ``place_limit`` builds it;
- ``bare_sign``: the signature of a payload of the same length alone (the floor);
- ``frames``: WebSocket messages as the fake encodes them (an orderbook update, a trade_update)
  and the adapter's decoding of each.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from core.types import Side
from exchanges.hibachi import wire
from exchanges.hibachi.adapter import HibachiVenue
from exchanges.hibachi.fake import FakeHibachi


def _contract(venue: HibachiVenue, symbol: str) -> wire.Contract:
    return wire.contract(venue._markets[wire.market_symbol(symbol)])


def signer(venue: HibachiVenue, symbol: str, price: Decimal, size: Decimal) -> Callable[[int], Any]:
    c = _contract(venue, symbol)
    assert venue._fees is not None
    cap = max(*venue._fees, Decimal(0))

    def build(i: int) -> dict[str, Any]:
        nonce = wire.nonce_of(f"bench-sign-{i}")
        return {"accountId": venue._account, "symbol": c.symbol, "nonce": nonce, "orderType": "LIMIT",
                "side": wire.SIDES[Side.BUY], "quantity": wire.text(size), "price": wire.text(price),
                "maxFeesPercent": wire.text(cap), "orderFlags": "POST_ONLY",
                "signature": venue._sign(wire.order_payload(c, nonce, Side.BUY, size, price, cap))}
    return build


def bare_sign(venue: HibachiVenue) -> Callable[[int], Any]:
    assert venue._signer is not None
    payload = bytes(40)  # a limit order payload's length
    return lambda i: venue._signer.sign(payload)  # type: ignore[union-attr]


async def frames(venue: HibachiVenue, fake: FakeHibachi, symbol: str,
                 trade: Callable[[], Awaitable[Any]]) -> dict[str, tuple[list[str], Callable[[str], Any]]]:
    await trade()
    ex, now = fake.ex, fake.now()
    market = wire.market_symbol(symbol)
    b = ex.book(symbol, 15, now)
    book_msg = json.dumps({"symbol": market, "topic": "orderbook", "data": {
        "messageType": "Update", "bid": fake._side(b.bids), "ask": fake._side(b.asks)}})
    fill_msg = json.dumps({"topic": "trade_update", "data": fake.trade_json(ex.fill_log[-1])})
    state: dict[str, dict[Decimal, Decimal]] = {}
    rates = await venue._fee_rates()

    def book(raw: str) -> Any:
        wire.apply_book_update(state, json.loads(raw)["data"])
        return wire.book_of(symbol, state, 15, now)

    def fill(raw: str) -> Any:
        return wire.fill(json.loads(raw)["data"], venue._client_ids, rates)

    return {"orderbook update (15 levels)": ([book_msg], book), "trade_update": ([fill_msg], fill)}
