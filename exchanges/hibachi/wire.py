"""Hibachi's wire format, both ways: request signing, number encoding, and JSON <-> domain objects.

Shared by the adapter (which parses what the venue says) and the protocol fake (which says it),
so a misreading shows up as a failing round trip. What each rule rests on (Hibachi's API docs and
its SDK's sources) is in this folder's README.md.

Signing in one paragraph: an order is signed over a fixed binary layout, big-endian,
``nonce (8) | contract id (4) | quantity (8) | side (4: ASK 0, BID 1) | price (8, limit orders
only) | maxFeesPercent (8)``, where quantity is ``q * 10^underlyingDecimals``, price is
``p * 2^32 * 10^(settlementDecimals - underlyingDecimals)`` and the fee cap ``f * 10^8`` (each
truncated to an integer). A cancel signs the 8-byte order id (or nonce); a cancel-all its nonce.
An exchange-managed account signs with HMAC-SHA256 (hex) under its secret; a trustless account
with ECDSA secp256k1 over the SHA-256 of the payload, sent as hex ``r | s | v`` (65 bytes).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
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

VENUE = "hibachi"
SIDES = {Side.BUY: "BID", Side.SELL: "ASK"}
SIDE_OF = {"BID": Side.BUY, "ASK": Side.SELL, "BUY": Side.BUY, "SELL": Side.SELL}
TRADE_SIDE = {Side.BUY: "Buy", Side.SELL: "Sell"}
TRADE_SIDE_OF = {"Buy": Side.BUY, "Sell": Side.SELL}
STATUS = {"PENDING": OrderStatus.NEW, "CHILD_PENDING": OrderStatus.NEW, "SCHEDULED_TWAP": OrderStatus.NEW,
          "PLACED": OrderStatus.OPEN, "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
          "FILLED": OrderStatus.FILLED, "CANCELLED": OrderStatus.CANCELLED,
          "PARTIAL_CANCELLED": OrderStatus.CANCELLED, "REJECTED": OrderStatus.REJECTED}
FEE_SCALE = Decimal(10) ** 8
PRICE_SCALE = Decimal(2) ** 32
ECDSA_KEY = re.compile(r"0x[0-9a-fA-F]{64}")
MIN_HMAC_LEN = 16


# --- numbers -------------------------------------------------------------------------------------
def dec(value: Any, what: str = "number") -> Decimal:
    return venue_decimal(value, what, VENUE)


def text(value: Decimal) -> str:
    """A decimal as Hibachi expects it: plain notation, no exponent."""
    return plain_text(value)


def _int(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_DOWN))


@dataclass(frozen=True, slots=True)
class Contract:
    """What signing needs of one market (``futureContracts`` in ``/market/exchange-info``)."""

    id: int
    symbol: str
    underlying_decimals: int
    settlement_decimals: int

    def quantity(self, q: Decimal) -> int:
        return _int(q * Decimal(10) ** self.underlying_decimals)

    def price(self, p: Decimal) -> int:
        return _int(p * PRICE_SCALE * Decimal(10) ** (self.settlement_decimals - self.underlying_decimals))


def contract(row: Mapping[str, Any]) -> Contract:
    return Contract(int(row["id"]), str(row["symbol"]), int(row["underlyingDecimals"]),
                    int(row["settlementDecimals"]))


# --- signing -------------------------------------------------------------------------------------
def order_payload(c: Contract, nonce: int, side: Side, quantity: Decimal, price: Decimal | None,
                  max_fees_percent: Decimal) -> bytes:
    """The bytes an order (create, or modify) is signed over."""
    try:
        return (nonce.to_bytes(8, "big") + c.id.to_bytes(4, "big") + c.quantity(quantity).to_bytes(8, "big")
                + (1 if side is Side.BUY else 0).to_bytes(4, "big")
                + (b"" if price is None else c.price(price).to_bytes(8, "big"))
                + _int(max_fees_percent * FEE_SCALE).to_bytes(8, "big"))
    except OverflowError:
        raise OrderRejected(Reason.REJECTED, "a value does not fit Hibachi's 64-bit encoding", VENUE) from None


def id_payload(number: int) -> bytes:
    """What a cancel (by order id or nonce) and a cancel-all (by its nonce) are signed over."""
    return int(number).to_bytes(8, "big")


def nonce_of(client_id: str) -> int:
    """The nonce of perpflow's order ``client_id``: Hibachi orders carry no client id, a nonce
    identifies one (look-up and cancel by nonce), so the nonce is a stable 63-bit hash of the
    client id. The same client id always gives the same nonce, in any process: an order whose
    answer was lost is found by it, and a resend can never make a second order."""
    return int.from_bytes(hashlib.blake2b(client_id.encode(), digest_size=8).digest(), "big") & (2**63 - 1)


def key_kind(private_key: str) -> str:
    """"ecdsa" (a trustless account's ``0x`` + 64 hex key) or "hmac" (an exchange-managed account's
    secret); anything else is refused by ``check_key``."""
    return "ecdsa" if private_key.startswith("0x") else "hmac"


def check_key(private_key: str) -> str | None:
    """Why ``private_key`` cannot sign (None: it can). Never quotes the key."""
    if private_key.startswith("0x"):
        if not ECDSA_KEY.fullmatch(private_key):
            return "a trustless account's key must be 0x followed by 64 hex digits"
        if int(private_key, 16) == 0:
            return "the ECDSA key is zero"
        return None
    if len(private_key) < MIN_HMAC_LEN or any(c.isspace() for c in private_key):
        return f"an exchange-managed account's HMAC secret is at least {MIN_HMAC_LEN} characters, no spaces"
    return None


class Signer:
    """Signs payloads with one account's key (built once: the ECDSA key object is reused)."""

    def __init__(self, private_key: str) -> None:
        self.kind = key_kind(private_key)
        if self.kind == "ecdsa":
            from coincurve import PrivateKey

            self._ecdsa = PrivateKey(bytes.fromhex(private_key[2:]))
            self._hmac = b""
        else:
            self._hmac = private_key.encode()

    def sign(self, payload: bytes) -> str:
        if self.kind == "hmac":
            return hmac.new(self._hmac, payload, hashlib.sha256).hexdigest()
        sig = self._ecdsa.sign_recoverable(hashlib.sha256(payload).digest(), hasher=None)
        return sig.hex()  # r (32) | s (32) | v (1)

    def public_key(self) -> str | None:
        """The trustless account's uncompressed public key (hex, no 0x04 prefix); None for HMAC."""
        if self.kind == "hmac":
            return None
        return self._ecdsa.public_key.format(compressed=False)[1:].hex()


