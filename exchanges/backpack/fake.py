"""A loopback Backpack: its REST API (``/api/v1``, ``/wapi/v1``) and WebSocket streams, backed by
the simulator's Backpack market.

What it serves is what the adapter uses, in Backpack's published shapes (``wire.py`` encodes
both ways): markets, depth, trades; signed account, collateral, positions, orders (execute,
query, cancel, cancel all, open orders, history) and fill history with ``limit``/``offset``
paging. Every private request must carry ``X-API-Key``, ``X-Timestamp``, ``X-Window`` and an
ED25519 ``X-Signature`` over ``instruction=...&<sorted params>&timestamp=...&window=...`` by a
key the fake knows, within its window; else 401. The WebSocket at ``/ws`` takes ``SUBSCRIBE``
frames (private ``account.*`` streams signed with the ``subscribe`` instruction) and pushes
``{"stream", "data"}`` envelopes: ``bookTicker.<sym>``, ``depth.<sym>`` (absolute levels, 0
removes), ``account.orderUpdate`` (orderAccepted / orderCancelled / orderExpired / orderFill) and
``account.positionUpdate`` (the open positions on subscribe, then opened / adjusted / closed).

Faults (``faults``: 429 with Retry-After, 5xx before or after processing, slow answers) and the
controls every fake has (``exchanges.spec.FakeControls``).

    perpflow fake-venue backpack --port 8790   # prints the .env lines to point perpflow at it
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
from core.types import BBO, Book, Fill, Order, OrderStatus, OrderType, Position, Side
from exchanges.backpack import wire
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
MAX_WINDOW_MS = 60_000
# FakeControls' ops -> this venue's routes
CONTROL_ROUTES = {"place": "POST /api/v1/order", "positions": "GET /api/v1/position"}
# the simulator's refusals in Backpack's words (code, message)
REFUSALS = {Reason.POST_ONLY_WOULD_CROSS: ("INVALID_ORDER", "Order would immediately match and take."),
            Reason.REDUCE_ONLY_WOULD_INCREASE: ("INVALID_ORDER", "Reduce only order not reduced."),
            Reason.DUPLICATE_CLIENT_ID: ("INVALID_CLIENT_REQUEST", "Duplicate client id."),
            Reason.INSUFFICIENT_MARGIN: ("INSUFFICIENT_MARGIN", "Insufficient margin."),
            Reason.BELOW_MIN_NOTIONAL: ("INVALID_QUANTITY", "Quantity is below the minimum notional."),
            Reason.BELOW_MIN_SIZE: ("INVALID_QUANTITY", "Quantity is below the minimum."),
            Reason.OFF_LOT: ("INVALID_QUANTITY", "Quantity does not match the step size."),
            Reason.SIZE_ABOVE_MAX: ("INVALID_QUANTITY", "Quantity is above the maximum quantity."),
            Reason.OFF_TICK: ("INVALID_PRICE", "Price does not match the tick size."),
            Reason.UNKNOWN_ORDER: ("RESOURCE_NOT_FOUND", "Order not found."),
            Reason.UNKNOWN_SYMBOL: ("INVALID_SYMBOL", "Market not found.")}
STATUS_OUT = {OrderStatus.OPEN: "New", OrderStatus.NEW: "New", OrderStatus.PARTIALLY_FILLED: "PartiallyFilled",
              OrderStatus.FILLED: "Filled", OrderStatus.CANCELLED: "Cancelled", OrderStatus.EXPIRED: "Expired",
              OrderStatus.REJECTED: "Cancelled"}


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """A throwaway ED25519 key pair (base64 seed, base64 verifying key): the fake's account."""

    seed: str
    api_key: str


def demo_account(seed: str = "perpflow fake backpack") -> DemoAccount:
    raw = base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode()
    return DemoAccount(raw, wire.public_key(raw))


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def _ms(ts: float) -> int:
    return int(ts * 1000)


