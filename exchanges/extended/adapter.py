"""Extended (X10): the venue contract over x10-python-trading-starknet (the official SDK).

Requests
  Every REST call is the SDK's own (``RestApiClient``'s info/account/orders modules, their URL
  building and pydantic models); perpflow gives the modules one aiohttp session with the request
  timeout and a trace hook that records each answer's HTTP status and ``Retry-After`` (the SDK's
  errors carry only text), so the one request policy (``exchanges.policy``) can tell a 429 from a
  5xx from a refusal. Private calls carry the ``X-Api-Key``; there is no session to renew.
Orders
  Built and Stark-signed by the SDK (``create_order_object``: the order's amounts, fee cap, nonce and
  expiry hashed and signed with the account's Stark key, ``fast_stark_crypto``). The client id is
  the order's ``externalId``. Extended places orders asynchronously: the POST answers an id before
  the matching engine decided, so ``place_*`` reads the order back and raises ``OrderRejected`` for
  a REJECTED one (``statusReason`` POST_ONLY_FAILED, REDUCE_ONLY_FAILED, ...). ``place_market`` is a
  MARKET IOC order whose price is the slippage cap.
Order terms, set explicitly
  Expiry: ``order_ttl_s`` is signed into every order (the SDK would sign one hour); a resting order
  is replaced (``cancelId``) with a fresh expiry ``renew_before_s`` before it runs out, by a
  background task (``renew_expiring``), keeping its client id. Fee cap: the account's own taker
  rate (``GET /user/fees``) is the signed maximum fee; an account charged more than
  ``max_taker_fee_bps`` stops before any order.
Streams
  The SDK's stream client on websockets 15 (``stream.Ws15StreamClient``): order books (depth 1 for
  the BBO; full book as SNAPSHOT + DELTA, where a delta *adds* to a level's size) and the account
  stream (ORDER / TRADE / POSITION / BALANCE), each a ``ResilientStream`` that catches up over REST
  after a reconnect.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
from pydantic import ValidationError
from x10.clients.rest.rest_api_client import RestApiClient
from x10.config import MAINNET_CONFIG, TESTNET_CONFIG
from x10.core.client_config import ClientConfig
from x10.core.stark_account import StarkPerpetualAccount
from x10.errors import ApiError
from x10.models.market import MarketModel
from x10.models.order import OpenOrderModel, OrderSide, TimeInForce
from x10.models.order import OrderType as X10OrderType
from x10.models.trade import PublicTradeModel
from x10.signing.order_object import create_order_object
from x10.utils.http import get_url, send_get_request

from core.clock import Clock, RealClock
from core.errors import BadResponse, ConfigError, OrderRejected, VenueError, VenueTimeout, VenueUnavailable
from core.reasons import Reason
from core.types import BBO, Balance, Book, BookLevel, Fill, FundingRate, Instrument, Order, Position, Side, Trade
from exchanges.base import Venue
from exchanges.credentials import SecretRedactor, resolve_secret
from exchanges.extended import wire
from exchanges.extended.settings import ExtendedSettings
from exchanges.extended.stream import WS_LOGGER, Ws15StreamClient, X10Feed
from exchanges.loopbind import LoopBinding, forget_session
from exchanges.policy import RequestPolicy
from exchanges.pricing import slippage_limit
from exchanges.streams import ClosedPositions, ResilientStream

T = TypeVar("T")
VENUE = wire.VENUE
START_SKEW_S = 0.5
STARK_PRIME = 2**251 + 17 * 2**192 + 1
log = logging.getLogger("perpflow.extended")
# loggers the SDK and its libraries write to: secrets are redacted on each (a filter on a parent is not enough)
SDK_LOGGERS = ("x10.utils.http", "x10.clients.stream.stream_connection",
               "x10.clients.rest.modules.order_management_module", "aiohttp.client", "websockets.client",
               WS_LOGGER, log.name)


@dataclass
class _Answer:
    """The HTTP status and Retry-After of the latest answer a request got (filled by the trace hook)."""

    status: int | None = None
    retry_after: float | None = None


_ANSWER: ContextVar[_Answer | None] = ContextVar("extended_answer", default=None)


async def _on_request_end(session: aiohttp.ClientSession, ctx: Any, params: aiohttp.TraceRequestEndParams) -> None:
    answer = _ANSWER.get()
    if answer is not None:
        answer.status = params.response.status
        retry = params.response.headers.get("Retry-After")
        try:
            answer.retry_after = float(retry) if retry else None
        except ValueError:
            answer.retry_after = None


@dataclass
class _Resting:
    """A resting order perpflow placed, as the expiry renewal needs it."""

    client_id: str
    order_id: str
    external_id: str
    symbol: str
    side: Side
    price: Decimal
    size: Decimal
    post_only: bool
    reduce_only: bool
    expires_at: float
    renewals: int = field(default=0)


def _hex_int(value: str, setting: str) -> int:
    try:
        number = int(value.strip(), 16)
    except (ValueError, binascii.Error):
        raise ConfigError(setting, "must be a hex number (0x...)") from None
    if not 0 < number < STARK_PRIME:
        raise ConfigError(setting, "is outside the Stark field")
    return number


class ExtendedVenue(Venue):
    name = VENUE

    def __init__(self, settings: ExtendedSettings, *, clock: Clock | None = None, settle_timeout_s: float = 2.0,
                 renew_check_s: float = 30.0) -> None:
        self.settings = settings
        self.clock = clock or RealClock()
        self.settle_timeout_s = settle_timeout_s
        self.renew_check_s = renew_check_s
        self.page_size = 100  # account trades per page
        self.redactor = SecretRedactor()
        self.policy = RequestPolicy(settings, VENUE, log=log)
        self.last_signed: Any = None  # the latest order the SDK built and signed (NewOrderModel)
        self._config: ClientConfig | None = None
        self._account: StarkPerpetualAccount | None = None
        self._api_key: str | None = None
        self._rest: RestApiClient | None = None
        self._session: aiohttp.ClientSession | None = None
        self._loop = LoopBinding()
        self._start_lock = asyncio.Lock()
        self._markets: dict[str, MarketModel] = {}
        self._instruments: dict[str, Instrument] = {}
        self._clients: dict[str, str] = {}  # order id -> client id
        self._resting: dict[str, _Resting] = {}  # client id -> resting order, for renewal
        self._renewer: asyncio.Task[None] | None = None
        self._streams: list[ResilientStream[Any]] = []

    def __repr__(self) -> str:
        return f"ExtendedVenue(endpoint={self._base_url()!r}, vault={self.settings.vault_id!r})"

    # --- lifecycle -----------------------------------------------------------------------------
    @staticmethod
    def check_settings(s: ExtendedSettings) -> None:
        """What a session needs, checked before anything connects; errors name the setting. (Their
        format is checked by ``start``, once a Prefect Secret reference is resolved, still before
        anything connects.)"""
        if s.api_key is None or not s.api_key.get_secret_value().strip():
            raise ConfigError("extended.api_key", "is required to trade on Extended (the account's API key)")
        if s.stark_private_key is None or not s.stark_private_key.get_secret_value().strip():
            raise ConfigError("extended.stark_private_key", "is required to trade on Extended (the account's "
                                                            "Stark private key, 0x...)")
        if not s.stark_public_key:
            raise ConfigError("extended.stark_public_key", "is required to trade on Extended (the Stark public "
                                                           "key, 0x...)")
        if not s.vault_id:
            raise ConfigError("extended.vault_id", "is required to trade on Extended (the account's vault number)")

    def _base_url(self) -> str:
        base = MAINNET_CONFIG if self.settings.network == "mainnet" else TESTNET_CONFIG
        return (self.settings.endpoint or base.endpoints.api_base_url).rstrip("/")

    def _client_config(self) -> ClientConfig:
        base = MAINNET_CONFIG if self.settings.network == "mainnet" else TESTNET_CONFIG
        url = self._base_url()
        endpoints = dataclasses.replace(base.endpoints, api_base_url=url, api_base_order_management_url=url,
                                        stream_url=(self.settings.ws_endpoint or base.endpoints.stream_url).rstrip("/"))
        defaults = dataclasses.replace(base.defaults, request_timeout_seconds=self.settings.request_timeout_s)
        return dataclasses.replace(base, endpoints=endpoints, defaults=defaults)

    def _rebind(self) -> None:
        """On a new event loop (a flow's next ``Clock.run`` phase), forget what the closed loop held.
        Its aiohttp session cannot be closed any more (nothing runs on that loop): ``forget_session``."""
        if self._loop.moved():
            session = self._session
            self._rest, self._session, self._renewer = None, None, None
            self._start_lock = asyncio.Lock()
            self._streams.clear()
            forget_session(session)

    async def start(self) -> None:
        self._rebind()
        async with self._start_lock:
            if self._rest is not None:
                return
            s = self.settings
            self.check_settings(s)
            api_key = await resolve_secret(s.api_key, "extended.api_key")
            private = await resolve_secret(s.stark_private_key, "extended.stark_private_key")
            assert api_key is not None and private is not None and s.stark_public_key and s.vault_id
            key, secret = api_key.get_secret_value().strip(), private.get_secret_value().strip()
            self.redactor.add(key)
            self.redactor.add(secret)
            self.redactor.attach(SDK_LOGGERS)
            from fast_stark_crypto import get_public_key

            if not s.vault_id.strip().isdigit():
                raise ConfigError("extended.vault_id", "must be the account's vault number (digits)")
            private_int = _hex_int(secret, "extended.stark_private_key")
            public_int = _hex_int(s.stark_public_key, "extended.stark_public_key")
            if get_public_key(private_int) != public_int:
                raise ConfigError("extended.stark_public_key", "is not the public key of extended.stark_private_key")
            self._api_key = key
            self._config = self._client_config()
            self._account = StarkPerpetualAccount(vault=int(s.vault_id), private_key=hex(private_int),
                                                  public_key=hex(public_int), api_key=key)
            trace = aiohttp.TraceConfig()
            trace.on_request_end.append(_on_request_end)
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=s.request_timeout_s),
                                                  trace_configs=[trace])
            rest = RestApiClient(self._config, self._account)
            for module in (rest.info, rest.account, rest.orders):  # one session, with our timeout and trace
                module._BaseModule__session = self._session  # type: ignore[attr-defined]
            self._rest = rest
            if s.renew_before_s > 0:
                self._renewer = asyncio.get_running_loop().create_task(self._renew_loop(), name="extended-renewal")

    async def close(self) -> None:
        self._rebind()  # what a finished loop held died with it
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        for s in self._streams:
            await s.aclose()
        self._streams.clear()
        session, self._session, self._rest = self._session, None, None
        if session is not None:
            await session.close()

    async def _ready(self) -> RestApiClient:
        self._rebind()
        if self._rest is None:
            await self.start()
        assert self._rest is not None
        return self._rest

    # --- requests ------------------------------------------------------------------------------
    async def _send(self, what: str, call: Callable[[RestApiClient], Awaitable[T]]) -> T:
        rest = await self._ready()
        answer = _Answer()
        token = _ANSWER.set(answer)
        try:
            return await call(rest)
        except TimeoutError:
            raise VenueTimeout(f"{what}: no answer within {self.settings.request_timeout_s:g}s", VENUE) from None
        except ApiError as exc:  # the SDK's error text is "<what happened> <url>: ... <body>"
            text = str(exc)
            body = text[text.find("{"):] if "{" in text else ""
            raise wire.error(answer.status, body, what, answer.retry_after) from None
        except aiohttp.ClientError as exc:
            raise VenueUnavailable(f"{what}: {type(exc).__name__}", VENUE) from None
        except ValidationError:
            raise BadResponse(f"{what}: the answer does not match the SDK's model", VENUE) from None
        finally:
            _ANSWER.reset(token)

    async def _call(self, what: str, call: Callable[[RestApiClient], Awaitable[T]], *, idempotent: bool = True) -> T:
        return await self.policy.call(what, lambda: self._send(what, call), idempotent=idempotent)

    # --- metadata ------------------------------------------------------------------------------
    async def _market(self, symbol: str, *, fresh: bool = False) -> MarketModel:
        if symbol in self._markets and not fresh:
            return self._markets[symbol]
        name = wire.market_symbol(symbol)
        resp = await self._call("GET /info/markets", lambda r: r.info.get_markets(market_names=[name]))
        found = next((m for m in resp.data or [] if m.name == name), None)
        if found is None:
            raise OrderRejected(Reason.UNKNOWN_SYMBOL, f"{name} is not listed", VENUE)
        self._markets[symbol] = found
        return found

    async def instrument(self, symbol: str) -> Instrument:
        if symbol in self._instruments:
            return self._instruments[symbol]
        market = await self._market(symbol)
        resp = await self._call("GET /user/fees", lambda r: r.account.get_fees(market_names=[market.name]))
        fees = next((f for f in resp.data or [] if f.market == market.name), None)
        if fees is None:
            raise BadResponse(f"GET /user/fees: no rates for {market.name}", VENUE)
        ins = wire.instrument(market, fees.maker_fee_rate, fees.taker_fee_rate)
        self._instruments[symbol] = ins
        return ins

    async def taker_fee_cap(self, symbol: str) -> Decimal:
        """The maximum fee signed into an order: the account's own taker rate, refused (before any
        order) when above ``max_taker_fee_bps``."""
        ins = await self.instrument(symbol)
        cap = Decimal(self.settings.max_taker_fee_bps) / wire.BPS
        if ins.taker_fee > cap:
            raise ConfigError("extended.max_taker_fee_bps",
                              f"the account's taker rate on {ins.venue_symbol} is {ins.taker_fee * wire.BPS:f} bps, "
                              f"above the {self.settings.max_taker_fee_bps:f} bps perpflow may sign; raise it to trade")
        return ins.taker_fee

    async def funding_rate(self, symbol: str) -> FundingRate:
        stats = (await self._market(symbol, fresh=True)).market_stats
        return FundingRate(VENUE, symbol, stats.funding_rate, 3600.0, stats.next_funding_rate / 1000 or None,
                           self.clock.now())

    # --- orders --------------------------------------------------------------------------------
    async def place_limit(self, symbol: str, side: Side, price: Decimal, size: Decimal, *, client_id: str,
                          post_only: bool = False, reduce_only: bool = False) -> Order:
        return await self._place(symbol, side, price, size, client_id, market=False, post_only=post_only,
                                 reduce_only=reduce_only)

    async def place_market(self, symbol: str, side: Side, size: Decimal, *, client_id: str,
                           max_slippage_bps: Decimal, reduce_only: bool = False) -> Order:
        ins = await self.instrument(symbol)
        cap = slippage_limit(side, await self.bbo(symbol), Decimal(max_slippage_bps), ins)
        return await self._place(symbol, side, cap, size, client_id, market=True, post_only=False,
                                 reduce_only=reduce_only)

    def _sign(self, market: MarketModel, side: Side, price: Decimal, size: Decimal, external: str, fee_cap: Decimal,
              *, market_order: bool, post_only: bool, reduce_only: bool, previous: str | None = None) -> Any:
        assert self._account is not None and self._config is not None
        signed = create_order_object(
            account=self._account, market=market, amount_of_synthetic=size, price=price,
            side=OrderSide(wire.SIDES[side]), starknet_domain=self._config.signing.starknet_domain,
            order_type=X10OrderType.MARKET if market_order else X10OrderType.LIMIT, post_only=post_only,
            previous_order_external_id=previous, expire_time=wire.expiry(time.time(), self.settings.order_ttl_s),
            order_external_id=external, time_in_force=TimeInForce.IOC if market_order else TimeInForce.GTT,
            taker_fee=fee_cap, reduce_only=reduce_only)
        self.last_signed = signed
        return signed

    async def _place(self, symbol: str, side: Side, price: Decimal, size: Decimal, client_id: str, *, market: bool,
                     post_only: bool, reduce_only: bool) -> Order:
        if not client_id:
            raise ConfigError("client_id", "every order needs a client id")
        await self._ready()
        model = await self._market(symbol)
        fee_cap = await self.taker_fee_cap(symbol)
        external = wire.external_id(client_id)
        signed = self._sign(model, side, price, size, external, fee_cap, market_order=market, post_only=post_only,
                            reduce_only=reduce_only)
        raw = await self._submit(f"POST /user/order ({client_id})", signed, external, final=market)
        o = self._accepted(raw, f"POST /user/order ({client_id})")
        if not o.status.is_final and not market:
            self._resting[client_id] = _Resting(client_id, o.order_id, external, symbol, side, price, size, post_only,
                                                reduce_only, signed.expiry_epoch_millis / 1000)
        return o

    async def _submit(self, what: str, signed: Any, external: str, *, final: bool) -> OpenOrderModel:
        """POST the signed order under the request policy (never twice blindly: looked up by
        external id first), then read what the venue decided."""
        async def send() -> OpenOrderModel:
            placed = await self._call(what, lambda r: r.orders.place_order(signed), idempotent=False)
            assert placed.data is not None
            return await self._settled(what, str(placed.data.id), final=final)

        return await self.policy.place(what, send, lambda: self._by_external(external))

    def _accepted(self, raw: OpenOrderModel, what: str) -> Order:
        self._clients[str(raw.id)] = wire.client_of(raw.external_id)
        if raw.status == "REJECTED":
            raise wire.rejection(raw, what)
        return wire.order(raw)

    async def _settled(self, what: str, order_id: str, *, final: bool) -> OpenOrderModel:
        """The order once the venue decided: listed (resting or done); with ``final``, done."""
        deadline = time.monotonic() + self.settle_timeout_s
        while True:
            found = await self._by_id(order_id)
            if found is not None and (not final or wire.STATUS[str(found.status)].is_final):
                return found
            if time.monotonic() > deadline:
                if found is not None:
                    return found
                raise VenueTimeout(f"{what}: accepted as {order_id}, not shown within {self.settle_timeout_s:g}s",
                                   VENUE)
            await asyncio.sleep(0.02)

    async def _by_id(self, order_id: str) -> OpenOrderModel | None:
        if not order_id.isdigit():
            return None
        try:
            resp = await self._call(f"GET /user/orders/{order_id}", lambda r: r.account.get_order_by_id(int(order_id)))
        except OrderRejected as exc:
            if exc.reason is Reason.UNKNOWN_ORDER:
                return None
            raise
        return resp.data

    async def _by_external(self, external: str) -> OpenOrderModel | None:
        try:
            resp = await self._call("GET /user/orders/external",
                                    lambda r: r.account.get_order_by_external_id(quote(external, safe="")))
        except OrderRejected as exc:
            if exc.reason is Reason.UNKNOWN_ORDER:
                return None
            raise
        rows = resp.data or []
        return max(rows, key=lambda m: m.id) if rows else None

    def _current_external(self, client_id: str) -> str:
        live = self._resting.get(client_id)
        return live.external_id if live is not None else wire.external_id(client_id)

    async def _final(self, read: Callable[[], Awaitable[OpenOrderModel | None]]) -> OpenOrderModel | None:
        """Read an order until its status is final (a cancel is asynchronous too), or the settle time passed."""
        deadline = time.monotonic() + self.settle_timeout_s
        while True:
            found = await read()
            if found is None or wire.STATUS[str(found.status)].is_final or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.02)

    async def cancel(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> Order:
        if order_id is None and client_id is None:
            raise ConfigError("order_id", "give order_id or client_id")
        if order_id is not None:
            oid = order_id

            async def read() -> OpenOrderModel | None:
                return await self._by_id(oid)

            send: Callable[[RestApiClient], Awaitable[Any]] | None = (
                (lambda r: r.orders.cancel_order(int(oid))) if oid.isdigit() else None)
        else:
            assert client_id is not None
            external = self._current_external(client_id)

            async def read() -> OpenOrderModel | None:
                return await self._by_external(external)

            send = lambda r: r.orders.cancel_order_by_external_id(quote(external, safe=""))  # noqa: E731
        if send is not None:
            try:
                await self._call(f"DELETE /user/order ({order_id or client_id})", send)
            except OrderRejected as exc:  # not found (never there, or already done): its state tells
                if exc.reason is not Reason.UNKNOWN_ORDER:
                    raise
        found = await self._final(read)
        if found is None or wire.symbol_of(found.market) != symbol:
            raise OrderRejected(Reason.UNKNOWN_ORDER, f"no order {order_id or client_id!r} on {symbol}", VENUE)
        self._clients[str(found.id)] = wire.client_of(found.external_id)
        self._resting.pop(wire.client_of(found.external_id), None)
        return wire.order(found)

    async def cancel_all(self, symbol: str | None = None) -> list[Order]:
        before = await self.open_orders(symbol)
        if not before:
            return []
        markets = [wire.market_symbol(symbol)] if symbol else None
        await self._call("POST /user/order/massCancel",
                         lambda r: r.orders.mass_cancel(markets=markets, cancel_all=None if markets else True))
        out = []
        for o in before:
            found = await self._final(lambda oid=o.order_id: self._by_id(oid))
            self._resting.pop(o.client_id, None)
            out.append(wire.order(found) if found is not None else o)
        return out

    async def order(self, symbol: str, *, order_id: str | None = None, client_id: str | None = None) -> Order | None:
        if order_id is not None:
            raw = await self._by_id(order_id)
        elif client_id is not None:
            raw = await self._by_external(self._current_external(client_id))
        else:
            raise ConfigError("order_id", "give order_id or client_id")
        if raw is None or wire.symbol_of(raw.market) != symbol:
            return None
        self._clients[str(raw.id)] = wire.client_of(raw.external_id)
        return wire.order(raw)

    # --- expiry renewal ------------------------------------------------------------------------
    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.renew_check_s)
            try:
                await self.renew_expiring()
            except VenueError as exc:
                log.warning("extended: renewing orders failed (%s); trying again in %.0fs", exc.reason,
                            self.renew_check_s)

    async def renew_expiring(self) -> list[Order]:
        """Replace every resting order perpflow placed that expires within ``renew_before_s`` with the
        same order (its unfilled rest) under a fresh expiry: one signed order with ``cancelId`` =
        the old external id, so the venue swaps them atomically. The client id stays; the venue's
        order id changes (the old order ends CANCELLED, reason ORDER_REPLACED)."""
        now = time.time()
        out: list[Order] = []
        for live in list(self._resting.values()):
            if live.expires_at - now > self.settings.renew_before_s:
                continue
            current = await self._by_id(live.order_id)
            if current is None or wire.STATUS[str(current.status)].is_final:
                self._resting.pop(live.client_id, None)
                continue
            rest = live.size - (current.filled_qty or Decimal(0))
            external = wire.external_id(live.client_id, live.renewals + 1)
            signed = self._sign(await self._market(live.symbol), live.side, live.price, rest, external,
                                await self.taker_fee_cap(live.symbol), market_order=False, post_only=live.post_only,
                                reduce_only=live.reduce_only, previous=live.external_id)
            what = f"POST /user/order (renewing {live.client_id})"
            try:
                o = self._accepted(await self._submit(what, signed, external, final=False), what)
            except OrderRejected as exc:
                still = await self._by_id(live.order_id)
                if still is None or wire.STATUS[str(still.status)].is_final:  # the old one is gone too
                    self._resting.pop(live.client_id, None)
                    log.warning("extended: %s refused (%s); %s is no longer resting", what, exc.reason,
                                live.client_id)
                else:
                    log.warning("extended: %s refused (%s); the order keeps its expiry", what, exc.reason)
                continue
            live.order_id, live.external_id, live.renewals = o.order_id, external, live.renewals + 1
            live.size, live.expires_at = rest, signed.expiry_epoch_millis / 1000
            log.info("extended: renewed %s as order %s, now expiring at %.0f", live.client_id, o.order_id,
                     live.expires_at)
            out.append(o)
        return out

    def _renewed_away(self, m: OpenOrderModel) -> bool:
        """An order a renewal replaced, whose replacement is live: not news to a consumer (the same
        client id rests on). When the replacement was refused, the old order's end is news."""
        if m.status != "CANCELLED" or m.status_reason != wire.FINAL_REASON_REPLACED:
            return False
        live = self._resting.get(wire.client_of(m.external_id))
        return live is not None and live.order_id != str(m.id)

    # --- state ---------------------------------------------------------------------------------
    async def bbo(self, symbol: str) -> BBO:
        return (await self.book(symbol, 1)).bbo()

    async def book(self, symbol: str, depth: int = 10) -> Book:
        name = wire.market_symbol(symbol)
        resp = await self._call("GET /info/markets/orderbook",
                                lambda r: r.info.get_orderbook_snapshot(market_name=name))
        if resp.data is None:
            raise VenueUnavailable(f"{symbol}: no order book", VENUE)
        b = wire.book(symbol, resp.data, depth, self.clock.now())
        if not b.bids or not b.asks:
            raise VenueUnavailable(f"{symbol}: the book is empty", VENUE)
        return b

    async def trades(self, symbol: str, limit: int = 100) -> list[Trade]:
        """Public trades (``GET /info/markets/<market>/trades``; the SDK has the model, not the call)."""
        rest = await self._ready()
        url = get_url(f"{rest.config.endpoints.api_base_url}/info/markets/<market>/trades",
                      market=wire.market_symbol(symbol))

        async def read(r: RestApiClient) -> Any:
            assert self._session is not None
            return await send_get_request(self._session, url, list[PublicTradeModel])

        resp = await self._call("GET /info/markets/trades", read)
        return sorted((wire.trade(t) for t in resp.data or []), key=lambda t: t.ts)[-limit:]

    async def positions(self) -> list[Position]:
        resp = await self._call("GET /user/positions", lambda r: r.account.get_positions())
        now = self.clock.now()  # as of this read
        return [wire.position(p, "rest", now) for p in resp.data or [] if p.status == "OPENED"]

    async def balance(self) -> Balance:
        resp = await self._call("GET /user/balance", lambda r: r.account.get_balance())
        assert resp.data is not None
        return wire.balance(resp.data)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        markets = [wire.market_symbol(symbol)] if symbol else None
        resp = await self._call("GET /user/orders", lambda r: r.account.get_open_orders(market_names=markets))
        for m in resp.data or []:
            self._clients[str(m.id)] = wire.client_of(m.external_id)
        return [wire.order(m) for m in resp.data or []]

    async def _client_of(self, order_id: str) -> str:
        """A trade's client id: Extended's trades name the order, not its external id."""
        if order_id not in self._clients:
            found = await self._by_id(order_id)
            self._clients[order_id] = wire.client_of(found.external_id) if found is not None else ""
        return self._clients[order_id]

    async def fills(self, since: float, symbol: str | None = None) -> list[Fill]:
        """Pages back through the account's trades (newest first, ``cursor``/``limit``) to ``since``."""
        markets = [wire.market_symbol(symbol)] if symbol else None
        rows: list[Any] = []
        cursor: int | None = None
        while True:
            resp = await self._call("GET /user/trades", lambda r, c=cursor: r.account.get_trades(  # type: ignore[misc]
                market_names=markets, cursor=c, limit=self.page_size))
            page = resp.data or []
            rows += [t for t in page if t.created_time / 1000 >= since]
            older = any(t.created_time / 1000 < since for t in page)
            if older or len(page) < self.page_size or resp.pagination is None or resp.pagination.cursor is None:
                break
            cursor = resp.pagination.cursor
        out = [wire.fill(t, await self._client_of(str(t.order_id))) for t in rows]
        return sorted(out, key=lambda f: (f.ts, f.trade_id))

    # --- streams -------------------------------------------------------------------------------
    def _feed(self, name: str, subscribe: Callable[[Ws15StreamClient, str], Any],
              parse: Callable[[Any], Awaitable[list[T]]], *, check_seq: bool = False) -> Callable[[], X10Feed[T]]:
        async def connection() -> Any:
            await self._ready()
            assert self._config is not None and self._api_key is not None
            return subscribe(Ws15StreamClient(api_url=self._config.endpoints.stream_url), self._api_key)

        return lambda: X10Feed(name, connection, parse, check_seq=check_seq)

    def _track(self, stream: ResilientStream[T]) -> ResilientStream[T]:
        self._streams.append(stream)
        return stream

    def stream_bbo(self, symbol: str) -> AsyncIterator[BBO]:
        name = wire.market_symbol(symbol)

        async def parse(msg: Any) -> list[BBO]:
            b = wire.bbo(symbol, msg.data, msg.ts / 1000) if msg.data is not None else None
            return [b] if b is not None else []

        return self._track(ResilientStream(f"extended.bbo.{symbol}", self._feed(
            f"orderbooks/{name}?depth=1", lambda c, key: c.subscribe_to_orderbooks(name, depth=1), parse)))

    def stream_book(self, symbol: str, depth: int = 10) -> AsyncIterator[Book]:
        """A local book: each connection's SNAPSHOT, then DELTAs that add to a level's size (a gap in
        ``seq`` reconnects, for a fresh snapshot)."""
        name = wire.market_symbol(symbol)
        levels: dict[str, dict[Decimal, Decimal]] = {"b": {}, "a": {}}

        async def parse(msg: Any) -> list[Book]:
            d = msg.data
            if d is None or msg.type not in ("SNAPSHOT", "DELTA"):
                return []
            if msg.type == "SNAPSHOT":
                levels["b"], levels["a"] = {}, {}
            for key, side in (("b", d.bid), ("a", d.ask)):
                for lv in side:
                    size = lv.qty if msg.type == "SNAPSHOT" else levels[key].get(lv.price, Decimal(0)) + lv.qty
                    if size > 0:
                        levels[key][lv.price] = size
                    else:
                        levels[key].pop(lv.price, None)
            bids = sorted(levels["b"].items(), reverse=True)[:depth]
            asks = sorted(levels["a"].items())[:depth]
            if not bids or not asks:
                return []
            return [Book(VENUE, symbol, tuple(BookLevel(p, q) for p, q in bids),
                         tuple(BookLevel(p, q) for p, q in asks), msg.ts / 1000)]

        return self._track(ResilientStream(f"extended.book.{symbol}", self._feed(
            f"orderbooks/{name}", lambda c, key: c.subscribe_to_orderbooks(name), parse, check_seq=True)))

    def _account_stream(self, name: str, parse: Callable[[Any], Awaitable[list[T]]],
                        catch_up: Callable[[float], Awaitable[list[T]]], key: Callable[[T], Any],
                        ts: Callable[[T], float], **kw: Any) -> ResilientStream[T]:
        start = self.clock.now() - START_SKEW_S

        async def since_start(since: float) -> list[T]:
            return [x for x in await catch_up(since) if ts(x) >= start]

        feed = self._feed("account", lambda c, api_key: c.subscribe_to_account_updates(api_key), parse)
        return self._track(ResilientStream(name, feed, catch_up=since_start, key=key, ts=ts, since=start, **kw))

    def stream_orders(self) -> AsyncIterator[Order]:
        async def parse(msg: Any) -> list[Order]:
            if msg.type != "ORDER" or msg.data is None:
                return []
            out = []
            for m in msg.data.orders or []:
                self._clients[str(m.id)] = wire.client_of(m.external_id)
                if self._renewed_away(m):
                    continue  # a renewal: its replacement (same client id) follows
                out.append(wire.order(m))
            return out

        async def catch_up(since: float) -> list[Order]:
            resp = await self._call("GET /user/orders/history", lambda r: r.account.get_orders_history(limit=100))
            rows = [m for m in resp.data or [] if not self._renewed_away(m)]
            return sorted((wire.order(m) for m in rows), key=lambda o: o.ts)

        return self._account_stream("extended.orders", parse, catch_up, key=lambda o: (o.order_id, o.status, o.filled),
                                    ts=lambda o: o.ts)

    def stream_fills(self) -> AsyncIterator[Fill]:
        async def parse(msg: Any) -> list[Fill]:
            if msg.type != "TRADE" or msg.data is None:
                return []
            return [wire.fill(t, await self._client_of(str(t.order_id))) for t in msg.data.trades or []]

        return self._account_stream("extended.fills", parse, self.fills, key=lambda f: f.key, ts=lambda f: f.ts)

    def stream_positions(self) -> AsyncIterator[Position]:
        """Position updates (a closed position comes as status CLOSED: size 0); after a reconnect,
        the REST positions and size 0 for every symbol last seen open that closed meanwhile."""
        closed = ClosedPositions(VENUE, self.positions, self.clock.now)

        async def parse(msg: Any) -> list[Position]:
            if msg.type != "POSITION" or msg.data is None:
                return []
            return [wire.position(p, "ws") for p in msg.data.positions or []]

        feed = self._feed("account", lambda c, api_key: c.subscribe_to_account_updates(api_key), parse)
        return self._track(ResilientStream("extended.positions", feed, catch_up=closed.catch_up, ts=lambda p: p.ts,
                                           since=self.clock.now(), observe=closed.observe))
