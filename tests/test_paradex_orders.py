"""ParadexVenue against the fake venue: metadata, order round trips, refusals and their reasons.

The real paradex-py code runs end to end (REST client, JWT auth, Starknet order signatures) over
loopback HTTP; the fake's matching engine is the simulator's.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import OrderRejected
from core.reasons import Reason
from core.types import Side
from tests.paradex_kit import crossing_price, resting_price, session


@pytest.mark.parametrize(("case", "reason"), [
    ("off_tick", Reason.OFF_TICK),
    ("off_step", Reason.OFF_LOT),
    ("below_min_notional", Reason.BELOW_MIN_NOTIONAL),
    ("above_max_size", Reason.SIZE_ABOVE_MAX),
    ("post_only_cross", Reason.POST_ONLY_WOULD_CROSS),
    ("no_margin", Reason.INSUFFICIENT_MARGIN),
    ("duplicate_client_id", Reason.DUPLICATE_CLIENT_ID),
    ("unknown_market", Reason.UNKNOWN_SYMBOL),
])
async def test_each_refusal_maps_to_its_reason(case: str, reason: Reason) -> None:
    async with session() as (fake, venue):
        rest = await resting_price(venue, Side.BUY)
        tick = (await venue.instrument("SOL")).tick
        orders = {
            "off_tick": ("SOL", rest + tick / 2, Decimal("1"), True),
            "off_step": ("SOL", rest, Decimal("1.005"), True),
            "below_min_notional": ("SOL", rest, Decimal("0.05"), True),
            "above_max_size": ("SOL", rest, Decimal("10001"), True),
            "post_only_cross": ("SOL", await crossing_price(venue, Side.BUY), Decimal("1"), True),
            "no_margin": ("SOL", rest, Decimal("9000"), False),  # ~1.3M notional on 20k equity
            "duplicate_client_id": ("SOL", rest, Decimal("1"), True),
            "unknown_market": ("DOGE", Decimal("0.1"), Decimal("1000"), True),
        }
        symbol, price, size, post_only = orders[case]
        if case == "duplicate_client_id":
            await venue.place_limit("SOL", Side.BUY, rest, Decimal("1"), client_id="ref-x", post_only=True)
        before = len(fake.exchange.open)
        with pytest.raises(OrderRejected) as err:
            await venue.place_limit(symbol, Side.BUY, price, size, client_id="ref-x", post_only=post_only)
        assert err.value.reason is reason
        assert err.value.venue == "paradex"
        assert len(fake.exchange.open) == before  # nothing rests and nothing filled
        assert fake.exchange.fill_log == []
        # refusals up front are 400s; the risk/matching ones are orders the venue accepted, then closed
        accepted = case in ("post_only_cross", "no_margin")
        assert any(o.rejected for o in fake.engine.orders.values()) is accepted


async def test_a_signature_older_than_recv_window_is_refused_not_executed_late() -> None:
    async with session(recv_window_ms=200) as (fake, venue):
        fake.faults.slow(0.4, route="POST /v1/orders")  # queued 400 ms before the venue reads it
        with pytest.raises(OrderRejected) as err:
            await venue.place_limit("SOL", Side.BUY, await resting_price(venue, Side.BUY), Decimal("1"),
                                    client_id="stale", post_only=True)
        assert err.value.reason is Reason.INVALID_SIGNATURE and "recv_window" in err.value.detail
        assert fake.engine.orders == {}


async def test_an_order_signed_with_a_key_the_venue_no_longer_accepts_is_refused() -> None:
    async with session() as (fake, venue):
        price = await resting_price(venue, Side.BUY)
        fake.register_account("0x5a1c0d3e9b2f4a7c", 0x1234567)  # the account's key was rotated on the venue
        with pytest.raises(OrderRejected) as err:
            await venue.place_limit("SOL", Side.BUY, price, Decimal("1"), client_id="rotated", post_only=True)
        assert err.value.reason is Reason.INVALID_SIGNATURE
        assert fake.engine.orders == {}
