"""Benchmark hooks for ``bench/adapters.py``: Extended's own parts of an order and a stream message.

- ``signer``: the order the SDK builds and Stark-signs (``create_order_object``: amounts, fee cap,
  nonce, expiry hashed with ``fast_stark_crypto``, then signed), as ``place_limit`` does;
- ``bare_sign``: the Stark signature of one order hash alone (the floor);
- ``frames``: stream messages as the fake encodes them (order book depth 1, a book delta, an account
  TRADE) and the adapter's decoding of each (the SDK's pydantic model, then ``wire``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from x10.models.account import AccountStreamDataModel
from x10.models.http import WrappedStreamResponseModel
from x10.models.orderbook import OrderbookUpdateModel

from core.types import Side
from exchanges.extended import wire
from exchanges.extended.adapter import ExtendedVenue
from exchanges.extended.fake import FakeExtended


def signer(venue: ExtendedVenue, symbol: str, price: Decimal, size: Decimal) -> Callable[[int], Any]:
    market, fee = venue._markets[symbol], venue._instruments[symbol].taker_fee
    return lambda i: venue._sign(market, Side.BUY, price, size, f"bench-sign-{i}", fee, market_order=False,
                                 post_only=True, reduce_only=False)


def bare_sign(venue: ExtendedVenue) -> Callable[[int], Any]:
    assert venue._account is not None
    account = venue._account
    order_hash = 0x3A5B9C7D1E2F  # any field element: the signature's cost does not depend on it
    return lambda i: account.sign(order_hash + i)


async def frames(venue: ExtendedVenue, fake: FakeExtended, symbol: str,
                 trade: Callable[[], Awaitable[Any]]) -> dict[str, tuple[list[str], Callable[[str], Any]]]:
    await trade()
    ex, now = fake.ex, fake.now()
    market = wire.market_symbol(symbol)
    fill = ex.fill_log[-1]
    top = fake._levels(ex.book(symbol, 1, now))
    full = fake._levels(ex.book(symbol, 15, now))
    delta = {"b": dict(list(full["b"].items())[:3]), "a": dict(list(full["a"].items())[:3])}

    def frame(kind: str, data: Any) -> str:
        return json.dumps({"type": kind, "data": data, "ts": int(now * 1000), "seq": 1})

    book_model = WrappedStreamResponseModel[OrderbookUpdateModel]
    account_model = WrappedStreamResponseModel[AccountStreamDataModel]
    await venue.fills(fill.ts - 1)  # the fill's client id is known, as on a running stream

    def decode_top(raw: str) -> Any:
        msg = book_model.model_validate_json(raw)
        return wire.bbo(symbol, msg.data, msg.ts / 1000)

    def decode_delta(raw: str) -> Any:
        msg = book_model.model_validate_json(raw)
        return len(msg.data.bid) + len(msg.data.ask)

    def decode_trade(raw: str) -> Any:
        msg = account_model.model_validate_json(raw)
        return [wire.fill(t, venue._clients.get(str(t.order_id), "")) for t in msg.data.trades or []]

    return {"orderbook depth 1": ([frame("SNAPSHOT", fake._book_json(market, top))], decode_top),
            "orderbook DELTA (6 levels)": ([frame("DELTA", fake._book_json(market, delta))], decode_delta),
            "account TRADE": ([frame("TRADE", {"trades": [fake.trade_json(fill)]})], decode_trade)}
