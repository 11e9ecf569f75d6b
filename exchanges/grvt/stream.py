"""grvt-pysdk's WebSocket client (``GrvtCcxtWS``) on websockets 15, plus feeds for ResilientStream.

grvt-pysdk 0.2.1 was written for websockets 13: it calls ``websockets.connect(extra_headers=...)``
and reads ``ws.open``, both removed in websockets 14. perpflow runs websockets 15 (paradex-py needs
it), so ``GrvtWs15`` adapts the SDK here, by subclassing, never by patching site-packages:

- ``connect_channel`` connects with ``additional_headers`` (the ``gravity`` session cookie and
  ``X-Grvt-Account-Id``), without logging them, through a logger that redacts secrets (websockets
  logs handshake headers at DEBUG);
- connections are ``LegacyConnection``s, which add back the ``open`` property the SDK's own
  ``_send`` reads, and ``is_connection_open`` reads ``ws.state``;
- ``_read_messages`` waits for a connection instead of polling, catches websockets 15's
  ``ConnectionClosed``, skips a malformed frame without stalling the stream, and reconnects with
  backoff. Only the legacy ``/ws`` endpoints are used (the RPC endpoints are not).

What stays the SDK's: selectors (``_construct_selector``), the legacy subscribe frames
(``subscribe``/``_subscribe_to_stream``/``_unsubscribe_to_stream``), callbacks, ``_send``,
``_reconnect``/``_close_connection``.

On top of that, ``listen()`` gives each consumer its own queue (several consumers may share one
venue subscription) and returns only once the venue acknowledged the subscription. When a
connection drops, every listener on it receives ``DISCONNECTED``: ``GrvtFeed`` turns that into
``StreamDisconnected`` so ``ResilientStream`` subscribes again and catches up over REST.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from pysdk.grvt_ccxt_env import GRVT_WS_STREAMS, GrvtEnv, GrvtWSEndpointType, is_trading_ws_endpoint
from pysdk.grvt_ccxt_ws import GrvtCcxtWS
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.protocol import State

from core.errors import BadResponse, StreamDisconnected, VenueError
from exchanges.grvt.wire import VENUE, venue_error

T = TypeVar("T")
LEGACY = (GrvtWSEndpointType.MARKET_DATA, GrvtWSEndpointType.TRADE_DATA)
DISCONNECTED: Any = object()  # queued to each listener of a connection that dropped
Key = tuple[GrvtWSEndpointType, str, str]  # (endpoint, versioned stream, selector)


class LegacyConnection(ClientConnection):
    """A websockets 15 client connection with the ``open`` property of websockets <= 13."""

    @property
    def open(self) -> bool:
        return self.state is State.OPEN


class _TaskRecorder:
    """Passed to ``GrvtCcxtWS`` as its event loop: records the background tasks the SDK starts
    (and forgets), so that closing the client can cancel them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.tasks: set[asyncio.Task[Any]] = set()

    def create_task(self, coro: Coroutine[Any, Any, Any], **kw: Any) -> asyncio.Task[Any]:
        task = self._loop.create_task(coro, **kw)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)


