"""The fake GRVT's legacy WebSocket (``/ws``): subscriptions, selectors and pushes.

Frames follow the legacy protocol: a client sends ``{"request_id", "stream", "feed": [selector],
"method": "subscribe", "is_full": true}``; the venue answers ``{"request_id", "stream", "subs",
"unsubs", ...}`` and then pushes ``{"stream", "selector", "sequence_number", "feed"}`` with the
exact selector that was subscribed. Each subscription is a simulator subscription (bbo, book,
orders, fills, positions) whose items are encoded as GRVT JSON when they are due (the
simulator's feed latency). A simulated stream drop closes the connection, as a venue would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from exchanges.grvt.fake_codec import GrvtReject, book_json, mini_json
from exchanges.sim.exchange import DISCONNECTED, Subscription

if TYPE_CHECKING:
    from exchanges.grvt.fake import FakeGrvt
    from exchanges.grvt.fake_engine import FakeAccount

MARKET = {"v1.mini.s": "bbo", "v1.mini.d": "bbo", "v1.ticker.s": "bbo", "v1.ticker.d": "bbo",
          "v1.book.s": "book", "v1.book.d": "book"}
TRADING = {"v1.order": "orders", "v1.fill": "fills", "v1.position": "positions"}
BOOK_DEPTHS = (10, 50, 100, 500)


@dataclass(eq=False)
class WsConnection:
    request: web.Request
    ws: web.WebSocketResponse
    account: FakeAccount | None
    pumps: dict[tuple[str, str], asyncio.Task[None]] = field(default_factory=dict)
    subs: dict[tuple[str, str], Subscription] = field(default_factory=dict)

    async def send(self, payload: dict[str, Any] | str) -> None:
        if not self.ws.closed:
            await self.ws.send_str(payload if isinstance(payload, str) else json.dumps(payload))

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (what a network failure looks like)."""
        transport = self.request.transport
        if transport is not None:
            transport.abort()


@dataclass(frozen=True, slots=True)
class Target:
    channel: str  # simulator channel
    symbol: str | None  # the instrument the selector narrows to, if any
    depth: int = 10


