"""One Backpack WebSocket subscription, as a feed for ``exchanges.streams.ResilientStream``.

Backpack's WebSocket takes ``{"method": "SUBSCRIBE", "params": [stream], "signature": [...]}``
(private ``account.*`` streams signed with the ``subscribe`` instruction) and pushes
``{"stream", "data"}`` envelopes. It does not acknowledge a subscription, so ``connect`` waits
``grace_s`` after subscribing before the stream's REST catch-up runs (an event in that instant
would otherwise fall between the two).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import websockets

from core.errors import StreamDisconnected
from exchanges.backpack.wire import VENUE

T = TypeVar("T")
log = logging.getLogger("perpflow.backpack")


class BackpackFeed(Generic[T]):
    def __init__(self, url: str, stream: str, parse: Callable[[dict[str, Any]], list[T]],
                 signature: Callable[[], list[str]] | None = None, grace_s: float = 0.2,
                 open_timeout: float = 10.0) -> None:
        self.url = url
        self.stream = stream
        self._parse = parse
        self._signature = signature
        self._grace = grace_s
        self._open_timeout = open_timeout
        self._ws: Any = None
        self._ready: list[T] = []
        self.malformed = 0

    async def connect(self) -> None:
        try:
            self._ws = await websockets.connect(self.url, open_timeout=self._open_timeout, max_size=2**22)
            frame: dict[str, Any] = {"method": "SUBSCRIBE", "params": [self.stream]}
            if self._signature is not None:
                frame["signature"] = self._signature()
            await self._ws.send(json.dumps(frame))
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            raise StreamDisconnected(f"{self.stream}: could not connect ({type(exc).__name__})", VENUE) from None
        await asyncio.sleep(self._grace)

    def __aiter__(self) -> BackpackFeed[T]:
        return self

    def decode(self, raw: str | bytes) -> list[T]:
        """One frame to items (none for frames of other streams, errors and malformed data)."""
        try:
            msg = json.loads(raw)
            if not isinstance(msg, dict):
                raise ValueError
            if msg.get("error"):
                raise StreamDisconnected(f"{self.stream}: the venue refused the subscription "
                                         f"({msg['error'].get('message', '')})", VENUE)
            if msg.get("stream") != self.stream:
                return []
            return self._parse(msg["data"])
        except StreamDisconnected:
            raise
        except Exception:  # malformed: skipped, counted, said
            self.malformed += 1
            log.warning("backpack %s: skipped a malformed message", self.stream)
            return []

    async def __anext__(self) -> T:
        if self._ws is None:
            await self.connect()
        while not self._ready:
            try:
                raw = await self._ws.recv()
            except (websockets.ConnectionClosed, OSError) as exc:
                raise StreamDisconnected(f"{self.stream}: connection lost ({type(exc).__name__})", VENUE) from None
            self._ready.extend(self.decode(raw))
        return self._ready.pop(0)

    async def aclose(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                await ws.close()
            except Exception:  # already gone
                log.debug("backpack %s: close failed", self.stream, exc_info=True)
