"""The venue behind the fake Paradex API: accounts, JWTs, signatures and orders over the simulator.

Transport-free (``exchanges/paradex/fake.py`` serves it over HTTP and WebSocket). It answers as
Paradex does (its published API spec): ``ApiError`` bodies ``{"error", "message"}`` with the
spec's error codes for requests refused up front (unknown market, off-tick price, off-step size,
below min notional, above max size, stale or invalid signature, duplicate client id), and for
refusals of the risk checks and the matching engine an order accepted as ``NEW`` that closes
with a ``cancel_reason`` (post-only would cross, not enough margin, reduce-only would increase).

Signatures are verified with starknet-py's own typed-data hashing and ECDSA verification (not
paradex-py's code), against the public key the account onboarded with. The ``cancel_reason``
strings are Paradex's where its docs name them; the spec does not enumerate them, so
``REDUCE_ONLY_WOULD_INCREASE`` is this fake's choice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from starknet_py.common import int_from_bytes
from starknet_py.hash.address import compute_address
from starknet_py.hash.selector import get_selector_from_name
from starknet_py.hash.utils import verify_message_signature
from starknet_py.utils.typed_data import TypedData

from core.errors import ConfigError, OrderRejected
from core.reasons import Reason
from core.types import BBO, Book, Fill, Liquidity, Order, OrderStatus, OrderType, Position, Side
from exchanges.sim.exchange import SimExchange
from exchanges.sim.world import SimWorld
from exchanges.symbols import from_venue_symbol, to_venue_symbol

VENUE = "paradex"
CHAIN_ID = "PRIVATE_SN_POTC_SEPOLIA"  # paradex-py accepts only the chain ids it knows
# Class hashes for the L2 address derivation (``GET /system/config``); this fake's own values.
ACCOUNT_PROXY_HASH = "0x3530cc4759d78042f1b543bf797f5f3d647cde0388c33734cf91b7f7b9314a9"
ACCOUNT_HASH = "0x41cb0280ebadaa75f996d8d92c6f265f6d040bb3ba442e5f86a554f1765244e"
MARKET_SLIPPAGE_BPS = Decimal(500)  # a MARKET order's cap (``max_slippage`` 0.05 in /markets)
MAX_BOOK_LEVELS = 15

# Simulator refusals that Paradex reports on the order (status CLOSED) rather than on the request.
ASYNC_REJECTS = {
    Reason.POST_ONLY_WOULD_CROSS: "POST_ONLY_WOULD_CROSS",
    Reason.INSUFFICIENT_MARGIN: "NOT_ENOUGH_MARGIN",
    Reason.REDUCE_ONLY_WOULD_INCREASE: "REDUCE_ONLY_WOULD_INCREASE",
    Reason.REJECTED: "UNEXPECTED_FAILURE",
}


class ApiError(Exception):
    """A Paradex ``ApiError`` answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message

    @property
    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message}


def fmt(d: Decimal) -> str:
    """A decimal as Paradex writes it: plain notation, no trailing zeros."""
    return format(d.normalize(), "f") if d else "0"


def ms(t: float) -> int:
    return int(t * 1000)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hex_int(raw: Any, what: str) -> int:
    try:
        return int(str(raw), 16) if str(raw).lower().startswith("0x") else int(str(raw))
    except ValueError:
        raise ApiError(400, "VALIDATION_ERROR", f"{what} is not a number") from None


def parse_signature(raw: Any) -> tuple[int, int]:
    """``'["r","s"]'`` (paradex-py) or ``[r,s]`` into two ints."""
    text = str(raw).strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise ValueError("signature must be [r,s]")
    parts = [p.strip().strip('"') for p in text[1:-1].split(",")]
    if len(parts) != 2:
        raise ValueError("signature must be [r,s]")
    return int(parts[0], 0), int(parts[1], 0)


def _domain(chain_id: int) -> dict[str, Any]:
    return {"name": "Paradex", "chainId": hex(chain_id), "version": "1"}


_DOMAIN_TYPE = [{"name": "name", "type": "felt"}, {"name": "chainId", "type": "felt"},
                {"name": "version", "type": "felt"}]


