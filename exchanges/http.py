"""One JSON request over an adapter's kept-alive httpx client, its failures in the venue contract's terms.

Adapters of our own (Backpack, Hibachi) send requests the same way: no answer in time is a
``VenueTimeout`` (the request may have been processed: order paths look the order up before any
resend), a connection failure is ``VenueUnavailable``, a success that is not JSON is ``BadResponse``,
and an HTTP error is whatever the venue's wire codec makes of its status, body and Retry-After.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from core.errors import BadResponse, VenueError, VenueTimeout, VenueUnavailable

ErrorOf = Callable[[int, Any, str, float | None], VenueError]  # (status, body, what, retry_after) -> error


async def request_json(client: httpx.AsyncClient, method: str, path: str, *, venue: str, timeout_s: float,
                       error_of: ErrorOf, **kwargs: Any) -> Any:
    """``client.request(method, path, **kwargs)``; the decoded JSON body (None when empty)."""
    what = f"{method} {path}"
    try:
        resp = await client.request(method, path, **kwargs)
    except httpx.TimeoutException:
        raise VenueTimeout(f"{what}: no answer within {timeout_s:g}s", venue) from None
    except httpx.HTTPError as exc:
        raise VenueUnavailable(f"{what}: {type(exc).__name__}", venue) from None
    try:
        body = resp.json() if resp.content else None
    except ValueError:
        body = None
        if resp.is_success:
            raise BadResponse(f"{what}: the answer is not JSON", venue) from None
    if not resp.is_success:
        retry = resp.headers.get("Retry-After")
        raise error_of(resp.status_code, body, what, float(retry) if retry else None)
    return body
