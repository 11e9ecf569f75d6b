"""Adapter overhead over every venue against its protocol fake: per order and per stream message.

For each venue in the registry with a live adapter and a fake (``exchanges/<venue>/``), on a fresh
simulated market on loopback:

- sign: building and signing one order the way ``place_limit`` does (the venue's
  ``exchanges/<venue>/bench.py`` hook), next to the bare signature primitive alone (the floor any
  implementation of the venue's scheme pays, measured in the same run);
- place_limit: the adapter end to end (build, sign, send, acknowledge), wall time; the fake's own
  time serving those requests (its ``LoopbackServer`` records each request's handler time) is
  subtracted to give our overhead per order, and how many requests each order took is counted;
- CPU time (``time.process_time``, every thread of the process) per order minus the fake's own
  CPU time (its ``LoopbackServer`` records each handler's thread time): what the machine's load
  does not inflate, next to the same for the bare round trip;
- the transport floor: a bare HTTP round trip (httpx, kept alive, a GET the fake answers 404
  without any venue logic) to the same loopback server, interleaved with the orders in the same
  run. It is what the client library, aiohttp's server side and the shared event loop cost per
  request on this machine; "beyond the floor" is ours minus (requests x the floor's median).
- per stream message: decoding one frame the fake sends (JSON + wire -> domain object).

Everything shares one event loop and the machine's cores with the fake and its market simulation,
so p99 carries the machine's noise; run it on a quiet machine for figures to compare.

Where the time goes (what the figures showed when this was written; each venue's README says more):
Paradex is the slowest per order. Paradex answers a new order NEW (its engine rules later, and a
post-only order that would cross is closed then), so the adapter reads it back: two requests; and
paradex-py's REST client is synchronous, so every request hops to a worker thread and takes turns
with the event loop for the interpreter. Signing is ~1 ms (the typed-data hash on
fast_stark_crypto, exchanges/paradex/signing.py); its fake also verifies a Stark signature per
order, which is most of the fake's own time. GRVT answers PENDING and is read back too (two
requests); its order signing (exchanges/grvt/signing.py) is now a few hundred microseconds, about
the bare libsecp256k1 signature plus a dozen keccaks. Backpack answers an order with its final
state in one signed request. Hibachi answers a new order with its id only: a post-only order (what
this bench places) is acknowledged by that answer alone, one request; an order that may fill at
once is read back (two). Extended answers an order's id and is read back (two requests). What
remains beyond the signature is the HTTP client library and the event loop the fake shares.

    .venv/bin/python bench/adapters.py [--orders 100] [--messages 2000] [--venues paradex,grvt]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import os
import re
import statistics
import time
import types
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import httpx

from core.clock import RealClock
from core.types import Side
from exchanges import registry
from exchanges.sim.flow import StaticSource
from exchanges.sim.world import SimWorld
from render.tables import text_table

SYMBOL = "SOL"
FLOOR_PATH = "/bench-floor"  # no route: the fake answers 404 without any venue logic
WHY = {  # what each venue's place_limit does beyond one signed request (see its exchanges/<venue>/README.md)
    "paradex": "Why: paradex-py's REST client is synchronous (each request hops to a worker thread) and Paradex "
               "answers a new order NEW, so the order is read back (GET /orders/{id}) until the engine ruled.",
    "grvt": "Why: GRVT answers a new order PENDING and it is read back until the engine ruled.",
    "hibachi": "Why: Hibachi answers a new order with its id only; a post-only one is acknowledged by that answer, "
               "any other is read back.",
    "extended": "Why: Extended answers a new order with its id only; its state comes from a read-back.",
    "backpack": "Why: one signed request answered with the order's state; what remains is the client library.",
}


class RawHttp:
    """The least an HTTP/1.1 client can do: one kept-alive asyncio socket, a GET written as bytes,
    the answer read by its Content-Length. Its round trip is the server framework's, the event
    loop's and loopback's cost per request, with next to nothing of a client library in it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.request = f"GET {FLOOR_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def get(self) -> bytes:
        assert self._reader is not None and self._writer is not None
        self._writer.write(self.request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        return await self._reader.readexactly(length)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            await self._writer.wait_closed()


class GcClock:
    """Seconds the garbage collector has run in this process (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._t0 = 0.0
        gc.callbacks.append(self._on)

    def _on(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._t0


GC = GcClock()
FAKE_CODE = re.compile(r"/aiohttp/web[^/]*\.py$|/exchanges/(fakes|sim)/|/exchanges/\w+/fake[^/]*\.py$")


class LoopLedger:
    """Whose code the event loop runs, callback by callback, while ``on``: the fake's (its aiohttp
    server's socket callbacks and request tasks, so parsing, routing, its handlers and writing the
    answers, and its market and stream pumps) or anything else. It wraps asyncio's ``Handle._run``
    in this process only. The fake's callbacks are timed in wall and thread-CPU time; garbage
    collection that runs inside one of them is counted as ours (the process's heap is ours)."""

    def __init__(self) -> None:
        self.on = False
        self.fake = self.fake_cpu = self.ours = 0.0
        self._known: dict[Any, bool] = {}
        original = asyncio.events.Handle._run
        ledger = self

        def run(handle: asyncio.Handle) -> None:
            if not ledger.on:
                return original(handle)
            if not ledger.is_fake(handle._callback):  # type: ignore[attr-defined]
                t0 = time.perf_counter()
                try:
                    return original(handle)
                finally:
                    ledger.ours += time.perf_counter() - t0
            g0, t0, c0 = GC.total, time.perf_counter(), time.thread_time()
            try:
                return original(handle)
            finally:
                c1, t1 = time.thread_time(), time.perf_counter()
                collected = GC.total - g0
                ledger.fake += t1 - t0 - collected
                ledger.fake_cpu += c1 - c0 - collected

        asyncio.events.Handle._run = run  # type: ignore[method-assign]

    def is_fake(self, callback: Any) -> bool:
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, asyncio.Task):  # a task's step: whose coroutine it runs
            key: Any = getattr(owner.get_coro(), "cr_code", None)
        elif owner is not None:  # a transport's callback: whose protocol it feeds
            key = type(getattr(owner, "_protocol", None) or owner)
        else:
            key = getattr(callback, "__module__", None)
        known = self._known.get(key)
        if known is None:
            known = self._known[key] = self._classify(key)
        return known

    @staticmethod
    def _classify(key: Any) -> bool:
        if isinstance(key, types.CodeType):
            return FAKE_CODE.search(key.co_filename) is not None
        module = (key.__module__ if isinstance(key, type) else key) or ""
        return module.startswith(("aiohttp.web", "exchanges.sim", "exchanges.fakes")) or ".fake" in module

    def start(self) -> None:
        self.fake = self.fake_cpu = self.ours = 0.0
        self.on = True

    def stop(self) -> tuple[float, float, float]:
        """The fake's wall and CPU time, and the wall time of every other callback, since ``start``."""
        self.on = False
        return self.fake, self.fake_cpu, self.ours