class GrvtStreams:
    def __init__(self, fake: FakeGrvt) -> None:
        self.fake = fake
        self.connections: set[WsConnection] = set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        fake = self.fake
        fake.requests["ws"] += 1
        if fake.faults.refuse_ws:
            return fake.error_response(GrvtReject(1002))
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        conn = WsConnection(request, ws, fake.account_of(request))
        self.connections.add(conn)
        try:
            async for msg in ws:
                if msg.type.name == "TEXT":
                    await self._on_frame(conn, msg.data)
                else:
                    break
        finally:
            self.connections.discard(conn)
            self._close(conn)
        return ws

    def drop_all(self) -> int:
        conns = list(self.connections)
        for conn in conns:
            conn.abort()
        return len(conns)

    async def broadcast_raw(self, text: str) -> None:
        for conn in list(self.connections):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await conn.send(text)

    def _close(self, conn: WsConnection) -> None:
        for task in conn.pumps.values():
            task.cancel()
        for sub in conn.subs.values():
            self.fake.engine.ex.unsubscribe(sub)
        conn.pumps.clear()
        conn.subs.clear()

    # --- requests ------------------------------------------------------------------------------
    async def _on_frame(self, conn: WsConnection, data: str) -> None:
        try:
            req = json.loads(data)
            if not isinstance(req, dict):
                raise ValueError
        except ValueError:
            await conn.send(GrvtReject(1003).body())
            return
        rid, stream, method = req.get("request_id"), req.get("stream"), req.get("method")
        selectors = req.get("feed") or []
        if method not in ("subscribe", "unsubscribe") or not isinstance(selectors, list):
            await conn.send({"request_id": rid, **GrvtReject(1003).body()})
            return
        try:
            targets = [self._target(conn, str(stream), str(sel)) for sel in selectors]
        except GrvtReject as rej:
            await conn.send({"request_id": rid, **rej.body()})
            return
        if method == "unsubscribe":
            for sel in selectors:
                self._stop(conn, str(stream), str(sel))
            await conn.send({"request_id": rid, "stream": stream, "subs": [], "unsubs": selectors})
            return
        await conn.send({"request_id": rid, "stream": stream, "subs": selectors, "unsubs": [],
                         "num_snapshots": [1] * len(selectors), "first_sequence_number": ["1"] * len(selectors),
                         "latest_sequence_number": ["0"] * len(selectors)})
        for sel, target in zip(selectors, targets, strict=True):
            self._start(conn, str(stream), str(sel), target)

    def _target(self, conn: WsConnection, stream: str, selector: str) -> Target:
        engine = self.fake.engine
        if stream in TRADING:
            if conn.account is None:
                raise GrvtReject(1000)
            sub_account, _, instrument = selector.partition("-")
            if not sub_account.isdigit():
                raise GrvtReject(3020)
            if sub_account != conn.account.sub_account_id:
                raise GrvtReject(1001)
            if instrument and instrument not in engine.instruments:
                raise GrvtReject(3000)
            return Target(TRADING[stream], engine.instruments[instrument]["base"] if instrument else None)
        if stream not in MARKET:
            raise GrvtReject(1003)
        instrument, at, rest = selector.partition("@")
        if not at or not rest:
            raise GrvtReject(1101)
        if instrument not in engine.instruments:
            raise GrvtReject(3000)
        depth = 10
        if stream == "v1.book.s":
            _, _, raw_depth = rest.partition("-")
            if not raw_depth.isdigit() or int(raw_depth) not in BOOK_DEPTHS:
                raise GrvtReject(1003, "depth")
            depth = int(raw_depth)
        return Target(MARKET[stream], engine.instruments[instrument]["base"], depth)

    def _start(self, conn: WsConnection, stream: str, selector: str, target: Target) -> None:
        key = (stream, selector)
        if key in conn.pumps:
            return  # already subscribed on this connection
        ex = self.fake.engine.ex
        sub = ex.subscribe(target.channel, target.symbol if target.channel in ("bbo", "book") else None)
        conn.subs[key] = sub
        conn.pumps[key] = asyncio.get_running_loop().create_task(self._pump(conn, stream, selector, target, sub))

    def _stop(self, conn: WsConnection, stream: str, selector: str) -> None:
        task = conn.pumps.pop((stream, selector), None)
        if task is not None:
            task.cancel()
        sub = conn.subs.pop((stream, selector), None)
        if sub is not None:
            self.fake.engine.ex.unsubscribe(sub)

    # --- pushes --------------------------------------------------------------------------------
    async def _pump(self, conn: WsConnection, stream: str, selector: str, target: Target, sub: Subscription) -> None:
        encode = self._encoder(conn, target)
        seq = 0

        async def push(feed: dict[str, Any]) -> None:
            nonlocal seq
            seq += 1
            faults = self.fake.faults
            if faults.malformed_ws > 0:
                faults.malformed_ws -= 1
                await conn.send('{"stream": "' + stream + '", "feed": {')  # cut short: not JSON
            await conn.send({"stream": stream, "selector": selector, "sequence_number": str(seq),
                             "prev_sequence_number": str(seq - 1), "feed": feed})

        try:
            for feed in self._snapshot(conn, target):
                await push(feed)
            clock = self.fake.world.clock
            while True:
                at, item = await sub.queue.get()
                if item is DISCONNECTED:
                    conn.abort()
                    return
                wait = at - clock.now()
                if wait > 0:
                    await asyncio.sleep(wait)
                if target.symbol is not None and getattr(item, "symbol", None) != target.symbol:
                    continue
                feed = encode(item)
                if feed is not None:
                    await push(feed)
        except (ConnectionError, RuntimeError):
            conn.abort()

    def _snapshot(self, conn: WsConnection, target: Target) -> list[dict[str, Any]]:
        engine = self.fake.engine
        if target.channel == "book" and target.symbol is not None:
            return [book_json(engine.ex.book(target.symbol, target.depth, engine.now()), target.depth)]
        if target.channel == "positions" and conn.account is not None:
            return [engine.position_view(p, conn.account) for p in engine.ex.positions(engine.now())
                    if p.size != 0 and (target.symbol is None or p.symbol == target.symbol)]
        return []  # bbo: the simulator queues the current top on subscribe

    def _encoder(self, conn: WsConnection, target: Target) -> Callable[[Any], dict[str, Any] | None]:
        engine = self.fake.engine
        account = conn.account
        if target.channel == "bbo":
            return lambda bbo: mini_json(bbo, None)
        if target.channel == "book":
            return lambda book: book_json(book, target.depth)
        assert account is not None
        if target.channel == "orders":
            return engine.order_of_sim
        if target.channel == "fills":
            return lambda fill: engine.fill_view(fill, account)
        return lambda pos: engine.position_view(pos, account)
