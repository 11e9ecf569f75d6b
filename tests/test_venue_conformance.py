"""The venue conformance suite: every rule of the ``Venue`` contract (``exchanges.base``), checked on
the simulator and on every registered venue's live adapter talking to its protocol fake.

Venue-specific behaviour (signing, wire quirks) is tested in the venue's own test files; what every
venue must do is tested here, once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from core.errors import OrderRejected, RateLimited, VenueError, VenueTimeout
from core.reasons import Reason
from core.types import Fill, Order, OrderStatus, Position, Side
from exchanges.credentials import spellings
from exchanges.symbols import to_venue_symbol
from tests.conformance_kit import SYMBOL, Harness, crossing_price, harness, resting_price, venues_under_test

T = TypeVar("T")
VENUES = venues_under_test()
ADAPTERS = [v for v in VENUES if v != "sim"]
SIZE = Decimal("1")
every_venue = pytest.mark.parametrize("which", VENUES)
every_adapter = pytest.mark.parametrize("which", ADAPTERS)


async def next_within(stream: AsyncIterator[T], seconds: float = 5.0) -> T:
    return await asyncio.wait_for(anext(stream), seconds)


async def subscribe(stream: AsyncIterator[T]) -> asyncio.Future[T]:
    """Start reading ``stream`` (streams connect on their first read) and wait until it is
    subscribed; returns the pending first read for ``read_until``."""
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.5)
    return first


async def read_until(stream: AsyncIterator[T], done: Any, seconds: float = 8.0,
                     pending: asyncio.Future[T] | None = None) -> list[T]:
    """Items from ``stream`` (the ``pending`` read first) until ``done(items)`` holds. Between
    calls nothing reads the stream, so a drop is noticed (and caught up on) only at the next call."""
    items: list[T] = []
    deadline = time.monotonic() + seconds
    if pending is not None:
        items.append(await asyncio.wait_for(pending, seconds))
    while not done(items):
        left = deadline - time.monotonic()
        assert left > 0, f"stream did not deliver in {seconds:g}s; got {items}"
        items.append(await next_within(stream, left))
    return items


async def taker(h: Harness, side: Side, client_id: str, size: Decimal = SIZE, **kw: Any) -> Order:
    return await h.venue.place_market(SYMBOL, side, size, client_id=client_id, max_slippage_bps=Decimal(50), **kw)


async def fill_fully(h: Harness, side: Side, client_id: str, size: Decimal = SIZE, **kw: Any) -> Decimal:
    """Taker orders until ``size`` has filled: some venues (GRVT) execute only part of a large taker
    order, whatever the book shows. Returns what filled."""
    done = Decimal(0)
    for i in range(30):
        if done >= size:
            break
        done += (await taker(h, side, f"{client_id}-{i}", size=size - done, **kw)).filled
    return done


async def improving_price(h: Harness, side: Side) -> Decimal:
    """One tick inside the spread on ``side``'s own side (first in the queue), or the touch."""
    b, ins = await h.venue.bbo(SYMBOL), await h.venue.instrument(SYMBOL)
    if b.ask - b.bid > ins.tick:
        return b.bid + ins.tick if side is Side.BUY else b.ask - ins.tick
    return b.bid if side is Side.BUY else b.ask


REDUCE_REFUSALS = (Reason.REDUCE_ONLY_WOULD_INCREASE, Reason.REJECTED)


async def outcome(call: Any) -> Order | Reason:
    """The order, or the reason it was refused."""
    try:
        return await call  # type: ignore[no-any-return]
    except OrderRejected as exc:
        return exc.reason


def filled_by(fills: list[Fill], client_id: str) -> Decimal:
    return sum((f.size for f in fills if f.client_id == client_id), Decimal(0))


