"""Paradex WebSocket feeds: one SDK connection per channel, shaped for ``ResilientStream``.

paradex-py's ``ParadexWebsocketClient`` opens the connection (bearer JWT in the handshake and
the JSON-RPC ``auth``) and sends the ``subscribe``. Its own reader and reconnect are switched
off: ``ResilientStream`` owns reconnecting because it must also catch up over REST and dedupe,
which the SDK's reconnect cannot. A feed reads frames itself so that it can

- return from ``connect()`` only once the venue acknowledged the subscription (nothing pushed
  after that is missed, so the REST catch-up that follows closes the gap);
- raise ``StreamDisconnected`` when the socket drops (the SDK would log and sleep);
- skip a malformed message with a warning instead of ending the stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import websockets
from paradex_py.api.ws_client import ParadexWebsocketClient

from core.errors import BadResponse, StreamDisconnected, VenueError

T = TypeVar("T")
log = logging.getLogger("perpflow.paradex")

AUTH_ERRORS = frozenset({40110, 40111})  # malformed / invalid bearer token (openrpc)
CLOSE_TIMEOUT = 0.5


class WsSession(Protocol):
    """What a feed needs from the adapter."""

    name: str

    async def ws_client(self) -> ParadexWebsocketClient:
        """A new, not yet connected SDK client with the account and a fresh JWT."""
        ...

    async def reauth(self) -> None: ...

    def note_malformed(self, channel: str, problem: str) -> None: ...


class WsFeed(Generic[T]):
    """One subscription on its own connection. Iterating yields parsed items."""

    def __init__(self, session: WsSession, channel: str, parse: Callable[[dict[str, Any]], T],
                 ack_timeout: float = 10.0) -> None:
        self.session = session
        self.channel = channel
        self._parse = parse
        self._ack_timeout = ack_timeout
        self._client: ParadexWebsocketClient | None = None
        self._early: deque[T] = deque()
        self._closed = False

    async def connect(self) -> None:
        try:
            await asyncio.wait_for(self._connect(), self._ack_timeout)
        except TimeoutError:
            await self.aclose()
            raise StreamDisconnected(f"{self.channel}: no subscription ack within {self._ack_timeout:.0f}s",
                                     self.session.name) from None
        except websockets.exceptions.WebSocketException as exc:
            await self.aclose()
            raise StreamDisconnected(f"{self.channel}: {type(exc).__name__}", self.session.name) from None

    async def _connect(self) -> None:
        client = await self.session.ws_client()
        self._client = client
        if not await client.connect():  # the SDK logs why; a refused connection is a retry
            raise StreamDisconnected(f"{self.channel}: connection refused", self.session.name)
        await client.subscribe_by_name(self.channel)
        while True:
            msg = self._json(await self._recv())
            if msg is None:
                continue
            if "id" in msg and "params" not in msg:
                error = msg.get("error")
                if isinstance(error, dict):
                    code = error.get("code")
                    if code in AUTH_ERRORS:
                        await self.session.reauth()
                        raise StreamDisconnected(f"{self.channel}: JWT refused ({code})", self.session.name)
                    raise StreamDisconnected(f"{self.channel}: subscribe failed ({code})", self.session.name)
                result = msg.get("result")
                if isinstance(result, dict) and result.get("channel") == self.channel:
                    return
                continue
            item = self._item(msg)
            if item is not None:
                self._early.append(item)

    async def _recv(self) -> str | bytes:
        ws = self._client.ws if self._client is not None else None
        if ws is None or self._closed:
            raise StreamDisconnected(f"{self.channel}: not connected", self.session.name)
        try:
            return await ws.recv()
        except websockets.exceptions.ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else "no close frame"
            raise StreamDisconnected(f"{self.channel}: connection closed ({code})", self.session.name) from None

    def __aiter__(self) -> WsFeed[T]:
        return self

    async def __anext__(self) -> T:
        if self._early:
            return self._early.popleft()
        while True:
            item = self.decode(await self._recv())
            if item is not None:
                return item

    def decode(self, raw: str | bytes) -> T | None:
        """One frame to an item, or ``None`` (acks, other channels, skipped malformed messages)."""
        msg = self._json(raw)
        return None if msg is None else self._item(msg)

    def _json(self, raw: str | bytes) -> dict[str, Any] | None:
        try:
            msg = json.loads(raw)
        except ValueError:
            self.session.note_malformed(self.channel, "not JSON")
            return None
        if not isinstance(msg, dict):
            self.session.note_malformed(self.channel, "not a JSON object")
            return None
        return msg

    def _item(self, msg: dict[str, Any]) -> T | None:
        params = msg.get("params")
        if not isinstance(params, dict) or params.get("channel") != self.channel:
            return None
        try:
            return self._parse(params["data"])
        except (VenueError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
            problem = exc.detail if isinstance(exc, BadResponse) else type(exc).__name__
            self.session.note_malformed(self.channel, problem)
            return None

    async def aclose(self) -> None:
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            if client.ws is not None and hasattr(client.ws, "close_timeout"):
                # An undrained connection stops reading (websockets' backpressure) and would wait the
                # default 10 s for the venue's close frame; we are leaving, so wait briefly.
                client.ws.close_timeout = CLOSE_TIMEOUT
            try:
                await client.close()
            except Exception:  # a dead socket may fail to close; it is gone either way
                log.debug("%s: closing the WebSocket failed", self.channel, exc_info=True)