LEDGER = LoopLedger()


COLUMNS = """
Our overhead per order, ms (what each column means):
  wall        place_limit end to end: build, sign, send, acknowledge, every request it took
  fake's      the fake's own time, measured callback by callback on the event loop (LoopLedger): its aiohttp
              server's socket callbacks and request tasks (parsing, routing, its handlers, writing the answers)
              and its market and stream pumps, whenever they ran within the order
  ours        wall - fake's: our code, our HTTP client library (our choice, so it counts), the event loop's own
              scheduling and loopback's syscalls (no client avoids those), and garbage collection
  CPU         process CPU over the order - the thread CPU of the fake's callbacks: the same split in CPU time,
              which the machine's load inflates less than wall time
  GC max      the longest time the garbage collector ran within one order (part of ours)
"""


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def row(name: str, samples: list[float], unit: float) -> list[Any]:
    return [name, len(samples), pct(samples, 0.5) * unit, pct(samples, 0.99) * unit, statistics.fmean(samples) * unit]


def timed(fn: Callable[[int], Any], n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


async def bench_venue(name: str, orders: int, messages: int, gc_freeze: bool = False
                      ) -> tuple[list[list[Any]], list[list[Any]], list[Any]]:
    spec = registry.get(name, live=True, fake=True)
    hooks = importlib.import_module(f"exchanges.{name}.bench")
    world = SimWorld(venues=(name,), symbols=(SYMBOL,), seed=7, clock=RealClock(), warmup=60)
    assert spec.fake is not None and spec.adapter is not None
    demo = spec.fake(world, False)
    await demo.server.start()
    venue = spec.adapter(demo.settings(), RealClock())
    server = demo.server.server  # LoopbackServer: records the fake's own time per request
    try:
        await venue.start()
        ins = await venue.instrument(SYMBOL)
        notional = max(ins.min_notional, Decimal(20)) * 2  # some venues publish no minimum notional but enforce one
        size = ins.round_size(max(ins.min_size, notional / (await venue.bbo(SYMBOL)).bid)) + ins.lot
        n = 0

        async def trade() -> None:
            nonlocal n
            n += 1
            await venue.place_market(SYMBOL, Side.BUY if n % 2 else Side.SELL, size, client_id=f"bench-f{n}",
                                     max_slippage_bps=Decimal(30))

        captured = await hooks.frames(venue, demo.server, SYMBOL, trade)  # frames of a moving market
        parse_rows = []
        for channel, (raw, decode) in captured.items():
            samples = timed(lambda i, raw=raw, decode=decode: decode(raw[i % len(raw)]), messages)
            parse_rows.append(row(f"{name} {channel} ({len(raw[0])} B)", samples, 1e6))
        for slot in world.exchanges[name].slots.values():
            slot.source = StaticSource()  # then the book holds still: orders rest at a fixed price
        price = ins.round_price((await venue.bbo(SYMBOL)).bid * Decimal("0.97"), Side.BUY)
        if gc_freeze:  # what a long-lived bot can do once started: its start-up heap leaves the collections
            gc.collect()
            gc.freeze()
        sign = timed(hooks.signer(venue, SYMBOL, price, size), orders)
        bare = timed(hooks.bare_sign(venue), orders)
        wall, handler, requests, fake_own, ours_cpu, our_callbacks, gc_ms = [], [], [], [], [], [], []
        raw_wall, raw_srv = [], []  # the minimal client's bare GET, and the fake's handler time for it
        lib_wall: dict[str, list[float]] = {"httpx": [], "aiohttp": []}  # the same GET by each client library
        raw = RawHttp(server.host, server.port)
        await raw.open()
        async with httpx.AsyncClient(base_url=f"http://{server.host}:{server.port}") as hx, \
                aiohttp.ClientSession(f"http://{server.host}:{server.port}") as ah:
            async def ah_get() -> None:
                async with ah.get(FLOOR_PATH) as resp:
                    await resp.read()
            clients: dict[str, Callable[[], Awaitable[Any]]] = {"httpx": lambda: hx.get(FLOOR_PATH),
                                                                  "aiohttp": ah_get}
            for warm in (raw.get, *clients.values()):  # connections opened before timing, as the adapter's are
                await warm()
            for i in range(orders):
                seen = len(server.handled)
                gc_before = GC.total
                LEDGER.start()
                t0, c0 = time.perf_counter(), time.process_time()
                await venue.place_limit(SYMBOL, Side.BUY, price, size, client_id=f"bench-{i}", post_only=True)
                dt, dc = time.perf_counter() - t0, time.process_time() - c0
                fake_wall, fake_cpu, ours_run = LEDGER.stop()
                fake_own.append(fake_wall)
                our_callbacks.append(ours_run)
                ours_cpu.append(dc - fake_cpu)
                gc_ms.append(GC.total - gc_before)
                wall.append(dt)
                handler.append(sum(d for _, d in list(server.handled)[seen:]))
                requests.append(len(server.handled) - seen)
                LEDGER.start()
                t0 = time.perf_counter()
                await raw.get()
                raw_wall.append(time.perf_counter() - t0)
                raw_srv.append(LEDGER.stop()[0])
                for lib, get in clients.items():
                    t0 = time.perf_counter()
                    await get()
                    lib_wall[lib].append(time.perf_counter() - t0)
                if i % 50 == 49:
                    await venue.cancel_all(SYMBOL)
        await raw.close()
        await venue.cancel_all(SYMBOL)
    finally:
        await venue.close()
        await demo.server.stop()
        await world.stop()
        if gc_freeze:
            gc.unfreeze()
    ours = [w - f for w, f in zip(wall, fake_own, strict=True)]
    per_order = statistics.fmean(requests)
    order_rows = [row(f"{name} {getattr(hooks, 'BARE_LABEL', 'bare signature (floor)')}", bare, 1e3),
                  row(f"{name} build + sign", sign, 1e3),
                  row(f"{name} bare GET, minimal socket client (floor)", raw_wall, 1e3),
                  row(f"{name}   of which the fake's server side (404, no venue logic)", raw_srv, 1e3),
                  *[row(f"{name} bare GET, {lib}", w, 1e3) for lib, w in lib_wall.items()],
                  row(f"{name} place_limit, wall", wall, 1e3),
                  row(f"{name}   the fake's handlers", handler, 1e3),
                  row(f"{name}   the fake's own (its server side, handlers, pumps)", fake_own, 1e3),
                  row(f"{name}   ours (wall - the fake's own)", ours, 1e3),
                  row(f"{name}     of which running our callbacks (the rest: the loop, waits)", our_callbacks, 1e3),
                  row(f"{name}   ours, CPU (process CPU - the fake's thread CPU)", ours_cpu, 1e3),
                  row(f"{name}   GC pauses within the order", gc_ms, 1e3)]
    summary = [name, per_order, pct(wall, 0.5) * 1e3, statistics.median(fake_own) * 1e3, pct(ours, 0.5) * 1e3,
               pct(ours, 0.99) * 1e3, pct(ours_cpu, 0.5) * 1e3, pct(ours_cpu, 0.99) * 1e3, max(gc_ms) * 1e3,
               "yes" if pct(ours, 0.99) <= 1e-3 else "no"]
    return order_rows, parse_rows, summary


async def main(names: tuple[str, ...], orders: int, messages: int, gc_freeze: bool) -> None:
    order_rows: list[list[Any]] = []
    parse_rows: list[list[Any]] = []
    summaries: dict[str, list[Any]] = {}
    load = os.getloadavg()
    for name in names:
        o, p, summary = await bench_venue(name, orders, messages, gc_freeze)
        order_rows += o
        parse_rows += p
        summaries[name] = summary
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; after: "
          "{:.2f} {:.2f} {:.2f}; {} cores".format(*os.getloadavg(), os.cpu_count()))
    print(f"\nPer order, adapter against its fake on loopback ({orders} orders, "
          f"{'gc.freeze() after set-up' if gc_freeze else 'the garbage collector as it comes'}), ms\n")
    print(text_table(["step", "n", "p50 ms", "p99 ms", "mean ms"], order_rows, places=3))
    print(f"\nPer stream message, decode (JSON + wire -> domain), {messages} messages per channel, µs\n")
    print(text_table(["channel", "n", "p50 µs", "p99 µs", "mean µs"], parse_rows, places=1))
    print(COLUMNS)
    print(text_table(["venue", "req/order", "wall p50", "fake's p50", "ours p50", "ours p99", "CPU p50",
                      "CPU p99", "GC max", "p99 <= 1 ms"], list(summaries.values()), places=3))
    slowest = max(summaries, key=lambda n: summaries[n][4])  # by the median: p99 on a shared machine is its noise
    _, per_order, _, _, median, ours, cpu, _, _, _ = summaries[slowest]
    print(f"\nslowest venue per order: {slowest}: ours p50 {median:.3f} ms, p99 {ours:.3f} ms (the fake's own time "
          f"excluded), CPU p50 {cpu:.3f} ms; {per_order:.2f} requests per order. {WHY.get(slowest, '')}")
    print("target: ours p99 <= 1 ms per order (wall minus the fake's own time: its server side, handlers and pumps)")

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=100)
    ap.add_argument("--messages", type=int, default=2_000)
    ap.add_argument("--venues", default=",".join(registry.names(live=True, fake=True)))
    ap.add_argument("--gc-freeze", action="store_true",
                    help="gc.freeze() once each venue is set up (the start-up heap is no longer collected)")
    args = ap.parse_args()
    asyncio.run(main(tuple(v.strip() for v in args.venues.split(",") if v.strip()), args.orders, args.messages,
                     args.gc_freeze))