# --- metadata -------------------------------------------------------------------------------
@every_venue
async def test_instrument_metadata_and_the_accounts_fees(which: str) -> None:
    async with harness(which, fees=("-0.00004", "0.00031")) as h:  # this account's tier, not a profile default
        ins = await h.venue.instrument(SYMBOL)
        assert (ins.venue, ins.symbol, ins.venue_symbol) == (h.name, SYMBOL, to_venue_symbol(h.name, SYMBOL))
        assert ins.tick > 0 and ins.lot > 0 and ins.min_size > 0 and ins.min_notional >= 0
        assert (ins.maker_fee, ins.taker_fee) == (Decimal("-0.00004"), Decimal("0.00031"))  # read from the account
        with pytest.raises(VenueError) as err:
            await h.venue.instrument("NOPE")
        assert err.value.reason is Reason.UNKNOWN_SYMBOL


# --- orders ---------------------------------------------------------------------------------
@every_venue
async def test_limit_round_trip(which: str) -> None:
    async with harness(which) as h:
        price = await resting_price(h.venue, Side.BUY)
        o = await h.venue.place_limit(SYMBOL, Side.BUY, price, SIZE, client_id="rt-1", post_only=True)
        assert (o.status, o.client_id, o.price, o.size, o.side) == (OrderStatus.OPEN, "rt-1", price, SIZE, Side.BUY)
        found = await h.venue.order(SYMBOL, client_id="rt-1")
        assert found is not None and found.order_id == o.order_id
        assert [x.order_id for x in await h.venue.open_orders(SYMBOL)] == [o.order_id]
        cancelled = await h.venue.cancel(SYMBOL, order_id=o.order_id)
        assert (cancelled.order_id, cancelled.status, cancelled.filled) == (o.order_id, OrderStatus.CANCELLED, 0)
        assert await h.venue.open_orders(SYMBOL) == []
        after = await h.venue.order(SYMBOL, order_id=o.order_id)
        assert after is not None and after.status is OrderStatus.CANCELLED


@every_venue
async def test_post_only_that_would_cross_is_refused_and_nothing_rests(which: str) -> None:
    async with harness(which) as h:
        price = await crossing_price(h.venue, Side.BUY)
        with pytest.raises(OrderRejected) as err:
            await h.venue.place_limit(SYMBOL, Side.BUY, price, SIZE, client_id="po-x", post_only=True)
        assert err.value.reason is Reason.POST_ONLY_WOULD_CROSS
        assert await h.venue.open_orders(SYMBOL) == []
        assert (await h.venue.position(SYMBOL)).size == 0


@every_venue
async def test_ioc_executes_within_its_slippage_cap(which: str) -> None:
    async with harness(which) as h:
        for i in range(10):  # a venue may execute nothing of one taker order (GRVT's executable size)
            b = await h.venue.bbo(SYMBOL)
            o = await taker(h, Side.BUY, f"ioc-1-{i}")
            assert o.status is not OrderStatus.OPEN  # an IOC never rests
            if o.filled:
                break
        assert o.filled > 0 and o.avg_price is not None
        assert o.avg_price <= b.ask * (1 + Decimal(50) / 10_000)
        book = await h.venue.book(SYMBOL, 10)
        ins = await h.venue.instrument(SYMBOL)
        near = sum((lv.size for lv in book.bids[:3]), Decimal(0)) * 2  # more than the touch shows
        size = ins.round_size(min(near, Decimal(4000) / book.bids[0].price))  # within the account's margin
        t0 = h.venue.clock.now()
        tight = await h.venue.place_market(SYMBOL, Side.SELL, size, client_id="ioc-2", max_slippage_bps=Decimal(2))
        floor = book.bids[0].price * (1 - Decimal(2) / 10_000)
        assert tight.filled <= size and tight.status is not OrderStatus.OPEN  # an IOC never rests
        assert tight.avg_price is None or tight.avg_price >= floor
        assert all(f.price >= floor for f in await h.venue.fills(t0 - 1) if f.client_id == "ioc-2")


