"""Extended's wire format, both ways: client ids, order expiry, JSON (the SDK's models) <-> domain.

Shared by the adapter (which reads what the venue says through x10's pydantic models) and the
protocol fake (which says it by building the same models), so a misreading shows up as a failing
round trip. Facts from x10-python-trading-starknet's sources and Extended's API docs (see this
folder's README.md).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from x10.models.balance import BalanceModel
from x10.models.market import MarketModel
from x10.models.order import OpenOrderModel
from x10.models.orderbook import OrderbookUpdateModel
from x10.models.position import PositionModel
from x10.models.trade import AccountTradeModel, PublicTradeModel

from core.errors import BadResponse, OrderRejected, RateLimited, VenueError, VenueUnavailable
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
from exchanges.symbols import from_venue_symbol, to_venue_symbol
from exchanges.wire_numbers import plain_text, venue_decimal

VENUE = "extended"
BPS = Decimal(10_000)
SIDES = {Side.BUY: "BUY", Side.SELL: "SELL"}
SIDE_OF = {v: k for k, v in SIDES.items()}
# x10.models.order.OrderStatus -> ours ("NEW" is Extended's resting order; "UNTRIGGERED" a conditional one)
STATUS = {"NEW": OrderStatus.OPEN, "UNTRIGGERED": OrderStatus.NEW, "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
          "FILLED": OrderStatus.FILLED, "CANCELLED": OrderStatus.CANCELLED, "EXPIRED": OrderStatus.EXPIRED,
          "REJECTED": OrderStatus.REJECTED}
# x10.models.order.OrderStatusReason of a REJECTED order -> our reason
REJECTIONS = {"POST_ONLY_FAILED": Reason.POST_ONLY_WOULD_CROSS, "REDUCE_ONLY_FAILED": Reason.REDUCE_ONLY_WOULD_INCREASE,
              "NOT_ENOUGH_FUNDS": Reason.INSUFFICIENT_MARGIN, "UNKNOWN_MARKET": Reason.UNKNOWN_SYMBOL,
              "DISABLED_MARKET": Reason.UNKNOWN_SYMBOL, "NO_LIQUIDITY": Reason.INSUFFICIENT_LIQUIDITY,
              "INVALID_PRICE": Reason.OFF_TICK, "PREV_ORDER_NOT_FOUND": Reason.UNKNOWN_ORDER}
FINAL_REASON_REPLACED = "ORDER_REPLACED"  # a CANCELLED order that a renewal replaced (cancelId)
RENEWAL = "~r"  # external id of an order's n-th renewal: <client id>~r<n>


# --- client ids and expiry -----------------------------------------------------------------------
def external_id(client_id: str, generation: int = 0) -> str:
    """Extended's ``externalId`` (any string; unique per account) for perpflow's client id. A
    renewed order (see the adapter's ``renew_expiring``) replaces its predecessor under a new
    external id, ``<client id>~r<generation>``, because an external id is never reused."""
    return client_id if generation == 0 else f"{client_id}{RENEWAL}{generation}"


def client_of(external: str) -> str:
    """perpflow's client id of an external id (a renewal's suffix dropped)."""
    base, sep, generation = external.rpartition(RENEWAL)
    return base if sep and generation.isdigit() else external


def generation_of(external: str) -> int:
    _, sep, generation = external.rpartition(RENEWAL)
    return int(generation) if sep and generation.isdigit() else 0


def expiry(now: float, ttl_s: float) -> datetime:
    """The expiry signed into an order: ``ttl_s`` from ``now``, on a whole second (the order's
    ``expiryEpochMillis`` and the 14-day settlement expiry in its Stark hash then agree exactly)."""
    return datetime.fromtimestamp(math.ceil(now + ttl_s), UTC)


# --- numbers -------------------------------------------------------------------------------------
def dec(value: Any, what: str = "number") -> Decimal:
    return venue_decimal(value, what, VENUE)


def text(value: Decimal) -> str:
    return plain_text(value)


def market_symbol(symbol: str) -> str:
    return to_venue_symbol(VENUE, symbol)


def symbol_of(market: str) -> str:
    return from_venue_symbol(VENUE, market)


# --- domain objects ------------------------------------------------------------------------------
def instrument(market: MarketModel, maker_fee: Decimal, taker_fee: Decimal) -> Instrument:
    """Extended states sizes in base units (``minOrderSize``, step ``minOrderSizeChange``) and limits
    order *value* (``maxLimitOrderValue``), not size: there is no minimum notional and no maximum size."""
    tc = market.trading_config
    return Instrument(VENUE, symbol_of(market.name), market.name, tc.min_price_change, tc.min_order_size_change,
                      tc.min_order_size, Decimal(0), None, maker_fee, taker_fee)


def order(m: OpenOrderModel) -> Order:
    status = STATUS.get(str(m.status))
    if status is None:
        raise BadResponse(f"order status {m.status!r} is unknown", VENUE)
    filled = m.filled_qty or Decimal(0)
    market = m.type == "MARKET" or m.time_in_force == "IOC"
    reason = str(m.status_reason) if m.status_reason and m.status_reason != "NONE" else None
    return Order(VENUE, str(m.id), client_of(m.external_id), symbol_of(m.market), SIDE_OF[str(m.side)],
                 OrderType.MARKET if market else OrderType.LIMIT, None if market else m.price, m.qty, filled,
                 m.average_price if filled else None, status, m.post_only, m.reduce_only, m.updated_time / 1000,
                 reason if status is OrderStatus.REJECTED else None)


def rejection(m: OpenOrderModel, what: str) -> OrderRejected:
    """A REJECTED order as the error ``place_*`` raises (Extended decides after answering the POST)."""
    reason = str(m.status_reason or "")
    return OrderRejected(REJECTIONS.get(reason, Reason.REJECTED), f"{what}: REJECTED {reason}".strip(), VENUE)


def fill(t: AccountTradeModel, client_id: str) -> Fill:
    """An account trade. Extended's trades name the order (``orderId``) but not its external id:
    the adapter resolves ``client_id``."""
    return Fill(VENUE, str(t.order_id), client_id, str(t.id), symbol_of(t.market), SIDE_OF[str(t.side)], t.price,
                t.qty, t.fee, Liquidity.TAKER if t.is_taker else Liquidity.MAKER, t.created_time / 1000)


def position(p: PositionModel, source: str, ts: float | None = None) -> Position:
    """Extended states a position's size unsigned with a side (LONG/SHORT); a CLOSED one is flat."""
    size = Decimal(0) if p.status == "CLOSED" else (p.size if p.side == "LONG" else -p.size)
    return Position(VENUE, symbol_of(p.market), size, p.open_price if size else None,
                    p.updated_at / 1000 if ts is None else ts, source)


