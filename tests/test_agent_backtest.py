"""The agent over simulated days: deterministic, decisions only from the past, the rules always
win over the answer, exits name their rule and the LLM is not asked when only hold is allowed."""

from __future__ import annotations

import json
from collections import Counter

from core.clock import DEFAULT_VIRTUAL_START
from exchanges.sim.paths import generate_path
from strategies.agent.adviser import local_ask
from strategies.agent.backtest import run_backtest
from strategies.agent.desk import Outlook
from strategies.agent.params import AgentParams
from strategies.agent.policies import trend

PATH = generate_path(["SOL", "ETH"], days=8, seed=11, start=DEFAULT_VIRTUAL_START, bar_s=180, venue="extended")
PARAMS = AgentParams(venue="extended", symbols=("SOL", "ETH"))


def test_profit_mode_backtest_is_deterministic_and_follows_its_rules() -> None:
    seen: list[float] = []
    r = run_backtest(PARAMS, PATH, local_ask(trend), on_decision=lambda d: seen.append(d["ts"]))
    again = run_backtest(PARAMS, PATH, local_ask(trend))
    assert r.trades == again.trades and r.figures() == again.figures()
    assert r.trades, "eight days give the trend policy something to trade"
    assert seen == sorted(seen) and seen[0] == DEFAULT_VIRTUAL_START + 86_400
    for d in r.decisions:
        assert all(m["ts"] <= d["ts"] for m in d["inputs"]["markets"])  # nothing from after the decision
    rules = Counter(t["exit_rule"] for t in r.trades)
    assert set(rules) <= {"stop_loss", "take_profit", "max_hold", "cut_loser", "adviser_close", "run_end"}
    for t in r.trades:
        if t["exit_rule"] not in ("stop_loss", "run_end"):
            assert t["hold_s"] >= 3600  # min hold
        assert t["hold_s"] <= 48 * 3600 + 180
        assert float(t["fees"]) > 0 and t["mode"] == "profit"
    assert r.llm_skipped > 0  # a young position leaves only hold: nobody asked
    assert all(d["verdict"] == "skipped" for d in r.decisions if not d["llm_called"])
    assert r.llm_calls + r.llm_skipped == len(r.decisions)


def test_an_answer_the_rules_did_not_allow_never_trades() -> None:
    def stubborn(messages: list[dict[str, str]]) -> str:
        return json.dumps({"action": "open_short", "symbol": "SOL", "size_usd": 5000.0, "confidence": 0.99})

    r = run_backtest(PARAMS, PATH, local_ask(stubborn), outlook=Outlook(blocked=frozenset({"SOL_SHORT"})))
    assert r.trades == [] and r.llm_calls > 0
    assert all(d["verdict"] == "abstain" and d["repaired"] for d in r.decisions if d["llm_called"])
    free = run_backtest(PARAMS, PATH, local_ask(stubborn))
    assert free.trades and all(t["symbol"] == "SOL" and t["direction"] == "SHORT" for t in free.trades)
    assert all(float(t["notional"]) <= 1000 * 1.001 for t in free.trades)  # size capped at max_size_usd
