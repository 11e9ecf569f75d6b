"""Backpack's wire format, both ways: request signing, client ids, and JSON <-> domain objects.

Shared by the adapter (which parses what the venue says) and the protocol fake (which says it),
so a misreading shows up as a failing round trip. Facts from Backpack's published OpenAPI and
AsyncAPI documents (see this folder's README.md).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

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

VENUE = "backpack"
DEFAULT_WINDOW_MS = 5000
BPS = Decimal(10_000)
SIDES = {Side.BUY: "Bid", Side.SELL: "Ask"}
SIDE_OF = {v: k for k, v in SIDES.items()}
STATUS = {"New": OrderStatus.OPEN, "PartiallyFilled": OrderStatus.PARTIALLY_FILLED, "Filled": OrderStatus.FILLED,
          "Cancelled": OrderStatus.CANCELLED, "Expired": OrderStatus.CANCELLED, "TriggerPending": OrderStatus.NEW,
          "TriggerFailed": OrderStatus.REJECTED}


# --- signing -------------------------------------------------------------------------------------
def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def signing_string(instruction: str, params: Mapping[str, Any] | None, timestamp_ms: int,
                   window_ms: int = DEFAULT_WINDOW_MS) -> str:
    """``instruction=<i>&<params sorted by key>&timestamp=<ms>&window=<ms>`` (what Backpack signs)."""
    parts = [f"instruction={instruction}"]
    parts += [f"{k}={_plain(v)}" for k, v in sorted((params or {}).items()) if v is not None]
    parts += [f"timestamp={timestamp_ms}", f"window={window_ms}"]
    return "&".join(parts)


def sign(seed_b64: str, message: str) -> str:
    """Base64 ED25519 signature of ``message`` with the base64 32-byte seed."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed_b64))
    return base64.b64encode(key.sign(message.encode())).decode()


def public_key(seed_b64: str) -> str:
    """The base64 verifying key (Backpack's ``X-API-Key``) of a base64 seed."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed_b64))
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def verify(public_key_b64: str, message: str, signature_b64: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64)).verify(
            base64.b64decode(signature_b64), message.encode())
    except (InvalidSignature, ValueError):
        return False
    return True


def client_number(client_id: str) -> int:
    """Backpack's ``clientId`` is a uint32: a stable 31-bit hash of perpflow's client id."""
    return int.from_bytes(hashlib.blake2b(client_id.encode(), digest_size=4).digest(), "big") & 0x7FFFFFFF


# --- numbers and times ---------------------------------------------------------------------------
def dec(value: Any, what: str = "number") -> Decimal:
    return venue_decimal(value, what, VENUE)


def text(value: Decimal) -> str:
    return plain_text(value)


def iso(ts: float) -> str:
    """Backpack's naive UTC date-time (fills' ``timestamp``)."""
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")


def from_iso(value: str) -> float:
    return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()


# --- domain objects ------------------------------------------------------------------------------
def instrument(market: Mapping[str, Any], maker_bps: Decimal, taker_bps: Decimal) -> Instrument:
    f = market.get("filters") or {}
    price, qty = f.get("price") or {}, f.get("quantity") or {}
    maximum = qty.get("maxQuantity")
    symbol = str(market["symbol"])
    return Instrument(VENUE, from_venue_symbol(VENUE, symbol), symbol, dec(price["tickSize"], "tickSize"),
                      dec(qty["stepSize"], "stepSize"), dec(qty["minQuantity"], "minQuantity"),
                      dec(market.get("minNotional") or 0, "minNotional"),
                      dec(maximum, "maxQuantity") if maximum else None, maker_bps / BPS, taker_bps / BPS)


def book(symbol: str, depth: Mapping[str, Any], levels: int) -> Book:
    """Backpack lists both sides ascending by price (the best bid last): sorted here, best first."""
    bids = sorted(((dec(p), dec(q)) for p, q in depth.get("bids") or []), reverse=True)
    asks = sorted((dec(p), dec(q)) for p, q in depth.get("asks") or [])
    ts = int(depth.get("timestamp") or 0) / 1e6
    return Book(VENUE, symbol, tuple(BookLevel(p, q) for p, q in bids[:levels] if q > 0),
                tuple(BookLevel(p, q) for p, q in asks[:levels] if q > 0), ts)


def bbo_of(symbol: str, d: Mapping[str, Any]) -> BBO:
    """A ``bookTicker`` event."""
    return BBO(VENUE, symbol, dec(d["b"]), dec(d["B"]), dec(d["a"]), dec(d["A"]), int(d.get("T") or d["E"]) / 1e6)


def trade(symbol: str, d: Mapping[str, Any]) -> Trade:
    return Trade(VENUE, symbol, dec(d["price"]), dec(d["quantity"]),
                 Side.SELL if d.get("isBuyerMaker") else Side.BUY, int(d["timestamp"]) / 1000)


def order(d: Mapping[str, Any], client_ids: Mapping[int, str]) -> Order:
    """A REST order (``OrderType_LimitOrder`` / ``OrderType_MarketOrder``)."""
    status = STATUS.get(str(d.get("status")))
    if status is None:
        raise BadResponse(f"order status {d.get('status')!r} is unknown", VENUE)
    filled = dec(d.get("executedQuantity") or 0)
    quote = dec(d.get("executedQuoteQuantity") or 0)
    cid = d.get("clientId")
    kind = OrderType.LIMIT if d.get("orderType", "Limit") == "Limit" and d.get("timeInForce") != "IOC" \
        else OrderType.MARKET
    price = d.get("price")
    return Order(VENUE, str(d["id"]), client_ids.get(int(cid), str(cid)) if cid is not None else "",
                 from_venue_symbol(VENUE, str(d["symbol"])), SIDE_OF[str(d["side"])], kind,
                 dec(price) if price is not None and kind is OrderType.LIMIT else None,
                 dec(d.get("quantity") or filled), filled, (quote / filled) if filled else None, status,
                 bool(d.get("postOnly")), bool(d.get("reduceOnly")), int(d.get("createdAt") or 0) / 1000)


def order_event(d: Mapping[str, Any], client_ids: Mapping[int, str]) -> Order:
    """An ``account.orderUpdate`` event as the order's new state."""
    status = STATUS.get(str(d.get("X")), OrderStatus.OPEN)
    filled, quote = dec(d.get("z") or 0), dec(d.get("Z") or 0)
    cid = d.get("c")
    ioc = d.get("f") == "IOC"
    return Order(VENUE, str(d["i"]), client_ids.get(int(cid), str(cid)) if cid is not None else "",
                 from_venue_symbol(VENUE, str(d["s"])), SIDE_OF[str(d["S"])],
                 OrderType.MARKET if ioc else OrderType.LIMIT,
                 dec(d["p"]) if d.get("p") and not ioc else None, dec(d.get("q") or filled), filled,
                 (quote / filled) if filled else None, status, bool(d.get("y")), False, int(d["T"]) / 1e6)


