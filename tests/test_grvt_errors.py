"""Every refusal the fake GRVT answers with GRVT's error shape maps to the contract's reason."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from pysdk.grvt_ccxt_utils import get_grvt_order, get_order_payload

from core.clock import RealClock
from core.errors import OrderRejected, VenueError
from core.reasons import Reason
from core.types import Side
from exchanges.grvt.wire import grvt_code
from tests.grvt_kit import PRIVATE_KEY, SIZE, grvt_env, settings, taker


class AheadClock(RealClock):
    """The venue's clock, ahead of ours: every signature we make has already expired there."""

    def __init__(self, ahead_s: float) -> None:
        self.ahead_s = ahead_s

    def now(self) -> float:
        return time.time() + self.ahead_s


async def _refused(coro: object) -> OrderRejected:
    with pytest.raises(OrderRejected) as info:
        await coro  # type: ignore[misc]
    return info.value


async def test_tick_step_and_minimum_refusals() -> None:
    async with grvt_env() as (fake, venue):
        ins = await venue.instrument("ETH")
        bid = (await venue.bbo("ETH")).bid * Decimal("0.98")
        price = ins.round_price(bid, Side.BUY)
        off_tick = await _refused(venue.place_limit("ETH", Side.BUY, price + ins.tick / 2, SIZE, client_id="t1"))
        assert off_tick.reason is Reason.OFF_TICK and grvt_code(off_tick) == 2064
        off_step = await _refused(venue.place_limit("ETH", Side.BUY, price, SIZE * Decimal("1.5"), client_id="t2"))
        assert off_step.reason is Reason.OFF_LOT and grvt_code(off_step) == 2065
        tiny = await _refused(venue.place_limit("ETH", Side.BUY, price, ins.min_size / 10, client_id="t3"))
        assert tiny.reason is Reason.BELOW_MIN_SIZE and grvt_code(tiny) == 2062
        huge = await _refused(venue.place_limit("ETH", Side.BUY, price, Decimal(1001), client_id="t4"))
        assert huge.reason is Reason.SIZE_ABOVE_MAX and grvt_code(huge) == 2081
        margin = await _refused(venue.place_limit("ETH", Side.BUY, price, Decimal(900), client_id="t5"))
        assert margin.reason is Reason.INSUFFICIENT_MARGIN and grvt_code(margin) == 2080
        assert fake.engine.ex.orders == {}  # nothing reached the book


async def test_post_only_that_would_cross_is_rejected_as_grvt_does() -> None:
    async with grvt_env() as (fake, venue):
        ins = await venue.instrument("ETH")
        through = ins.round_price((await venue.bbo("ETH")).ask * Decimal("1.01"), Side.BUY)
        err = await _refused(venue.place_limit("ETH", Side.BUY, through, SIZE, client_id="po-1", post_only=True))
        assert err.reason is Reason.POST_ONLY_WOULD_CROSS
        (rec,) = fake.engine.orders.values()
        assert rec.reject_reason == "FAIL_POST_ONLY" and rec.sim_id is None  # refused, never matched
        assert await venue.fills(0) == []


async def test_unknown_instrument() -> None:
    async with grvt_env() as (fake, venue):
        err = await _refused(venue.instrument("DOGE"))
        assert err.reason is Reason.UNKNOWN_SYMBOL
        err = await _refused(venue.place_limit("DOGE", Side.BUY, Decimal("0.1"), Decimal(100), client_id="d1"))
        assert err.reason is Reason.UNKNOWN_SYMBOL
        # Delisted after the client loaded it: the order reaches the venue, which answers 2061.
        await venue.instrument("ETH")
        del fake.engine.instruments["ETH_USDT_Perp"]
        err = await _refused(venue.place_limit("ETH", Side.BUY, Decimal(100), SIZE, client_id="d2"))
        assert err.reason is Reason.UNKNOWN_SYMBOL and grvt_code(err) == 2061


async def test_duplicate_client_id_and_reduce_only_without_position() -> None:
    async with grvt_env() as (_fake, venue):
        await taker(venue, "dup")
        err = await _refused(taker(venue, "dup"))
        assert err.reason is Reason.DUPLICATE_CLIENT_ID and grvt_code(err) == 2012
        err = await _refused(venue.place_market("ETH", Side.BUY, SIZE, client_id="ro", max_slippage_bps=Decimal(20),
                                                reduce_only=True))
        assert err.reason is Reason.REDUCE_ONLY_WOULD_INCREASE


async def test_signature_from_an_unregistered_key_is_refused() -> None:
    async with grvt_env(start=False) as (fake, venue):
        venue.settings = settings(fake.base_url, private_key="0x" + "42" * 32)
        err = await _refused(taker(venue, "wrong-key"))
        assert err.reason is Reason.INVALID_SIGNATURE and grvt_code(err) == 2000
        assert fake.engine.orders == {}


async def test_tampered_payload_does_not_match_its_signature() -> None:
    async with grvt_env() as (_fake, venue):
        client = await venue.client()
        await venue.instrument("ETH")
        order = get_grvt_order(sub_account_id=client.get_trading_account_id(), symbol="ETH_USDT_Perp",
                               order_type="limit", side="buy", amount="0.01", limit_price="100",
                               order_duration_secs=60, params={"client_order_id": str(2**63 + 5)})
        payload = get_order_payload(order, private_key=PRIVATE_KEY, env=client.env, instruments=client.markets)
        payload["order"]["legs"][0]["size"] = "0.02"  # after signing
        with pytest.raises(VenueError) as info:
            await client._auth_and_post(client.url("CREATE_ORDER"), payload)
        assert info.value.reason is Reason.INVALID_SIGNATURE and grvt_code(info.value) == 2002


async def test_expired_signature() -> None:
    async with grvt_env(clock=AheadClock(3 * 24 * 3600), order_ttl_s=3600) as (_fake, venue):
        err = await _refused(taker(venue, "late"))
        assert err.reason is Reason.INVALID_SIGNATURE and grvt_code(err) == 2001


async def test_login_rejected_is_an_auth_error() -> None:
    async with grvt_env(start=False) as (fake, venue):
        venue.settings = settings(fake.base_url, api_key="not-a-registered-key")
        with pytest.raises(VenueError) as info:
            await venue.start()
        assert info.value.reason is Reason.AUTH
        assert fake.requests["login"] == 1  # an auth refusal is not retried


async def test_a_session_the_venue_forgot_is_renewed_once() -> None:
    async with grvt_env() as (fake, venue):
        await venue.positions()
        fake.expire_sessions()
        assert await venue.positions() == []
        assert fake.requests["login"] == 2 and fake.requests["positions"] == 3