def _us(ts: float) -> int:
    return int(ts * 1_000_000)


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    pumps: dict[str, asyncio.Task[None]] = field(default_factory=dict)


class FakeBackpack(RouteFaultControls, LoopbackFake):
    control_routes = CONTROL_ROUTES

    def __init__(self, world: SimWorld | None = None, *, seed: int = 7, symbols: tuple[str, ...] = ("SOL", "ETH"),
                 api_keys: tuple[str, ...] = ()) -> None:
        self.world = world or SimWorld(venues=(VENUE,), symbols=symbols, seed=seed, clock=RealClock())
        self.ex = self.world.exchanges[VENUE]
        self.api_keys = set(api_keys)
        self.faults = Faults()
        self._meta: dict[str, tuple[str, Decimal | None, int | None]] = {}  # order id -> (tif, price, clientId)
        self._trade_ids: dict[str, int] = {}
        self._conns: set[_Conn] = set()
        self._market = MarketDriver(self.world, name="fake-backpack-market")
        app = web.Application()
        app.add_routes(self._routes())
        self.server = LoopbackServer(app, self.faults, shutdown_timeout=0.5)

    # --- lifecycle -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.url("http")

    @property
    def ws_url(self) -> str:
        return self.url("ws", "/ws")

    def now(self) -> float:
        return self.world.clock.now()

    # --- the controls every fake has (exchanges.spec.FakeControls) ------------------------------
    def orders_with(self, client_id: str) -> int:
        number = str(wire.client_number(client_id))
        return sum(1 for o in self.ex.orders.values() if o.client_id == number)

    async def drop_streams(self) -> int:
        conns = list(self._conns)
        self._conns.clear()
        for c in conns:
            for task in c.pumps.values():
                task.cancel()
            with contextlib.suppress(Exception):
                await c.ws.close(code=1012, message=b"dropped")
        return len(conns)

    # --- encoding ------------------------------------------------------------------------------
    def _symbol(self, market: Any) -> str:
        try:
            symbol = wire.from_venue_symbol(VENUE, str(market))
        except Exception:
            raise ApiError(400, "INVALID_SYMBOL", f"Market {market} not found.") from None
        if symbol not in self.ex.slots:
            raise ApiError(400, "INVALID_SYMBOL", f"Market {market} not found.")
        return symbol

    def order_json(self, o: Order) -> dict[str, Any]:
        tif, price, cid = self._meta.get(o.order_id, ("GTC", o.price, None))
        status = STATUS_OUT[o.status]
        if tif == "IOC" and o.status is OrderStatus.CANCELLED:
            status = "Expired"  # an IOC's unfilled rest
        out: dict[str, Any] = {
            "id": o.order_id, "createdAt": _ms(o.ts), "executedQuantity": wire.text(o.filled),
            "executedQuoteQuantity": wire.text((o.avg_price or Decimal(0)) * o.filled), "orderType": "Limit",
            "postOnly": o.post_only, "price": wire.text(price) if price is not None else "0",
            "quantity": wire.text(o.size), "reduceOnly": o.reduce_only, "selfTradePrevention": "RejectTaker",
            "side": wire.SIDES[o.side], "status": status, "symbol": wire.market_symbol(o.symbol), "timeInForce": tif}
        if cid is not None:
            out["clientId"] = cid
        return out

    def _trade_id(self, fill: Fill) -> int:
        return self._trade_ids.setdefault(fill.trade_id, len(self._trade_ids) + 1)

    def fill_json(self, f: Fill) -> dict[str, Any]:
        cid = self._meta.get(f.order_id, ("", None, None))[2]
        return {"clientId": str(cid) if cid is not None else None, "fee": wire.text(f.fee), "feeSymbol": "USDC",
                "isMaker": f.liquidity.value == "MAKER", "orderId": f.order_id, "price": wire.text(f.price),
                "quantity": wire.text(f.size), "side": wire.SIDES[f.side], "symbol": wire.market_symbol(f.symbol),
                "timestamp": wire.iso(f.ts), "tradeId": self._trade_id(f), "systemOrderType": None}

    def position_json(self, p: Position) -> dict[str, Any]:
        mark = self.ex.marks().get(p.symbol, Decimal(0))
        zero = "0"
        return {"breakEvenPrice": wire.text(p.entry_price or mark), "entryPrice": wire.text(p.entry_price or mark),
                "estLiquidationPrice": zero, "imf": "0.02", "imfFunction": None, "markPrice": wire.text(mark),
                "mmf": "0.01", "mmfFunction": None, "netCost": wire.text(p.size * (p.entry_price or mark)),
                "netQuantity": wire.text(p.size), "netExposureQuantity": wire.text(p.size),
                "netExposureNotional": wire.text(p.size * mark), "pnlRealized": zero, "pnlUnrealized": zero,
                "cumulativeFundingPayment": zero, "symbol": wire.market_symbol(p.symbol), "userId": 1,
                "positionId": f"pos-{p.symbol}", "cumulativeInterest": zero}

    # --- routes --------------------------------------------------------------------------------
    def _routes(self) -> list[web.RouteDef]:
        pub, priv = self._public, self._private
        return [
            web.get("/api/v1/markets", pub(self._markets)),
            web.get("/api/v1/depth", pub(self._depth)),
            web.get("/api/v1/trades", pub(self._trades)),
            web.get("/api/v1/account", priv("accountQuery", self._account)),
            web.get("/api/v1/capital/collateral", priv("collateralQuery", self._collateral)),
            web.get("/api/v1/position", priv("positionQuery", self._positions)),
            web.post("/api/v1/order", priv("orderExecute", self._execute)),
            web.get("/api/v1/order", priv("orderQuery", self._order)),
            web.delete("/api/v1/order", priv("orderCancel", self._cancel)),
            web.get("/api/v1/orders", priv("orderQueryAll", self._open_orders)),
            web.delete("/api/v1/orders", priv("orderCancelAll", self._cancel_all)),
            web.get("/wapi/v1/history/orders", priv("orderHistoryQueryAll", self._order_history)),
            web.get("/wapi/v1/history/fills", priv("fillHistoryQueryAll", self._fill_history)),
            web.get("/ws", self._ws),
        ]

    def _public(self, fn: Callable[[dict[str, Any]], Any]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                self.world.sync()
                return _json(fn(dict(request.query)))
            except ApiError as exc:
                return _json({"code": exc.code, "message": exc.message}, exc.status)
        return handle

    def _private(self, instruction: str,
                 fn: Callable[[dict[str, Any]], Any]) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                params: dict[str, Any] = dict(request.query)
                if request.method in ("POST", "DELETE") and request.can_read_body:
                    try:
                        body = await request.json()
                    except ValueError:
                        raise ApiError(400, "INVALID_CLIENT_REQUEST", "Body is not JSON.") from None
                    if not isinstance(body, dict):
                        raise ApiError(400, "INVALID_CLIENT_REQUEST", "Body must be an object.")
                    params = body
                self._authorize(request.headers, instruction, params)
                self.world.sync()
                return _json(fn(params))
            except ApiError as exc:
                return _json({"code": exc.code, "message": exc.message}, exc.status)
        return handle

    def _authorize(self, headers: Any, instruction: str, params: dict[str, Any]) -> None:
        key, signature = headers.get("X-API-Key"), headers.get("X-Signature")
        try:
            ts, window = int(headers.get("X-Timestamp", "")), int(headers.get("X-Window") or wire.DEFAULT_WINDOW_MS)
        except ValueError:
            raise ApiError(401, "UNAUTHORIZED", "X-Timestamp and X-Window must be integers.") from None
        if not key or key not in self.api_keys:
            raise ApiError(401, "UNAUTHORIZED", "Unknown API key.")
        if not 0 < window <= MAX_WINDOW_MS:
            raise ApiError(400, "INVALID_CLIENT_REQUEST", f"X-Window must be within 1..{MAX_WINDOW_MS}.")
        now = int(time.time() * 1000)
        if ts > now + 5_000 or now - ts > window:
            raise ApiError(401, "UNAUTHORIZED", "Request has expired.")
        if not signature or not wire.verify(key, wire.signing_string(instruction, params, ts, window), signature):
            raise ApiError(401, "INVALID_SIGNATURE", "Invalid signature.")

    @staticmethod
    def _refused(exc: OrderRejected) -> ApiError:
        code, message = REFUSALS.get(exc.reason, ("INVALID_ORDER", exc.detail or "Order rejected."))
        return ApiError(404 if exc.reason is Reason.UNKNOWN_ORDER else 400, code, message)

    # public
    def _markets(self, q: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for symbol, slot in self.ex.slots.items():
            ins = slot.instrument
            qty: dict[str, Any] = {"minQuantity": wire.text(ins.min_size), "stepSize": wire.text(ins.lot)}
            if ins.max_order_size is not None:
                qty["maxQuantity"] = wire.text(ins.max_order_size)
            out.append({"symbol": wire.market_symbol(symbol), "baseSymbol": symbol, "quoteSymbol": "USDC",
                        "marketType": "PERP", "orderBookState": "Open", "createdAt": "2024-01-01T00:00:00",
                        "visible": True, "fundingInterval": 3_600_000,
                        "filters": {"price": {"minPrice": wire.text(ins.tick), "tickSize": wire.text(ins.tick)},
                                    "quantity": qty}})
        return out

    def _depth(self, q: dict[str, Any]) -> dict[str, Any]:
        symbol = self._symbol(q.get("symbol"))
        b = self.ex.book(symbol, int(q.get("limit") or 100), self.now())
        return {"asks": [[wire.text(lv.price), wire.text(lv.size)] for lv in b.asks],
                "bids": [[wire.text(lv.price), wire.text(lv.size)] for lv in reversed(b.bids)],  # ascending
                "lastUpdateId": str(_us(b.ts)), "timestamp": _us(b.ts)}

    def _trades(self, q: dict[str, Any]) -> list[dict[str, Any]]:
        symbol = self._symbol(q.get("symbol"))
        return [{"id": i, "price": wire.text(t.price), "quantity": wire.text(t.size),
                 "quoteQuantity": wire.text(t.price * t.size), "timestamp": _ms(t.ts),
                 "isBuyerMaker": t.taker_side is Side.SELL}
                for i, t in enumerate(self.ex.trades(symbol, int(q.get("limit") or 100)))]

    # private
    def _account(self, q: dict[str, Any]) -> dict[str, Any]:
        p = self.ex.profile
        return {"autoBorrowSettlements": False, "autoLend": False, "autoRealizePnl": True, "autoRepayBorrows": False,
                "borrowLimit": "0", "futuresMakerFee": wire.text(p.maker_fee * wire.BPS),
                "futuresTakerFee": wire.text(p.taker_fee * wire.BPS), "leverageLimit": "10", "limitOrders": 500,
                "liquidating": False, "positionLimit": "1000000", "spotMakerFee": "0", "spotTakerFee": "0",
                "triggerOrders": 100}

    def _collateral(self, q: dict[str, Any]) -> dict[str, Any]:
        b = self.ex.balance(self.now())
        return {"assetsValue": wire.text(b.equity), "borrowLiability": "0", "collateral": [], "imf": "0",
                "unsettledEquity": "0", "liabilitiesValue": "0", "mmf": "0", "netEquity": wire.text(b.equity),
                "netEquityAvailable": wire.text(b.available), "netEquityLocked": wire.text(b.equity - b.available),
                "netExposureFutures": "0", "pnlUnrealized": "0"}

    def _positions(self, q: dict[str, Any]) -> list[dict[str, Any]]:
        return [self.position_json(p) for p in self.ex.positions(self.now()) if p.size
                and (not q.get("symbol") or wire.market_symbol(p.symbol) == q["symbol"])]

    def _execute(self, b: dict[str, Any]) -> dict[str, Any]:
        symbol = self._symbol(b.get("symbol"))
        side = wire.SIDE_OF.get(str(b.get("side")))
        if side is None or b.get("orderType") != "Limit":
            raise ApiError(400, "INVALID_ORDER", "This fake serves Limit orders with side Bid or Ask.")
        try:
            price, size = Decimal(str(b["price"])), Decimal(str(b["quantity"]))
        except (KeyError, ArithmeticError, ValueError):
            raise ApiError(400, "INVALID_ORDER", "price and quantity must be decimals.") from None
        tif = str(b.get("timeInForce") or "GTC")
        cid = b.get("clientId")
        if cid is not None and not (isinstance(cid, int) and 0 <= cid < 2**32):
            raise ApiError(400, "INVALID_CLIENT_REQUEST", "clientId must be a uint32.")
        t = self.now()
        try:
            if tif == "IOC":
                touch = self.ex.bbo(symbol, t).opposite(side)
                bps = max(Decimal(0), (price / touch - 1) * side.sign * wire.BPS)
                o = self.ex.place_market(symbol, side, size, str(cid), bps, bool(b.get("reduceOnly")), t)
            else:
                o = self.ex.place_limit(symbol, side, price, size, str(cid), bool(b.get("postOnly")),
                                        bool(b.get("reduceOnly")), t)
        except OrderRejected as exc:
            raise self._refused(exc) from None
        self._meta[o.order_id] = (tif, price, cid)
        return self.order_json(o)

    def _find(self, q: dict[str, Any]) -> Any:
        symbol = self._symbol(q.get("symbol"))
        oid, cid = q.get("orderId"), q.get("clientId")
        if (oid is None) == (cid is None):
            raise ApiError(400, "INVALID_CLIENT_REQUEST", "Give one of orderId or clientId.")
        o = self.ex.find(str(oid) if oid is not None else None, str(cid) if cid is not None else None)
        if o is None or o.symbol != symbol:
            raise ApiError(404, "RESOURCE_NOT_FOUND", "Order not found.")
        return o

    def _order(self, q: dict[str, Any]) -> dict[str, Any]:
        o = self._find(q)
        if o.order_id not in self.ex.open:  # only a resting order, as Backpack's GET /order
            raise ApiError(404, "RESOURCE_NOT_FOUND", "Order not found.")
        return self.order_json(self.ex.order_snapshot(o))

    def _cancel(self, b: dict[str, Any]) -> dict[str, Any]:
        o = self._find(b)
        if o.order_id not in self.ex.open:
            raise ApiError(404, "RESOURCE_NOT_FOUND", "Order not found.")
        return self.order_json(self.ex.cancel(o.symbol, o.order_id, None, self.now()))

    def _open_orders(self, q: dict[str, Any]) -> list[dict[str, Any]]:
        symbol = self._symbol(q["symbol"]) if q.get("symbol") else None
        return [self.order_json(o) for o in self.ex.open_orders(symbol)]

    def _cancel_all(self, b: dict[str, Any]) -> list[dict[str, Any]]:
        symbol = self._symbol(b.get("symbol"))
        return [self.order_json(o) for o in self.ex.cancel_all(symbol, self.now())]

    @staticmethod
    def _page(rows: list[Any], q: dict[str, Any]) -> list[Any]:
        limit = min(int(q.get("limit") or 100), 1000)
        offset = int(q.get("offset") or 0)
        return rows[offset:offset + limit]

    def _order_history(self, q: dict[str, Any]) -> list[dict[str, Any]]:
        orders = [self.ex.order_snapshot(o) for o in self.ex.orders.values()
                  if (not q.get("orderId") or o.order_id == q["orderId"])
                  and (not q.get("symbol") or wire.market_symbol(o.symbol) == q["symbol"])]
        orders.sort(key=lambda o: o.ts, reverse=True)
        return self._page([self.order_json(o) for o in orders], q)

    def _fill_history(self, q: dict[str, Any]) -> list[dict[str, Any]]:
        since = int(q.get("from") or 0) / 1000
        until = int(q["to"]) / 1000 if q.get("to") else float("inf")
        fills = [f for f in self.ex.fills_since(since, None) if f.ts <= until
                 and (not q.get("symbol") or wire.market_symbol(f.symbol) == q["symbol"])
                 and (not q.get("orderId") or f.order_id == q["orderId"])]
        if str(q.get("sortDirection") or "Desc") == "Desc":
            fills.reverse()
        return self._page([self.fill_json(f) for f in fills], q)

    # --- WebSocket -----------------------------------------------------------------------------
    async def _ws(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        conn = _Conn(ws)
        self._conns.add(conn)
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                try:
                    frame = json.loads(msg.data)
                except ValueError:
                    continue
                await self._control(conn, frame)
        finally:
            self._conns.discard(conn)
            for task in conn.pumps.values():
                task.cancel()
        return ws

    async def _control(self, conn: _Conn, frame: Any) -> None:
        if not isinstance(frame, dict) or frame.get("method") not in ("SUBSCRIBE", "UNSUBSCRIBE"):
            return
        streams = [str(s) for s in frame.get("params") or []]
        if frame["method"] == "UNSUBSCRIBE":
            for s in streams:
                task = conn.pumps.pop(s, None)
                if task is not None:
                    task.cancel()
            return
        if any(s.startswith("account.") for s in streams) and not self._ws_signed(frame.get("signature")):
            await conn.ws.send_str(json.dumps({"id": frame.get("id"), "error": {
                "code": 4006, "message": "Invalid signature"}}))
            return
        for s in streams:
            if s not in conn.pumps:
                conn.pumps[s] = asyncio.get_running_loop().create_task(self._pump(conn, s))

    def _ws_signed(self, sig: Any) -> bool:
        if not isinstance(sig, list) or len(sig) != 4:
            return False
        key, signature, ts, window = (str(x) for x in sig)
        try:
            self._authorize({"X-API-Key": key, "X-Signature": signature, "X-Timestamp": ts, "X-Window": window},
                            "subscribe", {})
        except ApiError:
            return False
        return True

    async def _pump(self, conn: _Conn, stream: str) -> None:
        kind, _, market = stream.partition(".")
        channels: list[tuple[str, str | None]]
        if kind == "bookTicker":
            channels = [("bbo", self._symbol(market))]
        elif kind == "depth":
            channels = [("book", self._symbol(market))]
        elif stream == "account.orderUpdate":
            channels = [("orders", None), ("fills", None)]
        elif stream == "account.positionUpdate":
            channels = [("positions", None)]
            for p in self.ex.positions(self.now()):
                if p.size:
                    await self._send(conn, stream, self._position_event(p, None))
        else:
            return
        subs = [self.ex.subscribe(c, s) for c, s in channels]
        last_book: dict[str, dict[Decimal, Decimal]] = {"b": {}, "a": {}}
        async for item in in_simulated_time(self.ex, subs, self.now):
            data = self._event(stream, item, last_book)
            if data is not None:
                await self._send(conn, stream, data)

    @staticmethod
    async def _send(conn: _Conn, stream: str, data: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await conn.ws.send_str(json.dumps({"stream": stream, "data": data}))

    def _event(self, stream: str, item: Any, last_book: dict[str, dict[Decimal, Decimal]]) -> dict[str, Any] | None:
        if isinstance(item, BBO):
            return {"e": "bookTicker", "E": _us(item.ts), "s": wire.market_symbol(item.symbol),
                    "a": wire.text(item.ask), "A": wire.text(item.ask_size), "b": wire.text(item.bid),
                    "B": wire.text(item.bid_size), "u": str(_us(item.ts)), "T": _us(item.ts)}
        if isinstance(item, Book):
            out: dict[str, Any] = {"e": "depth", "E": _us(item.ts), "s": wire.market_symbol(item.symbol),
                                   "U": _us(item.ts), "u": _us(item.ts), "T": _us(item.ts)}
            for key, levels in (("b", item.bids), ("a", item.asks)):
                now = {lv.price: lv.size for lv in levels}
                changed = [[wire.text(p), wire.text(q)] for p, q in now.items() if last_book[key].get(p) != q]
                changed += [[wire.text(p), "0"] for p in last_book[key] if p not in now]
                last_book[key] = now
                out[key] = changed
            return out
        if isinstance(item, Fill):
            tif, price, cid = self._meta.get(item.order_id, ("GTC", None, None))
            o = self.ex.orders.get(item.order_id)
            snap = self.ex.order_snapshot(o) if o is not None else None
            data = {"e": "orderFill", "E": _us(item.ts), "s": wire.market_symbol(item.symbol),
                    "S": wire.SIDES[item.side], "o": "LIMIT", "f": tif, "i": item.order_id,
                    "t": self._trade_id(item), "l": wire.text(item.size), "L": wire.text(item.price),
                    "m": item.liquidity.value == "MAKER", "n": wire.text(item.fee), "N": "USDC",
                    "X": STATUS_OUT[snap.status] if snap else "Filled", "T": _us(item.ts), "O": "USER",
                    "z": wire.text(snap.filled if snap else item.size),
                    "Z": wire.text((snap.avg_price or item.price) * snap.filled if snap else item.price * item.size)}
            if cid is not None:
                data["c"] = cid
            if snap is not None:
                data["q"] = wire.text(snap.size)
            return data
        if isinstance(item, Order):
            if item.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
                return None  # their orderFill events say it
            tif, price, cid = self._meta.get(item.order_id, ("GTC", item.price, None))
            if item.order_id not in self._meta and item.type is OrderType.MARKET:
                tif = "IOC"
            event = {OrderStatus.OPEN: "orderAccepted", OrderStatus.NEW: "orderAccepted"}.get(
                item.status, "orderExpired" if tif == "IOC" else "orderCancelled")
            data = {"e": event, "E": _us(item.ts), "s": wire.market_symbol(item.symbol), "S": wire.SIDES[item.side],
                    "o": "LIMIT", "f": tif, "q": wire.text(item.size), "X": STATUS_OUT[item.status],
                    "i": item.order_id, "z": wire.text(item.filled),
                    "Z": wire.text((item.avg_price or Decimal(0)) * item.filled), "T": _us(item.ts), "O": "USER",
                    "y": item.post_only}
            if price is not None:
                data["p"] = wire.text(price)
            if cid is not None:
                data["c"] = cid
            return data
        if isinstance(item, Position):
            return self._position_event(item, "positionClosed" if not item.size else "positionAdjusted")
        return None

    def _position_event(self, p: Position, event: str | None) -> dict[str, Any]:
        mark = self.ex.marks().get(p.symbol, Decimal(0))
        data: dict[str, Any] = {"E": _us(p.ts), "s": wire.market_symbol(p.symbol), "b": float(p.entry_price or mark),
                                "B": float(p.entry_price or mark), "f": 0.02, "M": float(mark), "m": 0.01,
                                "q": float(p.size), "Q": float(p.size), "n": float(p.size * mark),
                                "i": f"pos-{p.symbol}", "p": "0", "P": "0", "T": _us(p.ts)}
        if event is not None:
            data["e"] = event
        return data