def order_message(chain_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
    """The typed data a Paradex order signature covers, rebuilt from the request's wire fields."""
    limit = body.get("type") != "MARKET"
    return {
        "domain": _domain(chain_id), "primaryType": "Order",
        "types": {"StarkNetDomain": _DOMAIN_TYPE,
                  "Order": [{"name": n, "type": "felt"} for n in
                            ("timestamp", "market", "side", "orderType", "size", "price")]},
        "message": {
            "timestamp": str(int(body["signature_timestamp"])), "market": body["market"],
            "side": "1" if body["side"] == "BUY" else "2", "orderType": body["type"],
            "size": str(int(Decimal(str(body["size"])).scaleb(8))),
            "price": str(int(Decimal(str(body["price"])).scaleb(8))) if limit else "0",
        },
    }


def auth_message(chain_id: int, timestamp: int, expiration: int) -> dict[str, Any]:
    return {
        "domain": _domain(chain_id), "primaryType": "Request",
        "types": {"StarkNetDomain": _DOMAIN_TYPE,
                  "Request": [{"name": n, "type": "felt"} for n in
                              ("method", "path", "body", "timestamp", "expiration")]},
        "message": {"method": "POST", "path": "/v1/auth", "body": "", "timestamp": timestamp,
                    "expiration": expiration},
    }


def onboarding_message(chain_id: int) -> dict[str, Any]:
    return {"domain": _domain(chain_id), "primaryType": "Constant",
            "types": {"StarkNetDomain": _DOMAIN_TYPE, "Constant": [{"name": "action", "type": "felt"}]},
            "message": {"action": "Onboarding"}}


def signed_by(message: dict[str, Any], address: int, signature: Any, public_key: int) -> bool:
    try:
        r, s = parse_signature(signature)
        msg_hash = TypedData.from_dict(message).message_hash(address)  # type: ignore[arg-type]
        return bool(verify_message_signature(msg_hash, [r, s], public_key))
    except (ValueError, TypeError, KeyError):
        return False


def address_of(public_key: int) -> int:
    """The L2 account address Paradex derives from a Starknet public key (proxy deployment)."""
    calldata = [int(ACCOUNT_HASH, 16), get_selector_from_name("initialize"), 2, public_key, 0]
    return compute_address(class_hash=int(ACCOUNT_PROXY_HASH, 16), constructor_calldata=calldata, salt=public_key)


@dataclass(slots=True)
class WireOrder:
    """What the venue knows about an order besides the simulator's state of it."""

    id: str
    market: str
    symbol: str
    side: Side
    type: str  # LIMIT | MARKET
    instruction: str  # GTC | POST_ONLY | IOC
    price: Decimal | None
    size: Decimal
    client_id: str
    flags: list[str]
    signature_timestamp: int
    created_ms: int
    signature: str = ""  # as received, for anyone checking what the client signed
    recv_window: int | None = None
    sim_id: str | None = None
    cancel_reason: str = ""  # set when the venue itself closes it (user cancel, IOC remainder)
    rejected: str | None = None  # cancel_reason of an order refused before the matching engine
    updated_ms: int = 0


@dataclass
class ParadexEngine:
    world: SimWorld
    accounts: dict[int, int] = field(default_factory=dict)  # L2 address -> Starknet public key
    open_registration: bool = False  # /auth from an unknown address registers it (offline development)
    jwt_ttl: float = 300.0
    max_signature_age_ms: int = 60_000  # without a recv_window
    # FillResult.side: the account's side ("account"), or the taker's ("taker", as the spec words it)
    fill_side: Literal["account", "taker"] = "account"

    def __post_init__(self) -> None:
        if self.world.clock.virtual:
            raise ConfigError("world", "a fake venue serves real sockets: give it a SimWorld on RealClock")
        self.ex: SimExchange = self.world.exchanges[VENUE]
        self.chain_id = int_from_bytes(CHAIN_ID.encode())
        self.orders: dict[str, WireOrder] = {}
        self.by_client: dict[str, str] = {}
        self.by_sim: dict[str, str] = {}
        self._tokens: dict[str, tuple[int, float]] = {}
        self.issued: list[str] = []  # every JWT handed out (tests check none of them leaks)
        self._jwt_key = os.urandom(32)
        self._n_orders = 0
        self._seq = 0

    # --- time and ids ------------------------------------------------------------------------
    def now(self) -> float:
        self.world.sync()
        return self.world.clock.now()

    def seq(self) -> int:
        self._seq += 1
        return self._seq

    @property
    def account_hex(self) -> str:
        return hex(next(iter(self.accounts), 0))

    # --- accounts ----------------------------------------------------------------------------
    def register(self, address: int | str, public_key: int | str) -> None:
        self.accounts[_hex_int(address, "address")] = _hex_int(public_key, "public_key")

    def issue_jwt(self, address: int) -> str:
        now = time.time()
        self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = {"sub": hex(address), "iat": int(now), "exp": int(now + self.jwt_ttl), "iss": "perpflow-fake-paradex",
                  "jti": _b64(os.urandom(9))}
        body = f"{header}.{_b64(json.dumps(claims).encode())}"
        token = f"{body}.{_b64(hmac.new(self._jwt_key, body.encode(), hashlib.sha256).digest())}"
        self._tokens[token] = (address, now + self.jwt_ttl)
        self.issued.append(token)
        return token

    def revoke_tokens(self) -> None:
        self._tokens.clear()

    def token_account(self, token: Any) -> int | None:
        entry = self._tokens.get(token) if isinstance(token, str) else None
        return entry[0] if entry is not None and entry[1] > time.time() else None

    def authorize(self, header: str | None) -> int:
        """The account of an ``Authorization: Bearer <jwt>`` header."""
        token = header[7:] if header and header.lower().startswith("bearer ") else None
        account = self.token_account(token)
        if account is None:
            raise ApiError(401, "INVALID_TOKEN", "missing, invalid or expired bearer token")
        return account

    def onboarding_status(self, public_key: str | None) -> dict[str, Any]:
        if not public_key:
            raise ApiError(400, "VALIDATION_ERROR", "public_key is required")
        address = address_of(_hex_int(public_key, "public_key"))
        return {"address": hex(address), "exists": address in self.accounts, "account_signer_type": "starknet"}

    def onboard(self, headers: Mapping[str, str], body: Any) -> None:
        account, signature = headers.get("PARADEX-STARKNET-ACCOUNT"), headers.get("PARADEX-STARKNET-SIGNATURE")
        if not account or not signature or not isinstance(body, dict) or "public_key" not in body:
            raise ApiError(400, "VALIDATION_ERROR", "starknet account, signature and public_key are required")
        address, public_key = _hex_int(account, "account"), _hex_int(body["public_key"], "public_key")
        if address != address_of(public_key):
            raise ApiError(400, "INVALID_STARKNET_ADDRESS", "the account address does not derive from public_key")
        if not signed_by(onboarding_message(self.chain_id), address, signature, public_key):
            raise ApiError(400, "INVALID_STARKNET_SIGNATURE", "onboarding signature does not verify")
        self.accounts[address] = public_key

    def auth(self, headers: Mapping[str, str], path_key: str | None) -> dict[str, str]:
        """``POST /auth`` (spec) and ``POST /auth/{public_key}`` (paradex-py)."""
        account = headers.get("PARADEX-STARKNET-ACCOUNT")
        signature = headers.get("PARADEX-STARKNET-SIGNATURE")
        ts, exp = headers.get("PARADEX-TIMESTAMP"), headers.get("PARADEX-SIGNATURE-EXPIRATION")
        if not (account and signature and ts):
            raise ApiError(400, "VALIDATION_ERROR", "PARADEX-STARKNET-ACCOUNT, -SIGNATURE and -TIMESTAMP are required")
        address = _hex_int(account, "account")
        timestamp = _hex_int(ts, "timestamp")
        expiration = _hex_int(exp, "expiration") if exp else timestamp + 1800
        now = int(time.time())
        if timestamp > now + 300 or expiration < now or expiration > timestamp + 7 * 86400:
            raise ApiError(400, "INVALID_TIMESTAMP", "signature timestamp or expiration out of range")
        public_key = self.accounts.get(address)
        if public_key is None:
            if not (self.open_registration and path_key):
                raise ApiError(400, "NOT_ONBOARDED", "User has never called /onboarding endpoint")
            public_key = _hex_int(path_key, "public_key")
        if path_key and _hex_int(path_key, "public_key") != public_key:
            raise ApiError(401, "STARKNET_SIGNATURE_VERIFICATION_FAILED", "key is not the account's key")
        if not signed_by(auth_message(self.chain_id, timestamp, expiration), address, signature, public_key):
            raise ApiError(401, "STARKNET_SIGNATURE_VERIFICATION_FAILED", "signature does not verify")
        self.accounts.setdefault(address, public_key)
        return {"jwt_token": self.issue_jwt(address)}

    # --- markets -----------------------------------------------------------------------------
    def symbol_of(self, market: Any, code: str = "MARKET_NOT_FOUND", status: int = 400) -> str:
        try:
            symbol = from_venue_symbol(VENUE, str(market))
        except ValueError:
            symbol = ""
        if symbol not in self.ex.slots:
            raise ApiError(status, code, f"market {market!r} not found")
        return symbol

    def market(self, symbol: str) -> dict[str, Any]:
        ins = self.ex.slots[symbol].instrument
        out = {
            "symbol": ins.venue_symbol, "base_currency": symbol, "quote_currency": "USD",
            "settlement_currency": "USDC", "asset_kind": "PERP", "market_kind": "cross", "trading_mode": "STANDARD",
            "price_tick_size": fmt(ins.tick), "order_size_increment": fmt(ins.lot),
            "min_notional": fmt(ins.min_notional), "max_open_orders": 100, "max_slippage": "0.05",
            "price_bands_width": "0.05", "funding_period_hours": 8, "open_at": 0, "expiry_at": 0,
            "position_limit": "1000000", "interest_rate": "0.0001", "clamp_rate": "0.05",
        }
        if ins.max_order_size is not None:
            out["max_order_size"] = fmt(ins.max_order_size)
        return out

    def markets(self, market: str | None) -> dict[str, Any]:
        if market:
            return {"results": [self.market(self.symbol_of(market, status=404))]}
        return {"results": [self.market(s) for s in self.ex.slots]}

    def bbo_json(self, b: BBO) -> dict[str, Any]:
        return {"market": to_venue_symbol(VENUE, b.symbol), "bid": fmt(b.bid), "bid_size": fmt(b.bid_size),
                "ask": fmt(b.ask), "ask_size": fmt(b.ask_size), "last_updated_at": ms(b.ts), "seq_no": self.seq()}

    def bbo(self, market: str) -> dict[str, Any]:
        symbol = self.symbol_of(market)
        return self.bbo_json(self.ex.bbo(symbol, self.now()))

    def summary(self, market: str | None) -> dict[str, Any]:
        t = self.now()
        symbols = list(self.ex.slots) if not market or market == "ALL" else [self.symbol_of(market)]
        out = []
        for s in symbols:
            b = self.ex.bbo(s, t)
            out.append({"symbol": to_venue_symbol(VENUE, s), "bid": fmt(b.bid), "ask": fmt(b.ask),
                        "mark_price": fmt(b.mid), "last_traded_price": fmt(b.mid), "underlying_price": fmt(b.mid),
                        "funding_rate": fmt(self.ex.profile.funding_rate), "volume_24h": "0",
                        "open_interest": "0", "created_at": ms(t)})
        return {"results": out}

    def book_json(self, book: Book) -> dict[str, Any]:
        inserts = [{"side": side, "price": fmt(lv.price), "size": fmt(lv.size)}
                   for side, levels in (("BUY", book.bids), ("SELL", book.asks)) for lv in levels[:MAX_BOOK_LEVELS]]
        return {"market": to_venue_symbol(VENUE, book.symbol), "seq_no": self.seq(), "last_updated_at": ms(book.ts),
                "update_type": "s", "inserts": inserts, "updates": [], "deletes": []}

    def orderbook(self, market: str, depth: int) -> dict[str, Any]:
        symbol = self.symbol_of(market)
        book = self.ex.book(symbol, max(1, min(depth, 100)), self.now())
        return {"market": to_venue_symbol(VENUE, symbol), "seq_no": self.seq(), "last_updated_at": ms(book.ts),
                "bids": [[fmt(lv.price), fmt(lv.size)] for lv in book.bids],
                "asks": [[fmt(lv.price), fmt(lv.size)] for lv in book.asks]}

    def trades(self, market: str, limit: int) -> dict[str, Any]:
        symbol = self.symbol_of(market)
        self.now()
        prints = self.ex.trades(symbol, max(1, min(limit, 1000)))
        rows = [{"id": f"{ms(p.ts)}{i:04d}", "market": to_venue_symbol(VENUE, symbol), "side": p.taker_side.value,
                 "size": fmt(p.size), "price": fmt(p.price), "created_at": ms(p.ts), "trade_type": "FILL"}
                for i, p in enumerate(prints)]
        return {"next": None, "prev": None, "results": rows[::-1]}

    # --- orders ------------------------------------------------------------------------------
    def create_order(self, address: int, body: Any) -> WireOrder:
        if not isinstance(body, dict):
            raise ApiError(400, "BINDING_ERROR", "the order must be a JSON object")
        for name in ("market", "side", "type", "size", "instruction", "signature", "signature_timestamp"):
            if body.get(name) in (None, ""):
                raise ApiError(400, "VALIDATION_ERROR", f"{name} is required")
        symbol = self.symbol_of(body["market"])
        if body["side"] not in ("BUY", "SELL"):
            raise ApiError(400, "VALIDATION_ERROR", f"side {body['side']!r} is not BUY or SELL")
        if body["type"] not in ("LIMIT", "MARKET"):
            raise ApiError(400, "VALIDATION_ERROR", f"order type {body['type']!r} is not served by this fake")
        if body["instruction"] not in ("GTC", "POST_ONLY", "IOC"):
            raise ApiError(400, "VALIDATION_ERROR", f"instruction {body['instruction']!r} is not served by this fake")
        size = self._decimal(body["size"], "size")
        price = self._decimal(body.get("price"), "price") if body["type"] == "LIMIT" else None
        client_id = str(body.get("client_id") or "")
        if len(client_id) > 64:
            raise ApiError(400, "VALIDATION_ERROR", "client_id is longer than 64 characters")
        if client_id and client_id in self.by_client:
            raise ApiError(400, "DUPLICATED_CLIENT_ID", f"client_id {client_id!r} was already used")
        now_ms = ms(self.now())
        self._check_time(body, now_ms)
        if not signed_by(order_message(self.chain_id, body), address, body["signature"], self.accounts[address]):
            raise ApiError(400, "INVALID_ORDER_SIGNATURE", "order signature does not verify against the account's key")
        self._check_rules(symbol, price, size, reduce_only="REDUCE_ONLY" in (body.get("flags") or []))
        self._n_orders += 1
        o = WireOrder(id=str(1_800_000_000_000_000_000 + self._n_orders), market=body["market"], symbol=symbol,
                      side=Side(body["side"]), type=body["type"], instruction=body["instruction"], price=price,
                      size=size, client_id=client_id, flags=list(body.get("flags") or []),
                      signature_timestamp=int(body["signature_timestamp"]), created_ms=now_ms, updated_ms=now_ms,
                      signature=str(body["signature"]),
                      recv_window=int(body["recv_window"]) if body.get("recv_window") is not None else None)
        self.orders[o.id] = o
        if client_id:
            self.by_client[client_id] = o.id
        self._match(o)
        return o

    @staticmethod
    def _decimal(raw: Any, name: str) -> Decimal:
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            raise ApiError(400, "VALIDATION_ERROR", f"{name} {raw!r} is not a decimal") from None
        if not value.is_finite() or value <= 0:
            raise ApiError(400, "VALIDATION_ERROR", f"{name} must be positive")
        return value

    def _check_time(self, body: Mapping[str, Any], now_ms: int) -> None:
        ts = _hex_int(body["signature_timestamp"], "signature_timestamp")
        window = body.get("recv_window")
        if window is not None and _hex_int(window, "recv_window") < 10:
            raise ApiError(400, "VALIDATION_ERROR", "recv_window must be at least 10 milliseconds")
        limit = int(window) if window is not None else self.max_signature_age_ms
        if ts > now_ms + 5_000:
            raise ApiError(400, "INVALID_TIMESTAMP", "signature_timestamp is in the future")
        if now_ms - ts > limit:
            raise ApiError(400, "INVALID_TIMESTAMP",
                           f"order received {now_ms - ts} ms after its signature_timestamp (recv_window {limit} ms)")

    def _check_rules(self, symbol: str, price: Decimal | None, size: Decimal, *, reduce_only: bool) -> None:
        ins = self.ex.slots[symbol].instrument
        position = self.ex.account.positions.get(symbol, Decimal(0))
        if price is not None and not ins.on_tick(price):
            raise ApiError(400, "VALIDATION_ERROR", f"price {price} is not a multiple of price_tick_size {ins.tick}")
        if size < ins.lot or not ins.on_lot(size):
            raise ApiError(400, "VALIDATION_ERROR",
                           f"size {size} is not a multiple of order_size_increment {ins.lot}")
        mark = self.ex.marks().get(symbol) or price or Decimal(0)
        if ins.below_min_notional(size, mark, reduce_only=reduce_only, position=position):
            raise ApiError(400, "VALIDATION_ERROR",
                           f"order value {size * mark:.2f} is below min_notional {ins.min_notional}")
        if ins.max_order_size is not None and size > ins.max_order_size:
            raise ApiError(400, "VALIDATION_ERROR", f"size {size} exceeds max_order_size {ins.max_order_size}")

    def _match(self, o: WireOrder) -> None:
        """Risk checks and matching (the simulator), right after the request was accepted."""
        t = self.now()
        sim_client = o.client_id or f"~{o.id}"
        reduce_only = "REDUCE_ONLY" in o.flags
        try:
            if o.type == "MARKET":
                snap = self.ex.place_market(o.symbol, o.side, o.size, sim_client, MARKET_SLIPPAGE_BPS, reduce_only, t)
                self._link(o, snap)
            else:
                snap = self.ex.place_limit(o.symbol, o.side, o.price, o.size, sim_client,  # type: ignore[arg-type]
                                           o.instruction == "POST_ONLY", reduce_only, t)
                self._link(o, snap)
                if o.instruction == "IOC" and not snap.status.is_final:
                    o.cancel_reason = "REMAINING_IOC_CANCEL"
                    self.ex.cancel(o.symbol, snap.order_id, None, t)
        except OrderRejected as exc:
            if exc.reason not in ASYNC_REJECTS:  # a rule the checks above missed: refuse the request
                del self.orders[o.id]
                self.by_client.pop(o.client_id, None)
                raise ApiError(400, "VALIDATION_ERROR", exc.detail) from None
            o.rejected = ASYNC_REJECTS[exc.reason]
            o.updated_ms = ms(t)

    def _link(self, o: WireOrder, snap: Order) -> None:
        o.sim_id = snap.order_id
        self.by_sim[snap.order_id] = o.id

    def find(self, order_id: str | None = None, client_id: str | None = None) -> WireOrder:
        wire_id = order_id if order_id is not None else self.by_client.get(client_id or "")
        o = self.orders.get(wire_id or "")
        if o is None:
            if order_id is not None:
                raise ApiError(400, "ORDER_ID_NOT_FOUND", f"order {order_id} not found")
            raise ApiError(400, "CLIENT_ORDER_ID_NOT_FOUND", f"no order with client_id {client_id!r}")
        return o

    def is_open(self, o: WireOrder) -> bool:
        return o.rejected is None and o.sim_id is not None and not self.ex.orders[o.sim_id].status.is_final

    def cancel(self, o: WireOrder) -> None:
        self.now()  # settle fills that happened before the cancel arrived
        if not self.is_open(o):
            raise ApiError(400, "ORDER_IS_CLOSED", f"order {o.id} is already closed")
        o.cancel_reason = "USER_CANCELED"
        self.ex.cancel(o.symbol, o.sim_id, None, self.now())

    def cancel_all(self, market: str | None) -> None:
        symbol = self.symbol_of(market) if market else None
        for o in list(self.orders.values()):
            if (symbol is None or o.symbol == symbol) and self.is_open(o):
                self.cancel(o)

    def order_json(self, o: WireOrder, snap: Order | None = None, *, as_new: bool = False) -> dict[str, Any]:
        if o.rejected is not None or o.sim_id is None or as_new:
            status, filled, avg = ("NEW" if as_new else "CLOSED"), Decimal(0), None
            reason, updated = ("" if as_new else o.rejected or ""), o.updated_ms
        else:
            snap = snap or self.ex.order_snapshot(self.ex.orders[o.sim_id])
            filled, avg, updated = snap.filled, snap.avg_price, ms(snap.ts)
            status = "CLOSED" if snap.status.is_final else "OPEN"
            reason = "" if snap.status in (OrderStatus.FILLED, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED) else (
                o.cancel_reason or ("REMAINING_IOC_CANCEL" if snap.type is OrderType.MARKET else "USER_CANCELED"))
        return {
            "id": o.id, "account": self.account_hex, "market": o.market, "side": o.side.value, "type": o.type,
            "instruction": o.instruction, "size": fmt(o.size), "remaining_size": fmt(o.size - filled),
            "price": fmt(o.price) if o.price is not None else "0", "avg_fill_price": fmt(avg) if avg else "0",
            "status": status, "cancel_reason": reason, "client_id": o.client_id, "flags": o.flags,
            "created_at": o.created_ms, "received_at": o.created_ms, "last_updated_at": updated or o.created_ms,
            "timestamp": o.signature_timestamp, "seq_no": self.seq(), "stp": "EXPIRE_TAKER",
        }

    def open_orders(self, market: str | None) -> dict[str, Any]:
        self.now()
        symbol = self.symbol_of(market) if market else None
        return {"results": [self.order_json(o) for o in self.orders.values()
                            if self.is_open(o) and (symbol is None or o.symbol == symbol)]}

    def orders_history(self, params: Mapping[str, str]) -> dict[str, Any]:
        self.now()
        start, end = int(params.get("start_at") or 0), int(params.get("end_at") or 2**62)
        symbol = self.symbol_of(params["market"]) if params.get("market") else None
        rows = [self.order_json(o) for o in reversed(self.orders.values())
                if start <= o.created_ms <= end and (symbol is None or o.symbol == symbol)
                and (not params.get("client_id") or o.client_id == params["client_id"])]
        return page(rows, params)

    # --- account state -----------------------------------------------------------------------
    def fill_json(self, f: Fill) -> dict[str, Any]:
        o = self.orders.get(self.by_sim.get(f.order_id, ""))
        n = int(f.trade_id.rsplit("t", 1)[-1]) if f.trade_id.rsplit("t", 1)[-1].isdigit() else 0
        return {"id": str(7_000_000_000_000_000_000 + n), "account": self.account_hex,
                "market": to_venue_symbol(VENUE, f.symbol), "order_id": o.id if o else f.order_id,
                "client_id": o.client_id if o else f.client_id, "side": self._fill_side(f).value,
                "liquidity": f.liquidity.value, "price": fmt(f.price), "size": fmt(f.size), "fee": fmt(f.fee),
                "fee_currency": "USDC", "created_at": ms(f.ts), "fill_type": "FILL", "realized_pnl": "0",
                "realized_funding": "0", "flags": []}

    def _fill_side(self, f: Fill) -> Side:
        if self.fill_side == "taker" and f.liquidity is Liquidity.MAKER:
            return f.side.opposite
        return f.side

    def fills(self, params: Mapping[str, str]) -> dict[str, Any]:
        self.now()
        start, end = int(params.get("start_at") or 0), int(params.get("end_at") or 2**62)
        symbol = self.symbol_of(params["market"]) if params.get("market") else None
        rows = [self.fill_json(f) for f in reversed(self.ex.fill_log)
                if start <= ms(f.ts) <= end and (symbol is None or f.symbol == symbol)]
        return page(rows, params)

    def position_json(self, p: Position) -> dict[str, Any]:
        mark = self.ex.marks().get(p.symbol, Decimal(0))
        entry = p.entry_price or Decimal(0)
        return {"id": f"{to_venue_symbol(VENUE, p.symbol)}-position", "account": self.account_hex,
                "market": to_venue_symbol(VENUE, p.symbol), "size": fmt(p.size),
                "side": "SHORT" if p.size < 0 else "LONG", "status": "OPEN" if p.size else "CLOSED",
                "average_entry_price": fmt(entry), "unrealized_pnl": fmt((mark - entry) * p.size),
                "last_updated_at": ms(p.ts), "created_at": ms(p.ts), "seq_no": self.seq()}

    def positions(self) -> dict[str, Any]:
        t = self.now()
        return {"results": [self.position_json(p) for p in self.ex.positions(t) if p.size != 0]}

    def account_summary(self) -> dict[str, Any]:
        t = self.now()
        b = self.ex.balance(t)
        used = b.equity - b.available
        return {"account": self.account_hex, "account_value": fmt(b.equity), "free_collateral": fmt(b.available),
                "total_collateral": fmt(self.ex.account.cash), "initial_margin_requirement": fmt(used),
                "maintenance_margin_requirement": fmt(used / 2), "margin_cushion": fmt(b.equity - used / 2),
                "settlement_asset": "USDC", "status": "ACTIVE", "updated_at": ms(t), "seq_no": self.seq()}

    def account_info(self, address: int) -> dict[str, Any]:
        p = self.ex.profile
        return {"account": hex(address), "public_key": hex(self.accounts.get(address, 0)), "kind": "main",
                "created_at": 0, "username": "",
                "fees": {"maker_rate": fmt(p.maker_fee), "taker_rate": fmt(p.taker_fee),
                         "commission_rate": "0", "discount_rate": "0"}}

    def balances(self) -> dict[str, Any]:
        return {"results": [{"token": "USDC", "size": fmt(self.ex.account.cash), "last_updated_at": ms(self.now())}]}

    def system_config(self, base_url: str) -> dict[str, Any]:
        zero = "0x0"
        return {
            "starknet_fullnode_rpc_url": f"{base_url}/rpc/v0_9", "starknet_fullnode_rpc_base_url": base_url,
            "starknet_chain_id": CHAIN_ID, "block_explorer_url": base_url, "paraclear_address": zero,
            "paraclear_decimals": 8, "paraclear_account_proxy_hash": ACCOUNT_PROXY_HASH,
            "paraclear_account_hash": ACCOUNT_HASH, "oracle_address": zero, "l1_core_contract_address": zero,
            "l1_operator_address": zero, "l1_chain_id": "11155111", "liquidation_fee": "0.2",
            "bridged_tokens": [{"name": "USD Coin", "symbol": "USDC", "decimals": 6, "l1_token_address": zero,
                                "l1_bridge_address": zero, "l2_token_address": zero, "l2_bridge_address": zero}],
        }


def page(rows: list[dict[str, Any]], params: Mapping[str, str]) -> dict[str, Any]:
    """Cursor pagination: ``page_size`` rows from ``cursor`` (an opaque offset here)."""
    try:
        size = max(1, min(int(params.get("page_size") or 100), 5000))
        start = int(params.get("cursor") or 0)
    except ValueError:
        raise ApiError(400, "VALIDATION_ERROR", "page_size and cursor must be integers") from None
    end = start + size
    return {"next": str(end) if end < len(rows) else None, "prev": None, "results": rows[start:end]}
