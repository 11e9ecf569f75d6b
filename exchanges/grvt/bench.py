"""Benchmark hooks for ``bench/adapters.py``: GRVT's own parts of an order and a stream message.

- ``signer``: build one SDK order (``get_grvt_order``) and sign it (``grvt_signing.OrderSigner``:
  the EIP-712 digest written out + secp256k1 through coincurve), as ``place_limit`` does before
  sending;
- ``bare_sign``: the secp256k1 signature of a 32-byte hash alone through libsecp256k1 (the floor);
- ``frames``: stream frames as the fake encodes them (fill, order, mini ticker, 10-level book) and
  the adapter's decoding (JSON + wire -> domain) for each.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import coincurve
from eth_account import Account
from pysdk.grvt_ccxt_utils import get_grvt_order

from exchanges.grvt.adapter import GrvtVenue
from exchanges.grvt.fake import FakeGrvt
from exchanges.grvt.wire import client_order_id, parse_book, parse_fill, parse_mini, parse_order


def signer(venue: GrvtVenue, symbol: str, price: Decimal, size: Decimal) -> Callable[[int], Any]:
    client = venue._client
    assert client is not None
    instrument = f"{symbol}_USDT_Perp"

    def sign(i: int) -> Any:
        order = get_grvt_order(sub_account_id=client.get_trading_account_id(), symbol=instrument,
                               order_type="limit", side="buy", amount=size, limit_price=price,
                               order_duration_secs=venue.order_ttl_s,
                               params={"client_order_id": client_order_id(f"bench-sign-{i}"), "post_only": True})
        return client._signer.payload(order, client.markets)
    return sign


def bare_sign(venue: GrvtVenue) -> Callable[[int], Any]:
    client = venue._client
    assert client is not None
    key = coincurve.PrivateKey(bytes(Account.from_key(client._private_key).key))
    return lambda i: key.sign_recoverable((10**70 + i).to_bytes(32, "big"), hasher=None)


async def frames(venue: GrvtVenue, fake: FakeGrvt, symbol: str,
                 trade: Callable[[], Awaitable[Any]]) -> dict[str, tuple[list[str], Callable[[str], Any]]]:
    await trade()
    e = fake.engine
    account = fake.accounts[0]
    instrument = f"{symbol}_USDT_Perp"
    views = {"fill": ([e.fill_view(f, account) for f in e.ex.fill_log][-5:], parse_fill),
             "order": ([e.order_view(r) for r in list(e.orders.values())][-5:], parse_order),
             "mini": ([e.mini(instrument)], parse_mini),
             "book (10 levels)": ([e.book(instrument, 10)], lambda f: parse_book(f, 10))}
    out: dict[str, tuple[list[str], Callable[[str], Any]]] = {}
    for name, (feeds, parse) in views.items():
        raw = [json.dumps({"stream": f"v1.{name.split()[0]}", "selector": account.sub_account_id,
                           "sequence_number": "1", "feed": f}) for f in feeds]
        out[name] = (raw, lambda r, parse=parse: parse(json.loads(r)["feed"]))  # type: ignore[misc]
    return out