def verify(payload: bytes, signature: str, *, hmac_secret: str | None = None, public_key: str | None = None) -> bool:
    """The fake's side: does ``signature`` sign ``payload`` for this account?"""
    try:
        raw = bytes.fromhex(signature)
    except (ValueError, TypeError):
        return False
    if hmac_secret is not None:
        return hmac.compare_digest(hmac.new(hmac_secret.encode(), payload, hashlib.sha256).digest(), raw)
    if public_key is None or len(raw) != 65 or raw[64] > 3:
        return False
    from coincurve import PublicKey

    try:
        recovered = PublicKey.from_signature_and_message(raw, hashlib.sha256(payload).digest(), hasher=None)
    except Exception:  # not a valid signature at all
        return False
    return recovered.format(compressed=False)[1:].hex() == public_key.lower()


# --- symbols and times ---------------------------------------------------------------------------
def market_symbol(symbol: str) -> str:
    return to_venue_symbol(VENUE, symbol)


def user_symbol(market: str) -> str:
    return from_venue_symbol(VENUE, market)


def stamp(row: Mapping[str, Any], field: str = "timestamp") -> float:
    """Epoch seconds: Hibachi's integer seconds plus, where the row has it, ``timestampNsPartial``."""
    value = row.get(field)
    if value is None:
        return 0.0
    return int(value) + int(row.get(f"{field}NsPartial") or 0) / 1e9


def split_stamp(ts: float) -> tuple[int, int]:
    """Epoch seconds as Hibachi writes them: whole seconds and the nanoseconds within."""
    ns = round(ts * 1e9)
    return ns // 1_000_000_000, ns % 1_000_000_000


