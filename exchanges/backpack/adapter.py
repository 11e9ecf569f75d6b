"""Backpack: the venue contract over Backpack's REST API and WebSocket, with aiohttp and websockets.

Requests
  Every private request is signed with the account's ED25519 key: ``X-API-Key`` (the base64
  verifying key), ``X-Timestamp``, ``X-Window`` and ``X-Signature`` over
  ``instruction=<i>&<params sorted by key>&timestamp=<ms>&window=<ms>`` (``wire.signing_string``),
  a fresh signature on every send. They go through the one request policy (``exchanges.policy``);
  signed requests carry no session, so there is nothing to re-authenticate.
Orders
  Backpack's ``clientId`` is a uint32, so perpflow's client id is hashed to one
  (``wire.client_number``) and remembered to map answers back. ``place_market`` is a Limit IOC at
  the slippage cap from the touch. ``GET /api/v1/order`` only knows resting orders, so a look-up
  falls back to the order history; a cancel answered "not found" reads the order's final state
  there too (a cancel after the fill returns it FILLED).
Streams
  ``bookTicker.<sym>`` (BBO), ``depth.<sym>`` (a local book from the REST snapshot plus absolute
  level updates), ``account.orderUpdate`` (orders; its ``orderFill`` events are the fills) and
  ``account.positionUpdate``; each a ``ResilientStream`` that catches up over REST after a
  reconnect (fills from the fill history, positions with ``ClosedPositions``).
Fees
  The account's own maker/taker rates come from ``GET /api/v1/account`` (``futuresMakerFee`` /
  ``futuresTakerFee``, in basis points).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any, TypeVar

from core.clock import Clock, RealClock
from core.errors import ConfigError, OrderRejected, VenueUnavailable
from core.reasons import Reason
from core.types import BBO, Balance, Book, BookLevel, Fill, Instrument, Order, OrderType, Position, Side
from exchanges.backpack import wire
from exchanges.backpack.settings import BackpackSettings
from exchanges.backpack.stream import BackpackFeed
from exchanges.base import Venue
from exchanges.credentials import SecretRedactor, resolve_secret
from exchanges.http import JsonHttp, request_json
from exchanges.loopbind import LoopBinding
from exchanges.policy import RequestPolicy
from exchanges.pricing import slippage_limit
from exchanges.streams import ClosedPositions, ResilientStream

T = TypeVar("T")
VENUE = wire.VENUE
DEFAULT_URL = "https://api.backpack.exchange"
DEFAULT_WS = "wss://ws.backpack.exchange"
START_SKEW_S = 0.5
log = logging.getLogger("perpflow.backpack")


class BackpackVenue(Venue):
    name = VENUE

    def __init__(self, settings: BackpackSettings, *, clock: Clock | None = None, window_ms: int = 5000,
                 settle_timeout_s: float = 2.0) -> None:
        if not 1 <= window_ms <= 60_000:
            raise ConfigError("window_ms", f"{window_ms} is outside 1..60000 ms")
        self.settings = settings
        self.clock = clock or RealClock()
        self.window_ms = window_ms
        self.settle_timeout_s = settle_timeout_s
        self.page_size = 1000  # rows per page of the fill history
        self.redactor = SecretRedactor()
        self.policy = RequestPolicy(settings, VENUE, log=log)
        self._seed: str | None = None
        self._http: JsonHttp | None = None
        self._loop = LoopBinding()
        self._start_lock = asyncio.Lock()
        self._instruments: dict[str, Instrument] = {}
        self._fees: tuple[Decimal, Decimal] | None = None
        self._client_ids: dict[int, str] = {}
        self._streams: list[ResilientStream[Any]] = []

    def __repr__(self) -> str:
        return f"BackpackVenue(endpoint={self.settings.endpoint or DEFAULT_URL!r}, api_key={self.settings.api_key!r})"

    # --- lifecycle -----------------------------------------------------------------------------
    @staticmethod
    def check_settings(s: BackpackSettings) -> None:
        """What a session needs, checked before anything connects; errors name the field."""
        if not s.api_key:
            raise ConfigError("backpack.api_key", "is required to trade on Backpack (the base64 ED25519 public key)")
        if s.api_secret is None:
            raise ConfigError("backpack.api_secret", "is required to trade on Backpack (the base64 ED25519 seed)")

    def _rebind(self) -> None:
        """On a new event loop (a flow's next ``Clock.run`` phase), forget the closed loop's HTTP
        client, lock and streams (see loopbind); signed requests need no new login."""
        if self._loop.moved():
            if self._http is not None:
                self._http.forget()
            self._http, self._start_lock = None, asyncio.Lock()
            self._streams.clear()

    async def start(self) -> None:
        self._rebind()
        async with self._start_lock:
            if self._http is not None:
                return
            self.check_settings(self.settings)
            secret = await resolve_secret(self.settings.api_secret, "backpack.api_secret")
            assert secret is not None and self.settings.api_key is not None
            seed = secret.get_secret_value().strip()
            self.redactor.add(seed)
            self.redactor.attach(("aiohttp.client", "websockets.client", log.name))
            try:
                raw = base64.b64decode(seed, validate=True)
                if len(raw) != 32:
                    raise ValueError
                derived = wire.public_key(seed)
            except (ValueError, binascii.Error):
                raise ConfigError("backpack.api_secret", "must be the base64 of a 32-byte ED25519 seed") from None
            if derived != self.settings.api_key.strip():
                raise ConfigError("backpack.api_key", "is not the public key of backpack.api_secret")
            self._seed = seed
            self._http = JsonHttp(self.settings.endpoint or DEFAULT_URL, self.settings.request_timeout_s)

    async def close(self) -> None:
        self._rebind()  # what a finished loop held died with it
        for s in self._streams:
            await s.aclose()
        self._streams.clear()
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    # --- requests ------------------------------------------------------------------------------
    def _headers(self, instruction: str, params: dict[str, Any]) -> dict[str, str]:
        assert self._seed is not None and self.settings.api_key is not None
        ts = int(time.time() * 1000)
        return {"X-API-Key": self.settings.api_key, "X-Timestamp": str(ts), "X-Window": str(self.window_ms),
                "X-Signature": wire.sign(self._seed, wire.signing_string(instruction, params, ts, self.window_ms))}

    async def _send(self, method: str, path: str, params: dict[str, Any] | None, instruction: str | None) -> Any:
        self._rebind()
        if self._http is None:
            await self.start()
        assert self._http is not None
        params = {k: v for k, v in (params or {}).items() if v is not None}
        headers = self._headers(instruction, params) if instruction else {}
        where = {"params": params} if method == "GET" else {"json": params}
        return await request_json(self._http, method, path, venue=VENUE, error_of=wire.error, headers=headers,
                                  **where)

    async def _call(self, method: str, path: str, params: dict[str, Any] | None = None,
                    instruction: str | None = None, *, idempotent: bool = True) -> Any:
        return await self.policy.call(f"{method} {path}", lambda: self._send(method, path, params, instruction),
                                      idempotent=idempotent)

    # --- metadata ------------------------------------------------------------------------------
    async def instrument(self, symbol: str) -> Instrument:
        if symbol in self._instruments:
            return self._instruments[symbol]
        market = wire.market_symbol(symbol)
        rows = await self._call("GET", "/api/v1/markets", {"marketType": "PERP"})
        found = next((m for m in rows or [] if m.get("symbol") == market), None)
        if found is None:
            raise OrderRejected(Reason.UNKNOWN_SYMBOL, f"{market} is not listed", VENUE)
        maker, taker = await self._fee_rates()
        ins = wire.instrument(found, maker, taker)
        self._instruments[symbol] = ins
        return ins

    async def _fee_rates(self) -> tuple[Decimal, Decimal]:
        """The account's futures maker/taker rates, in bps (GET /api/v1/account)."""
        if self._fees is None:
            acct = await self._call("GET", "/api/v1/account", None, "accountQuery")
            self._fees = (wire.dec(acct["futuresMakerFee"]), wire.dec(acct["futuresTakerFee"]))
        return self._fees

    # --- orders --------------------------------------------------------------------------------
    async def place_limit(self, symbol: str, side: Side, price: Decimal, size: Decimal, *, client_id: str,
                          post_only: bool = False, reduce_only: bool = False) -> Order:
        return await self._place(symbol, side, price, size, client_id, "GTC", post_only, reduce_only)

    async def place_market(self, symbol: str, side: Side, size: Decimal, *, client_id: str,
                           max_slippage_bps: Decimal, reduce_only: bool = False) -> Order:
        ins = await self.instrument(symbol)
        cap = slippage_limit(side, await self.bbo(symbol), Decimal(max_slippage_bps), ins)
        order = await self._place(symbol, side, cap, size, client_id, "IOC", False, reduce_only)
        return order.evolve(type=OrderType.MARKET, price=None)

    async def _place(self, symbol: str, side: Side, price: Decimal, size: Decimal, client_id: str, tif: str,
                     post_only: bool, reduce_only: bool) -> Order:
        if not client_id:
            raise ConfigError("client_id", "every order needs a client id")
        await self.instrument(symbol)
        number = wire.client_number(client_id)
        self._client_ids[number] = client_id
        body: dict[str, Any] = {"symbol": wire.market_symbol(symbol), "side": wire.SIDES[side], "orderType": "Limit",
                                "price": wire.text(price), "quantity": wire.text(size), "timeInForce": tif,
                                "clientId": number, "postOnly": post_only or None, "reduceOnly": reduce_only or None}
        what = f"POST /api/v1/order ({client_id})"

        async def send() -> dict[str, Any]:
            return await self._call("POST", "/api/v1/order", body, "orderExecute", idempotent=False)  # type: ignore[no-any-return]

        raw = await self.policy.place(what, send, lambda: self._lookup(symbol, None, number))
        return wire.order(raw, self._client_ids)

    async def _lookup(self, symbol: str, order_id: str | None, number: int | None) -> dict[str, Any] | None:
        """The order (resting, else from the history), or None when the venue has none."""
        market = wire.market_symbol(symbol)
        try:
            return await self._call("GET", "/api/v1/order",  # type: ignore[no-any-return]
                                    {"symbol": market, "orderId": order_id, "clientId": number}, "orderQuery")
        except OrderRejected as exc:
            if exc.reason is not Reason.UNKNOWN_ORDER:
                raise
        offset = 0
        while True:
            rows = await self._call("GET", "/wapi/v1/history/orders",
                                    {"symbol": market, "orderId": order_id, "limit": 1000, "offset": offset},
                                    "orderHistoryQueryAll")
            for r in rows or []:
                if (order_id is not None and str(r.get("id")) == order_id) or \
                        (number is not None and r.get("clientId") == number):
                    return r  # type: ignore[no-any-return]
            if not rows or len(rows) < 1000 or order_id is not None:
                return None
            offset += len(rows)

    async def cancel(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> Order:
        if order_id is None and client_id is None:
            raise ConfigError("order_id", "give order_id or client_id")
        number = None if order_id is not None or client_id is None else wire.client_number(client_id)
        body = {"symbol": wire.market_symbol(symbol), "orderId": order_id, "clientId": number}
        try:
            return wire.order(await self._call("DELETE", "/api/v1/order", body, "orderCancel"), self._client_ids)
        except OrderRejected as exc:
            if exc.reason is not Reason.UNKNOWN_ORDER:
                raise
        found = await self._lookup(symbol, order_id, number)  # no longer resting: filled, or never there
        if found is None:
            raise OrderRejected(Reason.UNKNOWN_ORDER, f"no order {order_id or client_id!r} on {symbol}", VENUE)
        return wire.order(found, self._client_ids)

    async def cancel_all(self, symbol: str | None = None) -> list[Order]:
        symbols = [symbol] if symbol else sorted({o.symbol for o in await self.open_orders()})
        out: list[Order] = []
        for s in symbols:
            rows = await self._call("DELETE", "/api/v1/orders", {"symbol": wire.market_symbol(s)}, "orderCancelAll")
            out += [wire.order(r, self._client_ids) for r in rows or []]
        return out

    async def order(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> Order | None:
        number = None if order_id is not None or client_id is None else wire.client_number(client_id)
        raw = await self._lookup(symbol, order_id, number)
        return None if raw is None else wire.order(raw, self._client_ids)

    # --- state ---------------------------------------------------------------------------------
    async def bbo(self, symbol: str) -> BBO:
        return (await self.book(symbol, 1)).bbo()

    async def book(self, symbol: str, depth: int = 10) -> Book:
        raw = await self._call("GET", "/api/v1/depth", {"symbol": wire.market_symbol(symbol)})
        b = wire.book(symbol, raw, depth)
        if not b.bids or not b.asks:
            raise VenueUnavailable(f"{symbol}: the book is empty", VENUE)
        return b

    async def trades(self, symbol: str, limit: int = 100) -> list[Any]:
        rows = await self._call("GET", "/api/v1/trades", {"symbol": wire.market_symbol(symbol), "limit": limit})
        return sorted((wire.trade(symbol, r) for r in rows or []), key=lambda t: t.ts)

    async def positions(self) -> list[Position]:
        rows = await self._call("GET", "/api/v1/position", None, "positionQuery")
        now = self.clock.now()  # REST positions carry no time: they are as of this read
        return [replace(wire.position(r, "rest"), ts=now) for r in rows or []
                if str(r.get("symbol", "")).endswith("_PERP")]

    async def balance(self) -> Balance:
        raw = await self._call("GET", "/api/v1/capital/collateral", None, "collateralQuery")
        return wire.balance(raw, self.clock.now())

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        params = {"marketType": "PERP", "symbol": wire.market_symbol(symbol) if symbol else None}
        rows = await self._call("GET", "/api/v1/orders", params, "orderQueryAll")
        return [wire.order(r, self._client_ids) for r in rows or []]

    async def fills(self, since: float, symbol: str | None = None) -> list[Fill]:
        """Pages through the fill history (oldest first, ``limit``/``offset``) from ``since``."""
        out: list[Fill] = []
        offset = 0
        while True:
            params = {"from": int(since * 1000), "limit": self.page_size, "offset": offset, "sortDirection": "Asc",
                      "marketType": "PERP", "symbol": wire.market_symbol(symbol) if symbol else None}
            rows = await self._call("GET", "/wapi/v1/history/fills", params, "fillHistoryQueryAll")
            out += [wire.fill(r, self._client_ids) for r in rows or []]
            if not rows or len(rows) < self.page_size:
                break
            offset += len(rows)
        return sorted((f for f in out if f.ts >= since), key=lambda f: (f.ts, f.trade_id))

    # --- streams -------------------------------------------------------------------------------
    def _ws_signature(self) -> list[str]:
        assert self._seed is not None and self.settings.api_key is not None
        ts = int(time.time() * 1000)
        return [self.settings.api_key, wire.sign(self._seed, wire.signing_string("subscribe", {}, ts, self.window_ms)),
                str(ts), str(self.window_ms)]

    def _feed(self, stream: str, parse: Callable[[dict[str, Any]], list[T]],
              private: bool = False) -> Callable[[], BackpackFeed[T]]:
        url = self.settings.ws_endpoint or DEFAULT_WS

        def open_feed() -> BackpackFeed[T]:
            return BackpackFeed(url, stream, parse, self._ws_signature if private else None)
        return open_feed

    def _track(self, stream: ResilientStream[T]) -> ResilientStream[T]:
        self._streams.append(stream)
        return stream

    def stream_bbo(self, symbol: str) -> AsyncIterator[BBO]:
        return self._track(ResilientStream(f"backpack.bbo.{symbol}", self._feed(
            f"bookTicker.{wire.market_symbol(symbol)}", lambda d: [wire.bbo_of(symbol, d)])))

    def stream_book(self, symbol: str, depth: int = 10) -> AsyncIterator[Book]:
        """A local book: the REST snapshot when (re)connected, then absolute level updates."""
        levels: dict[str, dict[Decimal, Decimal]] = {"b": {}, "a": {}}

        def apply(d: dict[str, Any]) -> list[Book]:
            for key in ("b", "a"):
                for p, q in d.get(key) or []:
                    price, size = wire.dec(p), wire.dec(q)
                    if size:
                        levels[key][price] = size
                    else:
                        levels[key].pop(price, None)
            bids = sorted(levels["b"].items(), reverse=True)[:depth]
            asks = sorted(levels["a"].items())[:depth]
            if not bids or not asks:
                return []
            return [Book(VENUE, symbol, tuple(BookLevel(p, q) for p, q in bids),
                         tuple(BookLevel(p, q) for p, q in asks), int(d.get("T") or d["E"]) / 1e6)]

        async def seed(since: float) -> list[Book]:
            snap = await self.book(symbol, 1000)
            levels["b"] = {lv.price: lv.size for lv in snap.bids}
            levels["a"] = {lv.price: lv.size for lv in snap.asks}
            return []

        return self._track(ResilientStream(f"backpack.book.{symbol}", self._feed(
            f"depth.{wire.market_symbol(symbol)}", apply), catch_up=seed, since=self.clock.now()))

    def _from_start(self, name: str, stream: str, parse: Callable[[dict[str, Any]], list[T]],
                    catch_up: Callable[[float], Any], key: Callable[[T], Any], ts: Callable[[T], float],
                    **kw: Any) -> ResilientStream[T]:
        start = self.clock.now() - START_SKEW_S

        async def since_start(since: float) -> list[T]:
            return [x for x in await catch_up(since) if ts(x) >= start]

        return self._track(ResilientStream(name, self._feed(stream, parse, private=True), catch_up=since_start,
                                           key=key, ts=ts, since=start, **kw))

    def stream_orders(self) -> AsyncIterator[Order]:
        def parse(d: dict[str, Any]) -> list[Order]:
            return [wire.order_event(d, self._client_ids)]

        async def catch_up(since: float) -> list[Order]:
            rows = await self._call("GET", "/wapi/v1/history/orders", {"limit": 1000}, "orderHistoryQueryAll")
            return sorted((wire.order(r, self._client_ids) for r in rows or []), key=lambda o: o.ts)

        return self._from_start("backpack.orders", "account.orderUpdate", parse, catch_up,
                                key=lambda o: (o.order_id, o.status, o.filled), ts=lambda o: o.ts)

    def stream_fills(self) -> AsyncIterator[Fill]:
        def parse(d: dict[str, Any]) -> list[Fill]:
            return [wire.fill_event(d, self._client_ids)] if d.get("e") == "orderFill" else []

        return self._from_start("backpack.fills", "account.orderUpdate", parse, self.fills,
                                key=lambda f: f.key, ts=lambda f: f.ts)

    def stream_positions(self) -> AsyncIterator[Position]:
        """Position updates; after a reconnect, the REST positions and size 0 for every symbol last
        seen open that the venue no longer lists (``ClosedPositions``: the contract's rule)."""
        closed = ClosedPositions(VENUE, self.positions, self.clock.now)
        return self._track(ResilientStream(
            "backpack.positions", self._feed("account.positionUpdate", lambda d: [wire.position(d, "ws")], True),
            catch_up=closed.catch_up, ts=lambda p: p.ts, since=self.clock.now(), observe=closed.observe))

