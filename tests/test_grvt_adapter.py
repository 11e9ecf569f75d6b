"""GrvtVenue over grvt-pysdk against the fake GRVT: metadata, order round trips and account state."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from core.errors import ConfigError, OrderRejected
from core.reasons import Reason
from core.types import Liquidity, OrderStatus, OrderType, Side
from exchanges.grvt.wire import client_order_id
from tests.grvt_kit import SIZE, grvt_env, resting, taker


async def test_instrument_metadata_and_fee_rates_come_from_the_venue() -> None:
    async with grvt_env() as (fake, venue):
        ins = await venue.instrument("ETH")
        profile = fake.engine.ex.profile
        market = profile.market("ETH")
        assert (ins.venue_symbol, ins.tick, ins.lot, ins.min_size) == ("ETH_USDT_Perp", market.tick, market.lot,
                                                                      market.min_size)
        assert ins.max_order_size == market.max_order_size
        assert (ins.maker_fee, ins.taker_fee) == (profile.maker_fee, profile.taker_fee)  # the account's tier
        assert fake.requests["instrument"] == 1
        await venue.instrument("ETH")
        assert fake.requests["instrument"] == 1  # cached


async def test_market_data_bbo_book_and_trades() -> None:
    async with grvt_env() as (_fake, venue):
        bbo = await venue.bbo("ETH")
        assert bbo.bid < bbo.ask and bbo.bid_size > 0 and bbo.symbol == "ETH"
        book = await venue.book("ETH", depth=5)
        assert len(book.bids) == len(book.asks) == 5
        assert all(a.price > b.price for a, b in zip(book.bids, book.bids[1:], strict=False))
        assert book.bids[0].price < book.asks[0].price
        await taker(venue, "print-1")
        await asyncio.sleep(0.3)
        await taker(venue, "print-2", side=Side.SELL)
        trades = await venue.trades("ETH", limit=20)
        assert len(trades) >= 2 and trades == sorted(trades, key=lambda t: t.ts)  # newest last
        assert trades[-1].taker_side is Side.SELL


async def test_resting_limit_order_round_trip_with_client_id() -> None:
    async with grvt_env() as (fake, venue):
        order = await resting(venue, "rest-1", post_only=True)
        assert order.status is OrderStatus.OPEN and order.client_id == "rest-1" and order.post_only
        assert order.size == SIZE and order.type is OrderType.LIMIT
        sent = fake.engine.orders[order.order_id].request
        assert sent["metadata"]["client_order_id"] == client_order_id("rest-1")
        assert int(client_order_id("rest-1")) >= 2**63  # GRVT's range for API clients
        assert [o.order_id for o in await venue.open_orders("ETH")] == [order.order_id]
        by_client = await venue.order("ETH", client_id="rest-1")
        assert by_client is not None and by_client.order_id == order.order_id
        cancelled = await venue.cancel("ETH", client_id="rest-1")
        assert cancelled.status is OrderStatus.CANCELLED and cancelled.order_id == order.order_id
        assert await venue.open_orders("ETH") == []
        assert await venue.order("ETH", client_id="never-sent") is None


async def test_crossing_limit_fills_and_shows_in_fills_positions_and_balance() -> None:
    async with grvt_env() as (_fake, venue):
        before = await venue.balance()
        order = await taker(venue, "take-1")
        assert order.status is OrderStatus.FILLED and order.filled == SIZE and order.avg_price is not None
        fills = await venue.fills(0)
        assert len(fills) >= 1 and {f.client_id for f in fills} == {"take-1"}
        assert sum(f.size for f in fills) == SIZE
        assert all(f.liquidity is Liquidity.TAKER and f.fee > 0 for f in fills)  # the fill's own fee
        pos = await venue.position("ETH")
        assert pos.size == SIZE and pos.entry_price == order.avg_price
        after = await venue.balance()
        assert after.currency == "USDT" and after.available < before.available


async def test_market_order_is_an_ioc_within_the_slippage_cap() -> None:
    async with grvt_env() as (fake, venue):
        order = await venue.place_market("ETH", Side.SELL, SIZE, client_id="mkt-1", max_slippage_bps=Decimal(20))
        assert order.type is OrderType.MARKET and order.price is None
        assert order.status is OrderStatus.FILLED and order.filled == SIZE
        sent = fake.engine.orders[order.order_id].request
        assert sent["time_in_force"] == "IMMEDIATE_OR_CANCEL" and not sent["post_only"]
        bbo = await venue.bbo("ETH")
        assert Decimal(sent["legs"][0]["limit_price"]) < bbo.bid  # a price cap below the touch, not 0


async def test_market_order_with_no_room_under_the_cap_fills_nothing() -> None:
    async with grvt_env() as (_fake, venue):
        order = await venue.place_market("ETH", Side.BUY, SIZE, client_id="mkt-0", max_slippage_bps=Decimal(-50))
        assert order.filled == 0 and order.status is OrderStatus.CANCELLED


async def test_reduce_only_flatten() -> None:
    async with grvt_env() as (fake, venue):
        await taker(venue, "open-long")
        flat = await venue.place_market("ETH", Side.SELL, SIZE, client_id="flatten", max_slippage_bps=Decimal(50),
                                        reduce_only=True)
        assert flat.reduce_only and flat.filled == SIZE
        assert fake.engine.orders[flat.order_id].request["reduce_only"] is True
        assert (await venue.position("ETH")).size == 0


async def test_cancel_after_fill_returns_the_filled_order() -> None:
    async with grvt_env() as (_fake, venue):
        order = await taker(venue, "filled-1")
        assert order.status is OrderStatus.FILLED
        late = await venue.cancel("ETH", order_id=order.order_id)
        assert late.status is OrderStatus.FILLED and late.filled == SIZE  # the caller must treat it as a fill


async def test_cancel_all_returns_final_orders() -> None:
    async with grvt_env() as (fake, venue):
        a = await resting(venue, "all-1")
        b = await resting(venue, "all-2", side=Side.SELL)
        done = await venue.cancel_all("ETH")
        assert {o.order_id for o in done} == {a.order_id, b.order_id}
        assert all(o.status is OrderStatus.CANCELLED for o in done)
        assert fake.engine.ex.open == {}


async def test_every_order_needs_a_client_id() -> None:
    async with grvt_env() as (fake, venue):
        with pytest.raises(ConfigError, match="client id"):
            await venue.place_limit("ETH", Side.BUY, Decimal("100"), SIZE, client_id="")
        assert fake.requests["create_order"] == 0


async def test_true_market_orders_as_the_sdk_sends_them() -> None:
    """GRVT's own market order: is_market, limit_price "0E-9", IMMEDIATE_OR_CANCEL."""
    async with grvt_env() as (fake, venue):
        client = await venue.client()
        await venue.instrument("ETH")
        result = await client.create_order("ETH_USDT_Perp", "market", "buy", SIZE, None,
                                           {"client_order_id": client_order_id("true-mkt"),
                                            "time_in_force": "IMMEDIATE_OR_CANCEL"})
        sent = fake.engine.orders[result["order_id"]].request
        assert sent["is_market"] is True and sent["legs"][0]["limit_price"] == "0E-9"
        order = await venue.order("ETH", client_id="true-mkt")
        assert order is not None and order.type is OrderType.MARKET and order.filled == SIZE


async def test_a_stream_of_an_unlisted_market_is_refused_at_once() -> None:
    async with grvt_env() as (_fake, venue):
        with pytest.raises(OrderRejected) as info:
            venue.stream_bbo("DOGE")
        assert info.value.reason is Reason.UNKNOWN_SYMBOL
