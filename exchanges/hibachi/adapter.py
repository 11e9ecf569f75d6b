"""Hibachi: the venue contract over Hibachi's REST API and WebSockets, with aiohttp and websockets.

The official SDK (hibachi-xyz) needs Python >= 3.13, so this is a thin client of our own over the
published protocol (see README.md here for what it rests on).

Requests
  Market data from the data API (``/market/...``, no authorization); account and trade calls to
  the trade API with the API key in ``Authorization`` and ``accountId`` in the query or body.
  Orders and cancels carry a signature of their binary payload (``wire``: HMAC-SHA256 for an
  exchange-managed account, ECDSA secp256k1 for a trustless one) and a nonce. Everything goes
  through the one request policy (``exchanges.policy``); there is no session to renew.
Orders
  Hibachi orders carry no client id: the nonce identifies one (``GET /trade/order?nonce=``,
  cancel by nonce), so an order's nonce is a stable hash of perpflow's client id
  (``wire.nonce_of``): every (re)send of that order carries the same nonce, and any process can
  look it up by client id. ``POST /trade/order``
  answers only the order id: a post-only order is acknowledged by that answer (it cannot fill as
  placed; one that would cross is refused by the POST), any other is read back until the engine
  has ruled on it.
  ``orderFlags`` holds one flag: ``place_market`` is a LIMIT IOC at the slippage cap from the
  touch, and a reduce-only one a LIMIT REDUCE_ONLY at the cap whose unfilled rest is cancelled at
  once (IOC and REDUCE_ONLY cannot be combined). Every order signs ``maxFeesPercent``: the
  account's taker rate, so the venue never charges more than the rate read at start.
Fills and fees
  ``/trade/account/trades`` returns the newest trades first, at most ``page_size``, paged back by
  ``endTime``; its rows carry the fee but no maker flag, so maker/taker is read from the fee
  against the account's rates (``wire.liquidity``). The rates come from ``/trade/account/info``.
Streams
  ``orderbook`` on ``/ws/market`` (a Snapshot then Updates) for the book and the BBO; the account
  stream (``/ws/account``, ``stream.start`` + pings) for orders, fills (``trade_update``) and
  positions (the start snapshot, then ``position_update``). Each a ``ResilientStream``: fills
  catch up over REST, positions read ``ClosedPositions`` after a reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any, Generic, TypeVar

from core.clock import Clock, RealClock
from core.errors import BadResponse, ConfigError, OrderRejected, VenueTimeout, VenueUnavailable
from core.reasons import Reason
from core.types import BBO, Balance, Book, Fill, FundingRate, Instrument, Order, OrderStatus, OrderType, Position, Side
from exchanges.base import Venue
from exchanges.credentials import SecretRedactor, resolve_secret
from exchanges.hibachi import wire
from exchanges.hibachi.settings import HibachiSettings
from exchanges.hibachi.stream import AccountFeed, MarketFeed
from exchanges.http import JsonHttp, request_json
from exchanges.loopbind import LoopBinding
from exchanges.policy import RequestPolicy
from exchanges.pricing import slippage_limit
from exchanges.streams import ClosedPositions, ResilientStream

T = TypeVar("T")
VENUE = wire.VENUE
DEFAULT_URL = "https://api.hibachi.xyz"
DEFAULT_DATA_URL = "https://data-api.hibachi.xyz"
START_SKEW_S = 0.5
FUNDING_INTERVAL_S = 8 * 3600
log = logging.getLogger("perpflow.hibachi")


def ws_url(http_url: str, path: str) -> str:
    return http_url.rstrip("/").replace("https://", "wss://", 1).replace("http://", "ws://", 1) + path


class HibachiVenue(Venue):
    name = VENUE

    def __init__(self, settings: HibachiSettings, *, clock: Clock | None = None, settle_timeout_s: float = 2.0) -> None:
        self.settings = settings
        self.clock = clock or RealClock()
        self.settle_timeout_s = settle_timeout_s
        self.page_size = 100  # rows per page of the account trades (the venue's own maximum)
        self.redactor = SecretRedactor()
        self.policy = RequestPolicy(settings, VENUE, log=log)
        self._signer: wire.Signer | None = None
        self._api_key: str | None = None
        self._account = 0
        self._http: JsonHttp | None = None
        self._data: JsonHttp | None = None
        self._loop = LoopBinding()
        self._start_lock = asyncio.Lock()
        self._markets: dict[str, dict[str, Any]] = {}  # venue symbol -> futureContracts row
        self._instruments: dict[str, Instrument] = {}
        self._fees: tuple[Decimal, Decimal] | None = None
        self._client_ids: dict[str, str] = {}  # order id -> client id
        self._last_nonce = 0
        self._streams: list[ResilientStream[Any]] = []

    def __repr__(self) -> str:
        endpoint = self.settings.endpoint or DEFAULT_URL
        return f"HibachiVenue(endpoint={endpoint!r}, account_id={self.settings.account_id!r})"

    # --- lifecycle -----------------------------------------------------------------------------
    @staticmethod
    def check_settings(s: HibachiSettings) -> None:
        """What a session needs, checked before anything connects; errors name the field, never the
        value. (The key's form is checked by ``start``, once a ``prefect-secret:`` is resolved.)"""
        if s.api_key is None or not s.api_key.get_secret_value().strip():
            raise ConfigError("hibachi.api_key", "is required to trade on Hibachi (the API key of the account)")
        if s.private_key is None or not s.private_key.get_secret_value().strip():
            raise ConfigError("hibachi.private_key", "is required to trade on Hibachi (0x + 64 hex digits for a "
                                                     "trustless account, the HMAC secret for an exchange-managed one)")
        if not s.account_id or not str(s.account_id).strip().isdigit():
            raise ConfigError("hibachi.account_id", "is required to trade on Hibachi: the account's number "
                                                    "(digits only)")

    def _rebind(self) -> None:
        """On a new event loop (a flow's next ``Clock.run`` phase), forget the closed loop's HTTP
        clients, lock and streams (see loopbind); requests carry no session to renew."""
        if self._loop.moved():
            for client in (self._http, self._data):
                if client is not None:
                    client.forget()
            self._http, self._data, self._start_lock = None, None, asyncio.Lock()
            self._streams.clear()

    async def start(self) -> None:
        self._rebind()
        async with self._start_lock:
            if self._http is not None:
                return
            self.check_settings(self.settings)
            key = await resolve_secret(self.settings.private_key, "hibachi.private_key")
            api_key = await resolve_secret(self.settings.api_key, "hibachi.api_key")
            assert key is not None and api_key is not None
            raw, self._api_key = key.get_secret_value().strip(), api_key.get_secret_value().strip()
            self.redactor.add(raw)
            self.redactor.add(self._api_key)
            self.redactor.attach(("aiohttp.client", "websockets.client", log.name))
            problem = wire.check_key(raw)
            if problem:
                raise ConfigError("hibachi.private_key", problem)
            self._signer = wire.Signer(raw)
            self._account = int(str(self.settings.account_id).strip())
            timeout = self.settings.request_timeout_s
            self._data = JsonHttp(self.settings.data_endpoint or DEFAULT_DATA_URL, timeout)
            self._http = JsonHttp(self.settings.endpoint or DEFAULT_URL, timeout)

    async def close(self) -> None:
        self._rebind()  # what a finished loop held died with it
        for s in self._streams:
            await s.aclose()
        self._streams.clear()
        for client in (self._http, self._data):
            if client is not None:
                await client.aclose()
        self._http = self._data = None

    # --- requests ------------------------------------------------------------------------------
    async def _send(self, method: str, path: str, params: dict[str, Any] | None, body: dict[str, Any] | None,
                    private: bool) -> Any:
        self._rebind()
        if self._http is None:
            await self.start()
        client = self._http if private else self._data
        assert client is not None and self._api_key is not None
        headers = {"Authorization": self._api_key} if private else {}
        return await request_json(client, method, path, venue=VENUE, error_of=wire.error, json=body, headers=headers,
                                  params={k: v for k, v in (params or {}).items() if v is not None})

    async def _call(self, method: str, path: str, params: dict[str, Any] | None = None, *,
                    body: dict[str, Any] | None = None, private: bool = True, idempotent: bool = True) -> Any:
        return await self.policy.call(f"{method} {path}", lambda: self._send(method, path, params, body, private),
                                      idempotent=idempotent)

    def _q(self, **params: Any) -> dict[str, Any]:
        return {"accountId": self._account, **params}

    def _sign(self, payload: bytes) -> str:
        assert self._signer is not None
        return self._signer.sign(payload)

    def _nonce(self) -> int:
        """A fresh nonce: µs since the epoch (what the SDK sends), strictly increasing here."""
        self._last_nonce = max(int(time.time() * 1_000_000), self._last_nonce + 1)
        return self._last_nonce

    # --- metadata ------------------------------------------------------------------------------
    async def _contracts(self) -> dict[str, dict[str, Any]]:
        if not self._markets:
            info = await self._call("GET", "/market/exchange-info", private=False)
            if str(info.get("status", "NORMAL")) != "NORMAL":
                raise VenueUnavailable(f"the exchange is in {info.get('status')}", VENUE)
            self._markets = {str(r["symbol"]): r for r in info.get("futureContracts") or []}
        return self._markets

    async def _contract(self, symbol: str) -> wire.Contract:
        await self.instrument(symbol)
        return wire.contract(self._markets[wire.market_symbol(symbol)])

    async def instrument(self, symbol: str) -> Instrument:
        if symbol in self._instruments:
            return self._instruments[symbol]
        market = wire.market_symbol(symbol)
        row = (await self._contracts()).get(market)
        if row is None or row.get("status", "LIVE") != "LIVE":
            raise OrderRejected(Reason.UNKNOWN_SYMBOL, f"{market} is not listed", VENUE)
        maker, taker = await self._fee_rates()
        ins = wire.instrument(row, maker, taker)
        self._instruments[symbol] = ins
        return ins

    async def _fee_rates(self) -> tuple[Decimal, Decimal]:
        """The account's maker/taker rates (``tradeMakerFeeRate`` / ``tradeTakerFeeRate``)."""
        if self._fees is None:
            info = await self._call("GET", "/trade/account/info", self._q())
            self._fees = (wire.dec(info["tradeMakerFeeRate"]), wire.dec(info["tradeTakerFeeRate"]))
        return self._fees

    # --- orders --------------------------------------------------------------------------------
    async def place_limit(self, symbol: str, side: Side, price: Decimal, size: Decimal, *, client_id: str,
                          post_only: bool = False, reduce_only: bool = False) -> Order:
        flag = "POST_ONLY" if post_only else "REDUCE_ONLY" if reduce_only else None
        if post_only and reduce_only:
            raise ConfigError("reduce_only", "Hibachi orders carry one flag: post-only or reduce-only, not both")
        return await self._place(symbol, side, price, size, client_id, flag)

    async def place_market(self, symbol: str, side: Side, size: Decimal, *, client_id: str,
                           max_slippage_bps: Decimal, reduce_only: bool = False) -> Order:
        ins = await self.instrument(symbol)
        cap = slippage_limit(side, await self.bbo(symbol), Decimal(max_slippage_bps), ins)
        order = await self._place(symbol, side, cap, size, client_id, "REDUCE_ONLY" if reduce_only else "IOC")
        if reduce_only and not order.status.is_final:  # the rest beyond the cap: cancelled at once
            order = await self.cancel(symbol, order_id=order.order_id)
        return order.evolve(type=OrderType.MARKET, price=None)

    async def _place(self, symbol: str, side: Side, price: Decimal, size: Decimal, client_id: str,
                     flag: str | None) -> Order:
        if not client_id:
            raise ConfigError("client_id", "every order needs a client id")
        c = await self._contract(symbol)
        fee_cap = max(await self._fee_rates())
        fee_cap = max(fee_cap, Decimal(0))
        nonce = wire.nonce_of(client_id)
        body: dict[str, Any] = {
            "accountId": self._account, "symbol": c.symbol, "nonce": nonce, "orderType": "LIMIT",
            "side": wire.SIDES[side], "quantity": wire.text(size), "price": wire.text(price),
            "maxFeesPercent": wire.text(fee_cap),
            "signature": self._sign(wire.order_payload(c, nonce, side, size, price, fee_cap))}
        if flag:
            body["orderFlags"] = flag
        what = f"POST /trade/order ({client_id})"

        async def send() -> dict[str, Any]:
            return await self._call("POST", "/trade/order", body=body, idempotent=False)  # type: ignore[no-any-return]

        async def lookup() -> dict[str, Any] | None:
            return await self._lookup(nonce=nonce)

        placed = await self.policy.place(what, send, lookup)
        if not isinstance(placed, dict) or placed.get("orderId") is None:
            raise BadResponse(f"{what}: the answer has no orderId", VENUE)
        oid = str(placed["orderId"])
        self._client_ids[oid] = client_id
        if flag == "POST_ONLY":
            order = self._acknowledged(placed, symbol, side, price, size, client_id)
        else:
            order = await self._settled(oid)
        if order.status is OrderStatus.REJECTED:
            raise OrderRejected(Reason.REJECTED, f"{what}: the venue rejected order {oid}", VENUE)
        return order

    def _acknowledged(self, placed: dict[str, Any], symbol: str, side: Side, price: Decimal, size: Decimal,
                      client_id: str) -> Order:
        """A post-only order as the POST's answer acknowledges it, without reading it back: it cannot
        fill as it is placed, and one that would cross is refused by the POST itself, so accepted
        means resting; what happens to it next comes on the order and fill streams. (A row found by
        the look-up after a lost answer is read as it is.)"""
        if "status" in placed:
            return wire.order(placed, self._client_ids)
        return Order(VENUE, str(placed["orderId"]), client_id, symbol, side, OrderType.LIMIT, price, size,
                     status=OrderStatus.OPEN, post_only=True, ts=self.clock.now())

    async def _settled(self, order_id: str) -> Order:
        """The order once the engine has ruled (Hibachi accepts an order before matching it)."""
        deadline = time.monotonic() + self.settle_timeout_s
        while True:
            raw = await self._lookup(order_id=order_id)
            if raw is None:
                raise VenueTimeout(f"order {order_id} was accepted but cannot be read back", VENUE)
            order = wire.order(raw, self._client_ids)
            if order.status is not OrderStatus.NEW or time.monotonic() > deadline:
                return await self._with_average(order)
            await asyncio.sleep(0.02)

    async def _with_average(self, order: Order) -> Order:
        """Fill the average price from the account trades when the order row does not carry it."""
        if not order.filled or order.avg_price is not None:
            return order
        fills = [f for f in await self.fills(order.ts - 1 if order.ts else 0, order.symbol)
                 if f.order_id == order.order_id]
        size = sum((f.size for f in fills), Decimal(0))
        if not size:
            return order
        return order.evolve(avg_price=sum((f.price * f.size for f in fills), Decimal(0)) / size)

    async def _lookup(self, *, order_id: str | None = None, nonce: int | None = None) -> dict[str, Any] | None:
        """``GET /trade/order`` by order id or nonce; None when the venue has no such order."""
        try:
            return await self._call("GET", "/trade/order",  # type: ignore[no-any-return]
                                    self._q(orderId=order_id, nonce=None if order_id is not None else nonce))
        except OrderRejected as exc:
            if exc.reason is not Reason.UNKNOWN_ORDER:
                raise
            return None

    def _ref(self, order_id: str | None, client_id: str | None) -> tuple[str | None, int | None]:
        if order_id is None and client_id is None:
            raise ConfigError("order_id", "give order_id or client_id")
        if order_id is not None:
            return order_id, None
        assert client_id is not None
        return None, wire.nonce_of(client_id)

    async def cancel(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> Order:
        oid, nonce = self._ref(order_id, client_id)
        if oid is not None and not oid.isdigit():
            raise OrderRejected(Reason.UNKNOWN_ORDER, f"no order {oid!r} on {symbol}", VENUE)
        body: dict[str, Any] = {"accountId": self._account,
                                "signature": self._sign(wire.id_payload(int(oid) if oid else nonce))}  # type: ignore[arg-type]
        body |= {"orderId": oid} if oid is not None else {"nonce": str(nonce)}
        try:
            await self._call("DELETE", "/trade/order", body=body)
        except OrderRejected as exc:
            if exc.reason is not Reason.UNKNOWN_ORDER:
                raise
        raw = await self._lookup(order_id=oid, nonce=nonce)  # the final state; a filled one reads FILLED
        if raw is None or wire.user_symbol(str(raw["symbol"])) != symbol:
            raise OrderRejected(Reason.UNKNOWN_ORDER, f"no order {order_id or client_id!r} on {symbol}", VENUE)
        order = wire.order(raw, self._client_ids)
        if not order.status.is_final:  # accepted, not yet processed: read until it is
            order = await self._until_final(order.order_id)
        return await self._with_average(order)

    async def _until_final(self, order_id: str) -> Order:
        deadline = time.monotonic() + self.settle_timeout_s
        while True:
            raw = await self._lookup(order_id=order_id)
            if raw is None:
                raise VenueTimeout(f"order {order_id} vanished while being cancelled", VENUE)
            order = wire.order(raw, self._client_ids)
            if order.status.is_final or time.monotonic() > deadline:
                return order
            await asyncio.sleep(0.02)

    async def cancel_all(self, symbol: str | None = None) -> list[Order]:
        """``DELETE /trade/orders`` (per market with ``contractId``), then each order's final state."""
        live = await self.open_orders(symbol)
        if not live:
            return []
        nonce = self._nonce()
        body: dict[str, Any] = {"accountId": self._account, "nonce": nonce,
                                "signature": self._sign(wire.id_payload(nonce))}
        if symbol is not None:
            body["contractId"] = (await self._contract(symbol)).id
        await self._call("DELETE", "/trade/orders", body=body)
        return [await self._until_final(o.order_id) for o in live]

    async def order(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> Order | None:
        oid, nonce = self._ref(order_id, client_id)
        raw = await self._lookup(order_id=oid, nonce=nonce)
        if raw is None or wire.user_symbol(str(raw["symbol"])) != symbol:
            return None
        if client_id is not None:
            self._client_ids.setdefault(str(raw["orderId"]), client_id)
        return await self._with_average(wire.order(raw, self._client_ids))

    # --- state ---------------------------------------------------------------------------------
    async def bbo(self, symbol: str) -> BBO:
        return (await self.book(symbol, 1)).bbo()

    async def _granularity(self, symbol: str) -> str:
        await self.instrument(symbol)
        row = self._markets[wire.market_symbol(symbol)]
        options = sorted(row.get("orderbookGranularities") or [row["tickSize"]], key=Decimal)
        return str(options[0])

    async def book(self, symbol: str, depth: int = 10) -> Book:
        params = {"symbol": wire.market_symbol(symbol), "depth": max(1, min(depth, 100)),
                  "granularity": await self._granularity(symbol)}
        raw = await self._call("GET", "/market/data/orderbook", params, private=False)
        b = wire.book(symbol, raw, depth, self.clock.now())
        if not b.bids or not b.asks:
            raise VenueUnavailable(f"{symbol}: the book is empty", VENUE)
        return b

    async def trades(self, symbol: str, limit: int = 100) -> list[Any]:
        raw = await self._call("GET", "/market/data/trades", {"symbol": wire.market_symbol(symbol)}, private=False)
        rows = sorted((wire.trade(symbol, r) for r in raw.get("trades") or []), key=lambda t: t.ts)
        return rows[-limit:]

    async def funding_rate(self, symbol: str) -> FundingRate:
        raw = await self._call("GET", "/market/data/prices", {"symbol": wire.market_symbol(symbol)}, private=False)
        est = raw.get("fundingRateEstimation") or {}
        nxt = est.get("nextFundingTimestamp")
        return FundingRate(VENUE, symbol, wire.dec(est.get("estimatedFundingRate") or 0), FUNDING_INTERVAL_S,
                           float(nxt) if nxt is not None else None, self.clock.now())

    async def _account_info(self) -> dict[str, Any]:
        return await self._call("GET", "/trade/account/info", self._q())  # type: ignore[no-any-return]

    async def positions(self) -> list[Position]:
        now = self.clock.now()  # REST positions carry no time: they are as of this read
        return [wire.position(r, "rest", now) for r in (await self._account_info()).get("positions") or []]

    async def balance(self) -> Balance:
        return wire.balance(await self._account_info(), self.clock.now())

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        rows = await self._call("GET", "/trade/orders", self._q())
        out = [wire.order(r, self._client_ids) for r in rows or []]
        return [o for o in out if symbol is None or o.symbol == symbol]

    async def fills(self, since: float, symbol: str | None = None) -> list[Fill]:
        """Pages back through the account trades (newest first, ``page_size`` a page) from now to
        ``since``, ``endTime`` the oldest time seen (inclusive, so rows sharing it are not lost)."""
        rates = await self._fee_rates()
        seen: dict[str, Fill] = {}
        end: float | None = None
        while True:
            params = self._q(startTime=int(since), endTime=None if end is None else f"{end:.9f}",
                             limit=self.page_size)
            rows = (await self._call("GET", "/trade/account/trades", params)).get("trades") or []
            fresh = [wire.fill(r, self._client_ids, rates) for r in rows]
            fresh = [f for f in fresh if f.trade_id not in seen]
            for f in fresh:
                seen[f.trade_id] = f
            if len(rows) < self.page_size or not fresh:
                break
            end = min(f.ts for f in fresh)
            if end < since:
                break
        return sorted((f for f in seen.values() if f.ts >= since and (symbol is None or f.symbol == symbol)),
                      key=lambda f: (f.ts, f.trade_id))

    # --- streams -------------------------------------------------------------------------------
    def _track(self, stream: ResilientStream[T]) -> ResilientStream[T]:
        self._streams.append(stream)
        return stream

    def _book_feed(self, symbol: str, depth: int, emit: Callable[[Book], list[T]]) -> Callable[[], MarketFeed[T]]:
        url = ws_url(self.settings.data_endpoint or DEFAULT_DATA_URL, "/ws/market")
        market = wire.market_symbol(symbol)

        def open_feed() -> MarketFeed[T]:
            state: dict[str, dict[Decimal, Decimal]] = {}
            row = self._markets.get(market) or {}
            granularity = sorted(row.get("orderbookGranularities") or [row.get("tickSize", "0.01")], key=Decimal)[0]

            def parse(msg: dict[str, Any]) -> list[T]:
                wire.apply_book_update(state, msg.get("data") or {})
                b = wire.book_of(symbol, state, depth, self.clock.now())
                return [] if b is None else emit(b)

            sub = {"symbol": market, "topic": "orderbook", "depth": max(depth, 10), "granularity": str(granularity)}
            return MarketFeed(url, sub, parse)
        return open_feed

    def stream_bbo(self, symbol: str) -> AsyncIterator[BBO]:
        return self._track(ResilientStream(f"hibachi.bbo.{symbol}", self._book_feed(symbol, 1, lambda b: [b.bbo()])))

    def stream_book(self, symbol: str, depth: int = 10) -> AsyncIterator[Book]:
        return self._track(ResilientStream(f"hibachi.book.{symbol}", self._book_feed(symbol, depth, lambda b: [b])))

    def _account_feed(self, parse: Callable[[dict[str, Any]], list[T]],
                      on_start: Callable[[dict[str, Any]], list[T]] | None = None) -> Callable[[], AccountFeed[T]]:
        url = ws_url(self.settings.ws_endpoint or self.settings.endpoint or DEFAULT_URL, "/ws/account")

        def api_key() -> str:
            assert self._api_key is not None
            return self._api_key

        def open_feed() -> AccountFeed[T]:
            if self._api_key is None:
                raise VenueUnavailable("the adapter is not started", VENUE)
            return AccountFeed(url, self._account, api_key, parse, on_start)
        return open_feed

    def _from_start(self, name: str, parse: Callable[[dict[str, Any]], list[T]],
                    catch_up: Callable[[float], Any] | None, key: Callable[[T], Any], ts: Callable[[T], float],
                    **kw: Any) -> ResilientStream[T]:
        start = self.clock.now() - START_SKEW_S

        async def since_start(since: float) -> list[T]:
            assert catch_up is not None
            return [x for x in await catch_up(since) if ts(x) >= start]

        return self._track(ResilientStream(name, self._account_feed(parse), catch_up=since_start if catch_up else None,
                                           key=key, ts=ts, since=start, **kw))

    def stream_orders(self) -> AsyncIterator[Order]:
        def parse(msg: dict[str, Any]) -> list[Order]:
            if msg.get("topic") not in ("ORDER_CREATED", "ORDER_UPDATED", "ORDER_CANCELED"):
                return []
            return [wire.order(msg["data"], self._client_ids)]

        return self._from_start("hibachi.orders", parse, None, key=lambda o: (o.order_id, o.status, o.filled),
                                ts=lambda o: o.ts)

    def stream_fills(self) -> AsyncIterator[Fill]:
        def parse(msg: dict[str, Any]) -> list[Fill]:
            if msg.get("topic") != "trade_update" or self._fees is None:
                return []
            return [wire.fill(msg["data"], self._client_ids, self._fees)]

        async def catch_up(since: float) -> list[Fill]:
            return await self.fills(since)

        stream = self._from_start("hibachi.fills", parse, catch_up, key=lambda f: f.key, ts=lambda f: f.ts)
        return _AfterFirst(self._fee_rates, stream)

    def stream_positions(self) -> AsyncIterator[Position]:
        """The start snapshot's positions, then updates; after a reconnect the REST positions and
        size 0 for every symbol last seen open that the venue no longer lists (``ClosedPositions``)."""
        closed = ClosedPositions(VENUE, self.positions, self.clock.now)

        def parse(msg: dict[str, Any]) -> list[Position]:
            if msg.get("topic") != "position_update":
                return []
            return [wire.position(msg["data"], "ws", self.clock.now())]

        def on_start(result: dict[str, Any]) -> list[Position]:
            snap = result.get("accountSnapshot") or {}
            return [wire.position(p, "ws", self.clock.now()) for p in snap.get("positions") or []]

        return self._track(ResilientStream("hibachi.positions", self._account_feed(parse, on_start),
                                           catch_up=closed.catch_up, ts=lambda p: p.ts, since=self.clock.now(),
                                           observe=closed.observe))


class _AfterFirst(Generic[T]):
    """``stream`` once ``first()`` has run (the fill stream needs the account's fee rates to tell
    maker from taker before its first event)."""

    def __init__(self, first: Callable[[], Any], stream: ResilientStream[T]) -> None:
        self._first = first
        self._stream = stream
        self._ready = False

    def __aiter__(self) -> _AfterFirst[T]:
        return self

    async def __anext__(self) -> T:
        if not self._ready:
            await self._first()
            self._ready = True
        return await anext(self._stream)

    async def aclose(self) -> None:
        await self._stream.aclose()
