"""GRVT's wire format (full JSON) to perpflow's domain types, and GRVT's error codes to reasons.

Pure functions with no I/O, shared by the adapter, its streams and the benchmark. Prices and
sizes stay ``Decimal`` from the JSON string to the domain object. Timestamps on the wire are
unix nanoseconds (strings); the domain uses epoch seconds.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation
from typing import Any

from core.errors import BadResponse, OrderRejected, RateLimited, VenueError, VenueUnavailable
from core.reasons import Reason
from core.types import (
    BBO,
    Book,
    BookLevel,
    Fill,
    Instrument,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    Trade,
)
from exchanges.symbols import from_venue_symbol, to_venue_symbol

VENUE = "grvt"
NS = 1_000_000_000
# ClientTier fee rates (funding_account_summary.tier) are int32. perpflow reads them as
# centibeeps (1/100 of a basis point, GRVT's unit for rates elsewhere): 550 -> 0.055 %. A rate
# above 1 % is taken as a unit mismatch and refused rather than trusted (see fee_rate()).
FEE_UNIT = Decimal("0.000001")
MAX_PLAUSIBLE_FEE = Decimal("0.01")

# --- client order ids ----------------------------------------------------------------------------
CLIENT_ID_FLOOR = 1 << 63  # GRVT asks API clients to use [2^63, 2^64 - 1]; the UI uses the rest


def client_order_id(client_id: str) -> str:
    """GRVT's uint64 client order id for a perpflow client id: stable, so a lookup after a
    timeout (even from another process) finds the order. Numeric ids already in the API range
    are used as they are."""
    if client_id.isdigit() and CLIENT_ID_FLOOR <= int(client_id) < (1 << 64):
        return client_id
    digest = hashlib.blake2b(client_id.encode(), digest_size=8).digest()
    return str(int.from_bytes(digest, "big") | CLIENT_ID_FLOOR)


# --- numbers and time --------------------------------------------------------------------------
def dec(value: Any, what: str = "number") -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise BadResponse(f"{what} {value!r} is not a number", VENUE) from None


def seconds(ns: Any) -> float:
    try:
        return int(ns) / NS
    except (TypeError, ValueError):
        raise BadResponse(f"timestamp {ns!r} is not unix nanoseconds", VENUE) from None


def ns(ts: float) -> int:
    return int(ts * NS)


def symbol_of(instrument: str) -> str:
    try:
        return from_venue_symbol(VENUE, instrument)
    except Exception:
        raise BadResponse(f"unexpected instrument {instrument!r}", VENUE) from None


def instrument_of(symbol: str) -> str:
    return to_venue_symbol(VENUE, symbol)


def fee_rate(raw: Any) -> Decimal:
    rate = dec(raw, "fee rate") * FEE_UNIT
    if abs(rate) > MAX_PLAUSIBLE_FEE:
        raise BadResponse(f"fee rate {raw!r} reads as {rate}; unit mismatch?", VENUE)
    return rate


# --- market data ---------------------------------------------------------------------------------
def parse_instrument(raw: dict[str, Any], maker_fee: Decimal, taker_fee: Decimal) -> Instrument:
    """GRVT publishes no separate size step: sizes go in multiples of ``min_size`` (assumption
    shared with the simulator's grvt profile). It publishes a maximum position, not a maximum
    order size; an order can never be larger, so that is the order cap."""
    try:
        min_size = dec(raw["min_size"], "min_size")
        max_pos = raw.get("max_position_size")
        return Instrument(
            venue=VENUE, symbol=symbol_of(raw["instrument"]), venue_symbol=raw["instrument"],
            tick=dec(raw["tick_size"], "tick_size"), lot=min_size, min_size=min_size,
            min_notional=dec(raw.get("min_notional") or 0, "min_notional"),
            max_order_size=dec(max_pos, "max_position_size") if max_pos not in (None, "", "0") else None,
            maker_fee=maker_fee, taker_fee=taker_fee)
    except KeyError as exc:
        raise BadResponse(f"instrument without {exc.args[0]!r}", VENUE) from None


def parse_mini(raw: dict[str, Any]) -> BBO:
    try:
        return BBO(VENUE, symbol_of(raw["instrument"]), dec(raw["best_bid_price"]), dec(raw["best_bid_size"]),
                   dec(raw["best_ask_price"]), dec(raw["best_ask_size"]), seconds(raw["event_time"]))
    except KeyError as exc:
        raise BadResponse(f"ticker without {exc.args[0]!r}", VENUE) from None


def parse_book(raw: dict[str, Any], depth: int) -> Book:
    try:
        return Book(VENUE, symbol_of(raw["instrument"]),
                    tuple(BookLevel(dec(lv["price"]), dec(lv["size"])) for lv in raw["bids"][:depth]),
                    tuple(BookLevel(dec(lv["price"]), dec(lv["size"])) for lv in raw["asks"][:depth]),
                    seconds(raw["event_time"]))
    except (KeyError, TypeError) as exc:
        raise BadResponse(f"malformed book ({exc})", VENUE) from None


def parse_trade(raw: dict[str, Any]) -> Trade:
    return Trade(VENUE, symbol_of(raw["instrument"]), dec(raw["price"]), dec(raw["size"]),
                 Side.BUY if raw["is_taker_buyer"] else Side.SELL, seconds(raw["event_time"]))


# --- account -------------------------------------------------------------------------------------
_STATUS = {"PENDING": OrderStatus.NEW, "OPEN": OrderStatus.OPEN, "FILLED": OrderStatus.FILLED,
           "REJECTED": OrderStatus.REJECTED, "CANCELLED": OrderStatus.CANCELLED}

# OrderRejectReason (state.reject_reason) -> why an order was refused or ended early.
REJECT_REASONS: dict[str, Reason] = {
    "FAIL_POST_ONLY": Reason.POST_ONLY_WOULD_CROSS,
    "FAIL_REDUCE_ONLY": Reason.REDUCE_ONLY_WOULD_INCREASE,
    "REDUCE_ONLY_LIMIT": Reason.REDUCE_ONLY_WOULD_INCREASE,
    "BELOW_MARGIN": Reason.INSUFFICIENT_MARGIN,
    "INSTRUMENT_INVALID": Reason.UNKNOWN_SYMBOL,
    "INSTRUMENT_DEACTIVATED": Reason.UNKNOWN_SYMBOL,
    "OVERLAPPING_CLIENT_ORDER_ID": Reason.DUPLICATE_CLIENT_ID,
    "UNAUTHORISED": Reason.AUTH,
    "SUB_ACCOUNT_NOT_FOUND": Reason.AUTH,
    "NO_TRADE_PERMISSION": Reason.AUTH,
    "SESSION_KEY_EXPIRED": Reason.INVALID_SIGNATURE,
    "EXCEED_MAX_SIGNATURE_EXPIRATION": Reason.INVALID_SIGNATURE,
    "EXCEED_MAX_POSITION_SIZE": Reason.SIZE_ABOVE_MAX,
    "IOC_CANCEL": Reason.INSUFFICIENT_LIQUIDITY,
    "MARKET_CANCEL": Reason.INSUFFICIENT_LIQUIDITY,
    "FOK_CANCEL": Reason.INSUFFICIENT_LIQUIDITY,
    "AON_CANCEL": Reason.INSUFFICIENT_LIQUIDITY,
}
_NOT_A_REJECTION = {"UNSPECIFIED", "CLIENT_CANCEL", "CLIENT_BULK_CANCEL", "CLIENT_SESSION_END",
                    "CLIENT_CANCEL_ON_DISCONNECT_TRIGGERED", "EXPIRED"}


def parse_order(raw: dict[str, Any], client_ids: dict[str, str] | None = None) -> Order:
    """``client_ids`` maps GRVT's numeric client order ids back to perpflow's client ids."""
    try:
        leg = raw["legs"][0]
        state = raw.get("state") or {}
        size = dec(leg["size"], "size")
        filled = dec((state.get("traded_size") or ["0"])[0], "traded_size")
        avg_raw = (state.get("avg_fill_price") or [None])[0]
        status = _STATUS.get(state.get("status", "PENDING"), OrderStatus.NEW)
        reason_raw = state.get("reject_reason") or "UNSPECIFIED"
        if status is OrderStatus.OPEN and filled > 0:
            status = OrderStatus.PARTIALLY_FILLED
        if status is OrderStatus.CANCELLED and reason_raw == "EXPIRED":
            status = OrderStatus.EXPIRED
        reason = None if reason_raw in _NOT_A_REJECTION else str(REJECT_REASONS.get(reason_raw, Reason.REJECTED))
        cloid = str((raw.get("metadata") or {}).get("client_order_id", ""))
        is_market = bool(raw.get("is_market"))
        price = None if is_market else dec(leg.get("limit_price") or 0, "limit_price")
        return Order(
            venue=VENUE, order_id=str(raw.get("order_id", "")),
            client_id=(client_ids or {}).get(cloid, cloid), symbol=symbol_of(leg["instrument"]),
            side=Side.BUY if leg["is_buying_asset"] else Side.SELL,
            type=OrderType.MARKET if is_market else OrderType.LIMIT, price=price, size=size,
            filled=filled, avg_price=dec(avg_raw) if avg_raw not in (None, "", "0") and filled else None,
            status=status, post_only=bool(raw.get("post_only")), reduce_only=bool(raw.get("reduce_only")),
            ts=seconds(state.get("update_time") or (raw.get("metadata") or {}).get("create_time") or 0),
            reject_reason=reason)
    except (KeyError, IndexError, TypeError) as exc:
        raise BadResponse(f"malformed order ({type(exc).__name__}: {exc})", VENUE) from None


def parse_fill(raw: dict[str, Any], client_ids: dict[str, str] | None = None) -> Fill:
    try:
        cloid = str(raw.get("client_order_id", ""))
        return Fill(
            venue=VENUE, order_id=str(raw["order_id"]), client_id=(client_ids or {}).get(cloid, cloid),
            trade_id=str(raw["trade_id"]), symbol=symbol_of(raw["instrument"]),
            side=Side.BUY if raw["is_buyer"] else Side.SELL, price=dec(raw["price"], "price"),
            size=dec(raw["size"], "size"), fee=dec(raw.get("fee") or 0, "fee"),
            liquidity=Liquidity.TAKER if raw["is_taker"] else Liquidity.MAKER, ts=seconds(raw["event_time"]))
    except KeyError as exc:
        raise BadResponse(f"fill without {exc.args[0]!r}", VENUE) from None


def parse_position(raw: dict[str, Any], source: str) -> Position:
    try:
        size = dec(raw["size"], "size")
        entry = raw.get("entry_price")
        return Position(VENUE, symbol_of(raw["instrument"]), size,
                        dec(entry) if size and entry not in (None, "", "0") else None,
                        seconds(raw["event_time"]), source)
    except KeyError as exc:
        raise BadResponse(f"position without {exc.args[0]!r}", VENUE) from None


# --- errors --------------------------------------------------------------------------------------
# GRVT error codes (spec: on_request_errors) -> reason. Codes not listed fall back by HTTP status.
ERROR_REASONS: dict[int, Reason] = {
    1000: Reason.AUTH, 1001: Reason.AUTH, 1008: Reason.AUTH, 1400: Reason.AUTH, 2003: Reason.AUTH,
    1002: Reason.VENUE_UNAVAILABLE, 1005: Reason.VENUE_UNAVAILABLE, 1009: Reason.VENUE_UNAVAILABLE,
    1003: Reason.REJECTED, 1004: Reason.UNKNOWN_ORDER, 1006: Reason.RATE_LIMITED,
    1012: Reason.INVALID_SIGNATURE, 2000: Reason.INVALID_SIGNATURE, 2001: Reason.INVALID_SIGNATURE,
    2002: Reason.INVALID_SIGNATURE, 2004: Reason.INVALID_SIGNATURE, 2005: Reason.INVALID_SIGNATURE,
    2006: Reason.INVALID_SIGNATURE, 2007: Reason.INVALID_SIGNATURE,
    2012: Reason.DUPLICATE_CLIENT_ID,
    2060: Reason.UNKNOWN_SYMBOL, 2061: Reason.UNKNOWN_SYMBOL, 3000: Reason.UNKNOWN_SYMBOL,
    2062: Reason.BELOW_MIN_SIZE, 2063: Reason.BELOW_MIN_SIZE,
    2064: Reason.OFF_TICK, 2065: Reason.OFF_LOT,
    2066: Reason.BELOW_MIN_NOTIONAL, 2067: Reason.BELOW_MIN_NOTIONAL,
    2080: Reason.INSUFFICIENT_MARGIN, 2081: Reason.SIZE_ABOVE_MAX, 2083: Reason.SIZE_ABOVE_MAX,
    2090: Reason.REJECTED,  # "max open orders exceeded" comes as HTTP 429 but is not a rate limit
    2400: Reason.REDUCE_ONLY_WOULD_INCREASE, 2401: Reason.REDUCE_ONLY_WOULD_INCREASE,
    2402: Reason.REDUCE_ONLY_WOULD_INCREASE,
}


def venue_error(status: int, body: Any, retry_after: float | None = None, context: str = "") -> VenueError:
    """The exception for a GRVT error answer (HTTP ``status``, JSON ``body`` code/message).

    The exception carries ``grvt_code`` (or ``None``) for callers that branch on it.
    """
    code = body.get("code") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    text = (f"{context}: " if context else "") + f"HTTP {status}" + (
        f", code {code}: {message}" if code is not None else "")
    reason = ERROR_REASONS.get(code) if isinstance(code, int) else None
    err: VenueError
    if reason is Reason.RATE_LIMITED or (reason is None and status == 429):
        err = RateLimited(text, VENUE, retry_after)
    elif reason is Reason.VENUE_UNAVAILABLE or (reason is None and status >= 500):
        err = VenueUnavailable(text, VENUE)
    else:
        if reason is None:
            reason = Reason.AUTH if status in (401, 403) else Reason.REJECTED
        if reason is Reason.AUTH or not 400 <= status < 500:
            err = VenueError(reason, text, VENUE)
        else:
            err = OrderRejected(reason, text, VENUE)
    err.grvt_code = code if isinstance(code, int) else None  # type: ignore[attr-defined]
    return err


def grvt_code(exc: BaseException) -> int | None:
    return getattr(exc, "grvt_code", None)
