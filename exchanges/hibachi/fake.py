"""A loopback Hibachi: its REST API (``/market``, ``/trade``) and WebSockets (``/ws/market``,
``/ws/account``), backed by the simulator's Hibachi market.

What it serves is what the adapter uses, in Hibachi's shapes (``wire.py`` encodes both ways):
exchange info, order book (``depth``, ``granularity``), recent trades and prices; with the API key
in ``Authorization``: account info (balance, positions, the account's fee rates), orders (place,
read by order id or nonce, cancel by order id or nonce, cancel all, open orders) and the account
trades, newest first, ``limit`` a page (at most 100), paged by ``endTime``. Orders and cancels must
carry a valid signature of their binary payload by the account's key: HMAC-SHA256 for an
exchange-managed account, ECDSA secp256k1 (verified by recovering the public key) for a
trustless one, else 400 errorCode 2. An order whose ``maxFeesPercent`` is below the account's
taker rate is refused; a nonce already used is refused. ``POST /trade/order`` answers the order
id only, as Hibachi does; the state is read with ``GET /trade/order``.

``/ws/market`` takes ``subscribe`` with ``orderbook`` subscriptions (a Snapshot, then Updates of
the levels that changed, zero quantity removes); ``/ws/account`` takes ``stream.start`` (answered
with the account snapshot and a listen key), ``stream.ping`` and ``stream.stop``, and pushes
``ORDER_CREATED`` / ``ORDER_UPDATED`` / ``ORDER_CANCELED``, ``trade_update`` and
``position_update``; a listen key not pinged within ``listen_ttl_s`` closes the stream.

Faults (``faults``: 429 with Retry-After, 5xx before or after processing, slow answers) and the
controls every fake has (``exchanges.spec.FakeControls``).

    perpflow fake-venue hibachi --port 8795   # prints the .env lines to point perpflow at it
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from core.clock import RealClock
from core.errors import OrderRejected
from core.reasons import Reason
from core.types import Book, Fill, Order, OrderStatus, Position, Side
from exchanges.fakes.loopback import (
    Faults,
    LoopbackFake,
    LoopbackServer,
    MarketDriver,
    RouteFaultControls,
    in_simulated_time,
)
from exchanges.hibachi import wire
from exchanges.sim.exchange import DISCONNECTED
from exchanges.sim.world import SimWorld

VENUE = wire.VENUE
UNDERLYING_DECIMALS = 9
SETTLEMENT_DECIMALS = 6
FIRST_ORDER_ID = 578_000_000_000_000_001
MAX_PAGE = 100
# FakeControls' ops -> this venue's routes
CONTROL_ROUTES = {"place": "POST /trade/order", "positions": "GET /trade/account/info"}
REFUSALS = {Reason.POST_ONLY_WOULD_CROSS: "Post only order would cross the book",
            Reason.REDUCE_ONLY_WOULD_INCREASE: "Reduce only order would increase the position",
            Reason.DUPLICATE_CLIENT_ID: "Duplicate nonce",
            Reason.INSUFFICIENT_MARGIN: "Insufficient margin",
            Reason.BELOW_MIN_NOTIONAL: "Order is below the min notional",
            Reason.BELOW_MIN_SIZE: "Quantity is below the min order size",
            Reason.OFF_LOT: "Quantity does not match the step size",
            Reason.SIZE_ABOVE_MAX: "Quantity is above the max order size",
            Reason.OFF_TICK: "Price does not match the tick size"}
STATUS_OUT = {OrderStatus.NEW: "PENDING", OrderStatus.OPEN: "PLACED", OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
              OrderStatus.FILLED: "FILLED", OrderStatus.CANCELLED: "CANCELLED", OrderStatus.EXPIRED: "CANCELLED",
              OrderStatus.REJECTED: "REJECTED"}


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """A throwaway Hibachi account: its number, API key and signing key (``0x`` + hex for a
    trustless account, an HMAC secret for an exchange-managed one)."""

    account_id: int
    api_key: str
    private_key: str

    @property
    def public_key(self) -> str | None:
        return wire.Signer(self.private_key).public_key()

    @property
    def hmac(self) -> bool:
        return wire.key_kind(self.private_key) == "hmac"


def demo_account(seed: str = "perpflow fake hibachi", *, hmac_key: bool = False, account_id: int = 128) -> DemoAccount:
    digest = hashlib.sha256(seed.encode()).digest()
    key = base64.b64encode(digest).decode() if hmac_key else "0x" + digest.hex()
    api_key = base64.urlsafe_b64encode(hashlib.sha256(b"api " + digest).digest()).decode().rstrip("=")
    return DemoAccount(account_id, api_key, key)


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


@dataclass
class _Meta:
    """What the venue knows of an order that the simulator does not: its number, nonce, flag, price."""

    number: int
    nonce: int
    account: int
    flag: str | None
    price: Decimal | None


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    account: DemoAccount | None = None
    listen_key: str | None = None
    pinged: float = 0.0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    created: set[str] = field(default_factory=set)


class FakeHibachi(RouteFaultControls, LoopbackFake):
    control_routes = CONTROL_ROUTES

    def __init__(self, world: SimWorld | None = None, *, seed: int = 7, symbols: tuple[str, ...] = ("SOL", "ETH"),
                 accounts: tuple[DemoAccount, ...] = (), listen_ttl_s: float = 10.0) -> None:
        self.world = world or SimWorld(venues=(VENUE,), symbols=symbols, seed=seed, clock=RealClock())
        self.ex = self.world.exchanges[VENUE]
        self.accounts = {a.api_key: a for a in accounts}
        self._public_keys = {a.api_key: a.public_key for a in accounts}
        self.listen_ttl_s = listen_ttl_s
        self.faults = Faults()
        self.contracts = {wire.market_symbol(s): wire.Contract(i, wire.market_symbol(s), UNDERLYING_DECIMALS,
                                                               SETTLEMENT_DECIMALS)
                          for i, s in enumerate(sorted(self.ex.slots), start=2)}
        self._meta: dict[str, _Meta] = {}  # simulator order id -> what Hibachi adds
        self._by_number: dict[int, str] = {}
        self._by_nonce: dict[int, str] = {}
        self._trade_ids: dict[str, int] = {}
        self._trade_ts: dict[str, float] = {}  # unique per trade, as a sequencing engine stamps them
        self._last_trade_ts = 0.0
        self._conns: set[_Conn] = set()
        self._market = MarketDriver(self.world, name="fake-hibachi-market")
        app = web.Application()
        app.add_routes(self._routes())
        self.server = LoopbackServer(app, self.faults, shutdown_timeout=0.5)

    # --- lifecycle -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.url("http")

    @property
    def ws_url(self) -> str:
        return self.url("ws")

    def now(self) -> float:
        return self.world.clock.now()

    # --- the controls every fake has (exchanges.spec.FakeControls) ------------------------------
    def orders_with(self, client_id: str) -> int:
        """Orders carrying ``client_id``'s nonce (Hibachi has no client ids; perpflow's nonce is
        derived from it, ``wire.nonce_of``)."""
        nonce = str(wire.nonce_of(client_id))
        return sum(1 for o in self.ex.orders.values() if o.client_id == nonce)

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
    def _contract(self, market: Any) -> wire.Contract:
        c = self.contracts.get(str(market))
        if c is None:
            raise ApiError(400, 1, f"Unknown symbol {market}")
        return c

    def _symbol(self, market: Any) -> str:
        return wire.user_symbol(self._contract(market).symbol)

    def _number(self, order_id: str) -> int:
        return self._meta[order_id].number

    def order_json(self, o: Order) -> dict[str, Any]:
        meta = self._meta.get(o.order_id)
        final = o.status.is_final
        out: dict[str, Any] = {
            "accountId": meta.account if meta else 0,
            "availableQuantity": "0" if final else wire.text(o.size - o.filled),
            "contractId": self._contract(wire.market_symbol(o.symbol)).id, "creationTime": int(o.ts),
            "finishTime": int(self.now()) if final else None, "orderId": str(meta.number if meta else 0),
            "orderType": "LIMIT", "price": wire.text(meta.price) if meta and meta.price is not None else None,
            "side": wire.SIDES[o.side], "status": STATUS_OUT[o.status], "symbol": wire.market_symbol(o.symbol),
            "totalQuantity": wire.text(o.size), "filledQuantity": wire.text(o.filled),
            "avgFillPrice": wire.text(o.avg_price) if o.avg_price is not None else None,
            "orderFlags": meta.flag if meta else None}
        return out

    def _trade_id(self, f: Fill) -> int:
        return self._trade_ids.setdefault(f.trade_id, 199_000_000 + len(self._trade_ids) + 1)

    def _stamp(self, f: Fill) -> float:
        ts = self._trade_ts.get(f.trade_id)
        if ts is None:
            ts = max(f.ts, self._last_trade_ts + 1e-6)
            self._trade_ts[f.trade_id] = self._last_trade_ts = ts
        return ts

    def trade_json(self, f: Fill) -> dict[str, Any]:
        meta = self._meta.get(f.order_id)
        number = meta.number if meta else 0
        account = meta.account if meta else 0
        sec, ns = wire.split_stamp(self._stamp(f))
        ours_bid = f.side is Side.BUY
        return {"askAccountId": 0 if ours_bid else account, "askOrderId": 0 if ours_bid else number,
                "bidAccountId": account if ours_bid else 0, "bidOrderId": number if ours_bid else 0,
                "fee": wire.text(f.fee), "id": self._trade_id(f), "orderType": "LIMIT", "price": wire.text(f.price),
                "quantity": wire.text(f.size), "realizedPnl": "0", "side": wire.TRADE_SIDE[f.side],
                "symbol": wire.market_symbol(f.symbol), "timestamp": sec, "timestampNsPartial": ns}

    def position_json(self, p: Position) -> dict[str, Any]:
        mark = self.ex.marks().get(p.symbol, Decimal(0))
        entry = p.entry_price or mark
        qty = abs(p.size)
        return {"direction": "Long" if p.size >= 0 else "Short", "entryNotional": wire.text(qty * entry),
                "markPrice": wire.text(mark), "notionalValue": wire.text(qty * mark), "openPrice": wire.text(entry),
                "quantity": wire.text(qty), "symbol": wire.market_symbol(p.symbol), "unrealizedFundingPnl": "0",
                "unrealizedTradingPnl": wire.text((mark - entry) * p.size)}

    # --- routes --------------------------------------------------------------------------------
    def _routes(self) -> list[web.RouteDef]:
        pub, priv = self._public, self._private
        return [
            web.get("/market/exchange-info", pub(self._exchange_info)),
            web.get("/market/data/orderbook", pub(self._orderbook)),
            web.get("/market/data/trades", pub(self._trades)),
            web.get("/market/data/prices", pub(self._prices)),
            web.get("/trade/account/info", priv(self._account_info)),
            web.get("/trade/account/trades", priv(self._account_trades)),
            web.get("/trade/orders", priv(self._open_orders)),
            web.delete("/trade/orders", priv(self._cancel_all)),
            web.get("/trade/order", priv(self._order)),
            web.post("/trade/order", priv(self._place)),
            web.delete("/trade/order", priv(self._cancel)),
            web.get("/ws/market", self._ws_market),
            web.get("/ws/account", self._ws_account),
        ]

    def _public(self, fn: Callable[[dict[str, Any]], Any]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                self.world.sync()
                return _json(fn(dict(request.query)))
            except ApiError as exc:
                return _json({"errorCode": exc.code, "message": exc.message, "status": "failed"}, exc.status)
        return handle

    def _private(self, fn: Callable[[DemoAccount, dict[str, Any]], Any]
                 ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                account = self._authorize(request.headers.get("Authorization"))
                params: dict[str, Any] = dict(request.query)
                if request.method in ("POST", "DELETE", "PUT") and request.can_read_body:
                    try:
                        body = await request.json()
                    except ValueError:
                        raise ApiError(400, 1, "Body is not JSON") from None
                    if not isinstance(body, dict):
                        raise ApiError(400, 1, "Body must be an object")
                    params |= body
                if str(params.get("accountId", "")) != str(account.account_id):
                    raise ApiError(400, 4, "Missing accountId" if "accountId" not in params
                                   else "accountId does not belong to the API key")
                self.world.sync()
                return _json(fn(account, params))
            except ApiError as exc:
                return _json({"errorCode": exc.code, "message": exc.message, "status": "failed"}, exc.status)
        return handle

    def _authorize(self, api_key: str | None) -> DemoAccount:
        account = self.accounts.get(api_key or "")
        if account is None:
            raise ApiError(401, 1, "Unauthorized: unknown API key")
        return account

    def _check_signature(self, account: DemoAccount, payload: bytes, signature: Any) -> None:
        ok = isinstance(signature, str) and wire.verify(
            payload, signature, hmac_secret=account.private_key if account.hmac else None,
            public_key=self._public_keys.get(account.api_key))
        if not ok:
            raise ApiError(400, 2, "Invalid signature: Failed to verify signature")

    # public
    def _exchange_info(self, q: dict[str, Any]) -> dict[str, Any]:
        p = self.ex.profile
        rows = []
        for market, c in self.contracts.items():
            ins = self.ex.slots[wire.user_symbol(market)].instrument
            rows.append({"displayName": f"{ins.symbol}/USDT Perps", "id": c.id, "initialMarginRate": "0.066667",
                         "maintenanceMarginRate": "0.046667", "marketCloseTimestamp": None,
                         "marketCreationTimestamp": "1727701319.73488", "marketOpenTimestamp": None,
                         "minNotional": wire.text(ins.min_notional), "minOrderSize": wire.text(ins.min_size),
                         "orderbookGranularities": [wire.text(ins.tick * k) for k in (1, 10, 100)],
                         "settlementDecimals": c.settlement_decimals, "settlementSymbol": "USDT", "status": "LIVE",
                         "stepSize": wire.text(ins.lot), "symbol": market, "tickSize": wire.text(ins.tick),
                         "underlyingDecimals": c.underlying_decimals, "underlyingSymbol": ins.symbol})
        return {"feeConfig": {"depositFees": "0.006769", "tradeMakerFeeRate": f"{p.maker_fee:.8f}",
                              "tradeTakerFeeRate": f"{p.taker_fee:.8f}", "transferFeeRate": "0.00010000",
                              "withdrawalFees": "0.018052", "instantWithdrawalFees": [[1000, 0.002]],
                              "instantWithdrawDstPublicKey": ""},
                "futureContracts": rows, "instantWithdrawalLimit": {"lowerLimit": "0.1", "upperLimit": "35000"},
                "maintenanceWindow": [], "status": "NORMAL"}

    def _orderbook(self, q: dict[str, Any]) -> dict[str, Any]:
        symbol = self._symbol(q.get("symbol"))
        ins = self.ex.slots[symbol].instrument
        try:
            depth = int(q.get("depth") or 10)
            granularity = Decimal(str(q.get("granularity") or ins.tick))
        except (ValueError, ArithmeticError):
            raise ApiError(400, 1, "depth must be an integer and granularity a decimal") from None
        if not 1 <= depth <= 100:
            raise ApiError(400, 1, "depth must be between 1 and 100")
        if granularity not in (ins.tick, ins.tick * 10, ins.tick * 100):
            raise ApiError(400, 1, "granularity must be one of the contract's orderbookGranularities")
        b = self.ex.book(symbol, depth, self.now())
        return {"bid": self._side(b.bids), "ask": self._side(b.asks)}

    @staticmethod
    def _side(levels: Any) -> dict[str, Any] | None:
        if not levels:
            return None
        return {"startPrice": wire.text(levels[0].price), "endPrice": wire.text(levels[-1].price),
                "levels": [{"price": wire.text(lv.price), "quantity": wire.text(lv.size)} for lv in levels]}

    def _trades(self, q: dict[str, Any]) -> dict[str, Any]:
        symbol = self._symbol(q.get("symbol"))
        out = []
        for t in self.ex.trades(symbol, 100):
            sec, ns = wire.split_stamp(t.ts)
            out.append({"price": wire.text(t.price), "quantity": wire.text(t.size),
                        "takerSide": wire.TRADE_SIDE[t.taker_side], "timestamp": sec, "timestampNsPartial": ns})
        return {"trades": out}

    def _prices(self, q: dict[str, Any]) -> dict[str, Any]:
        symbol = self._symbol(q.get("symbol"))
        b = self.ex.bbo(symbol, self.now())
        mark = self.ex.marks().get(symbol, b.mid)
        p = self.ex.profile
        return {"askPrice": wire.text(b.ask), "bidPrice": wire.text(b.bid), "markPrice": wire.text(mark),
                "spotPrice": wire.text(mark), "symbol": wire.market_symbol(symbol), "tradePrice": wire.text(mark),
                "fundingRateEstimation": {"estimatedFundingRate": f"{p.funding_rate:.8f}",
                                          "nextFundingTimestamp": int(self.ex.next_funding)}}

    # private
    def _account_info(self, account: DemoAccount, q: dict[str, Any]) -> dict[str, Any]:
        p, t = self.ex.profile, self.now()
        b = self.ex.balance(t)
        positions = [self.position_json(x) for x in self.ex.positions(t) if x.size]
        return {"assets": [{"quantity": wire.text(b.equity), "symbol": "USDT"}], "balance": wire.text(b.equity),
                "maximalWithdraw": wire.text(max(b.available, Decimal(0))), "numFreeTransfersRemaining": 100,
                "positions": positions, "totalOrderNotional": "0", "totalPositionNotional": "0",
                "totalUnrealizedFundingPnl": "0", "totalUnrealizedPnl": "0", "totalUnrealizedTradingPnl": "0",
                "tradeMakerFeeRate": f"{p.maker_fee:.8f}", "tradeTakerFeeRate": f"{p.taker_fee:.8f}"}

    def _account_trades(self, account: DemoAccount, q: dict[str, Any]) -> dict[str, Any]:
        try:
            start = float(q.get("startTime") or 0)
            end = float(q["endTime"]) if q.get("endTime") not in (None, "") else float("inf")
            limit = min(int(q.get("limit") or MAX_PAGE), MAX_PAGE)
        except ValueError:
            raise ApiError(400, 1, "startTime and endTime must be numbers, limit an integer") from None
        rows = [self.trade_json(f) for f in self.ex.fills_since(start - 1, None)
                if f.order_id in self._meta and self._meta[f.order_id].account == account.account_id]
        rows = [r for r in rows if start <= wire.stamp(r) <= end]
        rows.sort(key=lambda r: (wire.stamp(r), r["id"]), reverse=True)
        return {"trades": rows[:limit]}

    def _open_orders(self, account: DemoAccount, q: dict[str, Any]) -> list[dict[str, Any]]:
        return [self.order_json(o) for o in self.ex.open_orders(None)
                if o.order_id in self._meta and self._meta[o.order_id].account == account.account_id]

    def _find(self, account: DemoAccount, q: dict[str, Any]) -> Any:
        oid, nonce = q.get("orderId"), q.get("nonce")
        try:
            sim_id = self._by_number.get(int(oid)) if oid not in (None, "") else \
                self._by_nonce.get(int(nonce)) if nonce not in (None, "") else None
        except ValueError:
            raise ApiError(400, 1, "orderId and nonce must be integers") from None
        if oid in (None, "") and nonce in (None, ""):
            raise ApiError(400, 1, "Give orderId or nonce")
        o = self.ex.orders.get(sim_id) if sim_id else None
        if o is None or self._meta[o.order_id].account != account.account_id:
            raise ApiError(404, 3, f"Not found: order ID {oid or nonce}")
        return o

    def _order(self, account: DemoAccount, q: dict[str, Any]) -> dict[str, Any]:
        return self.order_json(self.ex.order_snapshot(self._find(account, q)))

    def _place(self, account: DemoAccount, b: dict[str, Any]) -> dict[str, Any]:
        c = self._contract(b.get("symbol"))
        symbol = wire.user_symbol(c.symbol)
        side = wire.SIDE_OF.get(str(b.get("side")))
        kind, flag = b.get("orderType"), b.get("orderFlags")
        if side is None or kind not in ("LIMIT", "MARKET") or flag not in (None, "POST_ONLY", "IOC", "REDUCE_ONLY"):
            raise ApiError(400, 1, "side must be BID or ASK, orderType LIMIT or MARKET, orderFlags one of "
                                   "POST_ONLY, IOC, REDUCE_ONLY")
        try:
            nonce = int(b["nonce"])
            size = Decimal(str(b["quantity"]))
            fee_cap = Decimal(str(b["maxFeesPercent"]))
            price = Decimal(str(b["price"])) if kind == "LIMIT" else None
        except (KeyError, ArithmeticError, ValueError):
            raise ApiError(400, 1, "nonce, quantity, maxFeesPercent (and a LIMIT's price) are required") from None
        self._check_signature(account, wire.order_payload(c, nonce, side, size, price, fee_cap), b.get("signature"))
        if fee_cap < self.ex.profile.taker_fee:
            raise ApiError(400, 1, f"maxFeesPercent {fee_cap} is below the account's fee rate")
        if nonce in self._by_nonce:
            raise ApiError(400, 1, "Duplicate nonce")
        t = self.now()
        reduce = flag == "REDUCE_ONLY"
        try:
            if flag == "IOC" or price is None:
                touch = self.ex.bbo(symbol, t).opposite(side)
                bps = Decimal(1000) if price is None else max(Decimal(0), (price / touch - 1) * side.sign * 10_000)
                o = self.ex.place_market(symbol, side, size, str(nonce), bps, reduce, t)
            else:
                o = self.ex.place_limit(symbol, side, price, size, str(nonce), flag == "POST_ONLY", reduce, t)
        except OrderRejected as exc:
            raise ApiError(400, 1, REFUSALS.get(exc.reason, exc.detail or "Order rejected")) from None
        number = FIRST_ORDER_ID + len(self._meta)
        self._meta[o.order_id] = _Meta(number, nonce, account.account_id, flag, price)
        self._by_number[number] = o.order_id
        self._by_nonce[nonce] = o.order_id
        return {"orderId": str(number)}

    def _cancel(self, account: DemoAccount, b: dict[str, Any]) -> dict[str, Any]:
        o = self._find(account, b)
        ref = int(b["orderId"]) if b.get("orderId") not in (None, "") else int(b["nonce"])
        self._check_signature(account, wire.id_payload(ref), b.get("signature"))
        if o.order_id not in self.ex.open:
            raise ApiError(404, 3, f"Not found: order ID {self._number(o.order_id)} is not open")
        self.ex.cancel(o.symbol, o.order_id, None, self.now())
        return {}

    def _cancel_all(self, account: DemoAccount, b: dict[str, Any]) -> dict[str, Any]:
        try:
            nonce = int(b["nonce"])
        except (KeyError, ValueError):
            raise ApiError(400, 1, "nonce is required") from None
        self._check_signature(account, wire.id_payload(nonce), b.get("signature"))
        contract = b.get("contractId")
        symbols = {wire.user_symbol(c.symbol) for c in self.contracts.values()
                   if contract is None or c.id == int(contract)}
        for o in list(self.ex.open.values()):
            meta = self._meta.get(o.order_id)
            if o.symbol in symbols and meta is not None and meta.account == account.account_id:
                self.ex.cancel(o.symbol, o.order_id, None, self.now())
        return {}

    # --- WebSockets ----------------------------------------------------------------------------
    async def _ws_market(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        conn = _Conn(ws)
        self._conns.add(conn)
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                with contextlib.suppress(ValueError):
                    frame = json.loads(msg.data)
                    if isinstance(frame, dict) and frame.get("method") == "subscribe":
                        for sub in (frame.get("parameters") or {}).get("subscriptions") or []:
                            if isinstance(sub, dict) and sub.get("topic") == "orderbook" \
                                    and str(sub.get("symbol")) in self.contracts:
                                conn.tasks.append(asyncio.get_running_loop().create_task(self._book_pump(conn, sub)))
        finally:
            self._end(conn)
        return ws

    async def _book_pump(self, conn: _Conn, sub: dict[str, Any]) -> None:
        market = str(sub["symbol"])
        symbol = wire.user_symbol(market)
        depth = max(1, min(int(sub.get("depth") or 10), 100))
        feed = self.ex.subscribe("book", symbol)
        try:
            last = self.ex.book(symbol, depth, self.now())
            await self._send(conn, {"symbol": market, "topic": "orderbook",
                                    "data": {"messageType": "Snapshot", "bid": self._side(last.bids),
                                             "ask": self._side(last.asks)}})
            while True:
                at, item = await feed.queue.get()
                if item is DISCONNECTED:
                    return
                if not isinstance(item, Book):
                    continue
                wait = at - self.now()
                if wait > 0:
                    await asyncio.sleep(wait)
                now = Book(item.venue, item.symbol, item.bids[:depth], item.asks[:depth], item.ts)
                data: dict[str, Any] = {"messageType": "Update"}
                for key, old, new in (("bid", last.bids, now.bids), ("ask", last.asks, now.asks)):
                    if not new:
                        data[key] = None
                        continue
                    before = {lv.price: lv.size for lv in old}
                    after = {lv.price: lv.size for lv in new}
                    changed = [{"price": wire.text(p), "quantity": wire.text(q)} for p, q in after.items()
                               if before.get(p) != q]
                    changed += [{"price": wire.text(p), "quantity": "0"} for p in before if p not in after]
                    data[key] = {"startPrice": wire.text(new[0].price), "endPrice": wire.text(new[-1].price),
                                 "levels": changed}
                last = now
                await self._send(conn, {"symbol": market, "topic": "orderbook", "data": data})
        finally:
            self.ex.unsubscribe(feed)

    async def _ws_account(self, request: web.Request) -> web.StreamResponse:
        account = self.accounts.get(request.headers.get("Authorization") or "")
        if account is None or request.query.get("accountId") != str(account.account_id):
            return _json({"errorCode": 1, "message": "Unauthorized", "status": "failed"}, 401)
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        conn = _Conn(ws, account)
        self._conns.add(conn)
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                try:
                    frame = json.loads(msg.data)
                except ValueError:
                    continue
                if isinstance(frame, dict):
                    await self._account_request(conn, frame)
        finally:
            self._end(conn)
        return ws

    async def _account_request(self, conn: _Conn, frame: dict[str, Any]) -> None:
        assert conn.account is not None
        method, params, rid = frame.get("method"), frame.get("params") or {}, frame.get("id")
        if str(params.get("accountId")) != str(conn.account.account_id):
            await self._send(conn, {"id": rid, "status": 400, "error": "accountId does not match the connection"})
            return
        if method == "stream.start":
            t = self.now()
            conn.listen_key = f"{conn.account.account_id}-{hashlib.sha256(str(time.time()).encode()).hexdigest()[:30]}"
            conn.pinged = time.monotonic()
            positions = [self.position_json(p) for p in self.ex.positions(t) if p.size]
            subs = [self.ex.subscribe(c) for c in ("orders", "fills", "positions")]  # before the answer: no gap
            await self._send(conn, {"id": rid, "status": 200, "result": {
                "accountSnapshot": {"account_id": conn.account.account_id,
                                    "balance": wire.text(self.ex.balance(t).equity), "positions": positions},
                "listenKey": conn.listen_key}})
            loop = asyncio.get_running_loop()
            conn.tasks += [loop.create_task(self._account_pump(conn, subs)), loop.create_task(self._expire(conn))]
        elif method == "stream.ping":
            ok = conn.listen_key is not None and params.get("listenKey") == conn.listen_key
            if ok:
                conn.pinged = time.monotonic()
            await self._send(conn, {"id": rid, "status": 200 if ok else 400})
        elif method == "stream.stop":
            for task in conn.tasks:
                task.cancel()
            conn.tasks.clear()
            conn.listen_key = None
            await self._send(conn, {"id": rid, "status": 200})

    async def _expire(self, conn: _Conn) -> None:
        """The listen key expires ``listen_ttl_s`` after the last ping: the stream is closed."""
        while True:
            left = conn.pinged + self.listen_ttl_s - time.monotonic()
            if left <= 0:
                with contextlib.suppress(Exception):
                    await conn.ws.close(code=4001, message=b"listen key expired")
                return
            await asyncio.sleep(left)

    async def _account_pump(self, conn: _Conn, subs: list[Any]) -> None:
        async for item in in_simulated_time(self.ex, subs, self.now):
            msg = self._account_event(conn, item)
            if msg is not None:
                await self._send(conn, msg)

    def _account_event(self, conn: _Conn, item: Any) -> dict[str, Any] | None:
        assert conn.account is not None
        if isinstance(item, Fill):
            meta = self._meta.get(item.order_id)
            if meta is None or meta.account != conn.account.account_id:
                return None
            return {"topic": "trade_update", "data": self.trade_json(item)}
        if isinstance(item, Order):
            meta = self._meta.get(item.order_id)
            if meta is None or meta.account != conn.account.account_id:
                return None
            if item.status is OrderStatus.CANCELLED:
                topic = "ORDER_CANCELED"
            elif item.order_id not in conn.created:
                topic = "ORDER_CREATED"
            else:
                topic = "ORDER_UPDATED"
            conn.created.add(item.order_id)
            return {"topic": topic, "data": self.order_json(item)}
        if isinstance(item, Position):
            return {"topic": "position_update", "data": self.position_json(item)}
        return None

    @staticmethod
    async def _send(conn: _Conn, msg: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await conn.ws.send_str(json.dumps(msg))

    def _end(self, conn: _Conn) -> None:
        self._conns.discard(conn)
        for task in conn.tasks:
            task.cancel()
