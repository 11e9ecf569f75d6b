"""Rate limits, 5xx and slow answers: waited out, looked up, never blindly repeated."""

from __future__ import annotations

import time

import pytest

from core.errors import RateLimited, VenueUnavailable
from core.types import OrderStatus
from tests.grvt_kit import SIZE, grvt_env, taker


async def test_429_waits_for_retry_after_then_succeeds() -> None:
    async with grvt_env() as (fake, venue):
        fake.faults.rate_limited, fake.faults.retry_after_s = 2, 0.3
        t0 = time.monotonic()
        await venue.positions()
        assert time.monotonic() - t0 >= 0.6  # two answers of Retry-After 0.3 s, both honoured
        assert fake.requests["positions"] == 3


async def test_429_on_an_order_is_resent_once_the_venue_allows() -> None:
    async with grvt_env() as (fake, venue):
        await venue.instrument("ETH")
        fake.faults.rate_limited, fake.faults.retry_after_s, fake.faults.only = 1, 0.25, frozenset({"create_order"})
        t0 = time.monotonic()
        order = await taker(venue, "rl-1")
        assert time.monotonic() - t0 >= 0.25
        assert order.status is OrderStatus.FILLED
        assert fake.requests["create_order"] == 2 and len(fake.engine.ex.orders) == 1


async def test_a_retry_after_beyond_the_cap_is_raised_not_sent_early() -> None:
    async with grvt_env(max_rate_limit_wait_s=0.1, max_attempts=3) as (fake, venue):
        fake.faults.rate_limited, fake.faults.retry_after_s = 10, 60
        t0 = time.monotonic()
        with pytest.raises(RateLimited) as info:
            await venue.positions()
        assert info.value.retry_after == 60  # what the venue said, for the caller
        assert time.monotonic() - t0 < 2  # not waited for a minute ...
        assert fake.requests["positions"] == 1  # ... and never sent again before the venue allows


async def test_rate_limit_retries_are_bounded_by_max_attempts() -> None:
    async with grvt_env(max_attempts=3) as (fake, venue):
        fake.faults.rate_limited, fake.faults.retry_after_s = 10, 0.05
        with pytest.raises(RateLimited):
            await venue.positions()
        assert fake.requests["positions"] == 3


async def test_5xx_after_the_order_was_placed_is_resolved_by_client_id() -> None:
    async with grvt_env() as (fake, venue):
        await venue.instrument("ETH")
        fake.faults.server_errors_after_processing, fake.faults.only = 1, frozenset({"create_order"})
        order = await taker(venue, "5xx-placed")
        assert order.status is OrderStatus.FILLED and order.client_id == "5xx-placed"
        assert fake.requests["create_order"] == 1  # looked up, not sent again
        assert fake.requests["order"] >= 1
        assert len(fake.engine.ex.orders) == 1 and sum(f.size for f in fake.engine.ex.fill_log) == SIZE


async def test_5xx_before_processing_is_looked_up_then_sent_once_more() -> None:
    async with grvt_env() as (fake, venue):
        await venue.instrument("ETH")
        fake.faults.server_errors, fake.faults.only = 1, frozenset({"create_order"})
        order = await taker(venue, "5xx-lost")
        assert order.status is OrderStatus.FILLED
        assert fake.requests["create_order"] == 2 and fake.requests["order"] >= 1
        assert len(fake.engine.ex.orders) == 1  # exactly one order, despite two sends


async def test_timeout_on_create_looks_the_order_up_instead_of_resending() -> None:
    async with grvt_env(request_timeout_s=0.3) as (fake, venue):
        await venue.instrument("ETH")
        fake.faults.slow, fake.faults.slow_s, fake.faults.only = 1, 1.0, frozenset({"create_order"})
        order = await taker(venue, "slow-1")
        assert order.status is OrderStatus.FILLED
        assert fake.requests["create_order"] == 1 and len(fake.engine.ex.orders) == 1


async def test_reads_retry_5xx_and_give_up_with_venue_unavailable() -> None:
    async with grvt_env(max_attempts=3) as (fake, venue):
        fake.faults.server_errors = 2
        assert await venue.open_orders() == []
        assert fake.requests["open_orders"] == 3
        fake.faults.server_errors = 5
        with pytest.raises(VenueUnavailable):
            await venue.open_orders()
