"""Paradex WebSocket streams against the fake: parsed pushes, reconnect with REST catch-up (no fill
lost or counted twice), malformed messages skipped without ending the stream."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from core.types import Order, OrderStatus, Position, Side
from exchanges.paradex.adapter import ParadexVenue
from exchanges.paradex.fake import FakeParadex
from tests.paradex_kit import resting_price, session, until

T = TypeVar("T")


async def next_item(stream: AsyncIterator[T], within: float = 5.0) -> T:
    return await asyncio.wait_for(anext(stream), within)


async def market(venue: ParadexVenue, side: Side, client_id: str, size: str = "0.1") -> Order:
    return await venue.place_market("SOL", side, Decimal(size), client_id=client_id, max_slippage_bps=Decimal(20))


class Consumer:
    """Drains a stream in the background, so a test can act while it listens."""

    def __init__(self, stream: AsyncIterator[Any]) -> None:
        self.stream = stream
        self.items: list[Any] = []
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        async for item in self.stream:
            self.items.append(item)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.stream.aclose()  # type: ignore[attr-defined]


async def subscribed(fake: FakeParadex, channel: str) -> None:
    await until(lambda: channel in fake.subscriptions())


async def test_fills_and_positions_arrive_over_the_websocket_as_rest_reports_them() -> None:
    async with session() as (fake, venue):
        fills, positions = Consumer(venue.stream_fills()), Consumer(venue.stream_positions())
        await subscribed(fake, "fills.ALL")
        await subscribed(fake, "positions")
        o = await market(venue, Side.BUY, "ws-1", "0.3")
        await until(lambda: fills.items and positions.items)
        [ws_fill] = fills.items
        [rest_fill] = await venue.fills(0)
        assert ws_fill == rest_fill and ws_fill.order_id == o.order_id and ws_fill.client_id == "ws-1"
        pos: Position = positions.items[-1]
        assert (pos.symbol, pos.size, pos.source) == ("SOL", Decimal("0.3"), "ws")
        await fills.stop()
        await positions.stop()


async def test_order_updates_stream_open_then_cancelled() -> None:
    async with session() as (fake, venue):
        orders = Consumer(venue.stream_orders())
        await subscribed(fake, "orders.ALL")
        o = await venue.place_limit("SOL", Side.SELL, await resting_price(venue, Side.SELL), Decimal("0.2"),
                                    client_id="ord-1", post_only=True)
        await venue.cancel("SOL", order_id=o.order_id)
        await until(lambda: len(orders.items) >= 2)
        assert [(u.order_id, u.status) for u in orders.items] == [(o.order_id, OrderStatus.OPEN),
                                                                  (o.order_id, OrderStatus.CANCELLED)]
        await orders.stop()


async def test_bbo_and_book_streams_parse_the_market() -> None:
    async with session(static=False) as (_fake, venue):
        bbo_stream, book_stream = venue.stream_bbo("SOL"), venue.stream_book("SOL", depth=5)
        bbo = await next_item(bbo_stream)
        book = await next_item(book_stream)
        assert bbo.symbol == "SOL" and 0 < bbo.bid < bbo.ask
        assert len(book.bids) == len(book.asks) == 5
        assert [lv.price for lv in book.bids] == sorted((lv.price for lv in book.bids), reverse=True)
        assert book.bids[0].price < book.asks[0].price
        await bbo_stream.aclose()  # type: ignore[attr-defined]
        await book_stream.aclose()  # type: ignore[attr-defined]


async def outage(fake: FakeParadex) -> None:
    """Every WebSocket drops and reconnecting is refused until ``fake.refuse_ws(False)``."""
    fake.refuse_ws(True)
    assert await fake.drop_ws() >= 1


async def test_orders_closed_during_an_outage_arrive_in_their_final_state() -> None:
    async with session() as (fake, venue):
        orders = Consumer(venue.stream_orders())
        await subscribed(fake, "orders.ALL")
        o = await venue.place_limit("SOL", Side.BUY, await resting_price(venue, Side.BUY), Decimal("0.2"),
                                    client_id="gone", post_only=True)
        await until(lambda: [u.status for u in orders.items] == [OrderStatus.OPEN])
        await outage(fake)
        await venue.cancel("SOL", order_id=o.order_id)
        fake.refuse_ws(False)
        await until(lambda: len(orders.items) == 2)
        assert (orders.items[-1].order_id, orders.items[-1].status) == (o.order_id, OrderStatus.CANCELLED)
        await orders.stop()


@pytest.mark.parametrize("kind", ["json", "fields"])
async def test_a_malformed_message_is_skipped_with_a_warning_and_the_stream_goes_on(
        kind: str, caplog: pytest.LogCaptureFixture) -> None:
    async with session() as (fake, venue):
        fills = Consumer(venue.stream_fills())
        await subscribed(fake, "fills.ALL")
        fake.faults.garbage(channel="fills", kind=kind)  # type: ignore[arg-type]
        with caplog.at_level(logging.WARNING, logger="perpflow.paradex"):
            o = await market(venue, Side.BUY, "after-garbage")
            await until(lambda: len(fills.items) == 1)
        assert fills.items[0].order_id == o.order_id
        assert venue.malformed_messages == 1
        [warning] = [r for r in caplog.records if "malformed" in r.getMessage()]
        assert "fills.ALL" in warning.getMessage() and warning.levelno == logging.WARNING
        assert fills.task.done() is False  # still listening
        await fills.stop()


async def test_rest_and_streams_sign_in_again_when_the_venue_ends_the_session() -> None:
    async with session() as (fake, venue):
        await venue.instrument("SOL")  # metadata cached: the order below is the first private request
        fills = Consumer(venue.stream_fills())
        await subscribed(fake, "fills.ALL")
        logins = fake.server.count("POST /v1/auth")

        fake.revoke_tokens()  # every JWT stops working
        await fake.drop_ws()  # the stream's reconnect is refused (40111): it signs in again over REST
        await subscribed(fake, "fills.ALL")
        assert fake.server.count("POST /v1/auth") == logins + 1

        fake.revoke_tokens()
        await market(venue, Side.BUY, "after-revoke")  # POST /orders: 401 INVALID_TOKEN, sign in, sent again
        assert fake.server.count("POST /v1/auth") >= logins + 2  # the stream may notice the revoke first ...
        assert fake.server.count("POST /v1/orders") in (1, 2)  # ... then the order needs no second try
        assert sum(1 for o in fake.exchange.orders.values() if o.client_id == "after-revoke") == 1
        await until(lambda: len(fills.items) == 1)
        assert fills.items[0].client_id == "after-revoke"
        await fills.stop()


async def test_a_maker_fill_reported_with_the_taker_side_keeps_our_side(caplog: pytest.LogCaptureFixture) -> None:
    """The spec words FillResult.side as the taker side; a venue doing so must not flip our position."""
    async with session() as (fake, venue):
        fake.engine.fill_side = "taker"
        fills = Consumer(venue.stream_fills())
        await subscribed(fake, "fills.ALL")
        price = await resting_price(venue, Side.BUY, bps=0)
        o = await venue.place_limit("SOL", Side.BUY, price, Decimal("0.2"), client_id="maker", post_only=True)
        with caplog.at_level(logging.WARNING, logger="perpflow.paradex"):
            for _ in range(200):  # others sell into the bid until our order fills
                if fills.items:
                    break
                fake.market_trade("SOL", Side.SELL, Decimal(50))
                await asyncio.sleep(0.05)
        [ws_fill] = fills.items
        [rest_fill] = await venue.fills(0)
        assert ws_fill.order_id == o.order_id and ws_fill.liquidity.value == "MAKER"
        assert ws_fill.side is Side.BUY and rest_fill.side is Side.BUY
        assert sum("using the order's side" in r.getMessage() for r in caplog.records) == 1
        await fills.stop()
