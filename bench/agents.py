"""LLM agent figures over simulated weeks: profit mode vs volume mode vs the notes' quick trader.

Each seed is a 14-day multi-regime price path (``exchanges/sim/paths.py``) traded by the agent
desk with a deterministic policy in the LLM's place (``strategies/agent/policies.py``), through
the same allowed actions, validation, calibration, exit rules and costs as a live run:

- profit: the notes' fix (SL 4%, TP 10%, hold 1-48 h, cut losers after 4 h), slow trend reader,
  maker-first entries, calibrated confidence >= 0.55;
- volume: the quick exit table (SL 2%, TP 4%, 2 h max hold), quick reader, maker-first, calibrated;
- quick baseline: the notes' old agents (quick table, taker entries, stated confidence taken at
  face value);
- floor: profit mode's rules with a coin-flip direction (no skill), measured in the same run.

Every backtest is recorded as a run (``record_backtest``: orders, fills, funding, decisions,
round trips) into a scratch warehouse, which is loaded once; the figures printed are then the
warehouse's, read by the same SQL as an agent run's summary (``tasks.agent_report.agent_summary``)
and checked against the backtest's own counts: trades per day, average hold, fee + spread drag
per round trip (% of entry notional; the notes measured 0.25-0.35%), win rate, net PnL (USD,
after fees and funding), adviser calls made and skipped. Max drawdown is the backtest's hourly
equity curve (open PnL is not a warehouse figure). Means over seeds, per venue and variant;
then exits by rule (SQL on ``agent_trades``).

    .venv/bin/python bench/agents.py             # 2 seeds x 2 venues, 2-minute bars (~40 s on 2 cores)
    .venv/bin/python bench/agents.py --seeds 5   # more seeds
    .venv/bin/python bench/agents.py --full      # 8 seeds, 1-minute bars (minutes)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

# run as a script, this folder comes first on the path, and bench/warehouse.py would hide the package
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.clock import DEFAULT_VIRTUAL_START
from exchanges.sim.paths import generate_path
from strategies.agent.adviser import local_ask
from strategies.agent.backtest import BacktestResult, record_backtest, run_backtest
from strategies.agent.params import AgentParams
from strategies.agent.policies import quick, trend
from tasks.agent_report import agent_summary
from warehouse.journal import Journal
from warehouse.loader import load
from warehouse.paths import WarehousePaths

Message = dict[str, str]
SYMBOLS = ("SOL", "ETH", "BTC")


def coin_flip(seed: int) -> Callable[[list[Message]], str]:
    rng = random.Random(f"{seed}/coin")

    def policy(messages: list[Message]) -> str:
        x = json.loads(next(m["content"] for m in messages if m["role"] == "user").split("\n", 1)[1])
        opens = [(s, a) for s, acts in x["allowed_actions"].items() for a in acts if a.startswith("open")]
        if not opens or rng.random() < 0.9:  # about 2.4 entries a day at one decision an hour
            return json.dumps({"action": "hold", "confidence": 0.5})
        s, a = rng.choice(opens)
        return json.dumps({"action": a, "symbol": s, "size_usd": 500.0, "confidence": 0.8})
    return policy


Variant = tuple[str, AgentParams, Callable[[list[Message]], str], bool, str]


def variants(venue: str, seed: int) -> list[Variant]:
    base: dict[str, Any] = {"venue": venue, "symbols": SYMBOLS}
    return [
        ("profit", AgentParams(**base), trend, True, "the 'trend' policy"),
        ("volume", AgentParams(mode="volume", **base), quick, True, "the 'quick' policy"),
        ("quick baseline", AgentParams(mode="volume", maker_first=False, min_confidence=0, **base), quick, False,
         "the 'quick' policy, taker entries, uncalibrated"),
        ("floor (coin flip)", AgentParams(**base), coin_flip(seed), True, "a coin flip"),
    ]


COLUMNS = ("trades/day", "avg hold h", "drag %/trip", "win rate", "PnL USD", "max DD USD", "calls", "skipped")


def warehouse_figures(published: Path, run_id: str, days: float) -> dict[str, float]:
    """One run's figures as its summary reads them (SQL on the loaded warehouse)."""
    s = agent_summary(published, run_id)
    return {"trades/day": s["trades"] / days, "avg hold h": s["avg_hold_h"] or 0.0,
            "drag %/trip": s["drag_pct_per_round_trip"] or 0.0, "win rate": s["win_rate"] or 0.0,
            "PnL USD": float(s["pnl"]), "calls": float(s["llm_calls"]), "skipped": float(s["llm_skipped"]),
            "trades": float(s["trades"])}


