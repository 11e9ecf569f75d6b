"""Simulator throughput: book events per second and simulated seconds per wall second.

A two-venue (paradex + grvt) SOL market runs for 24 virtual hours on the virtual clock, with a
client consuming both venues' BBO streams the way a bot does (so the driver steps and
publishes every 100 ms). A "book event" is one L2 level change or one trade print.

    .venv/bin/python bench/sim_throughput.py [--hours 24] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from core.clock import VirtualClock
from exchanges.sim.world import SimWorld


def engine_only(hours: float, seed: int) -> tuple[int, float]:
    world = SimWorld(venues=("paradex", "grvt"), symbols=("SOL",), seed=seed)
    t0 = time.perf_counter()
    world.run_for(hours * 3600)
    return world.events, time.perf_counter() - t0


def with_listeners(hours: float, seed: int) -> tuple[int, int, float]:
    clock = VirtualClock()
    world = SimWorld(venues=("paradex", "grvt"), symbols=("SOL",), seed=seed, clock=clock)
    received = 0

    async def consume(venue: str) -> None:
        nonlocal received
        async for _ in world.venue(venue).stream_bbo("SOL"):
            received += 1

    async def main() -> None:
        tasks = [asyncio.create_task(consume(v)) for v in ("paradex", "grvt")]
        await asyncio.sleep(hours * 3600)
        for t in tasks:
            t.cancel()
        await world.stop()

    t0 = time.perf_counter()
    clock.run(main)
    return world.events, received, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    sim_s = args.hours * 3600

    events, wall = engine_only(args.hours, args.seed)
    print(f"engine only      : {args.hours:g} h x 2 venues in {wall:6.1f} s wall | "
          f"{events:,} book events | {events / wall:,.0f} events/s | {sim_s / wall:,.0f} sim s per wall s")

    events, received, wall = with_listeners(args.hours, args.seed)
    print(f"with BBO streams : {args.hours:g} h x 2 venues in {wall:6.1f} s wall | "
          f"{events:,} book events | {events / wall:,.0f} events/s | {sim_s / wall:,.0f} sim s per wall s | "
          f"{received:,} BBO updates delivered")


if __name__ == "__main__":
    main()
