"""``FakeParadex``: a loopback Paradex (REST ``/v1`` + JSON-RPC WebSocket) over the simulator.

Serves every endpoint and channel ``exchanges.paradex.adapter`` and paradex-py use::

    GET  /v1/system/config|time|state        GET  /v1/markets[?market=]   GET /v1/markets/summary
    GET  /v1/bbo/{market}  /v1/orderbook/{market}  /v1/trades            GET/POST /v1/onboarding
    POST /v1/auth  /v1/auth/{public_key}                                 GET  /v1/account  /account/info
    GET  /v1/balance  /v1/positions  /v1/fills  /v1/orders-history       GET/POST/DELETE /v1/orders
    GET/DELETE /v1/orders/{id}  /v1/orders/by_client_id/{client_id}
    WS   /v1   methods auth, subscribe, unsubscribe; channels bbo.<m>, order_book.<m>.snapshot@15@<r>,
               orders.<m|ALL>, fills.<m|ALL>, positions

backed by a ``SimWorld`` on the real clock (its matching engine, account and market data). The
simulator's order, fill, position and market events are pushed to subscribed connections as
``{"jsonrpc": "2.0", "method": "subscription", "params": {"channel", "data"}}``.

Faults (``fake.faults``, switchable at any time): 429 with Retry-After, 5xx before or after the
request took effect, slow answers, malformed bodies, garbage WebSocket frames, refused
WebSocket connections; ``drop_ws()`` closes every WebSocket.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from core.clock import RealClock
from core.types import Side
from exchanges.fakes.loopback import Faults, LoopbackFake, LoopbackServer, MarketDriver, RouteFaultControls
from exchanges.paradex.fake_venue import VENUE, ApiError, ParadexEngine, address_of
from exchanges.paradex.settings import ParadexSettings
from exchanges.sim.exchange import DISCONNECTED
from exchanges.sim.world import SimWorld
from exchanges.symbols import to_venue_symbol

log = logging.getLogger("perpflow.fake.paradex")

_MARKET = r"(?P<market>[A-Z0-9]+-USD-PERP)"
CHANNELS = {
    "bbo": re.compile(rf"bbo\.{_MARKET}"),
    "book": re.compile(rf"order_book\.{_MARKET}\.snapshot@15@(?:50ms|100ms)(?:@[0-9.]+)?"),
    "orders": re.compile(r"orders\.(?P<market>ALL|[A-Z0-9]+-USD-PERP)"),
    "fills": re.compile(r"fills\.(?P<market>ALL|[A-Z0-9]+-USD-PERP)"),
    "positions": re.compile(r"positions"),
}
PRIVATE = frozenset({"orders", "fills", "positions"})
# Simulator channel per push family; bbo and book are per symbol, the others account-wide.
SIM_CHANNEL = {"bbo": "bbo", "book": "book", "orders": "orders", "fills": "fills", "positions": "positions"}


# FakeControls' ops -> this venue's routes
CONTROL_ROUTES = {"place": "POST /v1/orders", "positions": "GET /v1/positions"}


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """A throwaway Starknet account for the fake: its L2 key, public key and derived address."""

    private_key: int
    public_key: int
    address: int


def demo_account(seed: str = "perpflow fake paradex") -> DemoAccount:
    """A deterministic account for offline development (never a real venue's)."""
    from starknet_crypto_py import get_public_key
    from starknet_py.constants import EC_ORDER

    key = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big") % (EC_ORDER - 1) + 1
    public_key = get_public_key(key)
    return DemoAccount(key, public_key, address_of(public_key))


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    account: int | None = None
    channels: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (family, market or ALL)


Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


class FakeParadex(RouteFaultControls, LoopbackFake):
    control_routes = CONTROL_ROUTES

    def __init__(self, world: SimWorld | None = None, *, seed: int = 7, symbols: Iterable[str] = ("SOL", "ETH", "BTC"),
                 accounts: dict[int | str, int | str] | None = None, open_registration: bool = False,
                 jwt_ttl: float = 300.0) -> None:
        self.world = world or SimWorld(venues=(VENUE,), symbols=tuple(symbols), seed=seed, clock=RealClock())
        self.engine = ParadexEngine(self.world, open_registration=open_registration, jwt_ttl=jwt_ttl)
        for address, key in (accounts or {}).items():
            self.engine.register(address, key)
        self.exchange = self.engine.ex
        self.faults = Faults()
        self._conns: set[_Conn] = set()
        self._pumps: dict[tuple[str, str | None], asyncio.Task[None]] = {}
        self._market = MarketDriver(self.world, name="fake-paradex-market")
        self._background: set[asyncio.Task[None]] = set()
        app = web.Application()
        app.add_routes(self._routes())
        self.server = LoopbackServer(app, self.faults)

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0: any free port); returns the REST base URL (``.../v1``)."""
        await self.server.start(host, port)
        self._market.start()
        return self.base_url

    async def stop(self) -> None:
        await self._market.stop()
        for task in self._pumps.values():
            task.cancel()
        for task in self._pumps.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._pumps.clear()
        await self.drop_ws(1001)
        await self.server.stop()
        await self.world.stop()

    @property
    def base_url(self) -> str:
        return self.url("http", "/v1")

    @property
    def ws_url(self) -> str:
        return self.url("ws", "/v1")

    @property
    def requests(self) -> list[str]:
        return list(self.server.requests)

    def settings(self, **credentials: Any) -> ParadexSettings:
        """``ParadexSettings`` pointing at this fake (credentials as keyword arguments)."""
        return ParadexSettings(env="testnet", endpoint=self.base_url, ws_endpoint=self.ws_url, **credentials)

    def revoke_tokens(self) -> None:
        """Every JWT handed out stops working (as when the venue ends sessions)."""
        self.engine.revoke_tokens()

    def register_account(self, address: int | str, public_key: int | str) -> None:
        """An onboarded account (what ``POST /onboarding`` does); registering again changes its key."""
        self.engine.register(address, public_key)

    # --- market control ----------------------------------------------------------------------
    def market_trade(self, symbol: str, taker_side: Side, size: Decimal) -> Decimal:
        """Someone else's market order: it walks the book, our resting orders included."""
        t = self.engine.now()
        slot = self.exchange.slots[symbol]
        lots = slot.market.flow_trade(t, taker_side.sign, int(size / slot.lot))
        self.world.sync()
        self.exchange.step(t, 0.0)  # settle our maker fills now
        return lots * slot.lot

    # --- the controls every fake has (exchanges.spec.FakeControls) ------------------------------
    def orders_with(self, client_id: str) -> int:
        return sum(1 for o in self.exchange.orders.values() if o.client_id == client_id)

    async def drop_streams(self) -> int:
        return await self.drop_ws()

    # --- WebSocket faults --------------------------------------------------------------------
    async def drop_ws(self, code: int = 1012) -> int:
        """Close every WebSocket (1012: service restart). Returns how many were open."""
        conns = list(self._conns)
        self._conns.clear()
        for c in conns:
            with contextlib.suppress(Exception):
                await c.ws.close(code=code, message=b"dropped")
        return len(conns)

    def subscriptions(self) -> list[str]:
        """Channels subscribed on the open WebSocket connections (one entry per connection)."""
        return [name for c in self._conns for name in c.channels]

    def refuse_ws(self, refused: bool = True) -> None:
        """While refused, new WebSocket connections are answered HTTP 503."""
        self.faults.ws_refused = refused

    # --- routes ------------------------------------------------------------------------------
    def _routes(self) -> list[web.RouteDef]:
        e = self.engine
        q = self._handler

        def by_client(r: web.Request) -> Any:
            return e.find(client_id=r.match_info["cid"])

        return [
            web.get("/v1", self._ws),
            web.get("/v1/system/config", q(lambda r, a: e.system_config(self.base_url), private=False)),
            web.get("/v1/system/time", q(lambda r, a: {"server_time": str(int(e.now() * 1000))}, private=False)),
            web.get("/v1/system/state", q(lambda r, a: {"status": "ok"}, private=False)),
            web.get("/v1/onboarding", q(lambda r, a: e.onboarding_status(r.query.get("public_key")), private=False)),
            web.post("/v1/onboarding", q(self._onboard, private=False)),
            web.post("/v1/auth", q(lambda r, a: e.auth(r.headers, None), private=False)),
            web.post("/v1/auth/{key}", q(lambda r, a: e.auth(r.headers, r.match_info["key"]), private=False)),
            web.get("/v1/markets", q(lambda r, a: e.markets(r.query.get("market")), private=False)),
            web.get("/v1/markets/summary", q(lambda r, a: e.summary(r.query.get("market")), private=False)),
            web.get("/v1/bbo/{market}", q(lambda r, a: e.bbo(r.match_info["market"]), private=False)),
            web.get("/v1/orderbook/{market}", q(lambda r, a: e.orderbook(
                r.match_info["market"], int(r.query.get("depth") or 20)), private=False)),
            web.get("/v1/trades", q(lambda r, a: e.trades(r.query.get("market", ""),
                                                          int(r.query.get("page_size") or 100)), private=False)),
            web.get("/v1/account", q(lambda r, a: e.account_summary())),
            web.get("/v1/account/info", q(lambda r, a: e.account_info(a))),
            web.get("/v1/balance", q(lambda r, a: e.balances())),
            web.get("/v1/positions", q(lambda r, a: e.positions())),
            web.get("/v1/fills", q(lambda r, a: e.fills(r.query))),
            web.get("/v1/orders-history", q(lambda r, a: e.orders_history(r.query))),
            web.get("/v1/orders", q(lambda r, a: e.open_orders(r.query.get("market")))),
            web.post("/v1/orders", q(self._create_order)),
            web.delete("/v1/orders", q(lambda r, a: e.cancel_all(r.query.get("market")) or {})),
            web.get("/v1/orders/by_client_id/{cid}", q(lambda r, a: e.order_json(by_client(r)))),
            web.delete("/v1/orders/by_client_id/{cid}", q(lambda r, a: e.cancel(by_client(r)))),
            web.get("/v1/orders/{id}", q(lambda r, a: e.order_json(e.find(order_id=r.match_info["id"])))),
            web.delete("/v1/orders/{id}", q(lambda r, a: e.cancel(e.find(order_id=r.match_info["id"])))),
        ]

    def _handler(self, fn: Callable[[web.Request, int | None], Any], *, private: bool = True) -> Route:
        """Wrap an engine call: bearer auth, ``ApiError`` -> its status and body, ``None`` -> 204."""

        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                account = self.engine.authorize(request.headers.get("Authorization")) if private else None
                result = fn(request, account)
                if asyncio.iscoroutine(result):
                    result = await result
            except ApiError as exc:
                return _json(exc.body, exc.status)
            except (ValueError, KeyError) as exc:
                return _json({"error": "VALIDATION_ERROR", "message": f"bad request ({type(exc).__name__})"}, 400)
            if isinstance(result, web.StreamResponse):
                return result
            return web.Response(status=204) if result is None else _json(result)

        return handle

    async def _onboard(self, request: web.Request, account: int | None) -> dict[str, Any]:
        self.engine.onboard(request.headers, await self._body(request))
        return {}

    async def _create_order(self, request: web.Request, account: int | None) -> web.Response:
        o = self.engine.create_order(account, await self._body(request))  # type: ignore[arg-type]
        if o.rejected is not None:  # refused by the risk checks: the order closes, as pushed to the account
            task = asyncio.get_running_loop().create_task(self._push("orders", o.symbol, self.engine.order_json(o)))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return _json(self.engine.order_json(o, as_new=True), 201)

    @staticmethod
    async def _body(request: web.Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise ApiError(400, "BINDING_ERROR", "the body is not JSON") from None

    # --- WebSocket ---------------------------------------------------------------------------
    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if self.faults.ws_refused:
            return web.Response(status=503, text="service unavailable")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _Conn(ws)
        header = request.headers.get("Authorization")
        if header:
            with contextlib.suppress(ApiError):
                conn.account = self.engine.authorize(header)
        self._conns.add(conn)
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._rpc(conn, msg.data)
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            self._conns.discard(conn)
        return ws

    async def _rpc(self, conn: _Conn, text: str) -> None:
        try:
            req = json.loads(text)
            method, rid, params = req.get("method"), req.get("id"), req.get("params") or {}
        except (ValueError, AttributeError):
            await self._reply(conn, None, error=(-32700, "Parse error"))
            return
        if method == "auth":
            bearer = params.get("bearer") if isinstance(params, dict) else None
            account = self.engine.token_account(bearer)
            if account is None:
                await self._reply(conn, rid, error=(40110 if not isinstance(bearer, str) else 40111,
                                                    "Invalid bearer token"))
                return
            conn.account = account
            await self._reply(conn, rid, result={"node_id": "perpflow-fake-paradex"})
        elif method in ("subscribe", "unsubscribe"):
            channel = params.get("channel") if isinstance(params, dict) else None
            key = self._channel_key(channel)
            if key is None:
                await self._reply(conn, rid, error=(-32602, "Invalid method parameters"))
                return
            if method == "unsubscribe":
                conn.channels.pop(channel, None)  # type: ignore[arg-type]
            elif key[0] in PRIVATE and conn.account is None:
                await self._reply(conn, rid, error=(40111, "Invalid bearer token"))
                return
            else:
                conn.channels[channel] = key  # type: ignore[index]
                self._ensure_pump(key)
            await self._reply(conn, rid, result={"channel": channel})
        else:
            await self._reply(conn, rid, error=(-32601, "Method not found"))

    def _channel_key(self, channel: Any) -> tuple[str, str] | None:
        if not isinstance(channel, str):
            return None
        for family, pattern in CHANNELS.items():
            m = pattern.fullmatch(channel)
            if m:
                market = m.groupdict().get("market") or "ALL"
                if market != "ALL":
                    try:
                        self.engine.symbol_of(market)
                    except ApiError:
                        return None
                return family, market
        return None

    @staticmethod
    async def _reply(conn: _Conn, rid: Any, *, result: Any = None, error: tuple[int, str] | None = None) -> None:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": rid}
        if error is not None:
            msg["error"] = {"code": error[0], "message": error[1]}
        else:
            msg["result"] = result
        with contextlib.suppress(ConnectionError, RuntimeError):
            await conn.ws.send_str(json.dumps(msg))

    # --- pushes from the simulator -----------------------------------------------------------
    def _ensure_pump(self, key: tuple[str, str]) -> None:
        family, market = key
        symbol = self.engine.symbol_of(market) if family in ("bbo", "book") else None
        pump = (family, symbol)
        task = self._pumps.get(pump)
        if task is None or task.done():
            self._pumps[pump] = asyncio.get_running_loop().create_task(self._pump(family, symbol),
                                                                       name=f"fake-paradex-{family}")

    async def _pump(self, family: str, symbol: str | None) -> None:
        """Forward one simulator channel to the WebSocket subscribers, at its publish time + feed latency."""
        ex, clock = self.exchange, self.world.clock
        sub = ex.subscribe(SIM_CHANNEL[family], symbol)
        try:
            while True:
                at, item = await sub.queue.get()
                if item is DISCONNECTED:  # the simulator's own stream-drop fault: every socket drops
                    sub = ex.subscribe(SIM_CHANNEL[family], symbol)
                    await self.drop_ws()
                    continue
                wait = at - clock.now()
                if wait > 0:
                    await asyncio.sleep(wait)
                data = self._wire(family, item)
                if data is not None:
                    await self._push(family, getattr(item, "symbol", symbol), data)
        finally:
            ex.unsubscribe(sub)

    def _wire(self, family: str, item: Any) -> dict[str, Any] | None:
        e = self.engine
        if family == "bbo":
            return e.bbo_json(item)
        if family == "book":
            return e.book_json(item)
        if family == "fills":
            return e.fill_json(item)
        if family == "positions":
            return e.position_json(item)
        o = e.orders.get(e.by_sim.get(item.order_id, ""))
        if o is None or (o.instruction == "IOC" and not item.status.is_final):
            return None  # not placed through the API, or an IOC's transient state the venue never shows
        return e.order_json(o, item)

    async def _push(self, family: str, symbol: str | None, data: dict[str, Any]) -> None:
        market = to_venue_symbol(VENUE, symbol) if symbol else None
        for conn in list(self._conns):
            for name, (fam, m) in list(conn.channels.items()):
                if fam != family or (m != "ALL" and m != market):
                    continue
                garbage = self.faults.take_garbage(name)
                try:
                    if garbage is not None:
                        bad = ('{"jsonrpc": "2.0", "method": "subscription", "params": {"channel": '
                               if garbage.kind == "json" else
                               json.dumps({"jsonrpc": "2.0", "method": "subscription",
                                           "params": {"channel": name, "data": {"market": market}}}))
                        await conn.ws.send_str(bad)
                    await conn.ws.send_str(json.dumps({"jsonrpc": "2.0", "method": "subscription",
                                                       "params": {"channel": name, "data": data}}))
                except (ConnectionError, RuntimeError):
                    self._conns.discard(conn)
                    break
