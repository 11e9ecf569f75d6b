"""Paradex wire format <-> perpflow domain types, and venue errors -> ``core.reasons.Reason``.

Pure functions, so the adapter, the WebSocket feeds and the benchmark share one parser. Prices
and sizes go through ``Decimal(str)``, never float. Anything missing or unparsable raises
``BadResponse`` naming the field, never echoing the payload.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from core.errors import BadResponse, OrderRejected, RateLimited, VenueError, VenueTimeout, VenueUnavailable
from core.reasons import Reason
from core.types import (
    BBO,
    Balance,
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
from exchanges.symbols import from_venue_symbol

VENUE = "paradex"
T = TypeVar("T")

# ApiError.error codes (openapi ``responses.ErrorCode``) -> reason. VALIDATION_ERROR and its kin
# carry the precise reason in their message only: see ``_validation_reason``.
ERROR_REASONS: dict[str, Reason] = {
    "MARKET_NOT_FOUND": Reason.UNKNOWN_SYMBOL,
    "INVALID_SYMBOL": Reason.UNKNOWN_SYMBOL,
    "ORDER_ID_NOT_FOUND": Reason.UNKNOWN_ORDER,
    "CLIENT_ORDER_ID_NOT_FOUND": Reason.UNKNOWN_ORDER,
    "NOT_FOUND": Reason.UNKNOWN_ORDER,
    "DUPLICATED_CLIENT_ID": Reason.DUPLICATE_CLIENT_ID,
    "INVALID_ORDER_SIGNATURE": Reason.INVALID_SIGNATURE,
    "INVALID_TIMESTAMP": Reason.INVALID_SIGNATURE,  # signature_timestamp outside recv_window
    "INVALID_ORDER_SIZE": Reason.OFF_LOT,
    "INVALID_TOKEN": Reason.AUTH,
    "UNAUTHORIZED_ERROR": Reason.AUTH,
    "NOT_ONBOARDED": Reason.AUTH,
    "ACCOUNT_NOT_FOUND": Reason.AUTH,
    "INVALID_STARKNET_SIGNATURE": Reason.AUTH,
    "STARKNET_SIGNATURE_VERIFICATION_FAILED": Reason.AUTH,
    "INVALID_STARKNET_ADDRESS": Reason.AUTH,
    "PUBLIC_KEY_INVALID": Reason.AUTH,
    "INTERNAL_ERROR": Reason.VENUE_UNAVAILABLE,
    "SERVICE_UNAVAILABLE": Reason.VENUE_UNAVAILABLE,
    "SYSTEM_STATUS_CANCEL_ONLY": Reason.VENUE_UNAVAILABLE,
    "SYSTEM_STATUS_POST_ONLY": Reason.REJECTED,
    "MARKET_NOT_OPEN": Reason.REJECTED,
    "ORDER_IS_CLOSED": Reason.REJECTED,
    "ORDER_IS_NOT_OPEN": Reason.REJECTED,
}
CLOSED_CODES = frozenset({"ORDER_IS_CLOSED", "ORDER_IS_NOT_OPEN"})

# Order ``cancel_reason`` (status CLOSED) -> reason; the first group means the order never worked.
REJECT_CANCEL_REASONS: dict[str, Reason] = {
    "POST_ONLY_WOULD_CROSS": Reason.POST_ONLY_WOULD_CROSS,
    "NOT_ENOUGH_MARGIN": Reason.INSUFFICIENT_MARGIN,
    "REDUCE_ONLY_WOULD_INCREASE": Reason.REDUCE_ONLY_WOULD_INCREASE,
    "ORDER_EXCEEDS_POSITION_LIMIT": Reason.MAX_POSITION,
    "TOO_MANY_REQUESTS": Reason.RATE_LIMITED,
    "MARKET_NOT_OPEN": Reason.REJECTED,
    "ORDER_TYPE_INVALID": Reason.REJECTED,
    "PRICE_NOT_AVAILABLE": Reason.REJECTED,
    "ASSET_UNAVAILABLE": Reason.REJECTED,
    "UNEXPECTED_FAILURE": Reason.REJECTED,
}
OTHER_CANCEL_REASONS: dict[str, Reason] = {
    "REMAINING_IOC_CANCEL": Reason.SLIPPAGE_EXCEEDED,  # nothing more within the IOC's price cap
    "EXCEED_MAX_SLIPPAGE": Reason.SLIPPAGE_EXCEEDED,
    "EMPTY_MARKET": Reason.INSUFFICIENT_LIQUIDITY,
    "SELF_TRADE": Reason.REJECTED,
}


# --- primitives ------------------------------------------------------------------------------
def _field(d: Mapping[str, Any], key: str, what: str) -> Any:
    try:
        return d[key]
    except (KeyError, TypeError):
        raise BadResponse(f"{what}: missing field {key!r}", VENUE) from None


def dec(d: Mapping[str, Any], key: str, what: str) -> Decimal:
    raw = _field(d, key, what)
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise BadResponse(f"{what}: field {key!r} is not a decimal", VENUE) from None
    if not value.is_finite():
        raise BadResponse(f"{what}: field {key!r} is not finite", VENUE)
    return value


def opt_dec(d: Mapping[str, Any], key: str, what: str) -> Decimal | None:
    if d.get(key) in (None, ""):
        return None
    return dec(d, key, what)


def ms(d: Mapping[str, Any], key: str, what: str) -> float:
    """A millisecond timestamp field as epoch seconds."""
    raw = _field(d, key, what)
    try:
        return int(raw) / 1000
    except (TypeError, ValueError):
        raise BadResponse(f"{what}: field {key!r} is not a millisecond timestamp", VENUE) from None


def symbol_of(market: Any, what: str) -> str:
    if not isinstance(market, str):
        raise BadResponse(f"{what}: market is not a string", VENUE)
    try:
        return from_venue_symbol(VENUE, market)
    except ValueError:
        raise BadResponse(f"{what}: {market!r} is not a perpetual market", VENUE) from None


def results(payload: Any, what: str) -> list[dict[str, Any]]:
    """The ``results`` list of a list endpoint (``None`` is what the SDK returns for bad JSON)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
        raise BadResponse(f"{what}: expected an object with a results list", VENUE)
    return payload["results"]


