"""Run a loopback fake on an event loop of its own, in a thread, for synchronous callers.

The LLM and sentiment fakes are aiohttp servers; the code they serve (the ``openai`` client,
Prefect tasks, the CLI) is synchronous or runs loops of its own. ``in_thread(fake)`` starts the
fake's ``start()`` on a private loop and stops it on exit.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar


class Startable(Protocol):
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Any: ...

    async def stop(self) -> None: ...


F = TypeVar("F", bound=Startable)


@contextmanager
def in_thread(fake: F, host: str = "127.0.0.1", port: int = 0) -> Iterator[F]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=f"fake-{type(fake).__name__}", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(fake.start(host, port), loop).result(30)
        yield fake
    finally:
        try:
            asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(30)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
