"""GRVT WebSocket streams through grvt-pysdk on websockets 15: data, reconnects, catch-up, bad frames."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

from core.types import OrderStatus
from tests.grvt_kit import SIZE, collect, grvt_env, resting, subscribed, taker, wait_until


async def _consume(stream: Any) -> tuple[list[Any], asyncio.Task[None]]:
    got: list[Any] = []
    return got, asyncio.get_running_loop().create_task(collect(stream, got))


async def _stop(stream: Any, task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await stream.aclose()


async def test_bbo_and_book_streams() -> None:
    async with grvt_env() as (fake, venue):
        bbos, books = venue.stream_bbo("ETH"), venue.stream_book("ETH", depth=5)
        got_bbo, t1 = await _consume(bbos)
        got_book, t2 = await _consume(books)
        await wait_until(lambda: len(got_bbo) >= 3 and len(got_book) >= 2, within=8, what="market data")
        assert all(b.bid < b.ask and b.symbol == "ETH" for b in got_bbo)
        assert all(len(b.bids) == 5 and len(b.asks) == 5 for b in got_book)
        assert subscribed(fake, "v1.mini.d") and subscribed(fake, "v1.book.s")
        await _stop(bbos, t1)
        await _stop(books, t2)


async def test_orders_fills_and_positions_arrive_over_websocket() -> None:
    async with grvt_env() as (fake, venue):
        orders, fills, positions = venue.stream_orders(), venue.stream_fills(), venue.stream_positions()
        got_orders, t1 = await _consume(orders)
        got_fills, t2 = await _consume(fills)
        got_pos, t3 = await _consume(positions)
        await wait_until(lambda: all(subscribed(fake, s) for s in ("v1.order", "v1.fill", "v1.position")))
        rest = await resting(venue, "ws-rest")
        await venue.cancel("ETH", order_id=rest.order_id)
        filled = await taker(venue, "ws-take")
        await wait_until(lambda: sum(f.size for f in got_fills) == SIZE, what="fills")
        await wait_until(lambda: any(p.size == SIZE for p in got_pos), what="position")
        await wait_until(lambda: any(o.order_id == filled.order_id and o.status is OrderStatus.FILLED
                                     for o in got_orders), what="fill order update")
        statuses = [o.status for o in got_orders if o.order_id == rest.order_id]
        assert statuses == [OrderStatus.OPEN, OrderStatus.CANCELLED]
        assert {f.client_id for f in got_fills} == {"ws-take"} and all(f.order_id == filled.order_id
                                                                        for f in got_fills)
        assert got_pos[-1].source == "ws"
        for stream, task in ((orders, t1), (fills, t2), (positions, t3)):
            await _stop(stream, task)


async def test_a_malformed_frame_or_payload_does_not_break_the_stream() -> None:
    async with grvt_env() as (fake, venue):
        fills = venue.stream_fills()
        got, task = await _consume(fills)
        await wait_until(lambda: subscribed(fake, "v1.fill"))
        client = await venue.client()
        generation = dict(client.generation)
        fake.faults.malformed_ws = 1  # a frame cut short before the next push
        await taker(venue, "m-1")
        await wait_until(lambda: len(got) >= 1, what="fill after a malformed frame")
        selector = venue.settings.trading_account_id
        await fake.streams.broadcast_raw(json.dumps({"stream": "v1.fill", "selector": selector,
                                                     "sequence_number": "99", "feed": {"bogus": True}}))
        await taker(venue, "m-2")
        await wait_until(lambda: {f.client_id for f in got} == {"m-1", "m-2"}, what="fill after a bad payload")
        assert client.malformed == 1
        assert client.generation == generation and fills.reconnects == 0  # no reconnect was needed
        await _stop(fills, task)


async def test_a_fill_made_before_the_first_push_survives_an_early_drop() -> None:
    async with grvt_env() as (fake, venue):
        fills = venue.stream_fills()
        got, task = await _consume(fills)
        await wait_until(lambda: subscribed(fake, "v1.fill"))
        fake.faults.refuse_ws = True
        await taker(venue, "early")
        fake.drop_websockets()  # before the fill's push (the feed has its latency) reached us
        await asyncio.sleep(0.3)
        assert got == []
        fake.faults.refuse_ws = False
        await wait_until(lambda: len(got) >= 1, within=8, what="catch-up of the early fill")
        await taker(venue, "later")
        await wait_until(lambda: {f.client_id for f in got} == {"early", "later"}, within=8)
        await asyncio.sleep(0.2)
        assert Counter(f.key for f in got) == Counter(f.key for f in await venue.fills(0))
        await _stop(fills, task)