def balance(b: BalanceModel) -> Balance:
    return Balance(VENUE, b.collateral_name, b.equity, b.available_for_trade, b.updated_time / 1000)


def book(symbol: str, ob: OrderbookUpdateModel, depth: int, ts: float) -> Book:
    bids = sorted(((lv.price, lv.qty) for lv in ob.bid if lv.qty > 0), reverse=True)[:depth]
    asks = sorted((lv.price, lv.qty) for lv in ob.ask if lv.qty > 0)[:depth]
    return Book(VENUE, symbol, tuple(BookLevel(p, q) for p, q in bids), tuple(BookLevel(p, q) for p, q in asks), ts)


def bbo(symbol: str, ob: OrderbookUpdateModel, ts: float) -> BBO | None:
    b = book(symbol, ob, 1, ts)
    if not b.bids or not b.asks:
        return None
    return BBO(VENUE, symbol, b.bids[0].price, b.bids[0].size, b.asks[0].price, b.asks[0].size, ts)


def trade(t: PublicTradeModel) -> Trade:
    return Trade(VENUE, symbol_of(t.market), t.price, t.qty, SIDE_OF[str(t.side)], t.timestamp / 1000)


# --- errors --------------------------------------------------------------------------------------
# Extended answers errors as {"status": "ERROR", "error": {"code": int, "message": text}}; the SDK
# raises them as ApiError with the body in the text, so the adapter classifies by the HTTP status it
# saw (recorded per request) and the message.
_MESSAGES = (("duplicate", Reason.DUPLICATE_CLIENT_ID), ("signature", Reason.INVALID_SIGNATURE),
             ("market not found", Reason.UNKNOWN_SYMBOL), ("order not found", Reason.UNKNOWN_ORDER))


def error_body(body: str) -> tuple[int | None, str]:
    """``(code, message)`` of an Extended error answer (``(None, "")`` when it is not one)."""
    try:
        doc = json.loads(body)
        err = doc.get("error") or {}
        return (int(err["code"]) if "code" in err else None), str(err.get("message", ""))
    except (ValueError, TypeError, AttributeError):
        return None, ""


def error(status: int | None, body: str, what: str, retry_after: float | None = None) -> VenueError:
    code, message = error_body(body)
    detail = f"{what}: HTTP {status} {code if code is not None else ''} {message}".strip()
    if status == 429:
        return RateLimited(detail, VENUE, retry_after=retry_after)
    if status is None or status >= 500:
        return VenueUnavailable(detail, VENUE)
    if status in (401, 403):
        return VenueError(Reason.AUTH, detail, VENUE)
    lowered = message.lower()
    reason = next((r for key, r in _MESSAGES if key in lowered), None)
    if reason is None:
        reason = Reason.UNKNOWN_ORDER if status == 404 else Reason.REJECTED
    if reason is Reason.INVALID_SIGNATURE:
        return VenueError(reason, detail, VENUE)
    return OrderRejected(reason, detail, VENUE)
