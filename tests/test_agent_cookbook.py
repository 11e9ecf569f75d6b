"""The agents' cookbook queries (docs/queries.sql ``agent_*``), run on a warehouse loaded from real
agent runs: one run of the agent session on the kernel (runners per symbol on the simulator,
real journals) with a scripted adviser, and two recorded backtests (profit and volume mode). Each
query's figures are checked against the same figures computed from what the runs returned."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.clock import DEFAULT_VIRTUAL_START, VirtualClock
from exchanges.sim.paths import generate_path
from exchanges.sim.world import SimWorld
from strategies.agent.adviser import local_ask
from strategies.agent.backtest import record_backtest, run_backtest
from strategies.agent.params import AgentParams
from strategies.agent.policies import quick, trend
from strategies.agent.session import AgentSession
from warehouse import query
from warehouse.journal import Journal
from warehouse.loader import load
from warehouse.paths import WarehousePaths

AGENT_QUERIES = {"agent_win_rate", "agent_exits_by_rule", "agent_cost_per_round_trip", "agent_pnl_by_mode",
                 "agent_calibration", "agent_llm_calls"}


@dataclass
class Recorded:
    path: Path
    trades: list[dict[str, Any]]
    decisions: list[dict[str, Any]]


def _scripted(messages: list[dict[str, str]]) -> str:
    """Long SOL or short ETH whenever allowed, with a confidence that varies by the minute."""
    x = json.loads(messages[-1]["content"].split("\n", 1)[1])
    allowed = x["allowed_actions"]
    confidence = 0.55 + (int(x["decision_time"]) // 60 % 5) * 0.1
    if "open_long" in allowed.get("SOL", []):
        return json.dumps({"action": "open_long", "symbol": "SOL", "size_usd": 300.0, "confidence": confidence})
    if "open_short" in allowed.get("ETH", []):
        return json.dumps({"action": "open_short", "symbol": "ETH", "size_usd": 300.0, "confidence": confidence})
    return json.dumps({"action": "hold", "confidence": 0.5})


def _session_run(journal_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    params = AgentParams(venue="extended", symbols=("SOL", "ETH"), mode="volume", days=0.1, maker_timeout_s=60,
                         max_open_positions=2)
    clock = VirtualClock()
    world = SimWorld(venues=("extended",), symbols=params.symbols, seed=9, clock=clock, warmup=600)
    journals: list[Journal] = []

    def journal(run_id: str) -> Journal:
        journals.append(Journal(run_id, journal_dir))
        return journals[-1]

    session = AgentSession(params, "agent-cook", world.venue("extended"), clock, journal, local_ask(_scripted))

    async def main() -> Any:
        try:
            await session.preflight()
            return await session.run()
        finally:
            await world.stop()

    res = clock.run(main)
    for j in journals:
        j.close_sync()
    assert res.status == "COMPLETED", res.reason
    return res.trades, res.decisions


@pytest.fixture(scope="module")
def agent_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    paths = WarehousePaths(tmp_path_factory.mktemp("agent-cookbook"))
    trades, decisions = _session_run(paths.journal_dir)
    for run_id, mode, policy, venue in (("agent-bt-profit", "profit", trend, "hibachi"),
                                        ("agent-bt-volume", "volume", quick, "hibachi")):
        params = AgentParams(venue=venue, symbols=("SOL", "ETH"), mode=mode)  # type: ignore[arg-type]
        path = generate_path(["SOL", "ETH"], days=4, seed=3, start=DEFAULT_VIRTUAL_START, bar_s=300, venue=venue)
        r = run_backtest(params, path, local_ask(policy))
        j = Journal(run_id, paths.journal_dir)
        asyncio.run(record_backtest(r, j, run_id))
        j.close_sync()
        trades += r.trades
        decisions += r.decisions
    load(paths)
    return Recorded(paths.published, trades, decisions)


def _groups(rows: Iterable[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    out: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[tuple(r[k] for k in keys)].append(r)
    return dict(out)


def _sum(rows: list[dict[str, Any]], key: str) -> float:
    return sum(float(r[key]) for r in rows)


def test_the_runs_traded_in_both_modes_on_both_venues(agent_warehouse: Recorded) -> None:
    t = agent_warehouse.trades
    assert {r["venue"] for r in t} == {"hibachi", "extended"} and {r["mode"] for r in t} == {"profit", "volume"}
    assert {r["direction"] for r in t} == {"LONG", "SHORT"}
    assert any(d["llm_called"] for d in agent_warehouse.decisions)
    assert any(not d["llm_called"] for d in agent_warehouse.decisions)


def test_agent_win_rate(agent_warehouse: Recorded) -> None:
    df = query.named_query("agent_win_rate", path=agent_warehouse.path)
    expected = _groups(agent_warehouse.trades, "venue", "symbol", "direction")
    assert [tuple(k) for k in df[["venue", "symbol", "direction"]].itertuples(index=False)] == sorted(expected)
    for row in df.itertuples():
        rows = expected[(row.venue, row.symbol, row.direction)]
        wins = sum(1 for r in rows if r["win"])
        assert (row.trades, row.wins) == (len(rows), wins)
        assert row.win_rate == pytest.approx(wins / len(rows), abs=1e-4)
        assert row.net_pnl == pytest.approx(_sum(rows, "pnl"), abs=1e-5)


def test_agent_exits_by_rule(agent_warehouse: Recorded) -> None:
    df = query.named_query("agent_exits_by_rule", path=agent_warehouse.path)
    expected = _groups(agent_warehouse.trades, "venue", "exit_rule")
    assert {(r.venue, r.exit_rule): r.trades for r in df.itertuples()} == {k: len(v) for k, v in expected.items()}
    assert set(df["exit_rule"]) >= {"run_end"} and len(set(df["exit_rule"])) >= 2
    for row in df.itertuples():
        rows = expected[(row.venue, row.exit_rule)]
        assert row.net_pnl == pytest.approx(_sum(rows, "pnl"), abs=1e-5)
        assert row.avg_hold_h == pytest.approx(_sum(rows, "hold_s") / len(rows) / 3600, abs=0.006)


def test_agent_cost_per_round_trip(agent_warehouse: Recorded) -> None:
    df = query.named_query("agent_cost_per_round_trip", path=agent_warehouse.path)
    expected = _groups(agent_warehouse.trades, "venue", "mode")
    assert {(r.venue, r.mode): r.trades for r in df.itertuples()} == {k: len(v) for k, v in expected.items()}
    for row in df.itertuples():
        rows = expected[(row.venue, row.mode)]
        drag = _sum(rows, "fees") + _sum(rows, "spread_cost")
        assert row.fees_per_trip == pytest.approx(_sum(rows, "fees") / len(rows), abs=1e-6)
        assert row.drag_per_trip == pytest.approx(drag / len(rows), abs=1e-6)
        assert row.drag_pct == pytest.approx(drag / _sum(rows, "notional") * 100, abs=1e-4)
        assert 0 < row.drag_pct < 1  # a cost, and well under a percent of the notional per trip
        assert row.maker_entry_share == pytest.approx(sum(1 for r in rows if r["entry_maker"]) / len(rows), abs=1e-4)


def test_agent_pnl_by_mode(agent_warehouse: Recorded) -> None:
    df = query.named_query("agent_pnl_by_mode", path=agent_warehouse.path)
    expected = _groups(agent_warehouse.trades, "venue", "mode")
    for row in df.itertuples():
        rows = expected[(row.venue, row.mode)]
        assert row.trades == len(rows)
        for col, key in (("gross_pnl", "gross_pnl"), ("fees", "fees"), ("spread_cost", "spread_cost"),
                         ("funding", "funding_paid"), ("net_pnl", "pnl")):
            assert getattr(row, col) == pytest.approx(_sum(rows, key), abs=1e-5), col
        # net = gross - fees - funding (the spread is inside the gross: fill prices against the mid)
        assert row.net_pnl == pytest.approx(row.gross_pnl - row.fees - row.funding, abs=1e-5)
    assert (df["funding"] != 0).any()


def test_agent_calibration(agent_warehouse: Recorded) -> None:
    df = query.named_query("agent_calibration", path=agent_warehouse.path)
    buckets: dict[float, list[dict[str, Any]]] = defaultdict(list)
    for r in agent_warehouse.trades:
        buckets[round(int(min(float(r["confidence"]), 0.999) * 10) / 10, 1)].append(r)
    assert {round(b, 1): n for b, n in zip(df["bucket"], df["trades"], strict=True)} == \
        {b: len(v) for b, v in buckets.items()}
    for row in df.itertuples():
        rows = buckets[round(row.bucket, 1)]
        assert row.realised == pytest.approx(sum(1 for r in rows if r["win"]) / len(rows), abs=1e-4)
        assert row.stated == pytest.approx(_sum(rows, "confidence") / len(rows), abs=1e-4)
        assert 0 <= row.calibrated <= 1


def test_agent_llm_calls(agent_warehouse: Recorded) -> None:
    df = query.named_query("agent_llm_calls", path=agent_warehouse.path)
    expected = _groups(agent_warehouse.decisions, "venue", "mode")
    assert {(r.venue, r.mode): r.decisions for r in df.itertuples()} == {k: len(v) for k, v in expected.items()}
    for row in df.itertuples():
        rows = expected[(row.venue, row.mode)]
        assert row.llm_calls == sum(1 for d in rows if d["llm_called"])
        assert row.llm_skipped == sum(1 for d in rows if not d["llm_called"])
        assert row.accepted == sum(1 for d in rows if d["verdict"] == "accepted")
        assert row.abstained == sum(1 for d in rows if d["verdict"] == "abstain")
        assert row.llm_calls + row.llm_skipped == row.decisions