def fill(d: Mapping[str, Any], client_ids: Mapping[int, str]) -> Fill:
    """A REST fill (``OrderFill``)."""
    cid = d.get("clientId")
    return Fill(VENUE, str(d["orderId"]), client_ids.get(int(cid), str(cid)) if cid not in (None, "") else "",
                str(d.get("tradeId")), from_venue_symbol(VENUE, str(d["symbol"])), SIDE_OF[str(d["side"])],
                dec(d["price"]), dec(d["quantity"]), dec(d["fee"]),
                Liquidity.MAKER if d.get("isMaker") else Liquidity.TAKER, from_iso(str(d["timestamp"])))


def fill_event(d: Mapping[str, Any], client_ids: Mapping[int, str]) -> Fill:
    """An ``orderFill`` event of ``account.orderUpdate``."""
    cid = d.get("c")
    return Fill(VENUE, str(d["i"]), client_ids.get(int(cid), str(cid)) if cid is not None else "", str(d["t"]),
                from_venue_symbol(VENUE, str(d["s"])), SIDE_OF[str(d["S"])], dec(d["L"]), dec(d["l"]),
                dec(d.get("n") or 0), Liquidity.MAKER if d.get("m") else Liquidity.TAKER, int(d["T"]) / 1e6)


def position(d: Mapping[str, Any], source: str) -> Position:
    """A REST position (``FuturePositionWithMargin``) or an ``account.positionUpdate`` event."""
    if "netQuantity" in d:
        size, entry, ts = dec(d["netQuantity"]), d.get("entryPrice"), 0.0
        symbol = str(d["symbol"])
    else:
        size, entry, ts = dec(d.get("q") or 0), d.get("B"), int(d.get("T") or d.get("E") or 0) / 1e6
        symbol = str(d["s"])
    return Position(VENUE, from_venue_symbol(VENUE, symbol), size,
                    dec(entry) if entry not in (None, "") and size else None, ts, source)


def balance(d: Mapping[str, Any], ts: float) -> Balance:
    return Balance(VENUE, "USDC", dec(d["netEquity"]), dec(d["netEquityAvailable"]), ts)


# --- errors --------------------------------------------------------------------------------------
# Backpack answers {"code": ApiErrorCode, "message": text}; a refusal's reason is in both.
_CODES = {"INSUFFICIENT_MARGIN": Reason.INSUFFICIENT_MARGIN, "INSUFFICIENT_FUNDS": Reason.INSUFFICIENT_MARGIN,
          "INVALID_PRICE": Reason.OFF_TICK, "INVALID_SYMBOL": Reason.UNKNOWN_SYMBOL,
          "INVALID_MARKET": Reason.UNKNOWN_SYMBOL, "RESOURCE_NOT_FOUND": Reason.UNKNOWN_ORDER,
          "INVALID_SIGNATURE": Reason.AUTH, "UNAUTHORIZED": Reason.AUTH, "FORBIDDEN": Reason.AUTH}
_MESSAGES = (("immediately match", Reason.POST_ONLY_WOULD_CROSS), ("reduce only", Reason.REDUCE_ONLY_WOULD_INCREASE),
             ("duplicate client", Reason.DUPLICATE_CLIENT_ID), ("minimum notional", Reason.BELOW_MIN_NOTIONAL),
             ("below the minimum", Reason.BELOW_MIN_SIZE), ("step size", Reason.OFF_LOT),
             ("maximum quantity", Reason.SIZE_ABOVE_MAX), ("tick size", Reason.OFF_TICK))


def error(status: int, body: Any, what: str, retry_after: float | None = None) -> VenueError:
    code = str(body.get("code", "")) if isinstance(body, dict) else ""
    message = str(body.get("message", "")) if isinstance(body, dict) else ""
    detail = f"{what}: HTTP {status} {code} {message}".strip()
    if status == 429 or code == "TOO_MANY_REQUESTS":
        return RateLimited(detail, VENUE, retry_after=retry_after)
    if status >= 500 or code in ("SERVER_ERROR", "MAINTENANCE", "TIMEOUT"):
        return VenueUnavailable(detail, VENUE)
    lowered = message.lower()
    reason = next((r for key, r in _MESSAGES if key in lowered), None) or _CODES.get(code, Reason.REJECTED)
    if reason is Reason.AUTH:
        return VenueError(reason, detail, VENUE)
    return OrderRejected(reason, detail, VENUE)


def market_symbol(symbol: str) -> str:
    return to_venue_symbol(VENUE, symbol)
