"""The venue contract every adapter implements (simulator, and one adapter per venue folder).

Async and normalised: symbols are the user's short names, prices and sizes ``Decimal``, errors
one family (``core.errors.VenueError``) with reason codes.

Rules every adapter keeps (``tests/test_venue_conformance.py`` checks each one against the simulator and
every adapter talking to its protocol fake):

Requests (``exchanges.policy``, the same settings on every venue)
  - every request has a timeout (``request_timeout_s``); a timeout is ``VenueTimeout``;
  - a 429 is waited out for the venue's ``Retry-After`` (every later request waits too) and
    sent again; a ``Retry-After`` beyond ``max_rate_limit_wait_s`` is raised as ``RateLimited``
    carrying it, never sent early;
  - timeouts and 5xx are retried only for idempotent calls (reads, cancels), at most
    ``max_attempts`` sends; an expired session is re-authenticated once per call;
  - an order is never re-sent blindly: after a timeout or 5xx it is looked up by client id first
    and sent again only when the venue has no such order (at most ``max_resends`` times); when
    the look-up fails too, ``VenueTimeout`` says its fate is unknown.
Orders
  - every order carries the caller's client id and ``order(client_id=...)`` finds it;
  - a post-only order that would cross is refused (``OrderRejected``, POST_ONLY_WOULD_CROSS) and
    nothing rests; a reduce-only order never grows or flips a position;
  - ``place_market`` never executes beyond ``max_slippage_bps`` from the touch;
  - a cancel that arrives after the order filled returns it FILLED (a fill, not an error).
State and streams
  - ``fills(since)`` returns every fill since then, paging as the venue requires, oldest first;
  - streams reconnect and resubscribe by themselves (``exchanges.streams.ResilientStream``); the
    fill stream catches up over REST on what it missed and never yields a fill twice;
  - positions after a reconnect: the position stream re-reads positions and yields size 0 for
    every symbol last seen open that closed during the outage (``exchanges.streams.ClosedPositions``);
    ``position(symbol)`` reads a closed one as size 0 (``positions()`` omits it or lists it as 0).
Fees
  - ``instrument(symbol)`` carries the account's own maker/taker rates (read from the venue's
    account or fee endpoint; the simulator's from its fee tier setting), not a published default.
Secrets
  - no key, token or cookie appears in a log line, an exception message or a repr.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from decimal import Decimal
from types import TracebackType

from core.clock import Clock
from core.types import BBO, Balance, Book, Fill, FundingRate, Instrument, Order, Position, Side, Trade


class Venue(ABC):
    name: str
    clock: Clock

    # lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:  # noqa: B027 - venues without a session need nothing here
        """Connect and authenticate. Idempotent."""

    async def close(self) -> None:  # noqa: B027
        """Release connections. Open orders are left alone (cancelling is a decision)."""

    async def __aenter__(self) -> Venue:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # metadata --------------------------------------------------------------------------------
    @abstractmethod
    async def instrument(self, symbol: str) -> Instrument: ...

    # orders ----------------------------------------------------------------------------------
    @abstractmethod
    async def place_limit(self, symbol: str, side: Side, price: Decimal, size: Decimal, *, client_id: str,
                          post_only: bool = False, reduce_only: bool = False) -> Order:
        """Place a GTC limit order. Raises ``OrderRejected`` (with a reason) if refused."""

    @abstractmethod
    async def place_market(self, symbol: str, side: Side, size: Decimal, *, client_id: str,
                           max_slippage_bps: Decimal, reduce_only: bool = False) -> Order:
        """An IOC taker order that never executes beyond ``max_slippage_bps`` from the touch.

        Returns the final order: ``filled`` may be less than ``size`` (or zero) when the venue
        had less executable liquidity within the cap.
        """

    @abstractmethod
    async def cancel(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> Order:
        """Cancel one order and return its final state.

        A cancel that arrives after the order filled returns the order with status FILLED:
        the caller must treat it as a fill (the fill itself arrives on the fill stream).
        """

    @abstractmethod
    async def cancel_all(self, symbol: str | None = None) -> list[Order]: ...

    @abstractmethod
    async def order(self, symbol: str, *, order_id: str | None = None,
                    client_id: str | None = None) -> Order | None:
        """Look an order up; after a timeout this tells whether it was placed."""

    # state -----------------------------------------------------------------------------------
    @abstractmethod
    async def bbo(self, symbol: str) -> BBO: ...

    @abstractmethod
    async def book(self, symbol: str, depth: int = 10) -> Book: ...

    @abstractmethod
    async def trades(self, symbol: str, limit: int = 100) -> list[Trade]:
        """Recent public trades, newest last."""

    @abstractmethod
    async def positions(self) -> list[Position]: ...

    async def position(self, symbol: str) -> Position:
        for p in await self.positions():
            if p.symbol == symbol:
                return p
        return Position(self.name, symbol, Decimal(0), None, self.clock.now(), "rest")

    @abstractmethod
    async def balance(self) -> Balance: ...

    async def funding_rate(self, symbol: str) -> FundingRate:
        """The perpetual's current funding rate (read-only, idempotent).

        Every venue adapter implements it; the default only tells an adapter that does not yet.
        """
        raise NotImplementedError(f"{self.name}: funding_rate is not implemented")

    @abstractmethod
    async def open_orders(self, symbol: str | None = None) -> list[Order]: ...

    @abstractmethod
    async def fills(self, since: float, symbol: str | None = None) -> list[Fill]:
        """Our fills with ``ts >= since`` (epoch seconds), oldest first."""

    # streams ---------------------------------------------------------------------------------
    @abstractmethod
    def stream_bbo(self, symbol: str) -> AsyncIterator[BBO]: ...

    @abstractmethod
    def stream_book(self, symbol: str, depth: int = 10) -> AsyncIterator[Book]: ...

    @abstractmethod
    def stream_orders(self) -> AsyncIterator[Order]: ...

    @abstractmethod
    def stream_fills(self) -> AsyncIterator[Fill]: ...

    @abstractmethod
    def stream_positions(self) -> AsyncIterator[Position]: ...
