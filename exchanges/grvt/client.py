"""perpflow's grvt-pysdk client: the SDK's own REST and WebSocket code, with four things changed.

1. URLs. The SDK builds every URL from ``pysdk.grvt_ccxt_env.get_grvt_endpoint_domains(env)``.
   ``GrvtUrls`` re-bases those URLs (REST) and replaces ``api_url`` (WebSocket) with configured
   ones, so the same SDK code talks to a loopback fake or to a proxy; with no override, the
   SDK's URLs are used unchanged.
2. Transport (``_auth_and_post``). The SDK's version hides the HTTP status and headers and has a
   fixed 5 s timeout. Here an error answer raises a typed ``VenueError`` (reason from GRVT's
   error code, ``Retry-After`` kept on 429), a timeout raises ``VenueTimeout``, and the session
   cookie is sent explicitly.
3. Login (``refresh_cookie``). The SDK logs the API key and the ``gravity`` cookie, and parses
   the cookie's expiry as local time. Here the cookie is parsed as GMT, registered with the
   redactor before anything can log it, and never logged.
4. Construction. ``GrvtCcxtPro.__init__`` logs in synchronously (blocking the event loop) when
   given an API key; the key is set after the SDK constructor instead, and ``open()`` logs in.

Everything else -- payloads, EIP-712 order signing, selectors, pagination -- is the SDK's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from pysdk.grvt_ccxt_env import (
    GrvtEndpointType,
    GrvtEnv,
    GrvtWSEndpointType,
    get_grvt_endpoint,
    get_grvt_endpoint_domains,
)
from pysdk.grvt_ccxt_utils import EnumEncoder, GrvtOrder

from core.errors import BadResponse, VenueError, VenueTimeout, VenueUnavailable
from core.reasons import Reason
from exchanges.credentials import SecretRedactor
from exchanges.grvt.signing import OrderSigner
from exchanges.grvt.stream import GrvtWs15
from exchanges.grvt.wire import VENUE, venue_error
from exchanges.loopbind import forget_session

DEFAULT_SESSION_S = 3600.0  # when the login answer carries no expiry


@dataclass(frozen=True, slots=True)
class GrvtUrls:
    """Where to send each family of requests; ``None`` keeps the SDK's URL for the environment."""

    edge: str | None = None
    trades: str | None = None
    market_data: str | None = None
    ws_trades: str | None = None
    ws_market: str | None = None

    @classmethod
    def single(cls, endpoint: str | None, ws_endpoint: str | None = None) -> GrvtUrls:
        """One host serving everything (a fake venue, a proxy). ``ws_endpoint`` defaults to
        ``endpoint`` with a ws/wss scheme and the path ``/ws``."""
        if endpoint is None and ws_endpoint is None:
            return cls()
        rest = endpoint.rstrip("/") if endpoint else None
        if ws_endpoint is None and rest is not None:
            parts = urlsplit(rest)
            ws_endpoint = urlunsplit(("wss" if parts.scheme == "https" else "ws", parts.netloc,
                                      parts.path + "/ws", "", ""))
        return cls(rest, rest, rest, ws_endpoint, ws_endpoint)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delay-seconds, decimals accepted, or HTTP-date)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