@dataclass(eq=False)
class Listener:
    key: Key
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class GrvtWs15(GrvtCcxtWS):
    """``GrvtCcxtWS`` adapted to websockets 15 (see the module docstring)."""

    def __init__(self, env: GrvtEnv, *, logger: logging.Logger, protocol_logger: logging.Logger,
                 parameters: dict[str, Any], open_timeout: float = 5.0, reconnect_max: float = 5.0) -> None:
        self._recorder = _TaskRecorder(asyncio.get_running_loop())
        self._protocol_logger = protocol_logger
        self._open_timeout = open_timeout
        self._reconnect_max = reconnect_max
        self._wanted = asyncio.Event()  # set once a stream is asked for: connect lazily
        self._opened = {ep: asyncio.Event() for ep in LEGACY}
        self._locks = {ep: asyncio.Lock() for ep in LEGACY}
        self._listeners: dict[Key, list[Listener]] = {}
        self._acks: dict[Key, asyncio.Future[None]] = {}
        self._pending_rids: dict[int, Key] = {}
        self._closing = False
        self.generation = dict.fromkeys(LEGACY, 0)  # successful connects per endpoint
        self.malformed = 0  # frames skipped because they were not JSON objects
        super().__init__(env, self._recorder, logger, parameters)  # type: ignore[arg-type]
        self.endpoint_types = list(LEGACY)

    # --- websockets 15: connect and state ------------------------------------------------------
    def is_connection_open(self, grvt_endpoint_type: GrvtWSEndpointType) -> bool:
        ws = self.ws.get(grvt_endpoint_type)
        return ws is not None and ws.state is State.OPEN

    async def connect_channel(self, grvt_endpoint_type: GrvtWSEndpointType) -> bool:
        ep = grvt_endpoint_type
        if self.is_connection_open(ep):
            return True
        self.subscribed_streams[ep] = {}
        if ep not in LEGACY:
            return False
        if self._api_key:
            with contextlib.suppress(VenueError):
                await self.refresh_cookie()
        headers: dict[str, str] = {}
        if self._cookie:
            headers["Cookie"] = f"gravity={self._cookie['gravity']}"
            if self._cookie.get("X-Grvt-Account-Id"):
                headers["X-Grvt-Account-Id"] = str(self._cookie["X-Grvt-Account-Id"])
        elif is_trading_ws_endpoint(ep):
            self.logger.info("%s: no session cookie yet; not connecting", ep.value)
            return False
        url = self.api_url[ep]
        try:
            self.ws[ep] = await connect(url, additional_headers=headers, open_timeout=self._open_timeout,
                                        logger=self._protocol_logger, create_connection=LegacyConnection,
                                        proxy=None if _is_loopback(url) else True, max_size=2**22)
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            self.logger.warning("%s: cannot connect to %s (%s: %s)", ep.value, url, type(exc).__name__, exc)
            self.ws[ep] = None
            return False
        self.generation[ep] += 1
        self._opened[ep].set()
        self.logger.info("%s: connected to %s", ep.value, url)
        return True

    async def _reconnect(self, grvt_endpoint_type: GrvtWSEndpointType) -> None:
        """Serialised per endpoint; tells the listeners of the dead connection it is gone."""
        ep = grvt_endpoint_type
        if ep not in LEGACY or self._closing:
            return
        async with self._locks[ep]:
            if self.is_connection_open(ep):
                return
            self._connection_lost(ep)
            await super()._reconnect(ep)

    def _connection_lost(self, ep: GrvtWSEndpointType) -> None:
        self._opened[ep].clear()
        for key in [k for k in self._listeners if k[0] == ep]:
            for listener in self._listeners.pop(key):
                listener.queue.put_nowait(DISCONNECTED)
        for key in [k for k in self._acks if k[0] == ep]:
            fut = self._acks.pop(key)
            if not fut.done():
                fut.set_exception(StreamDisconnected(f"{ep.value} dropped while subscribing", VENUE))
        self._pending_rids = {rid: k for rid, k in self._pending_rids.items() if k[0] != ep}
        self.callbacks[ep].clear()  # new feeds subscribe again themselves, then catch up

    async def _reconnect_until_open(self, ep: GrvtWSEndpointType) -> None:
        delay = 0.05
        while not self._closing:
            await self._reconnect(ep)
            if self.is_connection_open(ep):
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._reconnect_max)

    # --- reading -------------------------------------------------------------------------------
    async def _read_messages(self, grvt_endpoint_type: GrvtWSEndpointType) -> None:
        ep = grvt_endpoint_type
        if ep not in LEGACY:
            return  # the JSON-RPC endpoints are not used
        await self._wanted.wait()
        while not self._closing:
            if not self.is_connection_open(ep):
                await self._reconnect_until_open(ep)
                continue
            ws = self.ws[ep]
            assert ws is not None
            try:
                raw = await ws.recv()
            except ConnectionClosed as exc:
                self.logger.warning("%s: connection closed (%s); reconnecting", ep.value, exc)
                continue
            try:
                message = json.loads(raw)
                if not isinstance(message, dict):
                    raise ValueError("not an object")
            except ValueError:
                self.malformed += 1
                self.logger.warning("%s: skipped a malformed frame (%d bytes)", ep.value, len(raw))
                continue
            try:
                await self._dispatch(ep, message)
            except Exception:  # one bad message must not end the stream
                self.logger.exception("%s: handling a message failed", ep.value)

    async def _dispatch(self, ep: GrvtWSEndpointType, message: dict[str, Any]) -> None:
        self._check_susbcribed_stream(ep, message)
        if "feed" not in message:
            return
        callback = self.callbacks[ep].get(message.get("stream", ""), {}).get(message.get("selector", ""))
        if callback is not None:
            await callback(message)

    def _check_susbcribed_stream(self, grvt_endpoint_type: GrvtWSEndpointType, message: dict) -> None:
        """SDK bookkeeping, plus: resolve subscription acknowledgements and errors."""
        ep = grvt_endpoint_type
        super()._check_susbcribed_stream(ep, message)
        if "feed" in message:
            return
        key = self._pending_rids.pop(message.get("request_id"), None)  # type: ignore[arg-type]
        if "subs" in message:
            for selector in message.get("subs") or ():
                fut = self._acks.get((ep, message.get("stream", ""), selector))
                if fut is not None and not fut.done():
                    fut.set_result(None)
        elif "code" in message and key is not None:
            fut = self._acks.get(key)
            if fut is not None and not fut.done():
                fut.set_exception(venue_error(int(message.get("status") or 400), message))

    async def _subscribe_to_stream(self, ws_end_point_type: GrvtWSEndpointType, versioned_stream: str,
                                   selector: str) -> None:
        # The SDK takes ``self._request_id + 1`` before its first await: remember what it is for.
        self._pending_rids[self._request_id + 1] = (ws_end_point_type, versioned_stream, selector)
        await super()._subscribe_to_stream(ws_end_point_type, versioned_stream, selector)

    # --- listeners -----------------------------------------------------------------------------
    def start_streams(self) -> None:
        self._wanted.set()

    async def listen(self, stream: str, params: dict[str, Any], wait_s: float) -> Listener:
        """Subscribe (or join an existing subscription) and return once the venue acknowledged."""
        ep = GRVT_WS_STREAMS[stream]
        self.start_streams()
        try:
            await asyncio.wait_for(self._opened[ep].wait(), wait_s)
        except TimeoutError:
            raise StreamDisconnected(f"{ep.value} is not connected", VENUE) from None
        selector = self._construct_selector(stream, params)
        key: Key = (ep, self.get_versioned_stream(stream), selector)
        listener = Listener(key)
        peers = self._listeners.setdefault(key, [])
        peers.append(listener)
        if len(peers) == 1:
            self._acks[key] = asyncio.get_running_loop().create_future()
            await self.subscribe(stream, self._fan_out(key), ep, params)
        fut = self._acks.get(key)
        try:
            if fut is None:  # the connection dropped in between
                raise StreamDisconnected(f"{ep.value} dropped while subscribing", VENUE)
            await asyncio.wait_for(asyncio.shield(fut), wait_s)
        except TimeoutError:
            await self.release(listener)
            raise StreamDisconnected(f"no acknowledgement for {key[1]} {selector}", VENUE) from None
        except BaseException:
            await self.release(listener)
            raise
        return listener

    def _fan_out(self, key: Key) -> Callable[[dict[str, Any]], Awaitable[None]]:
        async def deliver(message: dict[str, Any]) -> None:
            for listener in self._listeners.get(key, ()):
                listener.queue.put_nowait(message)
        return deliver

    async def release(self, listener: Listener) -> None:
        peers = self._listeners.get(listener.key)
        if not peers or listener not in peers:
            return
        peers.remove(listener)
        if peers:
            return
        ep, vstream, selector = listener.key
        del self._listeners[listener.key]
        self._acks.pop(listener.key, None)
        self.callbacks[ep].get(vstream, {}).pop(selector, None)
        if self.is_connection_open(ep):
            with contextlib.suppress(Exception):
                await self._unsubscribe_to_stream(ep, vstream, selector)

    async def aclose(self) -> None:
        """Cancel the SDK's background tasks and close the connections."""
        self._closing = True
        tasks = list(self._recorder.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for ep in LEGACY:
            ws = self.ws.get(ep)
            if ws is not None:
                with contextlib.suppress(Exception):
                    await ws.close()
            self._connection_lost(ep)


class GrvtFeed(Generic[T]):
    """One subscription as a raw feed for ``ResilientStream``: ``connect()`` returns once the
    venue acknowledged; a dropped connection raises ``StreamDisconnected``; a payload that does
    not parse is logged and skipped."""

    def __init__(self, client: Callable[[], Awaitable[GrvtWs15]], stream: str, params: dict[str, Any],
                 parse: Callable[[dict[str, Any]], list[T]], *, wait_s: float, logger: logging.Logger) -> None:
        self._client = client
        self._stream = stream
        self._params = params
        self._parse = parse
        self._wait_s = wait_s
        self._log = logger
        self._ws: GrvtWs15 | None = None
        self._listener: Listener | None = None
        self._buffer: deque[T] = deque()
        self._dropped = False
        self.skipped = 0

    async def connect(self) -> None:
        if self._listener is None and not self._dropped:
            self._ws = await self._client()
            self._listener = await self._ws.listen(self._stream, self._params, self._wait_s)

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        while True:
            if self._buffer:
                return self._buffer.popleft()
            if self._dropped:
                raise StreamDisconnected(f"{self._stream} feed closed", VENUE)
            if self._listener is None:
                await self.connect()
            assert self._listener is not None
            message = await self._listener.queue.get()
            if message is DISCONNECTED:
                self._listener, self._dropped = None, True
                raise StreamDisconnected(f"{self._stream} connection dropped", VENUE)
            try:
                self._buffer.extend(self._parse(message["feed"]))
            except (BadResponse, KeyError, TypeError, ValueError, AttributeError) as exc:
                self.skipped += 1
                self._log.warning("grvt %s: skipped an unreadable message (%s)", self._stream, exc)

    async def aclose(self) -> None:
        self._dropped = True
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.queue.put_nowait(DISCONNECTED)  # wakes a consumer waiting on this feed
            if self._ws is not None:
                await self._ws.release(listener)