# --- domain objects ------------------------------------------------------------------------------
def instrument(row: Mapping[str, Any], maker: Decimal, taker: Decimal) -> Instrument:
    """A ``futureContracts`` row and the account's own fee rates (fractions)."""
    market = str(row["symbol"])
    tick = dec(row["tickSize"], "tickSize")
    return Instrument(VENUE, user_symbol(market), market, tick, dec(row["stepSize"], "stepSize"),
                      dec(row["minOrderSize"], "minOrderSize"), dec(row.get("minNotional") or 0, "minNotional"),
                      None, maker, taker)


def _levels(side: Mapping[str, Any] | None) -> list[tuple[Decimal, Decimal]]:
    return [(dec(lv["price"]), dec(lv["quantity"])) for lv in (side or {}).get("levels") or []]


def book(symbol: str, raw: Mapping[str, Any], depth: int, ts: float) -> Book:
    bids = sorted(_levels(raw.get("bid")), reverse=True)
    asks = sorted(_levels(raw.get("ask")))
    return Book(VENUE, symbol, tuple(BookLevel(p, q) for p, q in bids[:depth] if q > 0),
                tuple(BookLevel(p, q) for p, q in asks[:depth] if q > 0), ts)


def apply_book_update(state: dict[str, dict[Decimal, Decimal]], data: Mapping[str, Any]) -> None:
    """One ``orderbook`` message into a local book, by the docs' rules: a Snapshot replaces both
    sides; in an Update a side that is null empties, levels outside ``startPrice``..``endPrice``
    go, a zero quantity removes a level, any other sets it."""
    snapshot = data.get("messageType") == "Snapshot"
    for key in ("bid", "ask"):
        side = data.get(key)
        levels = state.setdefault(key, {})
        if snapshot or side is None:
            levels.clear()
        if side is None:
            continue
        if not snapshot and side.get("startPrice") is not None and side.get("endPrice") is not None:
            lo, hi = sorted((dec(side["startPrice"]), dec(side["endPrice"])))
            for p in [p for p in levels if p < lo or p > hi]:
                del levels[p]
        for p, q in _levels(side):
            if q:
                levels[p] = q
            else:
                levels.pop(p, None)


def book_of(symbol: str, state: Mapping[str, Mapping[Decimal, Decimal]], depth: int, ts: float) -> Book | None:
    bids = sorted(state.get("bid", {}).items(), reverse=True)[:depth]
    asks = sorted(state.get("ask", {}).items())[:depth]
    if not bids or not asks:
        return None
    return Book(VENUE, symbol, tuple(BookLevel(p, q) for p, q in bids), tuple(BookLevel(p, q) for p, q in asks), ts)


def bbo_of(b: Book) -> BBO:
    return b.bbo()


def trade(symbol: str, d: Mapping[str, Any]) -> Trade:
    return Trade(VENUE, symbol, dec(d["price"]), dec(d["quantity"]), TRADE_SIDE_OF[str(d["takerSide"])], stamp(d))


def order(d: Mapping[str, Any], client_ids: Mapping[str, str]) -> Order:
    """An order row (``GET /trade/order``, ``/trade/orders``, the account stream's ORDER_* events).

    ``client_ids`` maps the venue's order id to perpflow's client id (Hibachi orders carry none;
    the adapter learns the pair when it places the order)."""
    status = STATUS.get(str(d.get("status", "")).upper())
    if status is None:
        raise BadResponse(f"order status {d.get('status')!r} is unknown", VENUE)
    total = dec(d.get("totalQuantity") or d.get("availableQuantity") or 0, "totalQuantity")
    if d.get("filledQuantity") is not None:
        filled = dec(d["filledQuantity"], "filledQuantity")
    else:
        filled = total - dec(d.get("availableQuantity") or 0, "availableQuantity")
    flags = d.get("orderFlags")
    ioc = flags == "IOC" or d.get("orderType") == "MARKET"
    avg = d.get("avgFillPrice")
    price = d.get("price")
    oid = str(d["orderId"])
    created = d.get("creationTime")
    return Order(VENUE, oid, client_ids.get(oid, ""), user_symbol(str(d["symbol"])), SIDE_OF[str(d["side"])],
                 OrderType.MARKET if ioc else OrderType.LIMIT,
                 dec(price) if price not in (None, "") and not ioc else None, total, filled,
                 dec(avg) if avg not in (None, "") and filled else None, status, flags == "POST_ONLY",
                 flags == "REDUCE_ONLY", float(created) if created is not None else 0.0)


