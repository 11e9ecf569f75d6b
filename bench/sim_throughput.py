"""Simulator throughput, next to a pure-Python floor measured in the same run.

A "book event" is one L2 level change or one trade print. The figures:

- floor: the least a pure-Python L2 market can do per event - draw a side, a level and a size,
  write the level into a dict, and every tenth event walk the best level with a print. Nothing
  written in Python gets much under this per event; it is the yardstick for the engine.
- engine only: a paradex + grvt SOL market with nobody listening (event-driven time).
- with BBO streams: the same with a client consuming both venues' BBO streams as a bot does.
- with the hedge bot: the hedge bot trading paradex/grvt SOL on the virtual clock
  (maker/maker, as many cycles as fit), stopped at the end of the period (a day is extrapolated
  from the simulated time it traded, should it stop on its own earlier).

Engines: both run one source, ``exchanges/sim/hotpath.py`` (the book and the model that drives it).
The compiled engine (the default) is that file compiled by Cython in pure-Python mode at ``make
install`` (``exchanges.sim._hotpath``, ``exchanges/sim/build_core.py``); the pure-Python engine is the
same file run as Python (``exchanges.sim.hotpath``). They are checked against each other event by
event (``tests/test_sim_core.py``). Engine only is measured for both; the other figures use the
default (``PERPFLOW_SIM_ENGINE=python`` to measure them on pure Python).

Figures (2-core machine shared with other work, best of 3 of 1 simulated hour, ``--hours 1
--repeat 3``, seven runs of 2026-12-03 at load average 2.9-5.8): floor 1.9-2.7M events/s; fixed-step
0.38-0.51M; engine only, pure Python 0.67-1.0M events/s (1.5-2.5x fixed-step, a day in 5.0-7.5 s);
engine only, compiled 2.8-4.2M events/s (5.4-10.1x fixed-step, a day in 1.2-1.8 s; the lowest at
load 5.8, where the fixed-step run happened to be its fastest; ``--full-day --repeat 1`` at load
2.8: 3.1M, 8.3x, a day in 1.6 s); with BBO streams a day in 17-21 s (24 hours: 16.7 s); with the
hedge bot a day in ~47 s (measured before the single source; the engine is a small part of it).
The hand-written Cython copy this replaced (``_core.pyx``, a second implementation kept in step by
hand) measured 8.8-12x in five runs at load 1.3-5.6; back to back (best of 5 of 1 hour, three
alternating pairs at load ~4.5) the single source ran 3.4-4.4M events/s and the copy 4.4-5.6M, and
over 48 simulated hours (perf, the whole process) the single source took 4.5% more CPU: the one
source costs 5-20% of the compiled engine's speed, mostly attribute access through Python objects
the copy had cached or typed by hand.

What the profile shows is left (perf over 48 simulated hours, compiled engine, paradex + grvt SOL,
about 210k events an hour). The compiled module's own code is ~16% of the time; CPython's runtime is
two thirds: the books' dicts (price -> lots, read by exchange.py, replay.py, recorders and tests)
and attribute lookups (``_Py_dict_lookup`` alone ~6%), allocating and freeing print tuples and boxed
ints and floats (~20%) and their cyclic GC; numpy's block draws ~6%, the Mersenne Twister
(``random.Random``, the draws both engines share) ~2%, libm ~2%, the interpreter's start and imports
the rest of a short run. Going further would take C-level books (arrays, prints in a ring buffer)
behind the same Python views, and a C generator giving the same draws; not needed for the target.
The pure-Python engine's profile: maker re-pricing about half of it (``SimMarket._recenter`` a
quarter, the re-quote's noise and fair value an eighth), size churn ~18%, taker arrivals ~17% with
their draws.

With listeners the engine is now a small part: each delivered BBO costs ~14 us beyond it, all in
Python: a driver wake-up (a timer turn, both venues caught up, the next deadline), the engine's
per-event hook into ``SimExchange._after_event``, a BBO (a frozen dataclass, ~3 us), the reader's
task step through three layers (Inbox, the venue feed, ResilientStream). With the hedge bot, ~135k
loop turns per simulated hour: the kernel's quarter-second tick, BBOs into the kernel, order
requests and asyncio's plumbing; the compiled engine did not measurably change it (one hour in
2.0-2.1 s on pure Python, 2.1-2.3 s compiled, back to back at load ~2).

The hedge-bot day, 2026-12-03 (same runs bit for bit: 2 hours, 1,506 cycles, 477,780 events, the
same end; demo 599.87 USD, -0.173194): per hour (thread-time wrappers) the driver's wake-ups with
the engine, its hooks and BBO publishing were ~40% (28.9k wake-ups, ~25 us each, the compiled
engine ~0.15 s of it), the event loop's turns ~20%, the tick ~15% (14.4k, ~17 us of kernel and
strategy each), BBOs into the kernel ~10% (36.5k, ~5 us), orders and fills the rest. Cut without
changing any order or time: the tick is a timer callback, not a task sleeping (one loop turn and
no future instead of two turns); the virtual loop builds its timers without TimerHandle's two
__init__ calls, compares them by one (when, seq) tuple, runs Handle._run and the selector's usual
skipped poll inline; VirtualClock.now reads the loop's fields; the sim's timers go to call_at
directly; the strategy skips work whose answer it has (the Decimal hedge need when the touch check
already says no, the rounding of a zero need, a second need right after the first; tag-only
open-order lookups; the loss check reads the marks without copying them). Measured, 1 simulated
hour, ten interleaved pairs of the old and new code at load 1-3: -11% best vs best, -13% median vs
median, -18% the median pair; ``--hours 2 --repeat 3`` back to back at load ~0.9: 53.1 -> 37.3 and
57.1 -> 38.8 s a day, at load 2.2 (before the last two changes) 49.7 -> 47.0 s; ``--full-day
--repeat 1`` back to back at load ~0.9: 61.6 -> 46.4 s (17,837 cycles both). The spread of a
single figure on this shared machine is as large as the gain; the pairs are the honest figure.
Loop turns went from 135.2k to 120.8k an hour (the ticks). Left: the driver and its hooks, still
the largest part, and per delivered BBO a timer, a wake-up and three stream layers (a direct
hand-over would change the order of callbacks within a loop turn, so the run). Of 7,200 ticks per
half hour 62 do anything; skipping the others exactly (the kernel's next due time, asked at the
grid point after every event) was tried: bit-for-bit the same run, 1% of the ticks, but 2.6% more
instructions, because a BBO comes every ~0.1 s and asking costs what the tick does (the hedge's
conditions and the daily loss in Decimal). Going further means cheaper answers to
"is anything due" (incremental, float bounds for the loss), or waking the driver only for events
that can reach our resting order's price (the primary always rests, so every print and re-pricing of
its venue wakes it today). A conflated BBO feed was not used: our GRVT adapter subscribes to every
top-of-book change (``mini.d`` raw), and in virtual time a reader is never behind, so conflating
what it has not read changes nothing.

Times are CPU seconds of this process (``time.process_time``): the machine is shared, and CPU
time is what the engine costs; on an idle machine wall time is the same. Each figure is the best of
``--repeat`` runs (3 by default): on a busy machine a single run's
CPU time varies by 15-30%, the best of a few much less. The load average is printed before and after.

Targets (issue 13): engine >= 5x the events/s of the fixed-step engine it replaced (measured in
the same run from git, ``FIXED_STEP_COMMIT``), a simulated day of one venue pair <= 10 s
engine-only and <= 60 s with the hedge bot. A replay file's rate is in ``bench/replay.py``.

    .venv/bin/python bench/sim_throughput.py             # 1 simulated hour each, best of 3: about 30 s
    .venv/bin/python bench/sim_throughput.py --full-day  # 24 simulated hours each
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from core.clock import VirtualClock
from core.records import MemoryRecorder
from exchanges.sim import engine as engines
from exchanges.sim.world import SimWorld

FIXED_STEP_COMMIT = "2f98ff8"  # the last fixed-step (100 ms) engine, measured beside ours when git has it
_BASELINE = """
import sys, time
sys.path.insert(0, sys.argv[1])
from exchanges.sim.world import SimWorld
w = SimWorld(venues=("paradex", "grvt"), symbols=("SOL",), seed=int(sys.argv[3]))
t0 = time.process_time()
w.run_for(float(sys.argv[2]) * 3600)
print(w.events, time.process_time() - t0)
"""


def fixed_step_baseline(hours: float, seed: int) -> tuple[int, float] | str:
    """The fixed-step engine of ``FIXED_STEP_COMMIT`` on the same machine, same run (a subprocess)."""
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        try:
            archive = subprocess.run(["git", "-C", str(root), "archive", FIXED_STEP_COMMIT, "core", "exchanges"],
                                     capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            out = subprocess.run([sys.executable, "-c", _BASELINE, tmp, str(hours), str(seed)],
                                 capture_output=True, text=True, check=True, cwd=tmp).stdout.split()
        except (OSError, subprocess.CalledProcessError) as exc:
            return f"not available ({exc})"
    return int(out[0]), float(out[1])


def floor(n: int = 2_000_000, seed: int = 7) -> float:
    """Events per second of a minimal pure-Python L2 market."""
    rng = random.Random(seed)
    rand = rng.random
    bids = {1000 - k: 10 for k in range(10)}
    asks = {1001 + k: 10 for k in range(10)}
    prints = []
    t0 = time.process_time()
    events = 0
    for i in range(n // 2):
        side = bids if rand() < 0.5 else asks
        base = 1000 if side is bids else 1001
        side[base + int(rand() * 10) * (1 if side is asks else -1)] = 1 + int(rand() * 20)
        events += 1
        if i % 10 == 0:  # a print on the best level
            p = max(bids) if rand() < 0.5 else min(asks)
            prints.append((i, p, 1))
            events += 1
    return events / (time.process_time() - t0)


def engine_only(hours: float, seed: int, engine: str | None = None) -> tuple[int, float]:
    world = SimWorld(venues=("paradex", "grvt"), symbols=("SOL",), seed=seed, engine=engine)
    t0 = time.process_time()
    world.run_for(hours * 3600)
    return world.events, time.process_time() - t0


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

    t0 = time.process_time()
    clock.run(main)
    return world.events, received, time.process_time() - t0


def with_hedge_bot(hours: float, seed: int) -> tuple[int, int, str, float, float]:
    from strategies.hedge.bot import HedgeBot
    from strategies.hedge.config import HedgeConfig

    cfg = HedgeConfig(seed=seed, iterations=1_000_000, ticker="SOL", size=Decimal("0.1"),
                      daily_loss_limit=Decimal("1000000"))
    clock = VirtualClock()
    world = SimWorld(venues=(cfg.primary, cfg.hedge), symbols=("SOL",), seed=seed, clock=clock, warmup=900)
    runner = HedgeBot(cfg, f"bench-{seed}", world.venue(cfg.primary), world.venue(cfg.hedge),
                         MemoryRecorder(), clock)

    async def main() -> tuple[str, float]:
        async def stop_later() -> None:
            await asyncio.sleep(hours * 3600)
            runner.request_stop(flatten=True)
        stopper = asyncio.create_task(stop_later())
        try:
            res = await runner.run()
            return f"{res.status}: {res.reason}", res.ended - res.started
        finally:
            stopper.cancel()
            await world.stop()

    t0 = time.process_time()
    status, covered = clock.run(main)
    cycles = len(runner.cycles)
    return world.events, cycles, status, covered, time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=1.0, help="simulated hours per measurement (default 1)")
    ap.add_argument("--full-day", action="store_true", help="24 simulated hours per measurement")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-bot", action="store_true", help="leave out the hedge bot run")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure, the best is kept (default 3)")
    args = ap.parse_args()
    hours = 24.0 if args.full_day else args.hours
    sim_s = hours * 3600
    day = 86400 / sim_s
    n = max(1, args.repeat)
    logging.disable(logging.WARNING)
    print("load average: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()) + f" | best of {n} runs each")

    fl = max(floor() for _ in range(n))
    print(f"pure-Python floor: {fl:,.0f} events/s")
    bases = [fixed_step_baseline(min(hours, 1.0), args.seed) for _ in range(n)]
    base = min(bases, key=lambda b: b[1] if isinstance(b, tuple) else math.inf)
    base_rate = None
    if isinstance(base, str):
        print(f"fixed-step engine ({FIXED_STEP_COMMIT}): {base}")
    else:
        base_rate = base[0] / base[1]
        print(f"fixed-step engine ({FIXED_STEP_COMMIT}): {base_rate:,.0f} events/s = {base_rate / fl:.2f}x floor | "
              f"a day: {base[1] * 86400 / (min(hours, 1.0) * 3600):.1f} s")

    default = engines.default_engine()
    print(f"engine: {default}" + ("" if default == "compiled" else f" (the compiled core is {engines.CORE_MISSING})"))
    for engine in ("python", "compiled") if default == "compiled" else ("python",):
        events, wall = min((engine_only(hours, args.seed, engine) for _ in range(n)), key=lambda r: r[1])
        rate = events / wall
        target = " (target >= 5)" if engine == default else ""
        vs = f" = {rate / base_rate:.1f}x fixed-step{target}" if base_rate else ""
        print(f"engine only, {engine:<8}: {hours:g} h x 2 venues in {wall:6.2f} s | {events:,} book events | "
              f"{rate:,.0f} events/s = {rate / fl:.2f}x floor{vs} | {sim_s / wall:,.0f} sim s per s | "
              f"a day: {wall * day:.1f} s" + (" (target <= 10)" if engine == default else ""))

    events, received, wall = min((with_listeners(hours, args.seed) for _ in range(n)), key=lambda r: r[2])
    print(f"with BBO streams      : {hours:g} h x 2 venues in {wall:6.1f} s | {events:,} book events | "
          f"{events / wall:,.0f} events/s | {received:,} BBO updates delivered | a day: {wall * day:.1f} s")

    if not args.skip_bot:
        events, cycles, status, covered, wall = min((with_hedge_bot(hours, args.seed) for _ in range(n)),
                                                    key=lambda r: r[4])
        print(f"with hedge bot        : {covered / 3600:.2f} h traded in {wall:6.1f} s | {cycles:,} cycles | "
              f"{events:,} book events | a day: {wall * 86400 / covered:.1f} s (target <= 60) | ended {status}")
    print("load average: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
