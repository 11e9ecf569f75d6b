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

Prints, per venue and variant, the mean over seeds of: trades per day, average hold, fee + spread
drag per round trip (% of entry notional), win rate, net PnL (USD, after fees and funding), max
drawdown, LLM calls made and skipped; then exits by rule.

    .venv/bin/python bench/agents.py            # 3 seeds x 2 venues, 2-minute bars (~20 s)
    .venv/bin/python bench/agents.py --full     # 8 seeds, 1-minute bars
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable

from core.clock import DEFAULT_VIRTUAL_START
from exchanges.sim.paths import generate_path
from strategies.agent.adviser import local_ask
from strategies.agent.backtest import BacktestResult, run_backtest
from strategies.agent.params import AgentParams
from strategies.agent.policies import quick, trend

Message = dict[str, str]


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


def variants(venue: str, seed: int) -> list[tuple[str, AgentParams, Callable[[list[Message]], str], bool]]:
    base = {"venue": venue, "symbols": ("SOL", "ETH", "BTC")}
    return [
        ("profit", AgentParams(**base), trend, True),  # type: ignore[arg-type]
        ("volume", AgentParams(mode="volume", **base), quick, True),  # type: ignore[arg-type]
        ("quick baseline", AgentParams(mode="volume", maker_first=False, min_confidence=0, **base),  # type: ignore[arg-type]
         quick, False),
        ("floor (coin flip)", AgentParams(**base), coin_flip(seed), True),  # type: ignore[arg-type]
    ]


COLUMNS = ("trades_per_day", "avg_hold_h", "drag_pct", "win_rate", "pnl", "max_drawdown", "llm_calls", "llm_skipped")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="8 seeds, 1-minute bars")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--days", type=float, default=14.0)
    ap.add_argument("--venues", default="hibachi,extended")
    args = ap.parse_args()
    seeds = args.seeds or (8 if args.full else 3)
    bar_s = 60.0 if args.full else 120.0
    t0, c0 = time.perf_counter(), time.process_time()
    for venue in args.venues.split(","):
        results: dict[str, list[BacktestResult]] = {}
        for seed in range(seeds):
            path = generate_path(("SOL", "ETH", "BTC"), days=args.days, seed=seed, start=DEFAULT_VIRTUAL_START,
                                 bar_s=bar_s, venue=venue)
            for name, params, policy, calibrate in variants(venue, seed):
                results.setdefault(name, []).append(run_backtest(params, path, local_ask(policy),
                                                                 calibrate=calibrate))
        print(f"\n{venue}: {args.days:g} simulated days x {seeds} seeds, {bar_s:g} s bars (means over seeds)")
        print(f"{'variant':<18}" + "".join(f"{c:>14}" for c in COLUMNS))
        for name, rs in results.items():
            figs = [r.figures() for r in rs]
            row = [statistics.fmean(f[c] for f in figs) for c in COLUMNS]
            print(f"{name:<18}" + "".join(f"{v:>14.3f}" for v in row))
        for name, rs in results.items():
            rules = Counter(t["exit_rule"] for r in rs for t in r.trades)
            pnl_sd = statistics.pstdev([r.pnl for r in rs]) if len(rs) > 1 else 0.0
            print(f"  {name}: exits {dict(rules.most_common())}; PnL sd over seeds {pnl_sd:.1f} USD")
    print(f"\nwall time {time.perf_counter() - t0:.1f} s, CPU {time.process_time() - c0:.1f} s")


if __name__ == "__main__":
    main()
