"""Retries for idempotent venue requests (reads, cancels). Order placement is never retried here:
a placement that timed out is looked up by client id instead."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from core.errors import VenueError

T = TypeVar("T")
log = logging.getLogger("perpflow.retry")


async def idempotent(call: Callable[[], Awaitable[T]], what: str, *, attempts: int = 4, delay: float = 0.5) -> T:
    """Run ``call``; on a retryable venue error wait (honouring Retry-After) and try again."""
    for n in range(1, attempts + 1):
        try:
            return await call()
        except VenueError as exc:
            if not exc.retryable or n == attempts:
                raise
            wait = exc.retry_after if exc.retry_after is not None else delay * 2 ** (n - 1)
            log.warning("%s failed (%s); retry %d of %d in %.1fs", what, exc.reason, n, attempts - 1, wait)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")