@every_venue
async def test_reduce_only_never_grows_or_flips_a_position(which: str) -> None:
    async with harness(which) as h:
        refused = await outcome(taker(h, Side.SELL, "ro-0", reduce_only=True))
        assert refused in REDUCE_REFUSALS or (isinstance(refused, Order) and refused.filled == 0)
        assert (await h.venue.position(SYMBOL)).size == 0
        assert await fill_fully(h, Side.BUY, "ro-1") == SIZE
        larger = await outcome(taker(h, Side.SELL, "ro-2", size=SIZE * 3, reduce_only=True))
        assert larger in REDUCE_REFUSALS or isinstance(larger, Order)  # some venues refuse one above the position
        size = (await h.venue.position(SYMBOL)).size
        assert 0 <= size <= SIZE  # shrunk or untouched, never flipped short
        if size:
            assert await fill_fully(h, Side.SELL, "ro-3", size=size, reduce_only=True) == size
        assert (await h.venue.position(SYMBOL)).size == 0


@every_venue
async def test_a_cancel_after_the_fill_returns_filled(which: str) -> None:
    async with harness(which) as h:
        price = await improving_price(h, Side.BUY)
        o = await h.venue.place_limit(SYMBOL, Side.BUY, price, SIZE, client_id="cf-1", post_only=True)
        assert o.status is OrderStatus.OPEN
        for _ in range(50):
            h.trade_against(SYMBOL, Side.SELL, SIZE * 5)
            now = await h.venue.order(SYMBOL, order_id=o.order_id)
            if now is not None and now.status is OrderStatus.FILLED:
                break
            await asyncio.sleep(0.05)
        late = await h.venue.cancel(SYMBOL, order_id=o.order_id)
        assert (late.status, late.filled) == (OrderStatus.FILLED, SIZE)


@every_venue
async def test_cancel_by_client_id_cancel_all_per_market_and_unknown_orders(which: str) -> None:
    async with harness(which) as h:
        bid, ask = await resting_price(h.venue, Side.BUY), await resting_price(h.venue, Side.SELL)
        a = await h.venue.place_limit(SYMBOL, Side.BUY, bid, SIZE, client_id="ca-1", post_only=True)
        b = await h.venue.place_limit(SYMBOL, Side.SELL, ask, SIZE, client_id="ca-2", post_only=True)
        c = await h.venue.place_limit(SYMBOL, Side.SELL, ask, SIZE * 2, client_id="ca-3", post_only=True)
        eth_ins, eth_bid = await h.venue.instrument("ETH"), await resting_price(h.venue, Side.BUY, "ETH")
        eth_size = eth_ins.round_size(max(eth_ins.min_size, eth_ins.min_notional * 3 / eth_bid)) + eth_ins.lot
        eth = await h.venue.place_limit("ETH", Side.BUY, eth_bid, eth_size, client_id="ca-eth", post_only=True)
        by_client = await h.venue.cancel(SYMBOL, client_id="ca-1")
        assert (by_client.order_id, by_client.status) == (a.order_id, OrderStatus.CANCELLED)
        done = await h.venue.cancel_all(SYMBOL)
        assert {o.order_id for o in done} == {b.order_id, c.order_id}
        assert all(o.status is OrderStatus.CANCELLED for o in done)
        assert [o.order_id for o in await h.venue.open_orders()] == [eth.order_id]  # the other market untouched
        assert [o.client_id for o in await h.venue.cancel_all()] == ["ca-eth"]
        assert await h.venue.open_orders() == []
        for ref in ({"order_id": "123456789"}, {"client_id": "never-sent"}):
            with pytest.raises(OrderRejected) as err:
                await h.venue.cancel(SYMBOL, **ref)  # type: ignore[arg-type]
            assert err.value.reason is Reason.UNKNOWN_ORDER


# --- fills and streams ----------------------------------------------------------------------
@every_venue
async def test_fills_since_a_time_page_through_everything_oldest_first(which: str) -> None:
    async with harness(which) as h:
        if hasattr(h.venue, "page_size"):
            h.venue.page_size = 2  # type: ignore[attr-defined]  # several pages for a handful of fills
        t0 = h.venue.clock.now()
        orders = []
        for i in range(5):
            orders.append(await taker(h, Side.BUY if i % 2 == 0 else Side.SELL, f"fp-{i}"))
            await asyncio.sleep(0.02)
        fills = await h.venue.fills(t0 - 1)
        ours = [f for f in fills if f.client_id.startswith("fp-")]
        assert [filled_by(ours, o.client_id) for o in orders] == [o.filled for o in orders]
        assert len({f.key for f in ours}) == len(ours)  # no fill twice across pages
        assert [f.ts for f in ours] == sorted(f.ts for f in ours)
        cut = min(f.ts for f in ours if f.client_id == "fp-3")
        later = {f.client_id for f in await h.venue.fills(cut)}
        assert {"fp-3", "fp-4"} <= later and not later & {"fp-0", "fp-1", "fp-2"}


