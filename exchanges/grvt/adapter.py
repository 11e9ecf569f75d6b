"""GRVT: the venue contract over grvt-pysdk (``GrvtCcxtWS``, adapted in ``grvt_client``/``grvt_ws``).

Orders
  Every order carries a client id (GRVT's uint64 ``client_order_id``, derived stably from
  perpflow's client id, see ``grvt_wire.client_order_id``) and an explicit expiry: GRVT signs an
  expiration into each order and cancels the order when it passes, so ``order_ttl_s`` (default
  one day, at most GRVT's 30 days) is set on every order, and an order that outlives it shows up
  as EXPIRED on the order stream and in lookups -- it never disappears silently.
  ``place_market`` is an IOC limit order at the slippage cap (GRVT's own market orders have no
  price limit), so it never executes beyond ``max_slippage_bps`` from the touch.

Retries
  The one request policy (``exchanges.policy``): 429 waited out per ``Retry-After``, reads and
  cancels retried on 5xx and timeouts, an order looked up by client id before any resend, a
  forgotten session logged in again once.

Streams
  BBO (``mini.d``, merged deltas), book (``book.s``), orders, fills and positions, each a
  ``ResilientStream``: reconnect, resubscribe, then catch up over REST (fills from
  ``fill_history``, orders from ``order_history`` + open orders, positions re-read), keyed so
  nothing is yielded twice.

Credentials come from ``GrvtSettings`` (``.env``) or Prefect Secret blocks
(``prefect-secret:<block>``); the API key, private key and session cookie never reach logs,
exception messages or reprs.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from decimal import Decimal
from typing import Any, TypeVar

from eth_account import Account
from pysdk.grvt_ccxt_env import GrvtEnv
from pysdk.grvt_ccxt_types import GrvtInstrumentKind, GrvtInvalidOrder

from core.clock import Clock, RealClock
from core.errors import (
    ConfigError,
    OrderRejected,
    VenueUnavailable,
)
from core.reasons import Reason
from core.types import BBO, Balance, Book, Fill, Instrument, Order, OrderStatus, OrderType, Position, Side, Trade
from exchanges.base import Venue
from exchanges.credentials import SecretRedactor, resolve_secret
from exchanges.grvt.client import GrvtClient, GrvtUrls
from exchanges.grvt.settings import GrvtSettings
from exchanges.grvt.stream import GrvtFeed
from exchanges.grvt.wire import (
    VENUE,
    client_order_id,
    dec,
    fee_rate,
    grvt_code,
    instrument_of,
    ns,
    parse_book,
    parse_fill,
    parse_instrument,
    parse_mini,
    parse_order,
    parse_position,
    parse_trade,
    seconds,
)
from exchanges.loopbind import LoopBinding
from exchanges.policy import RequestPolicy
from exchanges.pricing import slippage_limit
from exchanges.streams import ClosedPositions, ResilientStream

T = TypeVar("T")
DEFAULT_ORDER_TTL_S = 24 * 3600.0
MAX_ORDER_TTL_S = 30 * 24 * 3600.0  # GRVT refuses signatures expiring later than 30 days
BOOK_DEPTHS = (10, 50, 100, 500)  # what GRVT's book endpoints accept
MINI_RATE_MS = 0  # mini.d "raw": every top-of-book change
BOOK_RATE_MS = 500
_BBO_FIELDS = ("best_bid_price", "best_bid_size", "best_ask_price", "best_ask_size")
START_SKEW_S = 0.5  # order and fill streams catch up from this long before they started (clock skew)


class GrvtVenue(Venue):
    """The GRVT venue. ``settings`` gives env, endpoints and credentials (see module docstring)."""

    name = VENUE

    def __init__(self, settings: GrvtSettings, *, clock: Clock | None = None,
                 order_ttl_s: float = DEFAULT_ORDER_TTL_S, settle_timeout_s: float = 2.0,
                 stream_timeout_s: float = 10.0, ws_reconnect_max_s: float = 5.0,
                 logger: logging.Logger | None = None) -> None:
        if not 1 <= order_ttl_s <= MAX_ORDER_TTL_S:
            raise ConfigError("order_ttl_s", f"{order_ttl_s} is outside 1 .. {MAX_ORDER_TTL_S:.0f} s "
                                             "(GRVT signatures expire within 30 days)")
        self.settings = settings
        self.clock = clock or RealClock()
        self.order_ttl_s = order_ttl_s
        self.request_timeout_s = settings.request_timeout_s
        self.settle_timeout_s = settle_timeout_s
        self.stream_timeout_s = stream_timeout_s
        self.ws_reconnect_max_s = ws_reconnect_max_s
        self.log = logger or logging.getLogger("perpflow.grvt")
        self.redactor = SecretRedactor(mask="***")  # the mask GRVT's logs have always shown
        self._sdk_log = logging.getLogger("perpflow.grvt.sdk")  # grvt-pysdk's own logging
        self._ws_log = logging.getLogger("perpflow.grvt.websockets")  # websockets' protocol logging
        self._client: GrvtClient | None = None
        self._closed = False
        self._streams: weakref.WeakSet[ResilientStream[Any]] = weakref.WeakSet()
        self._start_lock = asyncio.Lock()
        self._loop = LoopBinding()
        self._instruments: dict[str, Instrument] = {}
        self._fees: tuple[Decimal, Decimal] | None = None
        self._client_ids: dict[str, str] = {}  # GRVT client_order_id -> perpflow client id
        self.page_size = 1000  # rows per page of fill_history
        # the one request policy (exchanges.policy); a forgotten session (GRVT code 1000) logs in again, once
        self.policy = RequestPolicy(settings, VENUE, log=self.log, reauth=self._relogin,
                                    stale_session=lambda exc: exc.reason is Reason.AUTH and grvt_code(exc) == 1000
                                    and self._client is not None)

    @property
    def retries(self) -> int:
        return self.policy.retries

    async def _relogin(self) -> None:
        if self._client is not None:
            self._client.invalidate_cookie()  # the next request logs in again

    def __repr__(self) -> str:
        return f"GrvtVenue(env={self.settings.env!r}, account={self.settings.trading_account_id!r})"

    # --- lifecycle -----------------------------------------------------------------------------
    def _rebind(self) -> None:
        """On a new event loop, forget the connections and streams of the closed one (see loopbind)."""
        if self._loop.moved():
            self.log.info("grvt: new event loop; the previous loop's connections are gone, reconnecting")
            if self._client is not None:
                self._client.abandon()
            self._client = None
            self._streams = weakref.WeakSet()
            self._start_lock = asyncio.Lock()

    async def start(self) -> None:
        self._rebind()
        async with self._start_lock:
            self._closed = False
            if self._client is not None:
                return
            self.redactor.attach((self._sdk_log.name, self._ws_log.name))
            api_key, private_key, account = await self._credentials()
            env = GrvtEnv(self.settings.env)
            urls = GrvtUrls.single(self.settings.endpoint, self.settings.ws_endpoint)
            client = GrvtClient(env, api_key=api_key, private_key=private_key, trading_account_id=account,
                                urls=urls, redactor=self.redactor, logger=self._sdk_log,
                                protocol_logger=self._ws_log, timeout_s=self.request_timeout_s,
                                reconnect_max_s=self.ws_reconnect_max_s)
            try:
                await self._with_retries("login", client.open, idempotent=True)
            except BaseException:
                await client.aclose()
                raise
            self._client = client

    @staticmethod
    def check_settings(s: GrvtSettings) -> None:
        """What a session needs, checked before anything connects; errors name the field."""
        missing = [n for n, v in (("grvt.api_key", s.api_key), ("grvt.private_key", s.private_key),
                                  ("grvt.trading_account_id", s.trading_account_id)) if not v]
        if missing:
            raise ConfigError(missing[0], "is required to trade on GRVT (settings or a Prefect Secret block)")

    async def _credentials(self) -> tuple[str, str, str]:
        s = self.settings
        self.check_settings(s)
        api_key = await resolve_secret(s.api_key, "grvt.api_key")
        private_key = await resolve_secret(s.private_key, "grvt.private_key")
        assert api_key is not None and private_key is not None and s.trading_account_id is not None
        self.redactor.add(api_key.get_secret_value())
        self.redactor.add(private_key.get_secret_value())
        try:
            Account.from_key(private_key.get_secret_value())
        except Exception:
            raise ConfigError("grvt.private_key", "is not a 32-byte hex private key") from None
        if not s.trading_account_id.isdigit():
            raise ConfigError("grvt.trading_account_id", "must be GRVT's numeric sub-account id")
        return api_key.get_secret_value(), private_key.get_secret_value(), s.trading_account_id

    async def close(self) -> None:
        """Close the streams this venue made and the connections (open orders stay)."""
        self._rebind()
        self._closed = True
        for stream in list(self._streams):
            await stream.aclose()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        self.redactor.detach((self._sdk_log.name, self._ws_log.name))

    async def client(self) -> GrvtClient:
        self._rebind()
        if self._client is None:
            if self._closed:
                raise VenueUnavailable("the venue was closed", VENUE)
            await self.start()
        assert self._client is not None
        return self._client

    # --- requests ------------------------------------------------------------------------------
    async def _with_retries(self, op: str, send: Callable[[], Awaitable[T]], *, idempotent: bool) -> T:
        """``send()`` under the request policy, the SDK's own argument checks as refusals."""
        async def translated() -> T:
            try:
                return await send()
            except GrvtInvalidOrder as exc:
                raise _sdk_refusal(exc) from None

        return await self.policy.call(op, translated, idempotent=idempotent)

    async def _read(self, op: str, call: Callable[[GrvtClient], Awaitable[T]]) -> T:
        client = await self.client()
        return await self._with_retries(op, lambda: call(client), idempotent=True)

    # --- metadata ------------------------------------------------------------------------------
    async def instrument(self, symbol: str) -> Instrument:
        cached = self._instruments.get(symbol)
        if cached is not None:
            return cached
        venue_symbol = instrument_of(symbol)
        try:
            raw = await self._read("instrument", lambda c: c.fetch_market(venue_symbol))
        except OrderRejected as exc:
            if exc.reason is Reason.UNKNOWN_ORDER:  # GRVT's "Data Not Found"
                raise OrderRejected(Reason.UNKNOWN_SYMBOL, f"{venue_symbol} is not listed", VENUE) from None
            raise
        if not raw:
            raise OrderRejected(Reason.UNKNOWN_SYMBOL, f"{venue_symbol} is not listed", VENUE)
        maker, taker = await self._fee_rates()
        ins = parse_instrument(raw, maker, taker)
        (await self.client()).markets[venue_symbol] = raw  # the SDK signs with instrument_hash, base_decimals
        self._instruments[symbol] = ins
        return ins

    async def _fee_rates(self) -> tuple[Decimal, Decimal]:
        """The account's futures fee tier (funding_account_summary.tier)."""
        if self._fees is None:
            resp = await self._read("funding_account_summary",
                                    lambda c: c._auth_and_post(c.url("GET_FUNDING_ACCOUNT_SUMMARY"), {}))
            tier = resp.get("tier") or {}
            self._fees = (fee_rate(tier.get("futures_maker_fee")), fee_rate(tier.get("futures_taker_fee")))
        return self._fees

    # --- orders --------------------------------------------------------------------------------
    async def place_limit(self, symbol: str, side: Side, price: Decimal, size: Decimal, *, client_id: str,
                          post_only: bool = False, reduce_only: bool = False) -> Order:
        ins = await self.instrument(symbol)
        return await self._place(ins, side, price, size, client_id, "GOOD_TILL_TIME", post_only, reduce_only)

    async def place_market(self, symbol: str, side: Side, size: Decimal, *, client_id: str,
                           max_slippage_bps: Decimal, reduce_only: bool = False) -> Order:
        ins = await self.instrument(symbol)
        cap = slippage_limit(side, await self.bbo(symbol), max_slippage_bps, ins)
        order = await self._place(ins, side, cap, size, client_id, "IMMEDIATE_OR_CANCEL", False, reduce_only)
        return order.evolve(type=OrderType.MARKET, price=None)  # sent as an IOC limit at the cap

    async def _place(self, ins: Instrument, side: Side, price: Decimal, size: Decimal, client_id: str,
                     tif: str, post_only: bool, reduce_only: bool) -> Order:
        if not client_id:
            raise ConfigError("client_id", "every order needs a client id")
        client = await self.client()
        cloid = client_order_id(client_id)
        self._client_ids[cloid] = client_id
        params = {"client_order_id": cloid, "time_in_force": tif, "post_only": post_only,
                  "reduce_only": reduce_only, "order_duration_secs": self.order_ttl_s}

        async def send() -> dict[str, Any]:
            return await client.create_order(ins.venue_symbol, "limit", "buy" if side is Side.BUY else "sell",
                                             size, price, params)

        async def create() -> dict[str, Any]:
            return await self._with_retries("create_order", send, idempotent=False)

        raw = await self.policy.place("create_order", create, lambda: self._lookup(None, cloid))
        order = await self._settled(parse_order(raw, self._client_ids))
        if order.status is OrderStatus.REJECTED:
            reason = Reason(order.reject_reason) if order.reject_reason else Reason.REJECTED
            raise OrderRejected(reason, f"{ins.venue_symbol} {side} {size} @ {price} refused", VENUE)
        return order

    async def _lookup(self, order_id: str | None, cloid: str | None) -> dict[str, Any] | None:
        params = {"client_order_id": cloid} if cloid else {}
        try:
            resp = await self._read("order", lambda c: c.fetch_order(id=order_id, params=params))
        except OrderRejected as exc:
            if exc.reason is Reason.UNKNOWN_ORDER:
                return None
            raise
        return resp.get("result") or None

    async def _settled(self, order: Order, *, until_final: bool = False) -> Order:
        """GRVT acknowledges an order as PENDING; read it back until the engine has ruled on it
        (or, with ``until_final``, until it is final: cancels are asynchronous too)."""
        deadline = time.monotonic() + self.settle_timeout_s
        delay = 0.0
        while (order.status is OrderStatus.NEW or (until_final and not order.status.is_final)) \
                and time.monotonic() < deadline:
            await asyncio.sleep(delay)
            delay = min(max(delay * 2, 0.005), 0.1)
            raw = await self._lookup(order.order_id or None, None if order.order_id else
                                     client_order_id(order.client_id))
            if raw is None:
                break
            order = parse_order(raw, self._client_ids)
        return order

    async def cancel(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> Order:
        if order_id is None and client_id is None:
            raise ConfigError("cancel", "needs an order id or a client id")
        cloid = client_order_id(client_id) if client_id else None
        params = {"client_order_id": cloid} if cloid and not order_id else {}
        try:
            await self._read("cancel_order", lambda c: c.cancel_order(id=order_id, params=params))
        except OrderRejected as exc:
            if exc.reason is not Reason.UNKNOWN_ORDER:
                raise
        raw = await self._lookup(order_id, cloid if not order_id else None)
        if raw is None:
            raise OrderRejected(Reason.UNKNOWN_ORDER, f"no order {order_id or client_id!r} on {symbol}", VENUE)
        order = await self._settled(parse_order(raw, self._client_ids), until_final=True)
        if order.symbol != symbol:
            raise OrderRejected(Reason.UNKNOWN_ORDER, f"order {order.order_id} is on {order.symbol}, not {symbol}",
                                VENUE)
        return order

    async def cancel_all(self, symbol: str | None = None) -> list[Order]:
        before = await self.open_orders(symbol)
        params = _filter(symbol)
        await self._read("cancel_all_orders", lambda c: c.cancel_all_orders(params=params))
        return list(await asyncio.gather(*(self._settled(o, until_final=True) for o in before)))

    async def order(self, symbol: str, *, order_id: str | None = None,
                    client_id: str | None = None) -> Order | None:
        raw = await self._lookup(order_id, client_order_id(client_id) if client_id and not order_id else None)
        if raw is None:
            return None
        order = parse_order(raw, self._client_ids)
        return order if order.symbol == symbol else None

    # --- state ---------------------------------------------------------------------------------
    async def bbo(self, symbol: str) -> BBO:
        raw = await self._read("mini", lambda c: c.fetch_mini_ticker(instrument_of(symbol)))
        return parse_mini(raw)

    async def book(self, symbol: str, depth: int = 10) -> Book:
        asked = next((d for d in BOOK_DEPTHS if d >= depth), BOOK_DEPTHS[-1])
        raw = await self._read("book", lambda c: c.fetch_order_book(instrument_of(symbol), limit=asked))
        return parse_book(raw, depth)

    async def trades(self, symbol: str, limit: int = 100) -> list[Trade]:
        raw = await self._read("trade", lambda c: c.fetch_recent_trades(instrument_of(symbol), limit))
        return sorted((parse_trade(t) for t in raw), key=lambda t: t.ts)

    async def positions(self) -> list[Position]:
        raw = await self._read("positions", lambda c: c.fetch_positions())
        return [parse_position(p, "rest") for p in raw]

    async def balance(self) -> Balance:
        raw = await self._read("account_summary", lambda c: c.get_account_summary("sub-account"))
        return Balance(VENUE, str(raw.get("settle_currency") or "USDT"), dec(raw.get("total_equity") or 0),
                       dec(raw.get("available_balance") or 0), seconds(raw.get("event_time") or 0))

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        vs = instrument_of(symbol) if symbol else None
        raw = await self._read("open_orders", lambda c: c.fetch_open_orders(symbol=vs))
        return [parse_order(o, self._client_ids) for o in raw]

    async def fills(self, since: float, symbol: str | None = None) -> list[Fill]:
        """Pages through fill_history (newest first on the wire) back to ``since``."""
        out: list[Fill] = []
        cursor: str | None = None
        start = ns(since) if since > 0 else None
        for _ in range(1000):
            params = dict(_filter(symbol))
            if cursor:
                params["cursor"] = cursor
            resp = await self._read("fill_history", _fill_page(start, params, self.page_size))
            batch = [parse_fill(f, self._client_ids) for f in resp.get("result") or []]
            out.extend(f for f in batch if f.ts >= since)
            cursor = resp.get("next") or None
            if not cursor or not batch or min(f.ts for f in batch) < since:
                break
        return sorted(out, key=lambda f: (f.ts, f.trade_id))

    async def _orders_since(self, since: float) -> list[Order]:
        """Catch-up for the order stream: order history since ``since`` plus what is open now."""
        client = await self.client()
        payload = client._get_payload_fetch_order_history({"limit": 1000})
        payload["start_time"] = str(ns(since))
        resp = await self._read("order_history", lambda c: c._auth_and_post(c.url("GET_ORDER_HISTORY"), payload))
        orders = [parse_order(o, self._client_ids) for o in resp.get("result") or []]
        orders += await self.open_orders()
        return sorted(orders, key=lambda o: o.ts)

    # --- streams -------------------------------------------------------------------------------
    def _known(self, symbol: str) -> str:
        """The venue symbol, refused at once when the loaded instrument list lacks it (a stream
        would otherwise retry a subscription the venue keeps refusing)."""
        venue_symbol = instrument_of(symbol)
        if self._client is not None and self._client.markets and venue_symbol not in self._client.markets:
            raise OrderRejected(Reason.UNKNOWN_SYMBOL, f"{venue_symbol} is not listed", VENUE)
        return venue_symbol

    def _track(self, stream: ResilientStream[T]) -> ResilientStream[T]:
        self._streams.add(stream)
        return stream

    def _feed(self, stream: str, params: dict[str, Any],
              parser: Callable[[], Callable[[dict[str, Any]], list[T]]]) -> Callable[[], GrvtFeed[T]]:
        async def ws_client() -> GrvtClient:
            return await self.client()

        return lambda: GrvtFeed(ws_client, stream, params, parser(), wait_s=self.stream_timeout_s, logger=self.log)

    def stream_bbo(self, symbol: str) -> AsyncIterator[BBO]:
        def parser() -> Callable[[dict[str, Any]], list[BBO]]:
            merged: dict[str, Any] = {}  # mini.d sends only what changed: keep the whole ticker

            def parse(feed: dict[str, Any]) -> list[BBO]:
                merged.update({k: v for k, v in feed.items() if v is not None})
                if not any(k in feed for k in _BBO_FIELDS) or not all(k in merged for k in _BBO_FIELDS):
                    return []
                return [parse_mini(merged)]
            return parse

        params = {"instrument": self._known(symbol), "rate": MINI_RATE_MS}
        return self._track(ResilientStream(f"grvt.bbo.{symbol}", self._feed("mini.d", params, parser)))

    def stream_book(self, symbol: str, depth: int = 10) -> AsyncIterator[Book]:
        asked = next((d for d in BOOK_DEPTHS if d >= depth), BOOK_DEPTHS[-1])
        params = {"instrument": self._known(symbol), "rate": BOOK_RATE_MS, "depth": asked}
        return self._track(ResilientStream(f"grvt.book.{symbol}",
                                           self._feed("book.s", params, lambda: lambda f: [parse_book(f, depth)])))

    def _from_start(self, name: str, open_feed: Callable[[], GrvtFeed[T]],
                    catch_up: Callable[[float], Awaitable[list[T]]], key: Callable[[T], Hashable],
                    ts: Callable[[T], float]) -> ResilientStream[T]:
        """A stream that catches up from when it was made (less ``START_SKEW_S`` for the venue's
        clock), even after a drop before its first item, and never yields anything older."""
        start = self.clock.now() - START_SKEW_S

        async def since_start(since: float) -> list[T]:
            return [item for item in await catch_up(since) if ts(item) >= start]

        return self._track(ResilientStream(name, open_feed, catch_up=since_start, key=key, ts=ts, since=start))

    def stream_orders(self) -> AsyncIterator[Order]:
        return self._from_start(
            "grvt.orders", self._feed("order", {}, lambda: lambda f: [parse_order(f, self._client_ids)]),
            self._orders_since, key=lambda o: (o.order_id, o.status, o.filled), ts=lambda o: o.ts)

    def stream_fills(self) -> AsyncIterator[Fill]:
        return self._from_start(
            "grvt.fills", self._feed("fill", {}, lambda: lambda f: [parse_fill(f, self._client_ids)]),
            self.fills, key=lambda f: f.key, ts=lambda f: f.ts)

    def stream_positions(self) -> AsyncIterator[Position]:
        """Position updates; after a reconnect, the positions read over REST and size 0 for every
        symbol last seen open that the venue no longer lists (``ClosedPositions``: the contract's rule)."""
        closed = ClosedPositions(VENUE, self.positions, self.clock.now)
        return self._track(ResilientStream(
            "grvt.positions", self._feed("position", {}, lambda: lambda f: [parse_position(f, "ws")]),
            catch_up=closed.catch_up, ts=lambda p: p.ts, observe=closed.observe))


def _filter(symbol: str | None) -> dict[str, Any]:
    """GRVT's kind/base/quote filter for one perpetual (empty: everything)."""
    if symbol is None:
        return {}
    return {"kind": GrvtInstrumentKind.PERPETUAL, "base": symbol.upper(), "quote": "USDT"}


def _fill_page(start_ns: int | None, params: dict[str, Any], limit: int) -> Callable[[GrvtClient], Awaitable[dict]]:
    async def call(client: GrvtClient) -> dict:
        return await client.fetch_my_trades(None, start_ns, limit, params)
    return call


def _sdk_refusal(exc: GrvtInvalidOrder) -> OrderRejected:
    text = str(exc)
    reason = Reason.UNKNOWN_SYMBOL if "not found" in text or "markets not loaded" in text else Reason.REJECTED
    return OrderRejected(reason, f"grvt-pysdk refused the order: {text}", VENUE)
