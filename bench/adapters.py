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
import importlib
import os
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from core.clock import RealClock
from core.types import Side
from exchanges import registry
from exchanges.sim.flow import StaticSource
from exchanges.sim.world import SimWorld
from render.tables import text_table

SYMBOL = "SOL"
WHY = {  # what each venue's place_limit does beyond one signed request (see its exchanges/<venue>/README.md)
    "paradex": "Why: paradex-py's REST client is synchronous (each request hops to a worker thread) and Paradex "
               "answers a new order NEW, so the order is read back (GET /orders/{id}) until the engine ruled.",
    "grvt": "Why: GRVT answers a new order PENDING and it is read back until the engine ruled.",
    "hibachi": "Why: Hibachi answers a new order with its id only; a post-only one is acknowledged by that answer, "
               "any other is read back.",
    "extended": "Why: Extended answers a new order with its id only; its state comes from a read-back.",
    "backpack": "Why: one signed request answered with the order's state; what remains is the client library.",
}


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


async def bench_venue(name: str, orders: int, messages: int) -> tuple[list[list[Any]], list[list[Any]], float]:
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
        sign = timed(hooks.signer(venue, SYMBOL, price, size), orders)
        bare = timed(hooks.bare_sign(venue), orders)
        wall, fake_own, ours, requests, floor, cpu, floor_cpu = [], [], [], [], [], [], []
        async with httpx.AsyncClient(base_url=f"http://{server.host}:{server.port}") as plain:
            await plain.get("/bench-floor")  # the connection opened before timing, as the adapter's is
            for i in range(orders):
                seen = len(server.handled)
                t0, c0 = time.perf_counter(), time.process_time()
                await venue.place_limit(SYMBOL, Side.BUY, price, size, client_id=f"bench-{i}", post_only=True)
                dt, dc = time.perf_counter() - t0, time.process_time() - c0
                done = list(server.handled)[seen:]
                cpu.append(dc - sum(list(server.handled_cpu)[seen:]))
                own = sum(d for _, d in done)
                wall.append(dt)
                fake_own.append(own)
                ours.append(dt - own)
                requests.append(len(done))
                t0, c0 = time.perf_counter(), time.process_time()
                await plain.get("/bench-floor")
                floor.append(time.perf_counter() - t0)
                floor_cpu.append(time.process_time() - c0)
                if i % 50 == 49:
                    await venue.cancel_all(SYMBOL)
        await venue.cancel_all(SYMBOL)
    finally:
        await venue.close()
        await demo.server.stop()
        await world.stop()
    trip = statistics.median(floor)
    beyond = [o - k * trip for o, k in zip(ours, requests, strict=True)]
    per_order = statistics.fmean(requests)
    order_rows = [row(f"{name} bare signature (floor)", bare, 1e3),
                  row(f"{name} build + sign", sign, 1e3),
                  row(f"{name} bare HTTP round trip (floor)", floor, 1e3),
                  row(f"{name} place_limit, wall", wall, 1e3),
                  row(f"{name}   the fake's own time", fake_own, 1e3),
                  row(f"{name}   ours (wall - fake)", ours, 1e3),
                  row(f"{name}   ours beyond the floor ({per_order:.2f} req/order)", beyond, 1e3),
                  row(f"{name} bare HTTP round trip, CPU (floor)", floor_cpu, 1e3),
                  row(f"{name} place_limit, CPU - the fake's CPU", cpu, 1e3)]
    cpu_trip = statistics.median(floor_cpu)
    cpu_beyond = [c - k * cpu_trip for c, k in zip(cpu, requests, strict=True)]
    summary = [name, per_order, pct(ours, 0.5) * 1e3, pct(ours, 0.99) * 1e3, pct(beyond, 0.5) * 1e3,
               pct(beyond, 0.99) * 1e3, pct(cpu_beyond, 0.5) * 1e3, pct(cpu_beyond, 0.99) * 1e3,
               "yes" if pct(beyond, 0.99) <= 1e-3 else "no"]
    return order_rows, parse_rows, summary


async def main(names: tuple[str, ...], orders: int, messages: int) -> None:
    order_rows: list[list[Any]] = []
    parse_rows: list[list[Any]] = []
    summaries: dict[str, list[Any]] = {}
    load = os.getloadavg()
    for name in names:
        o, p, summary = await bench_venue(name, orders, messages)
        order_rows += o
        parse_rows += p
        summaries[name] = summary
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; after: "
          "{:.2f} {:.2f} {:.2f}; {} cores".format(*os.getloadavg(), os.cpu_count()))
    print(f"\nPer order, adapter against its fake on loopback ({orders} orders), ms\n")
    print(text_table(["step", "n", "p50 ms", "p99 ms", "mean ms"], order_rows, places=3))
    print(f"\nPer stream message, decode (JSON + wire -> domain), {messages} messages per channel, µs\n")
    print(text_table(["channel", "n", "p50 µs", "p99 µs", "mean µs"], parse_rows, places=1))
    print("\nOur overhead per order, the fake's own time excluded, ms: wall; wall beyond the transport floor "
          "(requests x the bare round trip's median); CPU beyond the bare round trip's CPU\n")
    print(text_table(["venue", "req/order", "ours p50", "ours p99", "beyond p50", "beyond p99", "CPU p50",
                      "CPU p99", "p99 <= 1 ms"], list(summaries.values()), places=3))
    slowest = max(summaries, key=lambda n: summaries[n][2])  # by the median: p99 on a shared machine is its noise
    _, per_order, median, ours, _, beyond, cpu, _, _ = summaries[slowest]
    print(f"\nslowest venue per order: {slowest}: our p50 {median:.3f} ms, p99 {ours:.3f} ms with the fake's time "
          f"excluded, p99 {beyond:.3f} ms beyond the transport floor, CPU p50 {cpu:.3f} ms beyond the bare round "
          f"trip's; {per_order:.2f} requests per order. {WHY.get(slowest, '')}")
    print("target: p99 <= 1 ms per order beyond the fake's own time (and the transport floor)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=100)
    ap.add_argument("--messages", type=int, default=2_000)
    ap.add_argument("--venues", default=",".join(registry.names(live=True, fake=True)))
    args = ap.parse_args()
    asyncio.run(main(tuple(v.strip() for v in args.venues.split(",") if v.strip()), args.orders, args.messages))
