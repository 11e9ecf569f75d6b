"""Shared plumbing of the protocol fakes: a loopback aiohttp server, switchable faults, the
market driver and the lifecycle every fake has.

A fake venue is an aiohttp application (REST and WebSocket on one port). ``LoopbackServer``
runs it on 127.0.0.1, records every request (method and path, and how long the fake took to
answer it) so tests can assert what an adapter sent and benchmarks can subtract the fake's own
time, and, when given ``Faults``, applies those a test switched on: 429 with Retry-After, 5xx
(before or after the request took effect), slow answers, malformed bodies; WebSocket drops,
refused connections and garbage frames are applied by the venue's own WebSocket code through the
same object. (The GRVT fake answers faults in GRVT's own error shape, so it passes none here.)

``MarketDriver`` moves the simulated market in real time while a fake serves it, and
``LoopbackFake`` gives a fake its URLs and ``async with``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from aiohttp import web

if TYPE_CHECKING:
    from exchanges.sim.world import SimWorld
    from exchanges.spec import FaultKind as ControlKind
    from exchanges.spec import FaultOp

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FaultKind = Literal["rate_limit", "server_error", "slow", "malformed"]
REMEMBER = 100_000  # requests kept for inspection (a long-running fake must not grow without bound)


@dataclass(slots=True)
class HttpFault:
    kind: FaultKind
    route: str | None = None  # "POST /v1/orders": matches requests whose "METHOD path" starts with it
    count: int | None = 1  # requests it still applies to; None = until cleared
    retry_after: float = 1.0  # rate_limit: seconds in the Retry-After header
    status: int = 503  # server_error
    seconds: float = 0.0  # slow
    after_processing: bool = False  # server_error/slow: the request takes effect, then the answer fails/waits

    def matches(self, line: str) -> bool:
        return self.route is None or line.startswith(self.route)


@dataclass(slots=True)
class WsGarbage:
    kind: Literal["json", "fields"]  # not JSON at all / JSON whose data lacks required fields
    channel: str | None = None  # prefix of the channel it applies to; None = any
    count: int = 1


@dataclass
class Faults:
    """Faults a test (or a developer) switches on at runtime; each applies to ``count`` requests."""

    http: list[HttpFault] = field(default_factory=list)
    ws_garbage: list[WsGarbage] = field(default_factory=list)
    ws_refused: bool = False  # new WebSocket connections get HTTP 503

    def rate_limit(self, count: int | None = 1, retry_after: float = 1.0, route: str | None = None) -> HttpFault:
        return self._add(HttpFault("rate_limit", route, count, retry_after=retry_after))

    def server_error(self, count: int | None = 1, status: int = 503, route: str | None = None,
                     after_processing: bool = False) -> HttpFault:
        return self._add(HttpFault("server_error", route, count, status=status, after_processing=after_processing))

    def slow(self, seconds: float, count: int | None = 1, route: str | None = None,
             after_processing: bool = False) -> HttpFault:
        return self._add(HttpFault("slow", route, count, seconds=seconds, after_processing=after_processing))

    def malformed(self, count: int | None = 1, route: str | None = None) -> HttpFault:
        return self._add(HttpFault("malformed", route, count))

    def garbage(self, count: int = 1, channel: str | None = None, kind: Literal["json", "fields"] = "json") -> None:
        """The next ``count`` pushes on ``channel`` are each preceded by a malformed message."""
        self.ws_garbage.append(WsGarbage(kind, channel, count))

    def clear(self) -> None:
        self.http.clear()
        self.ws_garbage.clear()
        self.ws_refused = False

    def _add(self, fault: HttpFault) -> HttpFault:
        self.http.append(fault)
        return fault

    def take(self, line: str) -> HttpFault | None:
        for fault in self.http:
            if fault.matches(line):
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.http.remove(fault)
                return fault
        return None

    def take_garbage(self, channel: str) -> WsGarbage | None:
        for g in self.ws_garbage:
            if g.channel is None or channel.startswith(g.channel):
                g.count -= 1
                if g.count <= 0:
                    self.ws_garbage.remove(g)
                return g
        return None


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=headers)


class LoopbackServer:
    """Runs an aiohttp app on loopback with request recording and (optional) HTTP faults."""

    def __init__(self, app: web.Application, faults: Faults | None = None, *, shutdown_timeout: float = 60.0) -> None:
        self.faults = faults
        # "METHOD /path" of recent requests in arrival order, and how long the fake took to answer each
        self.requests: deque[str] = deque(maxlen=REMEMBER)
        self.handled: deque[tuple[str, float]] = deque(maxlen=REMEMBER)
        # and the CPU time of this thread while answering each (what the machine's load does not inflate)
        self.handled_cpu: deque[float] = deque(maxlen=REMEMBER)
        # the client end ("host:port") of the TCP connection each request came over: a client that
        # keeps its connections alive sends request after request over the same few
        self.peers: deque[str] = deque(maxlen=REMEMBER)
        app.middlewares.append(self._middleware)
        self.app = app
        self.shutdown_timeout = shutdown_timeout  # how long stop() lets open connections finish
        self._runner: web.AppRunner | None = None
        self.host = "127.0.0.1"
        self.port = 0

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        line = f"{request.method} {request.path}"
        self.requests.append(line)
        peer = request.transport.get_extra_info("peername") if request.transport is not None else None
        self.peers.append(f"{peer[0]}:{peer[1]}" if peer else "?")
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return await self._answer(request, handler, line)
        finally:
            self.handled.append((line, time.perf_counter() - t0))
            self.handled_cpu.append(time.thread_time() - c0)

    async def _answer(self, request: web.Request, handler: Handler, line: str) -> web.StreamResponse:
        fault = self.faults.take(line) if self.faults is not None else None
        if fault is None:
            return await handler(request)
        if fault.kind == "rate_limit":
            return _json(429, {"error": "TOO_MANY_REQUESTS", "message": "rate limit exceeded"},
                         {"Retry-After": f"{fault.retry_after:g}"})
        if fault.kind == "server_error":
            if fault.after_processing:
                await handler(request)
            return _json(fault.status, {"error": "INTERNAL_ERROR" if fault.status == 500 else "SERVICE_UNAVAILABLE",
                                        "message": "simulated server error"})
        if fault.kind == "slow":
            if fault.after_processing:
                response = await handler(request)
                await asyncio.sleep(fault.seconds)
                return response
            await asyncio.sleep(fault.seconds)
            return await handler(request)
        response = await handler(request)  # malformed: same status, a truncated body
        return web.Response(status=response.status, text='{"results": [{"id": ', content_type="application/json")

    def count(self, line: str) -> int:
        """How many recorded requests start with ``line`` (e.g. "POST /v1/orders")."""
        return sum(1 for r in self.requests if r.startswith(line))

    def handled_time(self, line: str) -> float:
        """Seconds the fake itself spent on the latest request starting with ``line``."""
        return next(dt for req, dt in reversed(self.handled) if req.startswith(line))

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                                     shutdown_timeout=self.shutdown_timeout)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.host, self.port = host, self._runner.addresses[0][1]  # the port chosen for port=0
        return self.host, self.port

    async def stop(self) -> None:
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await self._runner.cleanup()
            self._runner = None


class MarketDriver:
    """Moves a ``SimWorld`` in real time while a fake serves it: the world's own driver idles for
    seconds between subscriptions, and a fake's pushes must flow from the first one. Several fakes
    may drive one shared world (stepping is idempotent: it catches up to the clock's present)."""

    def __init__(self, world: SimWorld, on_step: Callable[[], object] | None = None, name: str = "fake-market") -> None:
        self.world = world
        self._on_step = on_step
        self._name = name
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drive(), name=self._name)

    async def _drive(self) -> None:
        while True:
            self.world.sync()
            if self._on_step is not None:
                self._on_step()
            await asyncio.sleep(self.world.step)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class LoopbackFake:
    """What every fake venue has: a ``LoopbackServer`` (``server``) serving a simulated market that a
    ``MarketDriver`` (``_market``) moves in real time, URLs on it, ``async with``. Starting and stopping
    are the same for every venue; a fake with more to stop (its own pumps) overrides ``stop``."""

    server: LoopbackServer
    _market: MarketDriver

    @property
    def base_url(self) -> str:
        raise NotImplementedError

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0: any free port) and move the market; returns the REST base URL."""
        await self.server.start(host, port)
        self._market.start()
        return self.base_url

    async def stop(self) -> None:
        await self.drop_streams()
        await self._market.stop()
        await self.server.stop()

    async def drop_streams(self) -> int:
        """Close every stream connection (a venue-wide disconnect); returns how many were closed."""
        raise NotImplementedError

    def url(self, scheme: str, path: str = "") -> str:
        return f"{scheme}://{self.server.host}:{self.server.port}{path}"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class RouteFaultControls:
    """``fail`` and ``sent`` of ``exchanges.spec.FakeControls`` for a fake whose HTTP faults are the
    shared ``Faults``: the venue only names the route of each controlled operation."""

    control_routes: ClassVar[dict[str, str]]  # "place" / "positions" -> "METHOD /path"
    faults: Faults
    server: LoopbackServer

    def fail(self, kind: ControlKind, op: FaultOp, *, count: int = 1, retry_after: float = 1.0,
             seconds: float = 1.0) -> None:
        route = self.control_routes[op]
        if kind == "rate_limit":
            self.faults.rate_limit(count, retry_after, route)
        elif kind == "server_error":
            self.faults.server_error(count, 503, route)
        elif kind == "server_error_after":
            self.faults.server_error(count, 500, route, after_processing=True)
        else:
            self.faults.slow(seconds, count, route, after_processing=True)

    def sent(self, op: FaultOp) -> int:
        return self.server.count(self.control_routes[op])


async def in_simulated_time(exchange: Any, subs: list[Any], now: Callable[[], float]) -> AsyncIterator[Any]:
    """The items of several subscriptions to a simulated exchange, merged as they arrive, each released
    at its simulated time (a fake serves its market in real time, so a message is not sent before it
    happened). The subscriptions end with the iteration (its task cancelled, or the generator closed)."""
    merged: asyncio.Queue[tuple[float, Any]] = asyncio.Queue()

    async def forward(sub: Any) -> None:
        while True:
            merged.put_nowait(await sub.queue.get())

    tasks = [asyncio.get_running_loop().create_task(forward(s)) for s in subs]
    try:
        while True:
            at, item = await merged.get()
            wait = at - now()
            if wait > 0:
                await asyncio.sleep(wait)
            yield item
    finally:
        for t in tasks:
            t.cancel()
        for s in subs:
            exchange.unsubscribe(s)