@every_venue
async def test_a_dropped_fill_stream_reconnects_catches_up_and_never_repeats_a_fill(which: str) -> None:
    async with harness(which) as h:
        stream = h.venue.stream_fills()
        try:
            pending = await subscribe(stream)
            first = await taker(h, Side.BUY, "sd-1")
            seen = await read_until(stream, lambda got: filled_by(got, "sd-1") >= first.filled, pending=pending)
            await h.drop_streams()
            missed = await taker(h, Side.SELL, "sd-2")  # while the stream is down: only a catch-up has it
            seen += await read_until(stream, lambda got: filled_by(got, "sd-2") >= missed.filled)
            after = await taker(h, Side.BUY, "sd-3")
            seen += await read_until(stream, lambda got: filled_by(got, "sd-3") >= after.filled)
            ours = [f for f in seen if f.client_id.startswith("sd-")]
            assert len({f.key for f in ours}) == len(ours), "a fill was yielded twice"
            assert [filled_by(ours, c) for c in ("sd-1", "sd-2", "sd-3")] == [first.filled, missed.filled,
                                                                               after.filled]
        finally:
            await stream.aclose()  # type: ignore[attr-defined]


@every_venue
async def test_positions_after_a_reconnect_read_zero_for_what_closed_meanwhile(which: str) -> None:
    async with harness(which) as h:
        stream = h.venue.stream_positions()
        try:
            pending = await subscribe(stream)
            await fill_fully(h, Side.BUY, "pr-1")
            await read_until(stream, lambda got: any(p.symbol == SYMBOL and p.size == SIZE for p in got),
                             pending=pending)
            await h.drop_streams()
            await fill_fully(h, Side.SELL, "pr-2", reduce_only=True)  # closed during the outage
            # the stream must come to size 0 (a venue's own client may reconnect at once and push the
            # intermediate sizes of a close in parts; the flat read is what a consumer must not miss)
            got: list[Position] = await read_until(stream, lambda got: any(p.symbol == SYMBOL and p.size == 0
                                                                            for p in got))
            assert [p.size for p in got if p.symbol == SYMBOL][-1] == 0
            assert (await h.venue.position(SYMBOL)).size == 0
            assert all(p.size == 0 for p in await h.venue.positions() if p.symbol == SYMBOL)
        finally:
            await stream.aclose()  # type: ignore[attr-defined]


# --- requests -------------------------------------------------------------------------------
@every_venue
async def test_a_timed_out_order_is_looked_up_by_client_id_and_never_resent(which: str) -> None:
    async with harness(which) as h:
        price = await resting_price(h.venue, Side.BUY)
        h.lose_next_order_answer()
        placed: Order | None
        try:
            placed = await h.venue.place_limit(SYMBOL, Side.BUY, price, SIZE, client_id="to-1", post_only=True)
        except VenueTimeout:
            placed = None
        h.clear_faults()
        found = await h.venue.order(SYMBOL, client_id="to-1")
        assert found is not None and found.status is OrderStatus.OPEN
        assert h.orders_with("to-1") == 1
        if h.adapter:  # the request policy found it by client id: the caller got the order, sent once
            assert placed is not None and placed.order_id == found.order_id
            assert h.controls.sent("place") == 1