def obj(payload: Any, what: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise BadResponse(f"{what}: expected a JSON object", VENUE)
    return payload


def guarded(parse: Callable[..., T], *args: Any) -> T:
    """Run a parser, turning any stray type/key error into ``BadResponse``."""
    try:
        return parse(*args)
    except VenueError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise BadResponse(f"unparsable venue message ({type(exc).__name__})", VENUE) from None


# --- domain objects --------------------------------------------------------------------------
def instrument(market: Mapping[str, Any], fees: Mapping[str, Any] | None) -> Instrument:
    """Tick, step, limits from ``GET /markets``; fee rates: the market's API fee override when it
    has one (``fee_config.api_fee``), else the account's rates (``GET /account/info``)."""
    what = "market"
    vs = _field(market, "symbol", what)
    lot = dec(market, "order_size_increment", what)
    maker = taker = None
    api_fee = (market.get("fee_config") or {}).get("api_fee") or {}
    if api_fee.get("maker_fee") and api_fee.get("taker_fee"):
        maker = dec(api_fee["maker_fee"], "fee", "market fee_config")
        taker = dec(api_fee["taker_fee"], "fee", "market fee_config")
    elif fees is not None:
        maker = dec(fees, "maker_rate", "account fees")
        taker = dec(fees, "taker_rate", "account fees")
    if maker is None or taker is None:
        raise BadResponse(f"{vs}: no fee rates from the market or the account", VENUE)
    max_size = opt_dec(market, "max_order_size", what)
    return Instrument(
        venue=VENUE, symbol=symbol_of(vs, what), venue_symbol=vs, tick=dec(market, "price_tick_size", what),
        lot=lot, min_size=lot, min_notional=dec(market, "min_notional", what),
        max_order_size=max_size if max_size else None, maker_fee=maker, taker_fee=taker,
        closes_below_min_notional=True)  # docs "Placing Orders": reduce-only matching the position


def order_status(d: Mapping[str, Any], filled: Decimal, size: Decimal) -> tuple[OrderStatus, Reason | None]:
    status = d.get("status")
    if status in ("NEW", "UNTRIGGERED"):
        return OrderStatus.NEW, None
    if status == "OPEN":
        return (OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.OPEN), None
    if status != "CLOSED":
        raise BadResponse(f"order: unknown status {status!r}", VENUE)
    if filled >= size:
        return OrderStatus.FILLED, None
    reason = d.get("cancel_reason") or ""
    if reason in REJECT_CANCEL_REASONS and filled == 0:
        return OrderStatus.REJECTED, REJECT_CANCEL_REASONS[reason]
    if reason == "EXPIRED":
        return OrderStatus.EXPIRED, None
    return OrderStatus.CANCELLED, OTHER_CANCEL_REASONS.get(reason) or REJECT_CANCEL_REASONS.get(reason)


def order(d: Mapping[str, Any]) -> Order:
    """An order update (REST ``OrderResp`` or the ``orders`` channel). An IOC is our market order."""
    what = "order"
    size = dec(d, "size", what)
    remaining = dec(d, "remaining_size", what)
    filled = size - remaining
    status, reason = order_status(d, filled, size)
    ioc = d.get("instruction") == "IOC" or d.get("type") == "MARKET"
    avg = opt_dec(d, "avg_fill_price", what) if filled > 0 else None
    return Order(
        venue=VENUE, order_id=str(_field(d, "id", what)), client_id=d.get("client_id") or "",
        symbol=symbol_of(_field(d, "market", what), what), side=Side(_field(d, "side", what)),
        type=OrderType.MARKET if ioc else OrderType.LIMIT, price=None if ioc else dec(d, "price", what),
        size=size, filled=filled, avg_price=avg, status=status,
        post_only=d.get("instruction") == "POST_ONLY", reduce_only="REDUCE_ONLY" in (d.get("flags") or ()),
        ts=ms(d, "last_updated_at", what) if d.get("last_updated_at") else ms(d, "created_at", what),
        reject_reason=reason.value if reason else None)


def fill(d: Mapping[str, Any]) -> Fill:
    what = "fill"
    return Fill(
        venue=VENUE, order_id=str(_field(d, "order_id", what)), client_id=d.get("client_id") or "",
        trade_id=str(_field(d, "id", what)), symbol=symbol_of(_field(d, "market", what), what),
        side=Side(_field(d, "side", what)), price=dec(d, "price", what), size=dec(d, "size", what),
        fee=dec(d, "fee", what), liquidity=Liquidity(_field(d, "liquidity", what)), ts=ms(d, "created_at", what))


def position(d: Mapping[str, Any], source: str) -> Position:
    what = "position"
    size = dec(d, "size", what)
    entry = opt_dec(d, "average_entry_price", what)
    return Position(VENUE, symbol_of(_field(d, "market", what), what), size,
                    entry if size != 0 and entry else None, ms(d, "last_updated_at", what), source)


def bbo(d: Mapping[str, Any]) -> BBO:
    what = "bbo"
    return BBO(VENUE, symbol_of(_field(d, "market", what), what), dec(d, "bid", what), dec(d, "bid_size", what),
               dec(d, "ask", what), dec(d, "ask_size", what), ms(d, "last_updated_at", what))


def book_rest(d: Mapping[str, Any], depth: int) -> Book:
    """``GET /orderbook/{market}``: ``bids``/``asks`` as [[price, size], ...], best first."""
    what = "orderbook"

    def levels(key: str) -> tuple[BookLevel, ...]:
        rows = _field(d, key, what)
        return tuple(BookLevel(Decimal(str(p)), Decimal(str(s))) for p, s in rows[:depth])

    return Book(VENUE, symbol_of(_field(d, "market", what), what), levels("bids"), levels("asks"),
                ms(d, "last_updated_at", what))


def book_snapshot(d: Mapping[str, Any], depth: int) -> Book:
    """An ``order_book.<market>.snapshot@15@...`` message: every level in ``inserts``."""
    what = "order_book"
    if d.get("update_type") != "s":
        raise BadResponse("order_book: expected a snapshot (update_type 's')", VENUE)
    bids, asks = [], []
    for lv in _field(d, "inserts", what):
        level = BookLevel(dec(lv, "price", what), dec(lv, "size", what))
        (bids if lv.get("side") == "BUY" else asks).append(level)
    bids.sort(key=lambda x: x.price, reverse=True)
    asks.sort(key=lambda x: x.price)
    return Book(VENUE, symbol_of(_field(d, "market", what), what), tuple(bids[:depth]), tuple(asks[:depth]),
                ms(d, "last_updated_at", what))


def trade(d: Mapping[str, Any]) -> Trade:
    what = "trade"
    return Trade(VENUE, symbol_of(_field(d, "market", what), what), dec(d, "price", what), dec(d, "size", what),
                 Side(_field(d, "side", what)), ms(d, "created_at", what))


def balance(summary: Any) -> Balance:
    """From the SDK's ``AccountSummary`` (``GET /account``)."""
    what = "account summary"
    try:
        equity = Decimal(summary.account_value)
        free = Decimal(summary.free_collateral)
        ts = int(summary.updated_at) / 1000
    except (AttributeError, InvalidOperation, TypeError, ValueError):
        raise BadResponse(f"{what}: account_value/free_collateral/updated_at unreadable", VENUE) from None
    return Balance(VENUE, summary.settlement_asset or "USDC", equity, free, ts)


# --- errors ----------------------------------------------------------------------------------
def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date), else ``x-ratelimit-reset``."""
    now = time.time() if now is None else now
    raw = headers.get("retry-after") or headers.get("Retry-After")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(raw).timestamp() - now)
            except (TypeError, ValueError):
                return None
    reset = headers.get("x-ratelimit-reset")
    if reset:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return None
    return None


def _validation_reason(message: str) -> Reason:
    """VALIDATION_ERROR names the broken rule only in its message."""
    m = message.lower()
    if "tick" in m:
        return Reason.OFF_TICK
    if "notional" in m or "order value" in m:
        return Reason.BELOW_MIN_NOTIONAL
    if "max_order_size" in m or "max order size" in m or "exceeds" in m:
        return Reason.SIZE_ABOVE_MAX
    if "increment" in m or "step" in m:
        return Reason.OFF_LOT
    if "min" in m and "size" in m:
        return Reason.BELOW_MIN_SIZE
    return Reason.REJECTED


def error_from_response(status: int, headers: Mapping[str, str], body: Any, what: str,
                        *, placing: bool = False) -> VenueError:
    """The contract's error for a non-2xx answer. ``placing``: refusals become ``OrderRejected``."""
    code = message = ""
    if isinstance(body, dict):
        code = str(body.get("error") or "")
        message = str(body.get("message") or "")
    detail = f"{what}: HTTP {status} {code or ''} {message}".rstrip()
    err: VenueError
    if status == 429:
        err = RateLimited(detail, VENUE, retry_after(headers))
    elif status >= 500:
        err = VenueUnavailable(detail, VENUE)
    elif status == 408:
        err = VenueTimeout(detail, VENUE)
    else:
        if code in ("VALIDATION_ERROR", "INVALID_REQUEST_PARAMETER", "BINDING_ERROR"):
            reason = _validation_reason(message)
        elif status == 401:
            reason = Reason.AUTH
        else:
            reason = ERROR_REASONS.get(code, Reason.REJECTED)
        if reason is Reason.VENUE_UNAVAILABLE:
            err = VenueUnavailable(detail, VENUE)
        elif placing and reason is not Reason.AUTH:
            err = OrderRejected(reason, detail, VENUE)
        else:
            err = VenueError(reason, detail, VENUE)
    err.venue_code = code  # type: ignore[attr-defined]
    return err


def venue_code(err: BaseException) -> str:
    return getattr(err, "venue_code", "")

