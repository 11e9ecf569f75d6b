"""GrvtVenue over grvt-pysdk against the fake GRVT: metadata, order round trips and account state."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from core.errors import ConfigError, OrderRejected
from core.reasons import Reason
from core.types import Liquidity, OrderStatus, OrderType, Side
from exchanges.grvt.wire import client_order_id
from tests.grvt_kit import SIZE, grvt_env, taker


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