@every_adapter
async def test_a_5xx_on_an_order_is_looked_up_before_any_resend(which: str) -> None:
    async with harness(which) as h:
        price = await resting_price(h.venue, Side.BUY)
        h.controls.fail("server_error_after", "place")  # placed, then the answer failed
        a = await h.venue.place_limit(SYMBOL, Side.BUY, price, SIZE, client_id="5x-a", post_only=True)
        assert a.status is OrderStatus.OPEN and h.controls.sent("place") == 1 and h.orders_with("5x-a") == 1
        h.controls.fail("server_error", "place")  # refused before it took effect: resent after the look-up
        b = await h.venue.place_limit(SYMBOL, Side.BUY, price, SIZE, client_id="5x-b", post_only=True)
        assert b.status is OrderStatus.OPEN and h.controls.sent("place") == 3 and h.orders_with("5x-b") == 1


@every_adapter
async def test_orders_go_over_kept_alive_connections(which: str) -> None:
    """No client (or connection) made per order: orders placed one after another reach the venue
    over the one connection the adapter keeps open (reads it makes at once, like the final states
    after a cancel-all, may open more)."""
    async with harness(which) as h:
        price = await resting_price(h.venue, Side.BUY)
        server = h.controls.server
        seen = len(server.peers)
        for i in range(6):
            await h.venue.place_limit(SYMBOL, Side.BUY, price, SIZE, client_id=f"ka-{i}", post_only=True)
        used, lines = list(server.peers)[seen:], list(server.requests)[seen:]
        assert len(used) >= 6 and len(set(used)) == 1, "; ".join(f"{a} {b}" for a, b in zip(lines, used, strict=True))
        await h.venue.cancel_all(SYMBOL)


@every_adapter
async def test_rate_limits_wait_out_retry_after_and_a_longer_one_is_raised(which: str) -> None:
    async with harness(which, max_rate_limit_wait_s=2.0) as h:
        h.controls.fail("rate_limit", "positions", retry_after=0.3)
        t0 = time.monotonic()
        assert await h.venue.positions() == []
        assert time.monotonic() - t0 >= 0.3 and h.controls.sent("positions") == 2
        price = await resting_price(h.venue, Side.BUY)
        h.controls.fail("rate_limit", "place", retry_after=0.2)
        o = await h.venue.place_limit(SYMBOL, Side.BUY, price, SIZE, client_id="rl-1", post_only=True)
        assert o.status is OrderStatus.OPEN and h.controls.sent("place") == 2 and h.orders_with("rl-1") == 1
        h.controls.fail("rate_limit", "positions", retry_after=60)
        sent = h.controls.sent("positions")
        t0 = time.monotonic()
        with pytest.raises(RateLimited) as err:
            await h.venue.positions()
        assert err.value.retry_after == 60 and time.monotonic() - t0 < 1.5
        assert h.controls.sent("positions") == sent + 1  # not sent again before the venue allows


@every_adapter
async def test_no_secret_in_any_log_line_or_error(which: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="perpflow")  # a flow run earlier in the session leaves it at INFO
    errors: list[str] = []
    async with harness(which) as h:
        secrets = {s for secret in h.secrets for s in spellings(secret.removeprefix("0x"))} | set(h.secrets)
        assert secrets
        price = await resting_price(h.venue, Side.BUY)
        await h.venue.place_limit(SYMBOL, Side.BUY, price, SIZE, client_id="sec-1", post_only=True)
        for call in (h.venue.place_limit(SYMBOL, Side.BUY, await crossing_price(h.venue, Side.BUY), SIZE,
                                         client_id="sec-2", post_only=True),
                     h.venue.cancel(SYMBOL, order_id="123456789")):
            try:
                await call
            except VenueError as exc:
                errors.append(f"{exc!s} {exc!r}")
        h.controls.fail("server_error", "positions", count=10)
        try:
            await h.venue.positions()
        except VenueError as exc:
            errors.append(str(exc))
        errors.append(repr(h.venue))
        await taker(h, Side.BUY, "sec-3")
    text = "\n".join([*(r.getMessage() for r in caplog.records), *(r.exc_text or "" for r in caplog.records),
                      *errors])
    assert len(errors) >= 3 and caplog.records
    leaked = [s[:6] + "..." for s in secrets if s in text]
    assert not leaked, f"secrets in logs or errors: {leaked}"
