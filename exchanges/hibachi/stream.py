"""Hibachi's two WebSocket feeds, each a feed for ``exchanges.streams.ResilientStream``.

- ``MarketFeed``: ``/ws/market`` on the data API, no authorization. ``{"method": "subscribe",
  "parameters": {"subscriptions": [{"symbol", "topic", ...}]}}``; the venue does not answer the
  subscribe, but an ``orderbook`` subscription's first push is a Snapshot, so ``connect`` waits for
  it (subscribed, and the local book seeded, before anything is read).
- ``AccountFeed``: ``/ws/account?accountId=`` with the API key in the ``Authorization`` header.
  ``stream.start`` is answered with the account snapshot (balance, positions) and a listen key
  that expires unless ``stream.ping`` renews it (the docs say within 10 s; the feed pings every
  ``ping_s``). Events arrive as ``{"topic": ..., "data": ...}``: ``ORDER_CREATED`` /
  ``ORDER_UPDATED`` / ``ORDER_CANCELED``, ``trade_update``, ``position_update``,
  ``balance_update``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import websockets

from core.errors import StreamDisconnected
from exchanges.hibachi.wire import VENUE

T = TypeVar("T")
log = logging.getLogger("perpflow.hibachi")
OPEN_TIMEOUT_S = 10.0


class _Feed(Generic[T]):
    """One connection: what both feeds share (receive, decode, close)."""

    name = "feed"

    def __init__(self, url: str, parse: Callable[[dict[str, Any]], list[T]]) -> None:
        self.url = url
        self._parse = parse
        self._ws: Any = None
        self._ready: list[T] = []
        self.malformed = 0

    async def _open(self, headers: dict[str, str] | None = None) -> None:
        try:
            self._ws = await websockets.connect(self.url, open_timeout=OPEN_TIMEOUT_S, max_size=2**22,
                                                additional_headers=headers)
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            raise StreamDisconnected(f"{self.name}: could not connect ({type(exc).__name__})", VENUE) from None

    async def _recv_json(self) -> dict[str, Any]:
        try:
            raw = await self._ws.recv()
        except (websockets.ConnectionClosed, OSError) as exc:
            raise StreamDisconnected(f"{self.name}: connection lost ({type(exc).__name__})", VENUE) from None
        try:
            msg = json.loads(raw)
        except ValueError:
            msg = None
        if not isinstance(msg, dict):
            self.malformed += 1
            log.warning("hibachi %s: skipped a malformed message", self.name)
            return {}
        return msg

    def decode(self, msg: dict[str, Any]) -> list[T]:
        """One message to items (none for answers to our requests, other topics, malformed data)."""
        try:
            return self._parse(msg)
        except Exception:  # malformed: skipped, counted, said
            self.malformed += 1
            log.warning("hibachi %s: skipped a malformed message", self.name)
            return []

    def __aiter__(self) -> _Feed[T]:
        return self

    async def __anext__(self) -> T:
        if self._ws is None:
            await self.connect()
        while not self._ready:
            self._ready.extend(self.decode(await self._recv_json()))
        return self._ready.pop(0)

    async def connect(self) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):  # already gone
                await ws.close()


class MarketFeed(_Feed[T]):
    """One ``/ws/market`` subscription; ``parse`` sees every message of its topic and symbol."""

    def __init__(self, url: str, subscription: dict[str, Any], parse: Callable[[dict[str, Any]], list[T]]) -> None:
        self.subscription = subscription
        self.name = f"{subscription['topic']}.{subscription['symbol']}"

        def mine(msg: dict[str, Any]) -> list[T]:
            if msg.get("topic") != subscription["topic"] or msg.get("symbol") != subscription["symbol"]:
                return []
            return parse(msg)

        super().__init__(url, mine)

    async def connect(self) -> None:
        await self._open()
        try:
            await self._ws.send(json.dumps({"method": "subscribe",
                                            "parameters": {"subscriptions": [self.subscription]}}))
        except websockets.WebSocketException as exc:
            raise StreamDisconnected(f"{self.name}: subscribe failed ({type(exc).__name__})", VENUE) from None
        if self.subscription["topic"] == "orderbook":  # its first push is the Snapshot: subscribed
            while not self._ready:
                msg = await asyncio.wait_for(self._recv_json(), OPEN_TIMEOUT_S)
                self._ready.extend(self.decode(msg))
                if msg.get("topic") == "orderbook":
                    break


class AccountFeed(_Feed[T]):
    """One ``/ws/account`` stream. ``on_start`` turns the ``stream.start`` answer into items (the
    position stream yields the snapshot's positions); ``parse`` sees every event."""

    name = "account"

    def __init__(self, url: str, account_id: int, api_key: Callable[[], str],
                 parse: Callable[[dict[str, Any]], list[T]],
                 on_start: Callable[[dict[str, Any]], list[T]] | None = None, ping_s: float = 5.0) -> None:
        super().__init__(f"{url}?accountId={account_id}", parse)
        self.account_id = account_id
        self._api_key = api_key
        self._on_start = on_start
        self._ping_s = ping_s
        self._ping: asyncio.Task[None] | None = None
        self._next_id = 0
        self.listen_key: str | None = None

    def _request(self, method: str, params: dict[str, Any]) -> str:
        self._next_id += 1
        return json.dumps({"id": self._next_id, "method": method, "params": params})

    async def connect(self) -> None:
        await self._open({"Authorization": self._api_key()})
        try:
            await self._ws.send(self._request("stream.start", {"accountId": self.account_id}))
            while True:
                msg = await asyncio.wait_for(self._recv_json(), OPEN_TIMEOUT_S)
                if msg.get("id") == self._next_id:
                    break
                self._ready.extend(self.decode(msg))  # an event before the answer
        except (websockets.WebSocketException, TimeoutError) as exc:
            raise StreamDisconnected(f"account: stream.start failed ({type(exc).__name__})", VENUE) from None
        if msg.get("status") != 200 or not isinstance(msg.get("result"), dict):
            raise StreamDisconnected(f"account: the venue refused stream.start (status {msg.get('status')})", VENUE)
        self.listen_key = str(msg["result"].get("listenKey"))
        if self._on_start is not None:
            self._ready[:0] = self._on_start(msg["result"])
        self._ping = asyncio.get_running_loop().create_task(self._keep_alive(), name="hibachi-account-ping")

    async def _keep_alive(self) -> None:
        """``stream.ping`` with the listen key, before the venue lets it expire."""
        while self._ws is not None:
            await asyncio.sleep(self._ping_s)
            ws = self._ws
            if ws is None:
                return
            try:
                await ws.send(self._request("stream.ping", {"accountId": self.account_id,
                                                            "listenKey": self.listen_key}))
            except Exception:  # the connection is gone; the reader notices and reconnects
                return

    async def aclose(self) -> None:
        ping, self._ping = self._ping, None
        if ping is not None:
            ping.cancel()
        await super().aclose()