def liquidity(fee: Decimal, notional: Decimal, maker_rate: Decimal, taker_rate: Decimal) -> Liquidity:
    """Hibachi's fills carry no maker flag, only the fee: the fill was a maker fill when the fee's
    rate is nearer the account's maker rate than its taker rate (equal rates: taker, the side that
    costs no less)."""
    if maker_rate == taker_rate or not notional:
        return Liquidity.TAKER
    rate = fee / notional
    return Liquidity.MAKER if abs(rate - maker_rate) < abs(rate - taker_rate) else Liquidity.TAKER


def fill(d: Mapping[str, Any], client_ids: Mapping[str, str], rates: tuple[Decimal, Decimal]) -> Fill:
    """An account trade (``GET /trade/account/trades``, the account stream's ``trade_update``)."""
    side = TRADE_SIDE_OF[str(d["side"])]
    oid = str(d["bidOrderId"] if side is Side.BUY else d["askOrderId"])
    price, size, fee = dec(d["price"]), dec(d["quantity"]), dec(d.get("fee") or 0, "fee")
    return Fill(VENUE, oid, client_ids.get(oid, ""), str(d["id"]), user_symbol(str(d["symbol"])), side, price, size,
                fee, liquidity(fee, price * size, *rates), stamp(d))


def position(d: Mapping[str, Any], source: str, ts: float) -> Position:
    """A position row (``/trade/account/info``, the stream's snapshot and ``position_update``):
    ``quantity`` is unsigned, ``direction`` Long or Short."""
    qty = dec(d.get("quantity") or 0, "quantity")
    size = qty if str(d.get("direction", "Long")) == "Long" else -qty
    entry = d.get("openPrice")
    return Position(VENUE, user_symbol(str(d["symbol"])), size,
                    dec(entry) if entry not in (None, "") and size else None, ts, source)


def balance(d: Mapping[str, Any], ts: float) -> Balance:
    return Balance(VENUE, "USDT", dec(d["balance"], "balance"), dec(d["maximalWithdraw"], "maximalWithdraw"), ts)


# --- errors --------------------------------------------------------------------------------------
# Hibachi answers {"errorCode": n, "message": text, "status": "failed"}; the codes seen in public
# sources are 2 (invalid signature), 3 (not found) and 4 (missing accountId). A refusal's precise
# reason is in the message.
_CODES = {2: Reason.AUTH, 3: Reason.UNKNOWN_ORDER}
_MESSAGES = (("post only", Reason.POST_ONLY_WOULD_CROSS), ("post-only", Reason.POST_ONLY_WOULD_CROSS),
             ("reduce only", Reason.REDUCE_ONLY_WOULD_INCREASE), ("duplicate nonce", Reason.DUPLICATE_CLIENT_ID),
             ("min notional", Reason.BELOW_MIN_NOTIONAL), ("min order size", Reason.BELOW_MIN_SIZE),
             ("step size", Reason.OFF_LOT), ("tick size", Reason.OFF_TICK), ("max order size", Reason.SIZE_ABOVE_MAX),
             ("insufficient margin", Reason.INSUFFICIENT_MARGIN), ("unknown symbol", Reason.UNKNOWN_SYMBOL),
             ("not found", Reason.UNKNOWN_ORDER), ("signature", Reason.AUTH), ("unauthorized", Reason.AUTH),
             ("max fees", Reason.REJECTED))


def error(status: int, body: Any, what: str, retry_after: float | None = None) -> VenueError:
    code = body.get("errorCode") if isinstance(body, dict) else None
    message = str(body.get("message", "")) if isinstance(body, dict) else ""
    detail = f"{what}: HTTP {status} {'' if code is None else f'[{code}] '}{message}".strip()
    if status == 429:
        return RateLimited(detail, VENUE, retry_after=retry_after)
    if status >= 500:
        return VenueUnavailable(detail, VENUE)
    lowered = message.lower()
    reason = next((r for key, r in _MESSAGES if key in lowered), None)
    if reason is None:
        reason = _CODES.get(code if isinstance(code, int) else -1, Reason.AUTH if status in (401, 403) else
                            Reason.REJECTED)
    if reason is Reason.AUTH:
        return VenueError(reason, detail, VENUE)
    return OrderRejected(reason, detail, VENUE)
