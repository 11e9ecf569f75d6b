"""Streams that survive disconnects: reconnect with backoff, resubscribe, catch up, dedupe.

Every adapter gives a raw feed (an async iterator that raises ``StreamDisconnected`` or ends
when the connection drops; with an optional ``async connect()`` that returns once the venue has
acknowledged the subscription) and, for fills, a REST catch-up. On reconnect the new feed is opened
*first*, then the catch-up runs, so nothing falls in between; a key set makes the overlap
harmless. Callers see one endless iterator.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from core.errors import StreamDisconnected, VenueError
from core.types import Position

T = TypeVar("T")
log = logging.getLogger("perpflow.streams")


class ResilientStream(Generic[T]):
    def __init__(self, name: str, open_feed: Callable[[], AsyncIterator[T]], *,
                 catch_up: Callable[[float], Awaitable[list[T]]] | None = None,
                 key: Callable[[T], Hashable] | None = None,
                 ts: Callable[[T], float] | None = None,
                 since: float | None = None, backoff_initial: float = 0.1, backoff_max: float = 5.0,
                 catch_up_overlap: float = 2.0, remember: int = 50_000,
                 observe: Callable[[T], None] | None = None) -> None:
        """``observe`` sees every item before it is yielded: the state the stream's own catch-up
        needs (which orders are live, which positions are open)."""
        self.name = name
        self._open_feed = open_feed
        self._catch_up = catch_up
        self._key = key
        self._ts = ts
        self._observe = observe
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._overlap = catch_up_overlap
        self._feed: AsyncIterator[T] | None = None
        self._pending: deque[T] = deque()
        self._seen: set[Hashable] = set()
        self._seen_order: deque[Hashable] = deque()
        self._remember = remember
        self._last_ts: float | None = since  # a drop before the first item still catches up from here
        self._connected_once = False
        self._closed = False
        self.reconnects = 0
        self.caught_up = 0  # items recovered over REST after a reconnect

    def __aiter__(self) -> ResilientStream[T]:
        return self

    async def __anext__(self) -> T:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._pending:
                item = self._pending.popleft()
                if self._accept(item):
                    return item
                continue
            if self._feed is None:
                await self._connect()
                continue
            try:
                item = await anext(self._feed)
            except (StreamDisconnected, StopAsyncIteration, ConnectionError, OSError) as exc:
                log.warning("%s: stream dropped (%s); reconnecting", self.name, type(exc).__name__)
                await self._drop_feed()
                self.reconnects += 1
                continue
            if self._accept(item):
                return item

    def _accept(self, item: T) -> bool:
        if self._key is not None:
            k = self._key(item)
            if k in self._seen:
                return False
            self._seen.add(k)
            self._seen_order.append(k)
            if len(self._seen_order) > self._remember:
                self._seen.discard(self._seen_order.popleft())
        if self._ts is not None:
            t = self._ts(item)
            if self._last_ts is None or t > self._last_ts:
                self._last_ts = t
        if self._observe is not None:
            self._observe(item)
        return True

    async def _connect(self) -> None:
        delay = self._backoff_initial
        while not self._closed:
            try:
                self._feed = self._open_feed()
                connect = getattr(self._feed, "connect", None)
                if connect is not None:  # subscribed (and acknowledged) before catching up: no gap
                    await connect()
                if self._connected_once and self._catch_up is not None and self._last_ts is not None:
                    missed = await self._catch_up(self._last_ts - self._overlap)
                    fresh = [m for m in missed if self._key is None or self._key(m) not in self._seen]
                    self.caught_up += len(fresh)
                    self._pending.extend(fresh)
                self._connected_once = True
                return
            except (VenueError, ConnectionError, OSError) as exc:
                await self._drop_feed()
                log.warning("%s: reconnect failed (%s); retrying in %.1fs", self.name, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max)

    async def _drop_feed(self) -> None:
        feed, self._feed = self._feed, None
        aclose = getattr(feed, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except Exception:  # a broken feed may fail to close; it is gone either way
                log.debug("%s: closing a dropped feed failed", self.name, exc_info=True)

    async def aclose(self) -> None:
        self._closed = True
        await self._drop_feed()


class ClosedPositions:
    """The contract's rule for positions after a reconnect, kept by every adapter: the catch-up
    reads positions over REST and adds size 0 for every symbol last seen open that the venue no
    longer lists (it closed during the outage), so a consumer never keeps a stale position.

    Use ``observe`` as the position stream's ``observe`` and ``catch_up`` as its catch-up.
    """

    def __init__(self, venue: str, read: Callable[[], Awaitable[list[Position]]], now: Callable[[], float]) -> None:
        self.venue = venue
        self._read = read
        self._now = now
        self.open: dict[str, Position] = {}

    def observe(self, p: Position) -> None:
        if p.size:
            self.open[p.symbol] = p
        else:
            self.open.pop(p.symbol, None)

    async def catch_up(self, since: float) -> list[Position]:
        now = [p for p in await self._read()]
        listed = {p.symbol for p in now if p.size}
        flat = [Position(self.venue, s, p.size * 0, None, self._now(), "rest")
                for s, p in self.open.items() if s not in listed]
        return [*now, *flat]
