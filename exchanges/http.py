"""One JSON request over an adapter's kept-alive HTTP session, its failures in the venue contract's terms.

Adapters of our own (Backpack, Hibachi, and Paradex's order path) send requests the same way: no
answer in time is a ``VenueTimeout`` (the request may have been processed: order paths look the
order up before any resend), a connection failure is ``VenueUnavailable``, a success that is not
JSON is ``BadResponse``, and an HTTP error is whatever the venue's wire codec makes of its status,
body and Retry-After.

Why aiohttp and not httpx (``bench/adapters.py`` prints both on every run): the HTTP client library
is our own overhead per order. A kept-alive bare GET round trip to the same loopback aiohttp server
(its server side, ~0.12-0.2 ms, included) took ~0.9-1.5 ms through ``httpx.AsyncClient``,
~0.28-0.4 ms through ``aiohttp.ClientSession`` and ~0.18-0.3 ms through a bare asyncio socket
(2-core machine, load 1.5-3): httpx's per-request machinery (its request and response models,
httpcore's connection pool, anyio) was most of a one-request order's overhead. aiohttp is already
a dependency (the GRVT and Extended adapters and every fake run on it).

Money safety: aiohttp sends an idempotent request (GET, DELETE) once more, on a new connection,
when the kept-alive one turns out closed before any answer (RFC 9112 9.3.1), and never a POST;
every order of these adapters is a POST, so an order is still never re-sent blindly (the request
policy looks it up by client id first).

``JsonHttp`` keeps httpx's encoding of query values (``True`` -> ``true``, numbers with ``str``) and
sends JSON bodies as ``json.dumps`` writes them, so what a venue verifies a signature against does
not change with the library.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from multidict import CIMultiDict

from core.errors import BadResponse, VenueError, VenueTimeout, VenueUnavailable
from exchanges.loopbind import forget_session

ErrorOf = Callable[[int, Any, str, float | None], VenueError]  # (status, body, what, retry_after) -> error


def query_value(value: Any) -> str:
    """A query parameter as httpx writes it (what signed query strings were written against)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


class JsonHttp:
    """A kept-alive aiohttp session on one base URL, made on (and bound to) the running event loop."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s),
                                              cookie_jar=aiohttp.DummyCookieJar())

    async def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      json_body: Any = None, headers: Mapping[str, str] | None = None,
                      what: str, venue: str) -> tuple[int, Mapping[str, str], bytes]:
        """Status, headers (case-insensitive) and body of one request; a timeout or a connection
        failure raised in the contract's terms."""
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers = CIMultiDict(headers or {})
            headers.setdefault("Content-Type", "application/json")
        query = {k: query_value(v) for k, v in params.items()} if params else None
        try:
            async with self._session.request(method, self.base_url + path, params=query, data=data,
                                             headers=headers) as resp:
                return resp.status, resp.headers, await resp.read()
        except TimeoutError:
            raise VenueTimeout(f"{what}: no answer within {self.timeout_s:g}s", venue) from None
        except aiohttp.ClientError as exc:
            raise VenueUnavailable(f"{what}: {type(exc).__name__}", venue) from None

    async def aclose(self) -> None:
        await self._session.close()

    def forget(self) -> None:
        """Let go of a session whose event loop has closed (its sockets died with it)."""
        forget_session(self._session)


def decode(status: int, content: bytes, what: str, venue: str) -> Any:
    """The JSON body (None when empty); a success that is not JSON is ``BadResponse``, an error's
    unreadable body is None (the status tells)."""
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        if 200 <= status < 300:
            raise BadResponse(f"{what}: the answer is not JSON", venue) from None
        return None


async def request_json(client: JsonHttp, method: str, path: str, *, venue: str, error_of: ErrorOf,
                       params: Mapping[str, Any] | None = None, json: Any = None,
                       headers: Mapping[str, str] | None = None) -> Any:
    """One request; the decoded JSON body (None when empty), or the venue's error."""
    what = f"{method} {path}"
    status, resp_headers, content = await client.request(method, path, params=params, json_body=json,
                                                         headers=headers, what=what, venue=venue)
    body = decode(status, content, what, venue)
    if not 200 <= status < 300:
        retry = resp_headers.get("Retry-After")
        raise error_of(status, body, what, float(retry) if retry else None)
    return body
