"""``ParadexVenue``: the venue contract over paradex-py (REST, Starknet signing, WebSocket).

The SDK is used as published: ``ParadexApiClient`` for every REST call (URLs from its ``env``,
or ``api_base_url`` = ``settings.endpoint`` for a fake venue on loopback), ``ParadexAccount`` /
``SubkeyAccount`` for onboarding, JWT auth and order signatures, ``ParadexWebsocketClient`` for
the streams (``ws_url_override`` = ``settings.ws_endpoint``). The SDK's HTTP client is
synchronous, so every call through it runs in a worker thread and never blocks the event loop;
the order path (``POST /orders`` and the read-back) goes through ``exchanges.http.JsonHttp`` on the
loop instead, with the SDK session's headers (README.md: what an order costs).

Policies the SDK does not have, kept here:

- Errors: the SDK raises a bare ``ValueError`` for any non-2xx answer; a response hook keeps the
  last error response per thread and ``paradex_wire.error_from_response`` turns it into the
  contract's error family with a reason code.
- Retries: the SDK's own retry strategy is off (it would resend ``POST /orders`` on a 5xx).
  A 429 is retried after ``Retry-After`` (capped) for every request, an order re-signed each
  time; reads and cancels are retried on 5xx and timeouts; ``POST /orders`` never is: after a
  5xx or a timeout the order is looked up by client id, and sent again only if the venue does
  not have it (the client id makes a late duplicate a ``DUPLICATED_CLIENT_ID`` refusal).
- Acknowledgement: ``POST /orders`` answers ``NEW`` (queued for risk checks); the order is read
  back until the venue says OPEN or CLOSED, and a refusal (post-only would cross, margin, ...)
  is raised as ``OrderRejected`` with its reason.
- Orders carry an explicit ``recv_window``: a signature older than that is refused by the venue
  instead of executing late. Paradex perpetual orders have no other expiry (GTC until cancelled).
- Secrets: the L2 key and the JWT never reach a log line, an error message or a repr
  (``exchanges.credentials``: ``REDACTOR`` sits on every logger of the session).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import marshmallow
from paradex_py.account.account import ParadexAccount
from paradex_py.account.subkey_account import SubkeyAccount
from paradex_py.api.api_client import ParadexApiClient
from paradex_py.api.http_client import HttpClient
from paradex_py.api.ws_client import ParadexWebsocketClient
from paradex_py.common.order import Order as SdkOrder
from paradex_py.common.order import OrderSide, OrderType

from core.clock import Clock, RealClock
from core.errors import (
    BadResponse,
    ConfigError,
    OrderRejected,
    StreamDisconnected,
    VenueError,
    VenueTimeout,
    VenueUnavailable,
)
from core.reasons import Reason
from core.types import BBO, Balance, Book, Fill, Instrument, Order, OrderStatus, Position, Side, Trade
from exchanges.base import Venue
from exchanges.credentials import SecretRedactor, resolve_secret
from exchanges.http import JsonHttp, decode
from exchanges.loopbind import LoopBinding
from exchanges.paradex import wire
from exchanges.paradex.settings import ParadexSettings
from exchanges.paradex.signing import fast_account_class
from exchanges.paradex.stream import WsFeed
from exchanges.policy import RequestPolicy
from exchanges.pricing import slippage_limit
from exchanges.streams import ClosedPositions, ResilientStream
from exchanges.symbols import to_venue_symbol

VENUE = wire.VENUE
T = TypeVar("T")
log = logging.getLogger("perpflow.paradex")
sdk_log = logging.getLogger("perpflow.paradex.sdk")

_HEX_KEY = re.compile(r"0x[0-9a-fA-F]{1,64}")
# Every logger that can see a request, a handshake or a frame of a Paradex session (paradex-py does
# not hand websockets or httpx a logger of its own, so theirs are named here, each one: filters
# apply only to records created on the logger itself).
SENSITIVE_LOGGERS = (
    "websockets", "websockets.client", "httpx", "httpcore", "httpcore.http11", "httpcore.connection",
    "paradex_py", "paradex_py.paradex", "paradex_py.api.api_client", "paradex_py.api.http_client",
    "paradex_py.api.ws_client", "perpflow.paradex", "perpflow.paradex.sdk", "perpflow.streams",
)
REDACTOR = SecretRedactor()  # process-wide, as the loggers above are
BOOK_CHANNEL = "order_book.{market}.snapshot@15@100ms"
# paradex-py's accounts, hashing typed data with fast_stark_crypto (exchanges/paradex/signing.py)
FastParadexAccount = fast_account_class(ParadexAccount)
FastSubkeyAccount = fast_account_class(SubkeyAccount)


class _ResponseTap:
    """The last error response of the calling thread (the SDK keeps only a ``ValueError``)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def reset(self) -> None:
        self._local.last = None

    @property
    def last(self) -> tuple[int, dict[str, str], Any] | None:
        return getattr(self._local, "last", None)

    def hook(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        response.read()
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        self._local.last = (response.status_code, {k.lower(): v for k, v in response.headers.items()}, body)


def _jwt_exp(token: str | None) -> float | None:
    try:
        payload = token.split(".")[1]  # type: ignore[union-attr]
        return float(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"])
    except Exception:  # opaque token: no known expiry
        return None


def _is_perp(d: Mapping[str, Any]) -> bool:
    market = d.get("market")
    return isinstance(market, str) and market.endswith("-USD-PERP")


class ParadexVenue(Venue):
    name = VENUE

    def __init__(self, settings: ParadexSettings, *, clock: Clock | None = None, recv_window_ms: int = 10_000,
                 ack_timeout: float = 5.0, ws_ack_timeout: float = 10.0) -> None:
        if not 10 <= recv_window_ms <= 60_000:
            raise ConfigError("recv_window_ms", f"{recv_window_ms} is outside 10..60000 ms")
        self.settings = settings
        self.clock: Clock = clock or RealClock()
        self.request_timeout = settings.request_timeout_s
        self.recv_window_ms = recv_window_ms
        self.ack_timeout = ack_timeout
        # the one request policy (exchanges.policy); an expired JWT signs in again, once per call
        self.policy = RequestPolicy(settings, VENUE, log=log, reauth=self.reauth,
                                    stale_session=lambda exc: exc.reason is Reason.AUTH
                                    and wire.venue_code(exc) == "INVALID_TOKEN")
        self.ws_ack_timeout = ws_ack_timeout
        self.malformed_messages = 0  # stream messages skipped as unparsable
        self.page_size = 100  # rows per page of GET /fills and /orders-history
        self._api: ParadexApiClient | None = None
        self._account: ParadexAccount | None = None
        self._tap = _ResponseTap()
        self._ahttp: JsonHttp | None = None  # the order path's client, on the current loop
        self._start_lock = asyncio.Lock()
        self._loop = LoopBinding()
        self._instruments: dict[str, Instrument] = {}
        self._fees: dict[str, Any] | None = None
        self._feeds: set[WsFeed[Any]] = set()
        self._closed = False
        self._sides: OrderedDict[str, Side] = OrderedDict()  # order id -> side, of orders this venue saw
        self._side_warned = False

    def __repr__(self) -> str:
        s = self.settings
        return (f"ParadexVenue(env={s.env!r}, endpoint={s.endpoint or 'default'!r}, "
                f"account={s.l2_address or s.l1_address!r})")

    # --- session -----------------------------------------------------------------------------
    def _rebind(self) -> None:
        """On a new event loop, forget the closed loop's WebSockets, lock and order-path HTTP session
        (see loopbind); the SDK's REST session is synchronous (worker threads) and carries on."""
        if self._loop.moved():
            self._feeds.clear()
            self._start_lock = asyncio.Lock()
            if self._ahttp is not None:
                self._ahttp.forget()  # its connections died with the closed loop
            self._ahttp = None

    async def start(self) -> None:
        self._rebind()
        if self._api is not None:
            return
        async with self._start_lock:
            if self._api is not None:
                return
            self._closed = False
            REDACTOR.attach(SENSITIVE_LOGGERS)
            self.check_settings(self.settings)
            secret = await resolve_secret(self.settings.l2_private_key, "paradex.l2_private_key")
            assert secret is not None
            key = secret.get_secret_value().strip()
            if not _HEX_KEY.fullmatch(key):
                raise ConfigError("paradex.l2_private_key", "must be a 0x-prefixed hex string of at most 64 digits")
            REDACTOR.add(key)
            REDACTOR.add(int(key, 16))
            self._api, self._account = await asyncio.to_thread(self._open_session, key)

    @staticmethod
    def check_settings(s: ParadexSettings) -> None:
        """What a session needs, checked before anything connects; errors name the field."""
        if s.l2_private_key is None:
            raise ConfigError("paradex.l2_private_key", "is required to trade on Paradex")
        if not (s.l1_address or s.l2_address):
            raise ConfigError("paradex.l2_address", "set the account's L2 address (or l1_address to derive it)")

    def _open_session(self, key: str) -> tuple[ParadexApiClient, ParadexAccount]:
        s = self.settings
        client = httpx.Client(timeout=self.request_timeout, event_hooks={"response": [self._tap.hook]})
        api = ParadexApiClient(env=s.env, logger=sdk_log, http_client=HttpClient(http_client=client),
                               api_base_url=s.endpoint, retry_strategy=None)
        try:
            config = self._call_sync(api.fetch_system_config, "GET /system/config")
            account: ParadexAccount
            if s.l1_address:
                account = FastParadexAccount(config, l1_address=s.l1_address, l2_private_key=key,
                                             l2_address=s.l2_address)
            else:
                account = FastSubkeyAccount(config, l2_private_key=key,  # type: ignore[arg-type]
                                            l2_address=s.l2_address)
            # POST /auth/{pubkey}; on NOT_ONBOARDED the SDK onboards (POST /onboarding) and retries.
            self._call_sync(lambda: api.init_account(account), "POST /auth")
        except BaseException:
            client.close()
            raise
        return api, account

    async def close(self) -> None:
        """Close the WebSockets and the HTTP client. Streams opened on this venue cannot reconnect
        until the next ``start()`` (their owners should ``aclose`` them)."""
        self._rebind()
        self._closed = True
        for feed in list(self._feeds):
            await feed.aclose()
        self._feeds.clear()
        api, self._api, self._account = self._api, None, None
        ahttp, self._ahttp = self._ahttp, None
        if ahttp is not None:
            await ahttp.aclose()
        if api is not None:
            await asyncio.to_thread(api.client.close)

    async def reauth(self) -> None:
        """A fresh JWT (after the venue refused the current one)."""
        api = self._session()[0]
        await asyncio.to_thread(self._call_sync, lambda: api.auth(params=api.auth_params), "POST /auth")

    @property
    def api_client(self) -> ParadexApiClient:
        """The SDK's REST client of this session (tools and benchmarks; trading goes through the contract)."""
        return self._session()[0]

    @property
    def account(self) -> ParadexAccount:
        """The SDK account that signs this session's orders."""
        return self._session()[1]

    def _session(self) -> tuple[ParadexApiClient, ParadexAccount]:
        if self._api is None or self._account is None:
            raise VenueUnavailable("not started (call start() first)", VENUE)
        return self._api, self._account

    # --- REST plumbing -----------------------------------------------------------------------
    def _call_sync(self, call: Callable[[], T], what: str, placing: bool = False) -> T:
        """Run one SDK call in this thread and translate whatever it raises."""
        self._tap.reset()
        try:
            return call()
        except httpx.TimeoutException:
            raise VenueTimeout(f"{what}: no answer within {self.request_timeout:g}s", VENUE) from None
        except httpx.HTTPError as exc:
            raise VenueUnavailable(f"{what}: {type(exc).__name__}", VENUE) from None
        except marshmallow.ValidationError:
            raise BadResponse(f"{what}: the answer does not match the SDK's schema", VENUE) from None
        except ValueError as exc:
            if isinstance(exc, ConfigError):
                raise
            last = self._tap.last
            if last is None:  # refused by the SDK itself, before any request
                raise VenueError(Reason.REJECTED, f"{what}: {REDACTOR.redact(str(exc))}", VENUE) from None
            raise wire.error_from_response(*last, what, placing=placing) from None

    async def _rest(self, what: str, call: Callable[[], T], *, idempotent: bool = True, placing: bool = False) -> T:
        """One REST call (an SDK call in a worker thread) under the request policy."""
        return await self.policy.call(what, lambda: asyncio.to_thread(self._call_sync, call, what, placing),
                                      idempotent=idempotent)

    async def _arest(self, method: str, path: str, what: str, *, payload: Any = None,
                     headers: Mapping[str, str] | None = None, placing: bool = False) -> Any:
        """One request of the order path (``POST /orders``, ``GET /orders/{id}``) on a kept-alive
        async client of this loop: no hop to a worker thread and back per request (see README.md).
        It carries the SDK session's headers (its JWT, refreshed first when due, as the SDK's own
        calls do) and its errors read as the SDK path's do (``paradex_wire.error_from_response``)."""
        self._rebind()
        api = self._session()[0]
        if api._is_token_expired():
            await asyncio.to_thread(self._call_sync, api._validate_auth, "POST /auth")
        if self._ahttp is None:
            self._ahttp = JsonHttp(api.api_url, self.request_timeout)
        status, resp_headers, content = await self._ahttp.request(
            method, f"/{path}", json_body=payload, headers={**api.client.headers, **(headers or {})}, what=what,
            venue=VENUE)
        body = decode(status, content, what, VENUE)
        if not 200 <= status < 300:
            raise wire.error_from_response(status, {k.lower(): v for k, v in resp_headers.items()}, body, what,
                                           placing=placing)
        return body

    # --- metadata ----------------------------------------------------------------------------
    async def instrument(self, symbol: str) -> Instrument:
        if symbol in self._instruments:
            return self._instruments[symbol]
        await self.start()
        api = self._session()[0]
        market = to_venue_symbol(VENUE, symbol)
        try:
            payload = await self._rest("GET /markets", lambda: api.fetch_markets({"market": market}))
        except VenueError as exc:
            if exc.reason is Reason.UNKNOWN_SYMBOL:
                raise OrderRejected(Reason.UNKNOWN_SYMBOL, exc.detail, VENUE) from None
            raise
        rows = [r for r in wire.results(payload, "GET /markets") if r.get("symbol") == market]
        if not rows:
            raise OrderRejected(Reason.UNKNOWN_SYMBOL, f"{market} is not listed", VENUE)
        ins = wire.guarded(wire.instrument, rows[0], await self._account_fees())
        self._instruments[symbol] = ins
        return ins

    async def _account_fees(self) -> dict[str, Any] | None:
        if self._fees is None:
            api = self._session()[0]
            info = wire.obj(await self._rest("GET /account/info", api.fetch_account_info), "GET /account/info")
            self._fees = info.get("fees") or {}
        return self._fees or None

    # --- orders ------------------------------------------------------------------------------
    async def place_limit(self, symbol: str, side: Side, price: Decimal, size: Decimal, *, client_id: str,
                          post_only: bool = False, reduce_only: bool = False) -> Order:
        return await self._place(symbol, side, size, price, "POST_ONLY" if post_only else "GTC", client_id,
                                 reduce_only)

    async def place_market(self, symbol: str, side: Side, size: Decimal, *, client_id: str,
                           max_slippage_bps: Decimal, reduce_only: bool = False) -> Order:
        """An IOC limit at the slippage cap from the current touch: Paradex's own MARKET orders
        are capped by an account-wide setting, not per order."""
        ins = await self.instrument(symbol)
        cap = slippage_limit(side, await self.bbo(symbol), Decimal(max_slippage_bps), ins)
        return await self._place(symbol, side, size, cap, "IOC", client_id, reduce_only)

    def build_order(self, market: str, side: Side, size: Decimal, price: Decimal, instruction: str,
                    client_id: str, reduce_only: bool) -> SdkOrder:
        """The SDK order, stamped now (its signature timestamp) with an explicit recv_window."""
        return SdkOrder(market=market, order_type=OrderType.Limit,
                        order_side=OrderSide.Buy if side is Side.BUY else OrderSide.Sell, size=size,
                        limit_price=price, client_id=client_id, instruction=instruction, reduce_only=reduce_only,
                        recv_window=self.recv_window_ms)

    @staticmethod
    def _check_order(client_id: str, price: Decimal, size: Decimal) -> None:
        if not client_id or len(client_id) > 64:
            raise OrderRejected(Reason.REJECTED, "a client id of 1..64 characters is required", VENUE)
        for name, value in (("price", price), ("size", size)):
            if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
                raise ConfigError(name, f"must be a positive Decimal, got {value!r}")
            if value.as_tuple().exponent < -8:  # type: ignore[operator]
                raise ConfigError(name, f"{value} has more than the 8 decimals Paradex signs")

    async def _place(self, symbol: str, side: Side, size: Decimal, price: Decimal, instruction: str,
                     client_id: str, reduce_only: bool) -> Order:
        self._check_order(client_id, price, size)
        await self.start()
        account = self._session()[1]
        market = to_venue_symbol(VENUE, symbol)
        what = f"POST /orders ({client_id})"

        async def submit() -> Any:  # built and signed anew on every attempt: a 429 retry gets a fresh signature
            order = self.build_order(market, side, size, price, instruction, client_id, reduce_only)
            order.signature = account.sign_order(order)  # as paradex-py's submit_order does
            return await self._arest("POST", "orders", what, payload=order.dump_to_dict(),
                                     headers=account.take_request_headers(), placing=True)

        async def send() -> dict[str, Any]:
            return wire.obj(await self.policy.call(what, submit, idempotent=False), what)

        placed = await self.policy.place(what, send, lambda: self._lookup_client_id(client_id))
        if "id" not in placed:
            raise BadResponse(f"{what}: the answer has no order id", VENUE)
        return await self._acknowledge(str(placed["id"]), client_id)

    async def _lookup_client_id(self, client_id: str) -> dict[str, Any] | None:
        """The venue's order with ``client_id``, or None when it has none."""
        api = self._session()[0]
        try:
            found = await self._rest(f"GET /orders/by_client_id/{client_id}",
                                     lambda: api.fetch_order_by_client_id(client_id))
        except VenueError as exc:
            if exc.reason is Reason.UNKNOWN_ORDER:
                return None
            raise
        return wire.obj(found, "GET /orders/by_client_id")

    async def acknowledge(self, order_id: str, client_id: str = "") -> Order:
        """Read a just-sent order back until the venue has decided on it (OPEN or CLOSED); raise
        ``OrderRejected`` if its risk checks or matching engine refused it."""
        return await self._acknowledge(order_id, client_id)

    async def _acknowledge(self, order_id: str, client_id: str) -> Order:
        d = await self._poll_order(order_id, lambda d: d.get("status") not in ("NEW", "UNTRIGGERED"),
                                   self.ack_timeout)
        o = self._seen(wire.guarded(wire.order, d))
        if o.status is OrderStatus.REJECTED:
            raise OrderRejected(Reason(o.reject_reason or Reason.REJECTED),
                                f"order {client_id!r} closed by the venue: {d.get('cancel_reason')}", VENUE)
        return o

    async def _poll_order(self, order_id: str, done: Callable[[dict[str, Any]], bool],
                          within: float) -> dict[str, Any]:
        """Read an order until ``done`` (or for ``within`` seconds: then the last state read)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        delay = 0.0
        what = f"GET /orders/{order_id}"
        while True:
            d = wire.obj(await self.policy.call(what, lambda: self._arest("GET", f"orders/{order_id}", what),
                                                idempotent=True), "order")
            if done(d) or loop.time() >= deadline:
                return d
            await asyncio.sleep(delay)
            delay = min(max(delay * 2, 0.005), 0.1)

    async def _closed_order(self, order_id: str) -> Order:
        d = await self._poll_order(order_id, lambda d: d.get("status") == "CLOSED", self.ack_timeout)
        if d.get("status") != "CLOSED":
            raise VenueTimeout(f"order {order_id}: cancel queued but not confirmed within {self.ack_timeout:g}s",
                               VENUE)
        return wire.guarded(wire.order, d)

    async def cancel(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> Order:
        """Cancel and return the final state; an order that filled first comes back FILLED."""
        if order_id is None and client_id is None:
            raise ConfigError("order_id", "give order_id or client_id")
        await self.start()
        api = self._session()[0]
        ref = order_id or client_id
        try:
            if order_id is not None:
                await self._rest(f"DELETE /orders/{order_id}", lambda: api.cancel_order(order_id))
            else:
                await self._rest(f"DELETE /orders/by_client_id/{client_id}",
                                 lambda: api.cancel_order_by_client_id(client_id))  # type: ignore[arg-type]
        except VenueError as exc:
            if wire.venue_code(exc) not in wire.CLOSED_CODES:  # already closed: its state tells filled or not
                if exc.reason is Reason.UNKNOWN_ORDER:
                    raise OrderRejected(Reason.UNKNOWN_ORDER, exc.detail, VENUE) from None
                raise
        if order_id is None:
            found = await self.order(symbol, client_id=client_id)
            if found is None:
                raise OrderRejected(Reason.UNKNOWN_ORDER, f"no order with client id {ref!r} on {symbol}", VENUE)
            order_id = found.order_id
        return await self._closed_order(order_id)

    async def cancel_all(self, symbol: str | None = None) -> list[Order]:
        await self.start()
        api = self._session()[0]
        before = await self.open_orders(symbol)
        params = {"market": to_venue_symbol(VENUE, symbol)} if symbol else None
        await self._rest("DELETE /orders", lambda: api.cancel_all_orders(params))
        return list(await asyncio.gather(*(self._closed_order(o.order_id) for o in before)))

    async def order(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> Order | None:
        await self.start()
        api = self._session()[0]
        try:
            if order_id is not None:
                d = await self._rest(f"GET /orders/{order_id}", lambda: api.fetch_order(order_id))
            elif client_id is not None:
                d = await self._rest(f"GET /orders/by_client_id/{client_id}",
                                     lambda: api.fetch_order_by_client_id(client_id))
            else:
                raise ConfigError("order_id", "give order_id or client_id")
        except VenueError as exc:
            if exc.reason is Reason.UNKNOWN_ORDER:
                return None
            raise
        o = self._seen(wire.guarded(wire.order, wire.obj(d, "order")))
        return o if o.symbol == symbol else None

    # --- state -------------------------------------------------------------------------------
    async def bbo(self, symbol: str) -> BBO:
        await self.start()
        api, market = self._session()[0], to_venue_symbol(VENUE, symbol)
        return wire.guarded(wire.bbo, wire.obj(await self._rest(f"GET /bbo/{market}", lambda: api.fetch_bbo(market)),
                                               "bbo"))

    async def book(self, symbol: str, depth: int = 10) -> Book:
        await self.start()
        api, market = self._session()[0], to_venue_symbol(VENUE, symbol)
        d = await self._rest(f"GET /orderbook/{market}", lambda: api.fetch_orderbook(market, {"depth": depth}))
        return wire.guarded(wire.book_rest, wire.obj(d, "orderbook"), depth)

    async def trades(self, symbol: str, limit: int = 100) -> list[Trade]:
        await self.start()
        api, market = self._session()[0], to_venue_symbol(VENUE, symbol)
        d = await self._rest("GET /trades", lambda: api.fetch_trades({"market": market, "page_size": limit}))
        rows = wire.results(d, "GET /trades")
        return sorted((wire.guarded(wire.trade, r) for r in rows), key=lambda t: t.ts)[-limit:]

    async def positions(self) -> list[Position]:
        await self.start()
        api = self._session()[0]
        rows = wire.results(await self._rest("GET /positions", api.fetch_positions), "GET /positions")
        return [wire.guarded(wire.position, r, "rest") for r in rows if _is_perp(r)]

    async def balance(self) -> Balance:
        await self.start()
        api = self._session()[0]
        return wire.balance(await self._rest("GET /account", api.fetch_account_summary))

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        await self.start()
        api = self._session()[0]
        params = {"market": to_venue_symbol(VENUE, symbol)} if symbol else None
        rows = wire.results(await self._rest("GET /orders", lambda: api.fetch_orders(params)), "GET /orders")
        return [self._seen(wire.guarded(wire.order, r)) for r in rows if _is_perp(r)]

    async def fills(self, since: float, symbol: str | None = None) -> list[Fill]:
        """Our fills since ``since``, every page of ``GET /fills``, oldest first."""
        await self.start()
        api = self._session()[0]
        params: dict[str, Any] = {"start_at": int(since * 1000), "page_size": self.page_size}
        if symbol:
            params["market"] = to_venue_symbol(VENUE, symbol)
        out: list[Fill] = []
        while True:
            page = await self._rest("GET /fills", lambda p=dict(params): api.fetch_fills(p))  # type: ignore[misc]
            rows = wire.results(page, "GET /fills")
            out.extend(self._own_side(wire.guarded(wire.fill, r)) for r in rows if _is_perp(r))
            cursor = page.get("next")
            if not cursor or not rows:
                break
            params["cursor"] = cursor
        return sorted((f for f in out if f.ts >= since), key=lambda f: (f.ts, f.trade_id))

    async def _orders_history(self, since: float) -> list[Order]:
        api = self._session()[0]
        params: dict[str, Any] = {"start_at": int(since * 1000), "page_size": self.page_size}
        out: list[Order] = []
        while True:
            page = await self._rest("GET /orders-history",
                                    lambda p=dict(params): api.fetch_orders_history(p))  # type: ignore[misc]
            rows = wire.results(page, "GET /orders-history")
            out.extend(wire.guarded(wire.order, r) for r in rows if _is_perp(r))
            cursor = page.get("next")
            if not cursor or not rows:
                return out
            params["cursor"] = cursor

    # --- our side of a fill ------------------------------------------------------------------
    def _seen(self, o: Order) -> Order:
        self._sides[o.order_id] = o.side
        if len(self._sides) > 100_000:
            self._sides.popitem(last=False)
        return o

    def _own_side(self, f: Fill) -> Fill:
        """The fill with its order's side. The spec calls ``FillResult.side`` the taker side: if
        the venue reports a maker fill with the other side, trust the order we know (and say so
        once), so a position is never moved the wrong way."""
        side = self._sides.get(f.order_id)
        if side is None or side is f.side:
            return f
        if not self._side_warned:
            self._side_warned = True
            log.warning("paradex: a %s fill reports side %s but its order %s is a %s; using the order's side",
                        f.liquidity, f.side, f.order_id, side)
        return replace(f, side=side)

    # --- streams -----------------------------------------------------------------------------
    async def ws_client(self) -> ParadexWebsocketClient:
        """For ``WsFeed``: an SDK WebSocket client with this account and an unexpired JWT."""
        if self._closed:
            raise StreamDisconnected("venue closed", VENUE)
        await self.start()
        api, account = self._session()
        exp = _jwt_exp(getattr(account, "jwt_token", None))
        if exp is not None and exp - time.time() < 60:
            await self.reauth()
        client = ParadexWebsocketClient(env=self.settings.env, logger=sdk_log, auto_start_reader=False,
                                        ws_url_override=self.settings.ws_endpoint, disable_reconnect=True,
                                        api_client=api)
        client.init_account(account)
        return client

    def note_malformed(self, channel: str, problem: str) -> None:
        self.malformed_messages += 1
        log.warning("paradex: skipped a malformed %s message (%s)", channel, problem)

    def _stream(self, channel: str, parse: Callable[[dict[str, Any]], T | None], **kw: Any) -> ResilientStream[T]:
        """A resilient stream of one channel; ``since``: a drop before its first item still
        catches up from when the stream was made."""
        def open_feed() -> WsFeed[T]:
            feed: WsFeed[T] = WsFeed(self, channel, parse, self.ws_ack_timeout)  # type: ignore[arg-type]
            self._feeds.add(feed)
            return feed

        return ResilientStream(f"paradex.{channel}", open_feed, since=self.clock.now(), **kw)

    def stream_bbo(self, symbol: str) -> AsyncIterator[BBO]:
        return self._stream(f"bbo.{to_venue_symbol(VENUE, symbol)}", wire.bbo)

    def stream_book(self, symbol: str, depth: int = 10) -> AsyncIterator[Book]:
        channel = BOOK_CHANNEL.format(market=to_venue_symbol(VENUE, symbol))
        return self._stream(channel, lambda d: wire.book_snapshot(d, depth))

    def stream_fills(self) -> AsyncIterator[Fill]:
        """Every fill exactly once: after a reconnect, ``GET /fills`` covers the outage and the
        trade-id key drops what was already delivered."""
        return self._stream("fills.ALL", lambda d: self._own_side(wire.fill(d)) if _is_perp(d) else None,
                            catch_up=self.fills, key=lambda f: f.key, ts=lambda f: f.ts)

    def stream_positions(self) -> AsyncIterator[Position]:
        """Position updates; after a reconnect, ``GET /positions`` and size 0 for every market last
        seen open that it no longer lists (``ClosedPositions``: the contract's rule)."""
        closed = ClosedPositions(VENUE, self.positions, self.clock.now)
        return self._stream("positions", lambda d: wire.position(d, "ws") if _is_perp(d) else None,
                            catch_up=closed.catch_up, ts=lambda p: p.ts, observe=closed.observe)

    def stream_orders(self) -> AsyncIterator[Order]:
        """Order updates; after a reconnect: open orders, recent history, and the final state of
        every order last seen open (it may have closed during the outage)."""
        live: dict[str, Order] = {}

        async def catch_up(since: float) -> list[Order]:
            now_open = await self.open_orders()
            recent = await self._orders_history(since)
            known = {o.order_id for o in now_open} | {o.order_id for o in recent}
            closed = [await self.order(o.symbol, order_id=oid) for oid, o in list(live.items()) if oid not in known]
            return sorted([*now_open, *recent, *(o for o in closed if o is not None)], key=lambda o: o.ts)

        def observe(o: Order) -> None:
            self._seen(o)
            if o.status.is_final:
                live.pop(o.order_id, None)
            else:
                live[o.order_id] = o

        return self._stream("orders.ALL", lambda d: wire.order(d) if _is_perp(d) else None, catch_up=catch_up,
                            ts=lambda o: o.ts, key=lambda o: (o.order_id, o.status, o.filled), observe=observe)
