"""One exception family for everything a venue can answer, each with a reason code.

``retryable`` tells callers whether sending the *same request* again is safe and useful. Order
placement is never retried blindly: a timeout may hide an accepted order, so callers look the
order up by client id first (see ``exchanges.base.Venue.order_by_client_id``).
"""

from __future__ import annotations

from core.reasons import Reason


class PerpflowError(Exception):
    """Base of every error perpflow raises on purpose."""


class ExpectedEnd(PerpflowError):
    """A run that ended as planned without completing: a refusal, a cancel, a review that could not
    be done. It rides as the data of the run's Failed/Cancelled state (Prefect raises a state's data
    when its result is read); its reasons are the state's message and were logged already, so it is
    never shown as a crash (``tasks.expected_end``)."""


class RecordError(PerpflowError):
    """A run's record (its journal) cannot take any more: the bot must stop adding risk."""


class ConfigError(PerpflowError, ValueError):
    """Invalid configuration or parameters; raised before any order is sent."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = Reason.INVALID_CONFIG


class VenueError(PerpflowError):
    retryable = False

    def __init__(self, reason: Reason, message: str = "", venue: str = "", *,
                 retry_after: float | None = None) -> None:
        text = f"[{venue}] {reason}: {message}" if venue else f"{reason}: {message}"
        super().__init__(text)
        self.reason = reason
        self.venue = venue
        self.detail = message
        self.retry_after = retry_after


class OrderRejected(VenueError):
    """The venue refused the order; nothing was placed."""


class VenueTimeout(VenueError):
    """No answer in time. For an order, its fate is unknown until looked up by client id."""

    retryable = True

    def __init__(self, message: str = "", venue: str = "") -> None:
        super().__init__(Reason.TIMEOUT, message, venue)


class RateLimited(VenueError):
    retryable = True

    def __init__(self, message: str = "", venue: str = "", retry_after: float | None = None) -> None:
        super().__init__(Reason.RATE_LIMITED, message, venue, retry_after=retry_after)


class VenueUnavailable(VenueError):
    retryable = True

    def __init__(self, message: str = "", venue: str = "") -> None:
        super().__init__(Reason.VENUE_UNAVAILABLE, message, venue)


class StreamDisconnected(VenueError):
    retryable = True

    def __init__(self, message: str = "", venue: str = "") -> None:
        super().__init__(Reason.STREAM_DISCONNECTED, message, venue)


class BadResponse(VenueError):
    """The venue answered something we cannot trust (malformed, missing fields)."""

    def __init__(self, message: str = "", venue: str = "") -> None:
        super().__init__(Reason.BAD_RESPONSE, message, venue)
