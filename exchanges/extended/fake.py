"""A loopback Extended: its REST API (``/api/v1``) and streams (``/stream.extended.exchange/v1``),
backed by the simulator's Extended market.

What it serves is what the adapter uses, in the shapes x10-python-trading-starknet's models parse
(``{"status": "OK", "data": ...}``; errors ``{"status": "ERROR", "error": {"code", "message"}}``):
markets (with their Stark L2 config), order book, public trades; with the account's ``X-Api-Key``,
fees, balance, positions, open orders, order history, orders by id and by external id, trades
(newest first, ``cursor``/``limit`` paging), order placement, cancel by id / external id, mass cancel.

Orders are checked as the venue does: the Stark signature is verified (the fake recomputes the
order's hash from its amounts, fee, nonce, expiry and vault with the SDK's own settlement code, and
checks ``r, s`` against the account's Stark key); the signed fee cap must cover the account's taker
rate (else REJECTED ``INVALID_FEE``); the expiry must lie ahead, within 28 days (else REJECTED
``INVALID_EXPIRE_TIME``), and a resting order expires when it passes (status EXPIRED); ``cancelId``
replaces an open order (the old one ends CANCELLED, ``ORDER_REPLACED``). Like Extended, placing is
asynchronous: the POST answers the order's id, and a refusal by the matching engine (post-only
would take, reduce-only would grow, margin, size) shows only as the order's status REJECTED with a
``statusReason``. Malformed orders, unknown markets, bad signatures and reused external ids are
refused at once (HTTP 400).

Streams: ``orderbooks/<market>`` (``?depth=1``: a SNAPSHOT of the top on every change; else a
SNAPSHOT, then DELTAs that add to a level's size) and ``account`` (needs ``X-Api-Key``: snapshots of
open orders, positions and balance on connect, then ORDER / TRADE / POSITION), each message numbered
by ``seq``.

Faults and the controls every fake has (``exchanges.spec.FakeControls``); ``time_shift`` moves the
fake's clock for order expiry (tests).

    perpflow fake-venue extended --port 8770   # prints the .env lines to point perpflow at it
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web
from pydantic import ValidationError
from x10.config import MAINNET_CONFIG
from x10.models.market import MarketModel
from x10.models.order import NewOrderModel, OrderSide
from x10.signing.order_object_settlement import SettlementDataCtx, create_order_settlement_data

from core.clock import RealClock
from core.errors import OrderRejected
from core.reasons import Reason
from core.types import BBO, Book, Fill, Order, OrderStatus, Position
from exchanges.extended import wire
from exchanges.extended.settings import MAX_ORDER_TTL_S
from exchanges.fakes.loopback import (
    Faults,
    LoopbackFake,
    LoopbackServer,
    MarketDriver,
    RouteFaultControls,
    in_simulated_time,
)
from exchanges.sim.world import SimWorld

VENUE = wire.VENUE
API = "/api/v1"
STREAM = "/stream.extended.exchange/v1"
CONTROL_ROUTES = {"place": f"POST {API}/user/order", "positions": f"GET {API}/user/positions"}
COLLATERAL_ID = "0x31857064564ed0ff978e687456963cba09c2c6985d8f9300a1de4962fafa054"  # USD on Extended
RESOLUTION = 1_000_000
EC_ORDER = 0x800000000000010FFFFFFFFFFFFFFFFB781126DCAE7B2321E66A241ADC64D2F  # the Stark curve's order
# the simulator's refusals as Extended's order statusReason
REFUSALS = {Reason.POST_ONLY_WOULD_CROSS: "POST_ONLY_FAILED", Reason.REDUCE_ONLY_WOULD_INCREASE: "REDUCE_ONLY_FAILED",
            Reason.INSUFFICIENT_MARGIN: "NOT_ENOUGH_FUNDS", Reason.BELOW_MIN_SIZE: "INVALID_QTY",
            Reason.BELOW_MIN_NOTIONAL: "INVALID_QTY", Reason.OFF_LOT: "INVALID_QTY",
            Reason.SIZE_ABOVE_MAX: "INVALID_QTY",
            Reason.OFF_TICK: "INVALID_PRICE", Reason.UNKNOWN_SYMBOL: "UNKNOWN_MARKET",
            Reason.INSUFFICIENT_LIQUIDITY: "NO_LIQUIDITY"}
STATUS_OUT = {OrderStatus.OPEN: "NEW", OrderStatus.NEW: "NEW", OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
              OrderStatus.FILLED: "FILLED", OrderStatus.CANCELLED: "CANCELLED", OrderStatus.EXPIRED: "EXPIRED",
              OrderStatus.REJECTED: "REJECTED"}
# HTTP-level refusals: (status, code, message)
BAD_REQUEST = (400, 1000, "Invalid request")
UNAUTHORIZED = (401, 1001, "Unknown or missing X-Api-Key")
MARKET_NOT_FOUND = (400, 1100, "Market not found")
BAD_SIGNATURE = (400, 1101, "Invalid order signature")
DUPLICATE = (400, 1102, "Duplicate order externalId")
ORDER_NOT_FOUND = (404, 1103, "Order not found")


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """A throwaway account: API key, Stark key pair (hex) and vault, known only to the fake."""

    api_key: str
    private_key: str
    public_key: str
    vault: int


def demo_account(seed: str = "perpflow fake extended", vault: int = 10_001) -> DemoAccount:
    from fast_stark_crypto import get_public_key

    private = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big") % (EC_ORDER - 1) + 1
    api_key = hashlib.sha256(f"{seed} api key".encode()).hexdigest()[:32]
    return DemoAccount(api_key, hex(private), hex(get_public_key(private)), vault)


class ApiError(Exception):
    def __init__(self, refusal: tuple[int, int, str], detail: str = "") -> None:
        status, code, message = refusal
        super().__init__(message)
        self.status, self.code, self.message = status, code, f"{message}{': ' + detail if detail else ''}"


def _ok(data: Any, pagination: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"status": "OK", "data": data}
    if pagination is not None:
        body["pagination"] = pagination
    return web.Response(text=json.dumps(body), content_type="application/json")


def _error(exc: ApiError) -> web.Response:
    return web.Response(status=exc.status, content_type="application/json",
                        text=json.dumps({"status": "ERROR", "error": {"code": exc.code, "message": exc.message}}))


def _ms(ts: float) -> int:
    return int(ts * 1000)


def _t(value: Decimal | None) -> str | None:
    return None if value is None else wire.text(value)


@dataclass
class _Meta:
    """What Extended knows of an order that the simulator does not."""

    number: int
    external: str
    kind: str  # LIMIT / MARKET
    tif: str  # GTT / IOC
    price: Decimal
    expiry_ms: int
    fee: Decimal
    created_ms: int


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


@dataclass
class _Req:
    query: Any
    path: dict[str, str]
    body: Any
    account: DemoAccount | None


class FakeExtended(RouteFaultControls, LoopbackFake):
    control_routes = CONTROL_ROUTES

    def __init__(self, world: SimWorld | None = None, *, seed: int = 7, symbols: tuple[str, ...] = ("SOL", "ETH"),
                 accounts: tuple[DemoAccount, ...] = ()) -> None:
        self.world = world or SimWorld(venues=(VENUE,), symbols=symbols, seed=seed, clock=RealClock())
        self.ex = self.world.exchanges[VENUE]
        self.accounts = {a.api_key: a for a in accounts}
        self.faults = Faults()
        self.domain = MAINNET_CONFIG.signing.starknet_domain
        self.time_shift = 0.0  # seconds added to the fake's clock when it expires orders
        self.orders_received: list[dict[str, Any]] = []  # every order body accepted for processing
        self._meta: dict[str, _Meta] = {}  # simulator order id -> meta
        self._sim_of: dict[int, str] = {}  # Extended order id -> simulator order id
        self._rejected: dict[int, dict[str, Any]] = {}  # Extended order id -> its JSON (never reached the book)
        self._by_external: dict[str, list[int]] = {}
        self._expired: set[str] = set()
        self._replaced: set[str] = set()
        self._trade_ids: dict[str, int] = {}
        self._numbered = 0  # fills of the simulator's log given a trade id so far
        self._next_id = 1_800_000_000_000_000_000
        self._models: dict[str, MarketModel] = {}
        self._conns: set[_Conn] = set()
        self._market = MarketDriver(self.world, on_step=self._expire, name="fake-extended-market")
        app = web.Application()
        app.add_routes(self._routes())
        self.server = LoopbackServer(app, self.faults, shutdown_timeout=0.5)

    # --- lifecycle -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.url("http", API)

    @property
    def ws_url(self) -> str:
        return self.url("ws", STREAM)

    def now(self) -> float:
        return self.world.clock.now()

    def now_ms(self) -> int:
        """The fake's clock for order expiry (``time_shift`` ahead of the market's)."""
        return _ms(self.now() + self.time_shift)

    # --- the controls every fake has (exchanges.spec.FakeControls) ------------------------------
    def orders_with(self, client_id: str) -> int:
        return sum(1 for o in self.ex.orders.values() if wire.client_of(o.client_id) == client_id)

    async def drop_streams(self) -> int:
        conns = list(self._conns)
        self._conns.clear()
        for c in conns:
            for task in c.tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                await c.ws.close(code=1012, message=b"dropped")
        return len(conns)

    # --- encoding ------------------------------------------------------------------------------
    def _symbol(self, market: Any) -> str:
        try:
            symbol = wire.symbol_of(str(market))
        except Exception:
            raise ApiError(MARKET_NOT_FOUND, str(market)) from None
        if symbol not in self.ex.slots:
            raise ApiError(MARKET_NOT_FOUND, str(market))
        return symbol

    def market_json(self, symbol: str) -> dict[str, Any]:
        ins = self.ex.slots[symbol].instrument
        precision = max(0, -ins.lot.normalize().as_tuple().exponent)  # type: ignore[operator]
        mark = self.ex.marks().get(symbol, Decimal(0))
        top = self.ex.slots[symbol].market.top()
        bid, ask = top[0] * ins.tick, top[2] * ins.tick
        return {
            "name": wire.market_symbol(symbol), "type": "PERPETUAL", "assetName": symbol, "assetPrecision": precision,
            "collateralAssetName": "USD", "collateralAssetPrecision": 6, "active": True, "isRfq": False,
            "isOffHours": False, "tradingHours": "CONTINUOUS",
            "marketStats": {"dailyVolume": "0", "dailyVolumeBase": "0", "dailyPriceChange": "0",
                            "dailyLow": wire.text(mark), "dailyHigh": wire.text(mark), "lastPrice": wire.text(mark),
                            "askPrice": wire.text(ask), "bidPrice": wire.text(bid), "markPrice": wire.text(mark),
                            "indexPrice": wire.text(mark), "fundingRate": wire.text(self.ex.profile.funding_rate),
                            "nextFundingRate": _ms(self.ex.next_funding), "openInterest": "0",
                            "openInterestBase": "0"},
            "tradingConfig": {"minOrderSize": wire.text(ins.min_size), "minOrderSizeChange": wire.text(ins.lot),
                              "minPriceChange": wire.text(ins.tick), "maxMarketOrderValue": "1000000",
                              "maxLimitOrderValue": "5000000", "maxPositionValue": "10000000", "maxLeverage": "10",
                              "maxNumOrders": 200, "limitPriceCap": "0.05", "limitPriceFloor": "0.05",
                              "riskFactorConfig": [{"upperBound": "10000000", "riskFactor": "0.1"}]},
            "l2Config": {"type": "STARKX", "collateralId": COLLATERAL_ID, "collateralResolution": RESOLUTION,
                         "syntheticId": "0x" + f"{symbol}-{precision}".encode().hex().ljust(30, "0"),
                         "syntheticResolution": RESOLUTION},
        }

    def _model(self, symbol: str) -> MarketModel:
        if symbol not in self._models:
            self._models[symbol] = MarketModel.model_validate(self.market_json(symbol))
        return self._models[symbol]

    def _number(self) -> int:
        self._next_id += 1
        return self._next_id

    def order_json(self, o: Order) -> dict[str, Any]:
        meta = self._meta[o.order_id]
        status = "EXPIRED" if o.order_id in self._expired else STATUS_OUT[o.status]
        fees = sum((f.fee for f in self.ex.fill_log if f.order_id == o.order_id), Decimal(0))
        return {"id": meta.number, "accountId": 1, "externalId": meta.external, "market": wire.market_symbol(o.symbol),
                "type": meta.kind, "side": wire.SIDES[o.side], "status": status,
                "statusReason": wire.FINAL_REASON_REPLACED if o.order_id in self._replaced else None,
                "price": wire.text(meta.price), "averagePrice": _t(o.avg_price), "qty": wire.text(o.size),
                "filledQty": wire.text(o.filled),
                "cancelledQty": wire.text(o.size - o.filled) if o.status.is_final else "0",
                "reduceOnly": o.reduce_only, "postOnly": o.post_only, "payedFee": wire.text(fees),
                "createdTime": meta.created_ms, "updatedTime": max(meta.created_ms, _ms(o.ts)),
                "expiryTime": meta.expiry_ms, "timeInForce": meta.tif}

    def _orders_of(self, numbers: list[int]) -> list[dict[str, Any]]:
        out = []
        for n in numbers:
            if n in self._rejected:
                out.append(self._rejected[n])
            elif n in self._sim_of:
                out.append(self.order_json(self.ex.order_snapshot(self.ex.orders[self._sim_of[n]])))
        return out

    def _number_trades(self) -> None:
        """Trade ids in the order the trades happened (so a cursor pages by time)."""
        log = self.ex.fill_log
        while self._numbered < len(log):
            f = log[self._numbered]
            self._trade_ids[f.trade_id] = 1_700_000_000_000_000_000 + self._numbered + 1
            self._numbered += 1

    def trade_json(self, f: Fill) -> dict[str, Any]:
        self._number_trades()
        return {"id": self._trade_ids[f.trade_id], "accountId": 1, "market": wire.market_symbol(f.symbol),
                "orderId": self._meta[f.order_id].number, "side": wire.SIDES[f.side], "price": wire.text(f.price),
                "qty": wire.text(f.size), "value": wire.text(f.price * f.size), "fee": wire.text(f.fee),
                "isTaker": f.liquidity.value == "TAKER", "tradeType": "TRADE", "createdTime": _ms(f.ts)}

    def position_json(self, p: Position) -> dict[str, Any]:
        mark = self.ex.marks().get(p.symbol, Decimal(0))
        return {"id": 1 + sorted(self.ex.slots).index(p.symbol), "accountId": 1, "market": wire.market_symbol(p.symbol),
                "status": "OPENED" if p.size else "CLOSED", "side": "SHORT" if p.size < 0 else "LONG",
                "leverage": "10", "size": wire.text(abs(p.size)), "value": wire.text(abs(p.size) * mark),
                "openPrice": wire.text(p.entry_price or mark), "markPrice": wire.text(mark), "liquidationPrice": None,
                "unrealisedPnl": "0", "realisedPnl": "0", "createdAt": _ms(p.ts), "updatedAt": _ms(p.ts)}

    def balance_json(self) -> dict[str, Any]:
        b = self.ex.balance(self.now())
        return {"collateralName": "USD", "balance": wire.text(b.equity), "equity": wire.text(b.equity),
                "availableForTrade": wire.text(b.available), "availableForWithdrawal": wire.text(b.available),
                "unrealisedPnl": "0", "initialMargin": wire.text(b.equity - b.available), "marginRatio": "0",
                "updatedTime": _ms(b.ts)}

    # --- routes --------------------------------------------------------------------------------
    def _routes(self) -> list[web.RouteDef]:
        pub, priv = self._public, self._private
        return [
            web.get(f"{API}/info/markets", pub(self._markets)),
            web.get(API + "/info/markets/{market}/orderbook", pub(self._orderbook)),
            web.get(API + "/info/markets/{market}/trades", pub(self._public_trades)),
            web.get(f"{API}/user/fees", priv(self._fees)),
            web.get(f"{API}/user/balance", priv(lambda r: self.balance_json())),
            web.get(f"{API}/user/positions", priv(self._positions)),
            web.get(f"{API}/user/orders", priv(self._open_orders)),
            web.get(f"{API}/user/orders/history", priv(self._order_history)),
            web.get(API + "/user/orders/external/{external}", priv(self._by_external_id)),
            web.get(API + "/user/orders/{id:[0-9]+}", priv(self._by_id)),
            web.get(f"{API}/user/trades", priv(self._trades)),
            web.post(f"{API}/user/order/massCancel", priv(self._mass_cancel)),
            web.post(f"{API}/user/order", priv(self._place)),
            web.delete(API + "/user/order/{id}", priv(self._cancel_by_id)),
            web.delete(f"{API}/user/order", priv(self._cancel_by_external)),
            web.get(STREAM + "/orderbooks/{market}", self._ws_orderbook),
            web.get(f"{STREAM}/account", self._ws_account),
        ]

    def _public(self, fn: Callable[[_Req], Any]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                self.world.sync()
                return self._answer(fn(_Req(request.query, dict(request.match_info), None, None)))
            except ApiError as exc:
                return _error(exc)
        return handle

    def _private(self, fn: Callable[[_Req], Any]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                account = self.accounts.get(request.headers.get("X-Api-Key", ""))
                if account is None:
                    raise ApiError(UNAUTHORIZED)
                body = None
                if request.method == "POST" and request.can_read_body:
                    try:
                        body = await request.json()
                    except ValueError:
                        raise ApiError(BAD_REQUEST, "the body is not JSON") from None
                self.world.sync()
                return self._answer(fn(_Req(request.query, dict(request.match_info), body, account)))
            except ApiError as exc:
                return _error(exc)
        return handle

    @staticmethod
    def _answer(result: Any) -> web.Response:
        if isinstance(result, tuple):
            return _ok(*result)
        return _ok(result)

    # public
    def _markets(self, r: _Req) -> list[dict[str, Any]]:
        names = r.query.getall("market", [])
        return [self.market_json(s) for s in self.ex.slots if not names or wire.market_symbol(s) in names]

    def _orderbook(self, r: _Req) -> dict[str, Any]:
        symbol = self._symbol(r.path["market"])
        b = self.ex.book(symbol, 100, self.now())
        return {"market": wire.market_symbol(symbol),
                "bid": [{"qty": wire.text(lv.size), "price": wire.text(lv.price)} for lv in b.bids],
                "ask": [{"qty": wire.text(lv.size), "price": wire.text(lv.price)} for lv in b.asks]}

    def _public_trades(self, r: _Req) -> list[dict[str, Any]]:
        symbol = self._symbol(r.path["market"])
        return [{"i": i + 1, "m": wire.market_symbol(symbol), "S": wire.SIDES[t.taker_side], "tT": "TRADE",
                 "T": _ms(t.ts), "p": wire.text(t.price), "q": wire.text(t.size)}
                for i, t in enumerate(self.ex.trades(symbol, 100))]

    # private
    def _fees(self, r: _Req) -> list[dict[str, Any]]:
        names = r.query.getall("market", [])
        p = self.ex.profile
        return [{"market": wire.market_symbol(s), "makerFeeRate": wire.text(p.maker_fee),
                 "takerFeeRate": wire.text(p.taker_fee), "builderFeeRate": "0"}
                for s in self.ex.slots if not names or wire.market_symbol(s) in names]

    def _positions(self, r: _Req) -> list[dict[str, Any]]:
        names = r.query.getall("market", [])
        return [self.position_json(p) for p in self.ex.positions(self.now())
                if p.size and (not names or wire.market_symbol(p.symbol) in names)]

    def _open_orders(self, r: _Req) -> list[dict[str, Any]]:
        names = r.query.getall("market", [])
        return [self.order_json(o) for o in self.ex.open_orders(None)
                if not names or wire.market_symbol(o.symbol) in names]

    @staticmethod
    def _page(rows: list[dict[str, Any]], r: _Req) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Newest first; ``cursor`` continues below the last id of the previous page."""
        limit = min(int(r.query.get("limit") or 100), 1000)
        cursor = int(r.query["cursor"]) if r.query.get("cursor") else None
        rows = sorted((x for x in rows if cursor is None or x["id"] < cursor), key=lambda x: x["id"], reverse=True)
        page = rows[:limit]
        return page, {"cursor": page[-1]["id"] if page else None, "count": len(page)}

    def _order_history(self, r: _Req) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        names = r.query.getall("market", [])
        rows = self._orders_of([*self._sim_of, *self._rejected])
        return self._page([x for x in rows if not names or x["market"] in names], r)

    def _by_id(self, r: _Req) -> dict[str, Any]:
        found = self._orders_of([int(r.path["id"])])
        if not found:
            raise ApiError(ORDER_NOT_FOUND)
        return found[0]

    def _by_external_id(self, r: _Req) -> list[dict[str, Any]]:
        return self._orders_of(self._by_external.get(r.path["external"], []))

    def _trades(self, r: _Req) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        names = r.query.getall("market", [])
        rows = [self.trade_json(f) for f in self.ex.fills_since(0.0, None)
                if not names or wire.market_symbol(f.symbol) in names]
        return self._page(rows, r)

    # orders
    def _verify(self, order: NewOrderModel, account: DemoAccount, symbol: str) -> None:
        """The order's Stark signature, checked against the account's key: the hash is rebuilt from
        what the order says with the SDK's own settlement code (a signer that only records it)."""
        from fast_stark_crypto import verify

        s = order.settlement
        if s is None:
            raise ApiError(BAD_SIGNATURE, "the order carries no settlement")
        if s.stark_key != int(account.public_key, 16) or int(s.collateral_position) != account.vault:
            raise ApiError(BAD_SIGNATURE, "the Stark key or vault is not the account's")
        hashes: list[int] = []

        def record(h: int) -> tuple[int, int]:
            hashes.append(h)
            return 0, 0

        ctx = SettlementDataCtx(market=self._model(symbol), taker_fee=order.fee, builder_fee=order.builder_fee,
                                nonce=int(order.nonce), collateral_position_id=account.vault,
                                expire_time=datetime.fromtimestamp(order.expiry_epoch_millis / 1000, UTC),
                                signer=record, public_key=s.stark_key, starknet_domain=self.domain)
        create_order_settlement_data(side=OrderSide(order.side), synthetic_amount=order.qty, price=order.price, ctx=ctx)
        if not verify(s.stark_key, hashes[0], s.signature.r, s.signature.s):
            raise ApiError(BAD_SIGNATURE)

    def _place(self, r: _Req) -> dict[str, Any]:
        if not isinstance(r.body, dict):
            raise ApiError(BAD_REQUEST, "the body must be an order")
        try:
            order = NewOrderModel.model_validate(r.body)
        except ValidationError as exc:
            raise ApiError(BAD_REQUEST, f"{exc.error_count()} invalid field(s)") from None
        symbol = self._symbol(order.market)
        assert r.account is not None
        self._verify(order, r.account, symbol)
        if order.id in self._by_external:
            raise ApiError(DUPLICATE, order.id)
        self.orders_received.append(r.body)
        number, now_ms = self._number(), self.now_ms()
        self._by_external[order.id] = [number]
        reason = None
        if order.fee < self.ex.profile.taker_fee:
            reason = "INVALID_FEE"
        elif not now_ms < order.expiry_epoch_millis <= now_ms + MAX_ORDER_TTL_S * 1000:
            reason = "INVALID_EXPIRE_TIME"
        elif order.cancel_id is not None:
            reason = self._replace(order.cancel_id)
        if reason is None:
            reason = self._match(order, symbol, number, now_ms)
        if reason is not None:
            self._rejected[number] = {
                "id": number, "accountId": 1, "externalId": order.id, "market": order.market, "type": order.type,
                "side": order.side, "status": "REJECTED", "statusReason": reason, "price": wire.text(order.price),
                "averagePrice": None, "qty": wire.text(order.qty), "filledQty": "0",
                "cancelledQty": wire.text(order.qty),
                "reduceOnly": order.reduce_only, "postOnly": order.post_only, "payedFee": "0", "createdTime": now_ms,
                "updatedTime": now_ms, "expiryTime": order.expiry_epoch_millis, "timeInForce": order.time_in_force}
        return {"id": number, "externalId": order.id}

    def _replace(self, cancel_id: str) -> str | None:
        """``cancelId``: the open order with that external id is cancelled (ORDER_REPLACED)."""
        sim_id = next((self._sim_of[n] for n in reversed(self._by_external.get(cancel_id, [])) if n in self._sim_of),
                      None)
        if sim_id is None or sim_id not in self.ex.open:
            return "PREV_ORDER_NOT_FOUND"
        o = self.ex.orders[sim_id]
        self._replaced.add(sim_id)
        self.ex.cancel(o.symbol, sim_id, None, self.now())
        return None

    def _match(self, order: NewOrderModel, symbol: str, number: int, now_ms: int) -> str | None:
        side = wire.SIDE_OF[str(order.side)]
        t = self.now()
        try:
            if order.time_in_force == "IOC" or order.type == "MARKET":
                touch = self.ex.bbo(symbol, t).opposite(side)
                bps = max(Decimal(0), (order.price / touch - 1) * side.sign * wire.BPS)
                o = self.ex.place_market(symbol, side, order.qty, order.id, bps, order.reduce_only, t)
            else:
                o = self.ex.place_limit(symbol, side, order.price, order.qty, order.id, order.post_only,
                                        order.reduce_only, t)
        except OrderRejected as exc:
            return REFUSALS.get(exc.reason, "UNKNOWN")
        self._meta[o.order_id] = _Meta(number, order.id, str(order.type), str(order.time_in_force), order.price,
                                       order.expiry_epoch_millis, order.fee, now_ms)
        self._sim_of[number] = o.order_id
        return None

    def _cancel_by_id(self, r: _Req) -> None:
        number = r.path["id"]
        sim_id = self._sim_of.get(int(number)) if number.isdigit() else None
        if sim_id is None:
            raise ApiError(ORDER_NOT_FOUND)
        self._cancel(sim_id)

    def _cancel_by_external(self, r: _Req) -> None:
        numbers = [n for n in self._by_external.get(str(r.query.get("externalId", "")), []) if n in self._sim_of]
        if not numbers:
            raise ApiError(ORDER_NOT_FOUND)
        self._cancel(self._sim_of[numbers[-1]])

    def _cancel(self, sim_id: str) -> None:
        """An order already done is left as it is (the answer is OK either way; its state tells)."""
        if sim_id in self.ex.open:
            o = self.ex.orders[sim_id]
            self.ex.cancel(o.symbol, sim_id, None, self.now())

    def _mass_cancel(self, r: _Req) -> None:
        b = r.body if isinstance(r.body, dict) else {}
        ids = {self._sim_of[int(n)] for n in b.get("orderIds") or [] if int(n) in self._sim_of}
        ids |= {self._sim_of[n] for e in b.get("externalOrderIds") or [] for n in self._by_external.get(e, [])
                if n in self._sim_of}
        markets = set(b.get("markets") or [])
        for sim_id, o in list(self.ex.open.items()):
            if b.get("cancelAll") or sim_id in ids or wire.market_symbol(o.symbol) in markets:
                self._cancel(sim_id)

    def _expire(self) -> None:
        """Resting orders whose signed expiry passed are cancelled as EXPIRED (each market step)."""
        now_ms = self.now_ms()
        for sim_id, o in list(self.ex.open.items()):
            meta = self._meta.get(sim_id)
            if meta is not None and meta.expiry_ms <= now_ms:
                self._expired.add(sim_id)
                self.ex.cancel(o.symbol, sim_id, None, self.now())

    # --- streams -------------------------------------------------------------------------------
    async def _serve(self, request: web.Request, subs: list[Any], first: list[tuple[str, Any]],
                     event: Callable[[Any], tuple[str, Any] | None]) -> web.WebSocketResponse:
        """One stream connection: ``first`` messages, then ``event(item)`` for every item of the
        simulator subscriptions ``subs`` (made before the handshake: nothing falls in between)."""
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        conn = _Conn(ws)
        self._conns.add(conn)
        seq = 0

        async def send(kind: str, data: Any) -> None:
            nonlocal seq
            seq += 1
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str(json.dumps({"type": kind, "data": data, "ts": _ms(self.now()), "seq": seq}))

        async def pump() -> None:
            for kind, data in first:
                await send(kind, data)
            async for item in in_simulated_time(self.ex, subs, self.now):
                out = event(item)
                if out is not None:
                    await send(*out)

        conn.tasks.append(asyncio.get_running_loop().create_task(pump()))
        try:
            async for msg in ws:
                if msg.type is WSMsgType.ERROR:
                    break
        finally:
            self._conns.discard(conn)
            for task in conn.tasks:
                task.cancel()
            for s in subs:
                self.ex.unsubscribe(s)
        return ws

    @staticmethod
    def _levels(b: Book) -> dict[str, dict[Decimal, Decimal]]:
        return {"b": {lv.price: lv.size for lv in b.bids}, "a": {lv.price: lv.size for lv in b.asks}}

    @staticmethod
    def _book_json(market: str, levels: dict[str, dict[Decimal, Decimal]]) -> dict[str, Any]:
        return {"m": market, "b": [{"q": wire.text(q), "p": wire.text(p)} for p, q in levels["b"].items()],
                "a": [{"q": wire.text(q), "p": wire.text(p)} for p, q in levels["a"].items()]}

    async def _ws_orderbook(self, request: web.Request) -> web.StreamResponse:
        try:
            symbol = self._symbol(request.match_info["market"])
        except ApiError:
            raise web.HTTPNotFound() from None
        market = wire.market_symbol(symbol)
        self.world.sync()
        if request.query.get("depth") == "1":
            def top(item: Any) -> tuple[str, Any] | None:
                if not isinstance(item, BBO):
                    return None
                return "SNAPSHOT", {"m": market, "b": [{"q": wire.text(item.bid_size), "p": wire.text(item.bid)}],
                                    "a": [{"q": wire.text(item.ask_size), "p": wire.text(item.ask)}]}

            b = self.ex.book(symbol, 1, self.now())
            return await self._serve(request, [self.ex.subscribe("bbo", symbol)],
                                     [("SNAPSHOT", self._book_json(market, self._levels(b)))], top)
        last = self._levels(self.ex.book(symbol, 20, self.now()))

        def delta(item: Any) -> tuple[str, Any] | None:
            nonlocal last
            if not isinstance(item, Book):
                return None
            now = self._levels(item)
            changes: dict[str, dict[Decimal, Decimal]] = {"b": {}, "a": {}}
            for key in ("b", "a"):
                for p in set(now[key]) | set(last[key]):
                    d = now[key].get(p, Decimal(0)) - last[key].get(p, Decimal(0))
                    if d:
                        changes[key][p] = d
            last = now
            return ("DELTA", self._book_json(market, changes)) if changes["b"] or changes["a"] else None

        return await self._serve(request, [self.ex.subscribe("book", symbol)],
                                 [("SNAPSHOT", self._book_json(market, last))], delta)

    async def _ws_account(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("X-Api-Key", "") not in self.accounts:
            raise web.HTTPUnauthorized()
        self.world.sync()
        subs = [self.ex.subscribe(c, None) for c in ("orders", "fills", "positions")]
        now = self.now()
        first = [("ORDER", {"orders": [self.order_json(o) for o in self.ex.open_orders(None)]}),
                 ("POSITION", {"positions": [self.position_json(p) for p in self.ex.positions(now) if p.size]}),
                 ("BALANCE", {"balance": self.balance_json()})]

        def event(item: Any) -> tuple[str, Any] | None:
            if isinstance(item, Fill) and item.order_id in self._meta:
                return "TRADE", {"trades": [self.trade_json(item)]}
            if isinstance(item, Order) and item.order_id in self._meta:
                return "ORDER", {"orders": [self.order_json(item)]}
            if isinstance(item, Position):
                return "POSITION", {"positions": [self.position_json(item)]}
            return None

        return await self._serve(request, subs, first, event)

