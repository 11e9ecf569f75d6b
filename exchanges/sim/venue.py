"""``SimVenue``: the venue contract over a simulated exchange, with its latencies and faults.

A request waits half a round trip, reaches the engine (which first catches the market up to
that instant), and the answer waits the other half. Streams deliver with the venue's feed
latency. The same client code runs under a virtual clock (accelerated) or a real one (paper).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from core.errors import StreamDisconnected, VenueError, VenueTimeout
from core.types import BBO, Balance, Book, Fill, FundingRate, Instrument, Order, Position, Side, Trade
from exchanges.base import Venue
from exchanges.sim.exchange import DISCONNECTED, FundingPayment, SimExchange, Subscription
from exchanges.sim.models import LognormalLatency
from exchanges.streams import ClosedPositions, ResilientStream

if TYPE_CHECKING:
    from exchanges.sim.world import SimWorld

T = TypeVar("T")


class _Feed:
    """A raw subscription. Connecting takes a round trip; what is published meanwhile is missed,
    as on a real venue, which is why fill streams catch up over REST after a reconnect."""

    def __init__(self, venue: SimVenue, channel: str, symbol: str | None) -> None:
        self._venue = venue
        self._ex = venue.exchange
        self._channel = channel
        self._symbol = symbol
        self._sub: Subscription | None = None
        self._closed = False

    async def connect(self) -> None:
        await asyncio.sleep(self._venue._half(self._venue.profile.order_rtt_ms) * 2)
        if not self._closed and self._sub is None:
            self._sub = self._ex.subscribe(self._channel, self._symbol)

    def __aiter__(self) -> _Feed:
        return self

    async def __anext__(self) -> Any:
        if self._sub is None:
            if self._closed:
                raise StopAsyncIteration
            await self.connect()
        sub = self._sub
        assert sub is not None
        at, item = await sub.queue.get()
        if item is DISCONNECTED:
            self._sub = None
            self._closed = True
            raise StreamDisconnected("simulated disconnect", self._venue.name)
        wait = at - self._venue.clock.now()
        if wait > 0:
            await asyncio.sleep(wait)
        return item

    async def aclose(self) -> None:
        self._closed = True
        if self._sub is not None:
            self._ex.unsubscribe(self._sub)
            self._sub = None


class SimVenue(Venue):
    def __init__(self, world: SimWorld, exchange: SimExchange) -> None:
        self.world = world
        self.exchange = exchange
        self.name = exchange.name
        self.clock = world.clock
        self.profile = exchange.profile
        self._rng = random.Random(f"{world.seed}/{self.name}/client")
        self._latency = LognormalLatency(self.profile.latency_jitter, self._rng)  # the profile's latency model

    @property
    def faults(self) -> Any:
        return self.exchange.faults

    # --- plumbing ----------------------------------------------------------------------------
    def _half(self, rtt_ms: float) -> float:
        return self._latency.half(rtt_ms)

    async def _call(self, rtt_ms: float, action: Callable[[float], T], *, places_order: bool = False) -> T:
        self.world.ensure_running()  # what start() does, without a coroutine per request
        await asyncio.sleep(self._half(rtt_ms))
        self.world.sync()
        now = self.clock.now()
        f = self.faults
        if f.timeout_prob and self._rng.random() < f.timeout_prob:
            if places_order and self._rng.random() < f.timeout_after_accept_prob:
                with contextlib.suppress(VenueError):
                    action(now)  # the venue got it; the answer is what gets lost
            await asyncio.sleep(f.request_timeout_s)
            raise VenueTimeout(f"no answer within {f.request_timeout_s:.1f}s (simulated)", self.name)
        try:
            result = action(now)
        except VenueError:
            await asyncio.sleep(self._half(rtt_ms))
            raise
        await asyncio.sleep(self._half(rtt_ms))
        return result

    async def start(self) -> None:
        self.world.ensure_running()

    # --- contract ----------------------------------------------------------------------------
    async def instrument(self, symbol: str) -> Instrument:
        return await self._call(self.profile.order_rtt_ms, lambda t: self.exchange.slot(symbol).instrument)

    async def place_limit(self, symbol: str, side: Side, price: Decimal, size: Decimal, *, client_id: str,
                          post_only: bool = False, reduce_only: bool = False) -> Order:
        return await self._call(
            self.profile.order_rtt_ms,
            lambda t: self.exchange.place_limit(symbol, side, price, size, client_id, post_only, reduce_only, t),
            places_order=True)

    async def place_market(self, symbol: str, side: Side, size: Decimal, *, client_id: str,
                           max_slippage_bps: Decimal, reduce_only: bool = False) -> Order:
        return await self._call(
            self.profile.order_rtt_ms,
            lambda t: self.exchange.place_market(symbol, side, size, client_id, max_slippage_bps, reduce_only, t),
            places_order=True)

    async def cancel(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> Order:
        return await self._call(self.profile.cancel_rtt_ms,
                                lambda t: self.exchange.cancel(symbol, order_id, client_id, t))

    async def cancel_all(self, symbol: str | None = None) -> list[Order]:
        return await self._call(self.profile.cancel_rtt_ms, lambda t: self.exchange.cancel_all(symbol, t))

    async def order(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> Order | None:
        def lookup(t: float) -> Order | None:
            o = self.exchange.find(order_id, client_id)
            return None if o is None or o.symbol != symbol else self.exchange.order_snapshot(o)
        return await self._call(self.profile.order_rtt_ms, lookup)

    async def bbo(self, symbol: str) -> BBO:
        return await self._call(self.profile.order_rtt_ms, lambda t: self.exchange.bbo(symbol, t))

    async def book(self, symbol: str, depth: int = 10) -> Book:
        return await self._call(self.profile.order_rtt_ms, lambda t: self.exchange.book(symbol, depth, t))

    async def trades(self, symbol: str, limit: int = 100) -> list[Trade]:
        return await self._call(self.profile.order_rtt_ms, lambda t: self.exchange.trades(symbol, limit))

    async def positions(self) -> list[Position]:
        def read(t: float) -> list[Position]:
            out = self.exchange.positions(t)
            f = self.faults
            glitch = f.wrong_position_next > 0 or (f.wrong_position_prob and self._rng.random() < f.wrong_position_prob)
            if f.wrong_position_next > 0:
                f.wrong_position_next -= 1
            if glitch:
                off = f.wrong_position_offset
                out = [p.__class__(p.venue, p.symbol, p.size + off if off is not None else _glitch(p.size, self._rng),
                                   p.entry_price, p.ts, p.source) for p in out]
            return out
        return await self._call(self.profile.order_rtt_ms, read)

    async def balance(self) -> Balance:
        return await self._call(self.profile.order_rtt_ms, self.exchange.balance)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return await self._call(self.profile.order_rtt_ms, lambda t: self.exchange.open_orders(symbol))

    async def fills(self, since: float, symbol: str | None = None) -> list[Fill]:
        return await self._call(self.profile.order_rtt_ms, lambda t: self.exchange.fills_since(since, symbol))

    async def funding_rate(self, symbol: str) -> FundingRate:
        ex = self.exchange
        ex.slot(symbol)  # an unknown symbol is refused like any other request

        def read(t: float) -> FundingRate:
            return FundingRate(self.name, symbol, self.profile.funding_rate, self.profile.funding_interval_s,
                               ex.next_funding, t)
        return await self._call(self.profile.order_rtt_ms, read)

    async def funding_payments(self, since: float) -> list[FundingPayment]:
        """Simulator extra: funding paid or received since ``since``."""
        return [f for f in self.exchange.funding_log if f.ts >= since]

    # --- streams -----------------------------------------------------------------------------
    def _stream(self, channel: str, symbol: str | None, **kw: Any) -> AsyncIterator[Any]:
        self.world.ensure_running()
        return ResilientStream(f"{self.name}.{channel}", lambda: _Feed(self, channel, symbol), **kw)

    def stream_bbo(self, symbol: str) -> AsyncIterator[BBO]:
        self.exchange.slot(symbol)
        return self._stream("bbo", symbol)

    def stream_book(self, symbol: str, depth: int = 10) -> AsyncIterator[Book]:
        self.exchange.slot(symbol)
        return self._stream("book", symbol)

    def stream_orders(self) -> AsyncIterator[Order]:
        async def catch_up(since: float) -> list[Order]:
            return await self._call(self.profile.order_rtt_ms,
                                    lambda t: list(self.exchange.iter_orders_since(since)))
        return self._stream("orders", None, catch_up=catch_up, ts=lambda o: o.ts, since=self.clock.now(),
                            key=lambda o: (o.order_id, o.status, o.filled))

    def stream_fills(self) -> AsyncIterator[Fill]:
        return self._stream("fills", None, catch_up=self.fills, key=lambda f: f.key, ts=lambda f: f.ts,
                            since=self.clock.now())

    def stream_positions(self) -> AsyncIterator[Position]:
        closed = ClosedPositions(self.name, self.positions, self.clock.now)  # the contract's reconnect rule
        return self._stream("positions", None, catch_up=closed.catch_up, ts=lambda p: p.ts, since=self.clock.now(),
                            observe=closed.observe)


def _glitch(size: Decimal, rng: random.Random) -> Decimal:
    """A plausible wrong read: a stale zero, or a doubled or sign-flipped size."""
    if size == 0:
        return Decimal(rng.choice(("0.5", "-0.5", "1")))
    return rng.choice((Decimal(0), size * 2, -size))
