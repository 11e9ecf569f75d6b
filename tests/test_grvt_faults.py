"""Rate limits, 5xx and slow answers: waited out, looked up, never blindly repeated."""

from __future__ import annotations

import pytest

from core.errors import RateLimited, VenueUnavailable
from tests.grvt_kit import grvt_env


async def test_rate_limit_retries_are_bounded_by_max_attempts() -> None:
    async with grvt_env(max_attempts=3) as (fake, venue):
        fake.faults.rate_limited, fake.faults.retry_after_s = 10, 0.05
        with pytest.raises(RateLimited):
            await venue.positions()
        assert fake.requests["positions"] == 3


async def test_reads_retry_5xx_and_give_up_with_venue_unavailable() -> None:
    async with grvt_env(max_attempts=3) as (fake, venue):
        fake.faults.server_errors = 2
        assert await venue.open_orders() == []
        assert fake.requests["open_orders"] == 3
        fake.faults.server_errors = 5
        with pytest.raises(VenueUnavailable):
            await venue.open_orders()
