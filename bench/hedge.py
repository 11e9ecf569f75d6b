"""Hedge bot figures on the simulator.

Prints, per pricing combination on the same seeded markets:
- fill-to-hedge-submit reaction latency inside the process (p50 / p99 / max), i.e. from the
  moment a fill reaches the runner to the moment the hedge order call starts, in wall time and in the
  thread's CPU time (wall minus CPU is time the OS gave to other processes: on a busy machine the wall
  p99 is mostly that);
- a floor measured in the same run: a fixed pure-Python job timed the same way, so a wall p99 can be
  read against what this machine does to any code at that moment;
- max and time-weighted |net delta| per run;
- cost per $1M of volume (maker/maker vs maker/market);
- simulated days per wall minute.

    .venv/bin/python bench/hedge.py [--seeds 5] [--iterations 50] [--ticker SOL]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from decimal import Decimal

from core.clock import VirtualClock
from core.records import MemoryRecorder
from exchanges.sim.world import SimWorld
from strategies.hedge.config import HedgeConfig
from strategies.hedge.result import RunResult, hedge_result, summarize
from strategies.hedge.strategy import HedgeStrategy
from strategies.runtime.runner import Runner

COMBOS = [("bbo_minus_1", "bbo_minus_1"), ("bbo_minus_1", "market"), ("bbo", "market"), ("market", "market")]


def run_once(seed: int, iterations: int, ticker: str, size: Decimal, primary_mode: str,
             hedge_mode: str) -> tuple[RunResult, float]:
    cfg = HedgeConfig(seed=seed, iterations=iterations, ticker=ticker, size=size, primary_mode=primary_mode,
                      hedge_mode=hedge_mode)
    clock = VirtualClock()
    world = SimWorld(venues=(cfg.primary, cfg.hedge), symbols=(ticker,), seed=seed, clock=clock, warmup=900)
    strategy = HedgeStrategy(cfg)
    runner = Runner(strategy, f"bench-{seed}", [world.venue(cfg.primary), world.venue(cfg.hedge)], MemoryRecorder(),
                    clock)

    async def main() -> RunResult:
        try:
            return hedge_result(await runner.run(), strategy)
        finally:
            await world.stop()

    t0 = time.perf_counter()
    result = clock.run(main)
    return result, time.perf_counter() - t0


def floor_us(repeat: int = 2000) -> tuple[float, float, float]:
    """Wall p50 / p99 and CPU p99 (us) of a fixed small job (about a reaction's work) timed like a reaction."""
    wall: list[float] = []
    cpu: list[float] = []
    values = [Decimal(i) / 7 for i in range(60)]
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.thread_time()
        sum(v * 3 for v in values)
        wall.append((time.perf_counter() - t0) * 1e6)
        cpu.append((time.thread_time() - c0) * 1e6)
    return pct(wall, 0.5), pct(wall, 0.99), pct(cpu, 0.99)


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (never beyond the data)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument("--ticker", default="SOL")
    ap.add_argument("--size", type=Decimal, default=Decimal("0.1"))
    args = ap.parse_args()
    logging.disable(logging.WARNING)

    print(f"{args.ticker} {args.size}, {args.iterations} iterations x {args.seeds} seeds per combination, "
          f"paradex primary / grvt hedge, simulator (virtual clock)\n")
    header = (f"{'primary/hedge':<24}{'runs ok':>8}{'cost/$1M':>11}{'avg edge':>10}{'max|net|':>10}"
              f"{'tw|net|':>10}{'react p50':>11}{'react p99':>11}{'react max':>11}{'cpu p99':>9}{'sim d/min':>11}")
    print(header)
    print("-" * len(header))
    floors = [floor_us()]
    for primary_mode, hedge_mode in COMBOS:
        costs, edges, maxnet, twnet, reaction, reaction_cpu = [], [], [], [], [], []
        sim_s = wall_s = 0.0
        ok = 0
        for seed in range(1, args.seeds + 1):
            res, wall = run_once(seed, args.iterations, args.ticker, args.size, primary_mode, hedge_mode)
            s = summarize(res)
            ok += res.status == "COMPLETED"
            costs.append(float(s.cost_per_million))
            if s.avg_edge_bps is not None:
                edges.append(float(s.avg_edge_bps))
            maxnet.append(float(s.max_abs_net))
            twnet.append(float(s.tw_abs_net))
            reaction += res.reaction_s
            reaction_cpu += res.reaction_cpu_s
            sim_s += res.ended - res.started
            wall_s += wall
        us = [r * 1e6 for r in reaction]
        cpu_us = [r * 1e6 for r in reaction_cpu]
        print(f"{primary_mode + '/' + hedge_mode:<24}{ok:>5}/{args.seeds:<2}{statistics.mean(costs):>11.2f}"
              f"{statistics.mean(edges):>9.2f}b{max(maxnet):>10.3f}{statistics.mean(twnet):>10.4f}"
              f"{pct(us, 0.5):>9.0f}us{pct(us, 0.99):>9.0f}us{max(us):>9.0f}us"
              f"{pct(cpu_us, 0.99):>7.0f}us{sim_s / 86400 / (wall_s / 60):>11.1f}")
        floors.append(floor_us())
    f50, f99, fcpu = (max(f[i] for f in floors) for i in range(3))
    print(f"\nfloor, same run (a fixed {statistics.median(f[0] for f in floors):.0f} us job timed 2000x between rows, "
          f"worst row): wall p50 {f50:.0f} us, p99 {f99:.0f} us; CPU p99 {fcpu:.0f} us; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("\ncost/$1M: -net PnL (fills and fees) per 1M USD of volume, mean over seeds (positive = a cost);\n"
          "avg edge: size-weighted gross edge per cycle; max|net| / tw|net|: largest and time-weighted |net delta|\n"
          "(base units); react: fill received -> hedge order call, in-process (wall); cpu p99: the same span in this "
          "thread's CPU time; sim d/min: simulated days per wall "
          "minute.")


if __name__ == "__main__":
    main()
