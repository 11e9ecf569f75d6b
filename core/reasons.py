"""Machine-readable reason codes for venue errors, risk denials and state changes.

Every rejected order, denied intent and trading-state change carries one of these, so the
warehouse can count them (`risk_events.reason`, `orders.reject_reason`) instead of parsing text.
"""

from enum import StrEnum


class Reason(StrEnum):
    # venue answers to orders
    POST_ONLY_WOULD_CROSS = "POST_ONLY_WOULD_CROSS"
    SIZE_ABOVE_MAX = "SIZE_ABOVE_MAX"
    BELOW_MIN_SIZE = "BELOW_MIN_SIZE"
    BELOW_MIN_NOTIONAL = "BELOW_MIN_NOTIONAL"
    OFF_TICK = "OFF_TICK"
    OFF_LOT = "OFF_LOT"
    REDUCE_ONLY_WOULD_INCREASE = "REDUCE_ONLY_WOULD_INCREASE"
    INSUFFICIENT_MARGIN = "INSUFFICIENT_MARGIN"
    INSUFFICIENT_LIQUIDITY = "INSUFFICIENT_LIQUIDITY"  # IOC found nothing executable
    SLIPPAGE_EXCEEDED = "SLIPPAGE_EXCEEDED"
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    ALREADY_FILLED = "ALREADY_FILLED"  # a cancel that came too late: the order is a fill
    DUPLICATE_CLIENT_ID = "DUPLICATE_CLIENT_ID"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    AUTH = "AUTH"
    RATE_LIMITED = "RATE_LIMITED"
    TIMEOUT = "TIMEOUT"
    VENUE_UNAVAILABLE = "VENUE_UNAVAILABLE"  # 5xx, maintenance
    BAD_RESPONSE = "BAD_RESPONSE"  # malformed or unexpected venue answer
    REJECTED = "REJECTED"  # the venue said no without a more precise reason
    STREAM_DISCONNECTED = "STREAM_DISCONNECTED"
    STALE_FEED = "STALE_FEED"
    REPLAY_ENDED = "REPLAY_ENDED"  # the recorded market a simulated venue replays has run out

    # risk-layer denials and stops
    INVALID_CONFIG = "INVALID_CONFIG"
    MAX_POSITION = "MAX_POSITION"
    MAX_UNHEDGED = "MAX_UNHEDGED"
    DAILY_LOSS_LIMIT = "DAILY_LOSS_LIMIT"
    NET_DELTA_TOLERANCE = "NET_DELTA_TOLERANCE"
    POSITION_MISMATCH = "POSITION_MISMATCH"
    POSITION_UNKNOWN = "POSITION_UNKNOWN"  # cannot prove the position: add no risk
    HEDGE_FAILURES = "HEDGE_FAILURES"
    HEDGE_IN_FLIGHT = "HEDGE_IN_FLIGHT"
    EXECUTABLE_SIZE = "EXECUTABLE_SIZE"  # the hedge venue does not really execute this size
    MIN_SPREAD = "MIN_SPREAD"
    BASIS_TOO_WIDE = "BASIS_TOO_WIDE"  # the two venues' mids disagree by more than any real basis
    STATE_REDUCING = "STATE_REDUCING"
    STATE_HALTED = "STATE_HALTED"
    CANCELLED_BY_USER = "CANCELLED_BY_USER"
    RUN_COMPLETE = "RUN_COMPLETE"
    RESTART_RECONCILE = "RESTART_RECONCILE"
    RECORD_FAILED = "RECORD_FAILED"  # the journal cannot record (disk full, I/O error): stop, flatten, exit
    INTERNAL_ERROR = "INTERNAL_ERROR"  # a bug or an unexpected failure: the bot stops and flattens
