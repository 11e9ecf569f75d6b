"""Failure modes over the wire: 429 backoff, 5xx and timeouts on order placement (lookup by client
id, never a blind resend), retried reads, malformed bodies."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from core.errors import BadResponse, VenueTimeout, VenueUnavailable
from core.reasons import Reason
from core.types import OrderStatus, Side
from tests.paradex_kit import resting_price, session


def sim_orders_with(fake, client_id: str) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for o in fake.exchange.orders.values() if o.client_id == client_id)


async def test_429_on_an_order_resends_it_freshly_signed_after_retry_after() -> None:
    async with session() as (fake, venue):
        price = await resting_price(venue, Side.BUY)
        fake.faults.rate_limit(retry_after=0.5, route="POST /v1/orders")
        t0_ms = time.time() * 1000
        o = await venue.place_limit("SOL", Side.BUY, price, Decimal("1"), client_id="rl-1", post_only=True)
        assert o.status is OrderStatus.OPEN
        assert fake.server.count("POST /v1/orders") == 2  # refused once (nothing done), then accepted
        assert fake.engine.orders[o.order_id].signature_timestamp >= t0_ms + 500  # signed after the wait
        assert sim_orders_with(fake, "rl-1") == 1


async def test_5xx_before_the_venue_took_the_order_is_resent_only_after_the_lookup() -> None:
    async with session() as (fake, venue):
        price = await resting_price(venue, Side.BUY)
        fake.faults.server_error(status=503, route="POST /v1/orders")
        o = await venue.place_limit("SOL", Side.BUY, price, Decimal("1"), client_id="5xx-before", post_only=True)
        assert o.status is OrderStatus.OPEN
        trail = [r for r in fake.requests if r.startswith(("POST /v1/orders", "GET /v1/orders/by_client_id"))]
        assert trail == ["POST /v1/orders", "GET /v1/orders/by_client_id/5xx-before", "POST /v1/orders"]
        assert sim_orders_with(fake, "5xx-before") == 1


async def test_a_venue_that_keeps_failing_gets_one_resend_then_an_error() -> None:
    async with session(max_resends=1) as (fake, venue):
        price = await resting_price(venue, Side.BUY)
        fake.faults.server_error(count=None, status=503, route="POST /v1/orders")
        with pytest.raises(VenueUnavailable):
            await venue.place_limit("SOL", Side.BUY, price, Decimal("1"), client_id="down", post_only=True)
        assert fake.server.count("POST /v1/orders") == 2
        assert fake.server.count("GET /v1/orders/by_client_id/down") == 2  # looked up before each decision


async def test_when_even_the_lookup_fails_the_order_fate_is_reported_unknown() -> None:
    async with session(max_attempts=2) as (fake, venue):
        price = await resting_price(venue, Side.BUY)
        fake.faults.server_error(status=500, route="POST /v1/orders", after_processing=True)
        fake.faults.server_error(count=None, route="GET /v1/orders/by_client_id")
        with pytest.raises(VenueTimeout) as err:
            await venue.place_limit("SOL", Side.BUY, price, Decimal("1"), client_id="unknown", post_only=True)
        assert "fate is unknown" in err.value.detail and "client id" in err.value.detail
        assert fake.server.count("POST /v1/orders") == 1  # never resent blindly
        assert sim_orders_with(fake, "unknown") == 1


async def test_reads_and_cancels_are_retried_on_5xx() -> None:
    async with session() as (fake, venue):
        o = await venue.place_limit("SOL", Side.BUY, await resting_price(venue, Side.BUY), Decimal("1"),
                                    client_id="rd-1", post_only=True)
        fake.faults.server_error(count=2, route="GET /v1/orders")
        assert [x.order_id for x in await venue.open_orders()] == [o.order_id]
        fake.faults.server_error(route=f"DELETE /v1/orders/{o.order_id}", after_processing=True)
        assert (await venue.cancel("SOL", order_id=o.order_id)).status is OrderStatus.CANCELLED  # retry: closed


async def test_a_malformed_body_is_a_bad_response() -> None:
    async with session(max_attempts=1) as (fake, venue):
        fake.faults.malformed(route="GET /v1/positions")
        with pytest.raises(BadResponse) as err:
            await venue.positions()
        assert err.value.reason is Reason.BAD_RESPONSE and "GET /positions" in err.value.detail
        assert await venue.positions() == []  # the next answer is fine