def check(run_id: str, wh: dict[str, float], r: BacktestResult) -> None:
    """The warehouse holds what the backtest traded: the same trades, PnL and adviser calls."""
    mem = r.figures()
    same = (int(wh["trades"]) == len(r.trades) and math.isclose(wh["PnL USD"], mem["pnl"], abs_tol=1e-6)
            and (wh["calls"], wh["skipped"]) == (mem["llm_calls"], mem["llm_skipped"]))
    if not same:
        sys.exit(f"{run_id}: the warehouse disagrees with the backtest: {wh} vs {mem}")


def exits_by_rule(published: Path, prefix: str) -> dict[str, int]:
    con = duckdb.connect(str(published), read_only=True)
    try:
        rows = con.execute("SELECT exit_rule, count(*) FROM agent_trades WHERE run_id LIKE ? || '%' "
                           "GROUP BY 1 ORDER BY 2 DESC, 1", [prefix]).fetchall()
    finally:
        con.close()
    return dict(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="8 seeds, 1-minute bars")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per venue (default 2; 8 with --full)")
    ap.add_argument("--days", type=float, default=14.0, help="simulated days per backtest")
    ap.add_argument("--venues", default="hibachi,extended")
    ap.add_argument("--keep", type=Path, default=None, help="keep the scratch warehouse in this folder")
    args = ap.parse_args()
    seeds = args.seeds or (8 if args.full else 2)
    bar_s = 60.0 if args.full else 120.0
    venues = args.venues.split(",")
    t0, c0 = time.perf_counter(), time.process_time()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-agents-"))
    paths = WarehousePaths(root)
    runs: dict[tuple[str, str], list[tuple[str, BacktestResult]]] = {}
    for venue in venues:
        for seed in range(seeds):
            path = generate_path(SYMBOLS, days=args.days, seed=seed, start=DEFAULT_VIRTUAL_START, bar_s=bar_s,
                                 venue=venue)
            for name, params, policy, calibrate, adviser in variants(venue, seed):
                r = run_backtest(params, path, local_ask(policy), calibrate=calibrate)
                run_id = f"bench-{venue}-{name.split()[0]}-s{seed}"
                journal = Journal(run_id, paths.journal_dir)
                asyncio.run(record_backtest(r, journal, run_id, adviser=adviser))
                journal.close_sync()
                runs.setdefault((venue, name), []).append((run_id, r))
    t_sim = time.perf_counter() - t0
    loaded = load(paths)
    t_load = time.perf_counter() - t0 - t_sim
    print(f"agents: {args.days:g} simulated days x {seeds} seeds x {len(venues)} venues, {bar_s:g} s bars; "
          f"figures from the warehouse ({loaded.records} records loaded, {loaded.quarantined} quarantined), "
          f"means over seeds; max DD from the backtests' equity curves")
    print("fee + spread drag: the notes measured 0.25-0.35% per round trip on the live venues")
    figures: dict[tuple[str, str], list[dict[str, float]]] = {}
    for key, done in runs.items():
        for run_id, r in done:
            wh = warehouse_figures(paths.published, run_id, r.days)
            check(run_id, wh, r)
            figures.setdefault(key, []).append(wh | {"max DD USD": r.max_drawdown})
    for venue in venues:
        print(f"\n{venue}")
        print(f"{'variant':<18}" + "".join(f"{c:>13}" for c in COLUMNS))
        for (v, name), figs in figures.items():
            if v == venue:
                row = [statistics.fmean(f[c] for f in figs) for c in COLUMNS]
                print(f"{name:<18}" + "".join(f"{x:>13.3f}" for x in row))
        for (v, name), figs in figures.items():
            if v != venue:
                continue
            pnl = [f["PnL USD"] for f in figs]
            sd = statistics.pstdev(pnl) if len(pnl) > 1 else 0.0
            print(f"  {name}: exits {exits_by_rule(paths.published, f'bench-{venue}-{name.split()[0]}-')}; "
                  f"PnL sd over seeds {sd:.1f} USD")
    print(f"\nwall time {time.perf_counter() - t0:.1f} s (backtests and journals {t_sim:.1f} s, load {t_load:.1f} s), "
          f"CPU {time.process_time() - c0:.1f} s; warehouse {paths.published}")


if __name__ == "__main__":
    main()
