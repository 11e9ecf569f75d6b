"""The one request policy every venue adapter sends through (``RequestPolicy``).

Why one: each adapter used to carry its own retry loop with its own setting names, and they
drifted apart. The rules, as the ``Venue`` contract states them (``exchanges.base``):

- Every request has a timeout (``request_timeout_s``; the adapter gives it to its HTTP client).
- A 429 is waited out for as long as the venue's ``Retry-After`` says (a backoff when it says
  nothing), and every later request of the venue waits out the same cool-down; the venue did not
  process the request, so sending it again is safe. A ``Retry-After`` longer than
  ``max_rate_limit_wait_s`` is raised at once (``RateLimited`` carrying it): the request is never
  sent before the venue allows it.
- Timeouts and 5xx are retried only for idempotent calls (reads, cancels), with backoff.
- A session the venue has forgotten (expired token or cookie) is re-authenticated once per call.
- At most ``max_attempts`` sends of one request (the first included).
- An order is never re-sent blindly (``place``): after a timeout or 5xx the order is looked up by
  its client id first; it is sent again (at most ``max_resends`` times) only when the venue says it
  has no such order, and a duplicate-client-id refusal of the resend is resolved by another
  look-up. A look-up that fails leaves the order's fate unknown, and says so.

The settings are the same for every venue: ``RequestSettings`` is part of each venue's settings
model, so ``PERPFLOW_<VENUE>__REQUEST_TIMEOUT_S``, ``__MAX_ATTEMPTS``, ``__MAX_RATE_LIMIT_WAIT_S``,
``__MAX_RESENDS`` and ``__LOOKUP_GRACE_S`` mean the same thing everywhere.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel, Field

from core.errors import OrderRejected, RateLimited, VenueError, VenueTimeout, VenueUnavailable
from core.reasons import Reason

T = TypeVar("T")
BACKOFF_BASE_S = 0.1
BACKOFF_MAX_S = 2.0


class RequestSettings(BaseModel):
    """The request policy's knobs; every venue's settings model includes them under these names."""

    request_timeout_s: float = Field(10.0, gt=0, le=300, description="seconds before a request is a timeout")
    max_attempts: int = Field(4, ge=1, le=20, description="sends of one request at most, the first included")
    max_rate_limit_wait_s: float = Field(30.0, ge=0, le=600,
                                         description="longest Retry-After waited out; a longer one is raised")
    max_resends: int = Field(1, ge=0, le=5,
                             description="resends of an order the venue said it does not have (after a look-up)")
    lookup_grace_s: float = Field(0.2, ge=0, le=10,
                                  description="pause before looking a lost order up by client id")

    def request_settings(self) -> RequestSettings:
        """Just the policy's fields (a venue's settings model carries more)."""
        return RequestSettings(**{k: getattr(self, k) for k in RequestSettings.model_fields})


def backoff(attempt: int) -> float:
    return min(BACKOFF_BASE_S * 2**attempt, BACKOFF_MAX_S)


class RequestPolicy:
    """Sends a venue's requests by the rules above. One per adapter instance (it holds the venue's
    rate-limit cool-down).

    ``stale_session(error)`` tells whether an error means the venue forgot the session, and
    ``reauth()`` signs in again (or makes the next send do so).
    """

    def __init__(self, settings: RequestSettings, venue: str, *, log: logging.Logger | None = None,
                 stale_session: Callable[[VenueError], bool] = lambda exc: False,
                 reauth: Callable[[], Awaitable[None]] | None = None) -> None:
        self.settings = settings.request_settings()
        self.venue = venue
        self.log = log or logging.getLogger(f"perpflow.{venue}")
        self.stale_session = stale_session
        self.reauth = reauth
        self.retries = 0  # requests sent again, over the adapter's life
        self._not_before = 0.0  # the venue's rate-limit cool-down (monotonic time)

    async def cool_down(self) -> None:
        wait = self._not_before - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def call(self, op: str, send: Callable[[], Awaitable[T]], *, idempotent: bool) -> T:
        """``send()`` under the policy: 429s waited out, timeouts and 5xx retried when
        ``idempotent``, a stale session re-authenticated once."""
        attempt, reauthed = 0, False
        while True:
            await self.cool_down()
            try:
                return await send()
            except RateLimited as exc:
                wait = exc.retry_after if exc.retry_after is not None else backoff(attempt)
                if wait > self.settings.max_rate_limit_wait_s:
                    raise
                self._not_before = max(self._not_before, time.monotonic() + wait)
                error: VenueError = exc
            except (VenueTimeout, VenueUnavailable) as exc:
                if not idempotent:
                    raise
                wait, error = backoff(attempt), exc
            except VenueError as exc:
                if reauthed or self.reauth is None or not self.stale_session(exc):
                    raise
                reauthed = True
                self.log.warning("%s %s: the session expired; signing in again", self.venue, op)
                await self.reauth()
                continue
            attempt += 1
            if attempt >= self.settings.max_attempts:
                raise error
            self.retries += 1
            self.log.warning("%s %s: %s; retrying in %.2fs (%d/%d)", self.venue, op, error.reason, wait, attempt,
                             self.settings.max_attempts - 1)
            if not isinstance(error, RateLimited):  # a rate limit is waited out by cool_down, shared
                await asyncio.sleep(wait)

    async def place(self, op: str, send: Callable[[], Awaitable[T]],
                    lookup: Callable[[], Awaitable[T | None]]) -> T:
        """Send an order (not idempotent) and never twice blindly.

        ``lookup()`` reads the order by its client id: the venue's answer for it, or None when the
        venue has no such order.
        """
        resent = 0
        while True:
            try:
                return await self.call(op, send, idempotent=False)
            except (VenueTimeout, VenueUnavailable) as exc:
                await asyncio.sleep(self.settings.lookup_grace_s)
                found = await self._look_up(op, lookup, exc)
                if found is not None:
                    self.log.warning("%s %s: %s, but the venue has the order (found by client id); not resending",
                                     self.venue, op, exc.reason)
                    return found
                if resent >= self.settings.max_resends:
                    raise
                resent += 1
                self.log.warning("%s %s: %s and the venue has no order with the client id; sending it again",
                                 self.venue, op, exc.reason)
            except OrderRejected as exc:
                if exc.reason is not Reason.DUPLICATE_CLIENT_ID or not resent:
                    raise
                found = await self._look_up(op, lookup, exc)  # the first send landed after all
                if found is None:
                    raise
                return found

    async def _look_up(self, op: str, lookup: Callable[[], Awaitable[T | None]], cause: VenueError) -> T | None:
        try:
            return await lookup()
        except VenueError as exc:
            raise VenueTimeout(f"{op}: sending failed ({cause.reason}) and the look-up failed ({exc.reason}); its "
                               f"fate is unknown until looked up by client id", self.venue) from None
