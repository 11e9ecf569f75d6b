"""ParadexVenue against the fake venue: metadata, order round trips, refusals and their reasons.

The real paradex-py code runs end to end (REST client, JWT auth, Starknet order signatures) over
loopback HTTP; the fake's matching engine is the simulator's.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from core.errors import OrderRejected
from core.reasons import Reason
from core.types import Liquidity, OrderStatus, OrderType, Side
from tests.paradex_kit import crossing_price, resting_price, session


async def test_instrument_metadata_and_fee_rates_come_from_the_venue() -> None:
    async with session() as (fake, venue):
        ins = await venue.instrument("ETH")
        profile = fake.exchange.profile
        sim = fake.exchange.slots["ETH"].instrument
        assert (ins.venue_symbol, ins.tick, ins.lot, ins.min_notional, ins.max_order_size) == (
            "ETH-USD-PERP", sim.tick, sim.lot, sim.min_notional, sim.max_order_size)
        assert (ins.maker_fee, ins.taker_fee) == (profile.maker_fee, profile.taker_fee)  # the account's rates
        assert fake.server.count("GET /v1/markets") == 1 and fake.server.count("GET /v1/account/info") == 1
        assert (await venue.instrument("BTC")).max_order_size is None  # the venue publishes none
        with pytest.raises(OrderRejected) as err:
            await venue.instrument("DOGE")
        assert err.value.reason is Reason.UNKNOWN_SYMBOL


async def test_post_only_limit_round_trip_with_client_id() -> None:
    async with session() as (fake, venue):
        price = await resting_price(venue, Side.BUY)
        o = await venue.place_limit("SOL", Side.BUY, price, Decimal("0.5"), client_id="rt-1", post_only=True)
        assert (o.status, o.price, o.size, o.client_id, o.post_only, o.type) == (
            OrderStatus.OPEN, price, Decimal("0.5"), "rt-1", True, OrderType.LIMIT)
        wire = fake.engine.orders[o.order_id]
        assert (wire.client_id, wire.instruction, wire.recv_window) == ("rt-1", "POST_ONLY", venue.recv_window_ms)
        assert [x.order_id for x in await venue.open_orders("SOL")] == [o.order_id]
        assert (await venue.order("SOL", client_id="rt-1")).order_id == o.order_id  # type: ignore[union-attr]
        assert await venue.order("SOL", client_id="nope") is None

        done = await venue.cancel("SOL", order_id=o.order_id)
        assert done.status is OrderStatus.CANCELLED and done.filled == 0
        assert fake.exchange.orders[wire.sim_id].status is OrderStatus.CANCELLED  # type: ignore[index]
        assert await venue.open_orders() == []
        # POST /orders answered NEW (201); the adapter read the order back until the venue acknowledged it.
        assert fake.server.count("POST /v1/orders") == 1 and fake.server.count(f"GET /v1/orders/{o.order_id}") >= 1
        assert fake.server.count(f"DELETE /v1/orders/{o.order_id}") == 1


async def test_cancel_by_client_id_and_cancel_all() -> None:
    async with session() as (_fake, venue):
        price = await resting_price(venue, Side.SELL)
        a = await venue.place_limit("SOL", Side.SELL, price, Decimal("0.2"), client_id="ca-a", post_only=True)
        await venue.place_limit("SOL", Side.SELL, price, Decimal("0.3"), client_id="ca-b", post_only=True)
        eth = await venue.place_limit("ETH", Side.BUY, await resting_price(venue, Side.BUY, "ETH"), Decimal("0.01"),
                                      client_id="ca-eth", post_only=True)
        assert (await venue.cancel("SOL", client_id="ca-a")).status is OrderStatus.CANCELLED
        assert a.order_id not in {o.order_id for o in await venue.open_orders()}

        closed = await venue.cancel_all("SOL")
        assert [(o.client_id, o.status) for o in closed] == [("ca-b", OrderStatus.CANCELLED)]
        assert [o.order_id for o in await venue.open_orders()] == [eth.order_id]  # other market untouched
        assert [o.client_id for o in await venue.cancel_all()] == ["ca-eth"]
        assert await venue.open_orders() == []


async def test_market_order_is_an_ioc_capped_by_slippage_and_fills_show_up() -> None:
    async with session() as (fake, venue):
        t0 = time.time() - 1
        bbo = await venue.bbo("SOL")
        o = await venue.place_market("SOL", Side.BUY, Decimal("0.5"), client_id="mk-1", max_slippage_bps=Decimal(20))
        assert (o.status, o.type, o.filled, o.price) == (OrderStatus.FILLED, OrderType.MARKET, Decimal("0.5"), None)
        assert o.avg_price is not None and o.avg_price <= bbo.ask * Decimal("1.002")
        wire = fake.engine.orders[o.order_id]
        assert (wire.type, wire.instruction) == ("LIMIT", "IOC")  # Paradex MARKET has no per-order cap
        [fill] = await venue.fills(t0)
        assert (fill.order_id, fill.client_id, fill.size, fill.liquidity) == (o.order_id, "mk-1", o.filled,
                                                                             Liquidity.TAKER)
        assert fill.fee == fill.price * fill.size * (await venue.instrument("SOL")).taker_fee
        assert (await venue.position("SOL")).size == Decimal("0.5")
        prints = await venue.trades("SOL", 5)
        assert [t.ts for t in prints] == sorted(t.ts for t in prints) and prints[-1].taker_side is Side.BUY
        balance = await venue.balance()
        assert balance.currency == "USDC" and 0 < balance.available < balance.equity  # margin in use


async def test_fill_history_follows_every_page() -> None:
    async with session() as (fake, venue):
        t0 = time.time() - 1
        for i in range(5):
            await venue.place_market("SOL", Side.BUY if i % 2 else Side.SELL, Decimal("0.1"), client_id=f"pg-{i}",
                                     max_slippage_bps=Decimal(20))
        venue.page_size = 2
        fills = await venue.fills(t0)
        assert [f.client_id for f in fills] == [f"pg-{i}" for i in range(5)]
        assert fake.server.count("GET /v1/fills") == 3
        assert await venue.fills(fills[-1].ts + 0.001) == []


async def test_ioc_that_cannot_fill_within_its_cap_cancels_the_rest() -> None:
    async with session() as (_fake, venue):
        book = await venue.book("SOL", 1)
        too_big = book.asks[0].size + Decimal(50)  # more than the touch holds; a 0 bps cap allows the touch only
        o = await venue.place_market("SOL", Side.BUY, too_big, client_id="mk-cap", max_slippage_bps=Decimal(0))
        assert o.status is OrderStatus.CANCELLED
        assert 0 < o.filled < too_big
        assert o.reject_reason == Reason.SLIPPAGE_EXCEEDED


async def test_reduce_only_flattens_and_refuses_to_open() -> None:
    async with session() as (fake, venue):
        await venue.place_market("SOL", Side.SELL, Decimal("0.3"), client_id="ro-open", max_slippage_bps=Decimal(20))
        flat = await venue.place_market("SOL", Side.BUY, Decimal("0.3"), client_id="ro-close",
                                        max_slippage_bps=Decimal(20), reduce_only=True)
        assert flat.status is OrderStatus.FILLED and flat.reduce_only
        assert fake.engine.orders[flat.order_id].flags == ["REDUCE_ONLY"]
        assert (await venue.position("SOL")).size == 0
        with pytest.raises(OrderRejected) as err:
            await venue.place_market("SOL", Side.BUY, Decimal("0.3"), client_id="ro-again",
                                     max_slippage_bps=Decimal(20), reduce_only=True)
        assert err.value.reason is Reason.REDUCE_ONLY_WOULD_INCREASE


async def test_a_cancel_that_comes_after_the_fill_returns_the_order_filled() -> None:
    async with session() as (fake, venue):
        price = await resting_price(venue, Side.BUY, bps=0)  # at the best bid: first in line after others
        o = await venue.place_limit("SOL", Side.BUY, price, Decimal("0.4"), client_id="late", post_only=True)
        traded = Decimal(0)
        while (await venue.order("SOL", order_id=o.order_id)).status is not OrderStatus.FILLED:  # type: ignore[union-attr]
            traded += fake.market_trade("SOL", Side.SELL, Decimal(50))  # others sell into the bid
            assert traded < 10_000, "the resting bid never filled"
        done = await venue.cancel("SOL", order_id=o.order_id)
        assert (done.status, done.filled, done.avg_price) == (OrderStatus.FILLED, Decimal("0.4"), price)
        [fill] = [f for f in await venue.fills(0) if f.order_id == o.order_id]
        assert fill.liquidity is Liquidity.MAKER


async def test_cancelling_an_unknown_order_is_unknown_order() -> None:
    async with session() as (_fake, venue):
        for kw in ({"order_id": "123"}, {"client_id": "never-sent"}):
            with pytest.raises(OrderRejected) as err:
                await venue.cancel("SOL", **kw)  # type: ignore[arg-type]
            assert err.value.reason is Reason.UNKNOWN_ORDER


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
