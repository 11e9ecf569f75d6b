"""An order signed by the adapter verifies against the account's public key with implementations
that share no code with paradex-py: the message hash is rebuilt from the fields the venue received
(fast-stark-crypto's Pedersen, keccak from eth-utils) and the ECDSA signature checked in pure
Python and in Rust."""

from __future__ import annotations

from decimal import Decimal

import fast_stark_crypto
from starknet_py.common import int_from_bytes

from core.types import Side
from exchanges.paradex.fake_venue import CHAIN_ID, WireOrder, parse_signature
from tests.paradex_kit import ADDRESS, KEY, resting_price, session
from tests.stark import py_verify, typed_message_hash


def order_hash(o: WireOrder, **override: object) -> int:
    fields = {"timestamp": o.signature_timestamp, "market": o.market, "side": "1" if o.side is Side.BUY else "2",
              "orderType": o.type, "size": int(o.size.scaleb(8)), "price": int(o.price.scaleb(8)) if o.price else 0}
    fields.update(override)
    return typed_message_hash(int_from_bytes(CHAIN_ID.encode()), int(ADDRESS, 16), "Order",
                              [(k, v) for k, v in fields.items()])  # type: ignore[misc]


async def test_order_signatures_verify_independently_and_bind_every_field() -> None:
    public_key = fast_stark_crypto.get_public_key(KEY)
    async with session() as (fake, venue):
        limit = await venue.place_limit("SOL", Side.BUY, await resting_price(venue, Side.BUY), Decimal("1.25"),
                                        client_id="sig-limit", post_only=True)
        ioc = await venue.place_market("SOL", Side.SELL, Decimal("0.1"), client_id="sig-ioc",
                                       max_slippage_bps=Decimal(20))
        for placed in (limit, ioc):
            wire = fake.engine.orders[placed.order_id]
            r, s = parse_signature(wire.signature)
            msg_hash = order_hash(wire)
            assert py_verify(public_key, msg_hash, r, s)
            assert fast_stark_crypto.verify(public_key, msg_hash, r, s)
            # the signature covers price, size, side and the timestamp: change one and it fails
            for change in ({"price": int(wire.price.scaleb(8)) + 1}, {"size": int(wire.size.scaleb(8)) * 2},  # type: ignore[union-attr]
                           {"side": "2" if wire.side is Side.BUY else "1"},
                           {"timestamp": wire.signature_timestamp + 1}):
                assert not fast_stark_crypto.verify(public_key, order_hash(wire, **change), r, s)
            assert wire.recv_window == venue.recv_window_ms  # an explicit validity window on every order