class GrvtClient(GrvtWs15):
    """``GrvtCcxtWS`` (REST + WebSocket) with perpflow's URLs, transport and login."""

    cookie_margin_s = 30.0  # log in again this long before the session cookie expires

    def __init__(self, env: GrvtEnv, *, api_key: str, private_key: str, trading_account_id: str,
                 urls: GrvtUrls, redactor: SecretRedactor, logger: logging.Logger,
                 protocol_logger: logging.Logger, timeout_s: float = 5.0, reconnect_max_s: float = 5.0) -> None:
        super().__init__(env, logger=logger, protocol_logger=protocol_logger, reconnect_max=reconnect_max_s,
                         open_timeout=timeout_s,
                         parameters={"trading_account_id": trading_account_id, "private_key": private_key})
        self._api_key = api_key  # only now: the SDK constructor would log in synchronously
        self._redactor = redactor
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._login_lock = asyncio.Lock()
        domains = get_grvt_endpoint_domains(env.value)
        self._rebase = {domains[GrvtEndpointType.EDGE]: urls.edge,
                        domains[GrvtEndpointType.TRADE_DATA]: urls.trades,
                        domains[GrvtEndpointType.MARKET_DATA]: urls.market_data}
        if urls.ws_trades:
            self.api_url[GrvtWSEndpointType.TRADE_DATA] = urls.ws_trades
        if urls.ws_market:
            self.api_url[GrvtWSEndpointType.MARKET_DATA] = urls.ws_market
        self.requests = 0
        self._signer = OrderSigner(private_key, env)

    async def _create_grvt_order(self, order: GrvtOrder) -> dict:
        """The SDK's ``_create_grvt_order``, signed by ``grvt_signing.OrderSigner`` (the SDK's exact
        payload and signature, without re-parsing the key and walking EIP-712 generically per order)."""
        payload = self._signer.payload(order, self.markets)
        response = await self._auth_and_post(get_grvt_endpoint(self.env, "CREATE_ORDER"), payload=payload)
        result = response.get("result")
        if result is None:
            self.logger.error("grvt: create_order answered without a result")
            return {}
        return result  # type: ignore[no-any-return]

    def url(self, name: str) -> str:
        """The URL of one of the SDK's named endpoints (``"CREATE_ORDER"``), re-based."""
        return self._rebased(get_grvt_endpoint(self.env, name))

    def _rebased(self, url: str) -> str:
        for domain, target in self._rebase.items():
            if target and url.startswith(domain):
                return target + url[len(domain):]
        return url

    async def open(self) -> None:
        """Log in and load the instruments (the SDK's ``load_markets``)."""
        sdk_session = self._session
        self._session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(),
                                              headers={"Content-Type": "application/json"})
        await sdk_session.close()
        await self.refresh_cookie()
        await self.load_markets()

    async def aclose(self) -> None:
        await super().aclose()
        session, self._session = self._session, None  # None: the SDK's __del__ then leaves it alone
        if session is not None:
            await session.close()

    def abandon(self) -> None:
        """Forget the HTTP session without closing it: its event loop has closed (and with it the
        session's connections); the SDK's ``__del__`` would otherwise try to close it on no loop, and
        the session's finalizer would log it as left open (``forget_session``)."""
        session, self._session = self._session, None
        forget_session(session)

    # --- session cookie ------------------------------------------------------------------------
    def should_refresh_cookie(self) -> bool:
        if not self._api_key:
            return False
        return not self._cookie or float(self._cookie.get("expires", 0)) - time.time() <= self.cookie_margin_s

    def update_session_with_cookie(self) -> None:
        """The cookie goes on each request explicitly (see ``_headers``)."""

    async def refresh_cookie(self) -> dict | None:
        if not self.should_refresh_cookie():
            return self._cookie
        async with self._login_lock:
            if self.should_refresh_cookie():
                self._cookie = await self._login()
        return self._cookie

    def invalidate_cookie(self) -> None:
        self._cookie = None

    async def _login(self) -> dict[str, Any]:
        url = self.url("AUTH")
        try:
            async with self._session.post(url, data=json.dumps({"api_key": self._api_key}),
                                          timeout=self._timeout) as resp:
                status, text = resp.status, await resp.text()
                set_cookie = resp.headers.getall("Set-Cookie", [])
                account = resp.headers.get("X-Grvt-Account-Id", "")
        except TimeoutError:
            raise VenueTimeout("login: no answer in time", VENUE) from None
        except aiohttp.ClientError as exc:
            raise VenueUnavailable(f"login: {type(exc).__name__}", VENUE) from None
        if status >= 400:
            err = venue_error(status, _json_or_none(text), context="login")
            if status in (401, 403) or err.reason is Reason.REJECTED:
                raise VenueError(Reason.AUTH, f"login rejected ({err.detail})", VENUE)
            raise err
        cookie = _gravity_cookie(set_cookie)
        if cookie is None:
            raise BadResponse("login answer carries no gravity session cookie", VENUE)
        value, expires = cookie
        self._redactor.add(value)
        self.logger.info("grvt: logged in; session valid for %.0f s", expires - time.time())
        return {"gravity": value, "expires": expires, "X-Grvt-Account-Id": account}

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._cookie:
            headers["Cookie"] = f"gravity={self._cookie['gravity']}"
            if self._cookie.get("X-Grvt-Account-Id"):
                headers["X-Grvt-Account-Id"] = str(self._cookie["X-Grvt-Account-Id"])
        return headers

    # --- transport -----------------------------------------------------------------------------
    async def _auth_and_post(self, path: str, payload: dict) -> dict:
        """POST ``payload`` as JSON; the decoded answer, or a typed ``VenueError``."""
        url = self._rebased(path)
        route = urlsplit(url).path.rsplit("/", 1)[-1]
        if self._api_key:
            await self.refresh_cookie()
        body = json.dumps(payload, cls=EnumEncoder)
        self.requests += 1
        try:
            async with self._session.post(url, data=body, headers=self._headers(), timeout=self._timeout) as resp:
                status, text = resp.status, await resp.text()
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        except TimeoutError:
            raise VenueTimeout(f"{route}: no answer within {self._timeout.total:.1f}s", VENUE) from None
        except aiohttp.ClientError as exc:
            raise VenueUnavailable(f"{route}: {type(exc).__name__}", VENUE) from None
        data = _json_or_none(text)
        if status >= 400:
            err = venue_error(status, data, retry_after, route)
            if status == 401:
                self.invalidate_cookie()
            raise err
        if not isinstance(data, dict):
            raise BadResponse(f"{route}: HTTP {status} with a body that is not a JSON object", VENUE)
        return data


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _gravity_cookie(headers: list[str]) -> tuple[str, float] | None:
    """(value, expiry epoch seconds) of the ``gravity`` cookie among ``Set-Cookie`` headers."""
    for header in headers:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:
            continue
        morsel = jar.get("gravity")
        if morsel is None or not morsel.value:
            continue
        expires = time.time() + DEFAULT_SESSION_S
        if morsel["max-age"]:
            expires = time.time() + float(morsel["max-age"])
        elif morsel["expires"]:
            with contextlib.suppress(TypeError, ValueError):
                expires = parsedate_to_datetime(morsel["expires"]).timestamp()
        return morsel.value, expires
    return None
