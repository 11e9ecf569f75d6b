"""x10's stream client on websockets 15, plus one subscription as a feed for ``ResilientStream``.

x10-python-trading-starknet 2.6 was written for websockets <= 13: ``StreamConnection`` connects with
``websockets.connect(url, extra_headers=...)`` and reads ``ws.closed``, both gone from websockets 14's
client. perpflow runs websockets 15 (paradex-py needs it), so the SDK is adapted here, by
subclassing, never by patching site-packages:

- ``Ws15StreamConnection`` overrides only the SDK's private ``__connect``: it connects with
  ``additional_headers`` (``X-Api-Key`` and the SDK's User-Agent), an open timeout, and a logger that
  redacts secrets (websockets logs handshake headers at DEBUG); its connection is a
  ``Ws15Connection``, which adds back the ``closed`` property the SDK's ``close``/``__anext__`` read.
- ``Ws15StreamClient`` overrides only the SDK's private ``__connect`` factory, so the SDK's own
  ``subscribe_to_orderbooks`` / ``subscribe_to_account_updates`` build the URLs and parse every
  message with its models (``WrappedStreamResponseModel``).

``X10Feed`` reads one such connection: messages are parsed by the SDK, then by the adapter's
``parse`` into domain items; a dropped connection is ``StreamDisconnected`` (``ResilientStream``
reconnects and catches up over REST); a malformed message is skipped and counted; a gap in ``seq``
(Extended numbers every message of a connection) is a disconnect, since a missed book delta would
leave the local book wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.protocol import State
from x10.clients.stream.stream_client import StreamClient
from x10.clients.stream.stream_connection import StreamConnection
from x10.utils.http import USER_AGENT, RequestHeader

from core.errors import StreamDisconnected
from exchanges.extended.wire import VENUE

T = TypeVar("T")
log = logging.getLogger("perpflow.extended")
WS_LOGGER = "perpflow.extended.websockets"  # websockets' protocol logging for our connections (redacted)


class Ws15Connection(ClientConnection):
    """A websockets 15 client connection with the ``closed`` property of websockets <= 13."""

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED


class Ws15StreamConnection(StreamConnection):  # type: ignore[type-arg]
    """x10's ``StreamConnection`` connecting through websockets 15 (see the module docstring)."""

    open_timeout: float = 10.0

    async def _StreamConnection__connect(self) -> None:  # the SDK's private ``__connect``
        api_key = self._StreamConnection__api_key  # type: ignore[attr-defined]
        headers = {RequestHeader.USER_AGENT.value: USER_AGENT}
        if api_key is not None:
            headers[RequestHeader.API_KEY.value] = api_key
        self._StreamConnection__websocket = await connect(  # type: ignore[attr-defined]
            self._StreamConnection__stream_url,  # type: ignore[attr-defined]
            additional_headers=headers, open_timeout=self.open_timeout,
            close_timeout=self._StreamConnection__close_timeout,  # type: ignore[attr-defined]
            max_size=2**22, create_connection=Ws15Connection, logger=logging.getLogger(WS_LOGGER))


class Ws15StreamClient(StreamClient):
    """x10's ``StreamClient`` whose connections are ``Ws15StreamConnection``s."""

    def _StreamClient__connect(self, stream_url: str, msg_model_class: Any,  # the SDK's private ``__connect``
                               api_key: str | None = None) -> Ws15StreamConnection:
        return Ws15StreamConnection(stream_url=stream_url, msg_model_class=msg_model_class, api_key=api_key,
                                    close_timeout=1.0)


class X10Feed(Generic[T]):
    """One SDK stream subscription as a ``ResilientStream`` feed.

    ``subscribe()`` gives the SDK's (unconnected) connection; ``parse(message)`` turns one
    ``WrappedStreamResponseModel`` into items (it may read REST, e.g. to name a fill's client id).
    """

    def __init__(self, name: str, subscribe: Callable[[], Awaitable[StreamConnection]],  # type: ignore[type-arg]
                 parse: Callable[[Any], Awaitable[list[T]]], *, check_seq: bool = False) -> None:
        self.name = name
        self._subscribe = subscribe
        self._parse = parse
        self._check_seq = check_seq
        self._conn: Any = None
        self._seq: int | None = None
        self._ready: list[T] = []
        self.malformed = 0

    async def connect(self) -> None:
        """Connected is subscribed: Extended's streams are chosen by URL, and the venue pushes from
        the handshake on."""
        conn = await self._subscribe()
        try:
            await conn
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI, ConnectionClosed) as exc:
            raise StreamDisconnected(f"{self.name}: could not connect ({type(exc).__name__})", VENUE) from None
        self._conn = conn

    def __aiter__(self) -> X10Feed[T]:
        return self

    async def __anext__(self) -> T:
        if self._conn is None:
            await self.connect()
        while not self._ready:
            try:
                msg = await self._conn.recv()
            except (ConnectionClosed, OSError) as exc:
                raise StreamDisconnected(f"{self.name}: connection lost ({type(exc).__name__})", VENUE) from None
            except (ValidationError, ValueError):  # the SDK could not parse it: skipped, counted, said
                self.malformed += 1
                log.warning("extended %s: skipped a malformed message", self.name)
                continue
            if self._check_seq:
                if self._seq is not None and msg.seq != self._seq + 1:
                    raise StreamDisconnected(f"{self.name}: message {msg.seq} after {self._seq} (a gap)", VENUE)
                self._seq = msg.seq
            if msg.error:
                raise StreamDisconnected(f"{self.name}: the venue said {msg.error}", VENUE)
            try:
                self._ready.extend(await self._parse(msg))
            except (KeyError, ValueError, TypeError):
                self.malformed += 1
                log.warning("extended %s: skipped a message it could not read", self.name)
        return self._ready.pop(0)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # already gone
                log.debug("extended %s: close failed", self.name, exc_info=True)
