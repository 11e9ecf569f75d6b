"""What the agents record reaches the warehouse exactly: decisions, round trips and mode changes
of a backtest, journalled and loaded, add up to the backtest's own figures; the insights flow's
query shape (symbol, direction, pnl, a close time, the stated confidence) reads them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import duckdb
import pytest

from core.clock import DEFAULT_VIRTUAL_START
from exchanges.sim.paths import generate_path
from strategies.agent.adviser import local_ask
from strategies.agent.backtest import record_backtest, run_backtest
from strategies.agent.params import AgentParams
from strategies.agent.policies import quick
from warehouse.journal import Journal
from warehouse.loader import load
from warehouse.paths import WarehousePaths
from warehouse.schema import LATEST, migrate, version


def test_agent_records_load_and_sum_to_the_backtest(tmp_path: Path) -> None:
    params = AgentParams(venue="hibachi", symbols=("SOL", "ETH"), mode="volume", burn=False)
    path = generate_path(["SOL", "ETH"], days=3, seed=5, start=DEFAULT_VIRTUAL_START, bar_s=300)
    r = run_backtest(params, path, local_ask(quick))
    assert r.trades and r.llm_calls
    paths = WarehousePaths(tmp_path)
    j = Journal("agent-bt", paths.journal_dir)
    asyncio.run(record_backtest(r, j, "agent-bt"))
    j.close_sync()
    load(paths)
    con = duckdb.connect(str(paths.published), read_only=True)
    try:
        assert version(con) == LATEST
        n, pnl, fees, bots = con.execute("SELECT count(*), sum(pnl), sum(fees), list(DISTINCT bot) "
                                         "FROM agent_trades").fetchone()  # type: ignore[misc]
        assert n == len(r.trades) and bots == ["agent"]
        assert float(pnl) == sum(float(t["pnl"]) for t in r.trades)  # type: ignore[arg-type]
        assert float(fees) == sum(float(t["fees"]) for t in r.trades)  # type: ignore[arg-type]
        calls, skipped = con.execute("SELECT count(*) FILTER (WHERE llm_called), count(*) FILTER (WHERE NOT "
                                     "llm_called) FROM decisions").fetchone()  # type: ignore[misc]
        assert (calls, skipped) == (r.llm_calls, r.llm_skipped)
        assert con.execute("SELECT count(*) FROM mode_changes").fetchone() == (1,)  # the start
        # the shape the shared-insights flow reads agent trades in
        rows = con.execute("SELECT symbol, lower(direction), CAST(pnl AS DOUBLE), CAST(closed_at AS TIMESTAMP), "
                           "CAST(confidence AS DOUBLE) FROM agent_trades ORDER BY closed_at").fetchall()
        assert {d for _, d, _, _, _ in rows} <= {"long", "short"} and all(0 <= c <= 1 for *_, c in rows)
        rules = dict(con.execute("SELECT exit_rule, count(*) FROM agent_trades GROUP BY 1").fetchall())
        assert sum(rules.values()) == n and set(rules) <= {"max_hold", "stop_loss", "take_profit", "run_end"}
    finally:
        con.close()


def test_a_fresh_warehouse_migrates_to_latest_with_the_agent_tables() -> None:
    con = duckdb.connect()
    migrate(con)
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"decisions", "agent_trades", "mode_changes"} <= tables
    cols = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                      "WHERE table_name = 'agent_trades'").fetchall()}
    assert {"key_hash", "load_id", "symbol", "direction", "pnl", "closed_at", "confidence", "exit_rule"} <= cols


def test_a_recorded_backtests_run_summary_is_its_fills_and_equals_its_round_trips(tmp_path: Path) -> None:
    """One truth: a recorded agent backtest has its orders, fills and funding in the warehouse, so the
    run summary (what the end-of-run summary, the cookbook and the daily report show) has its real
    volume, and every money figure of it equals the same sum over the round trips."""
    params = AgentParams(venue="extended", symbols=("SOL", "ETH"), mode="volume", burn=False)
    path = generate_path(["SOL", "ETH"], days=3, seed=8, start=DEFAULT_VIRTUAL_START, bar_s=300, venue="extended")
    r = run_backtest(params, path, local_ask(quick))
    assert r.trades and r.funding and any(f.liquidity.value == "MAKER" for f in r.fills)
    paths = WarehousePaths(tmp_path)
    j = Journal("agent-bt-2", paths.journal_dir)
    asyncio.run(record_backtest(r, j, "agent-bt-2"))
    j.close_sync()
    load(paths)
    con = duckdb.connect(str(paths.published), read_only=True)
    try:
        s = dict(zip(("bot", "mode", "fills", "volume", "fees", "funding", "net_pnl", "final_net_delta"),
                     con.execute("SELECT bot, mode, fills, volume, fees, funding, net_pnl, final_net_delta "
                                 "FROM run_summary WHERE run_id = 'agent-bt-2'").fetchone(), strict=True))
        trips = con.execute("SELECT count(*), sum(fees), sum(funding_paid), sum(pnl) FROM agent_trades "
                            "WHERE run_id = 'agent-bt-2'").fetchone()
        by_sql = con.execute("SELECT sum(price * size) FROM fills WHERE run_id = 'agent-bt-2'").fetchone()[0]
    finally:
        con.close()
    assert (s["bot"], s["mode"], s["fills"], s["final_net_delta"]) == ("agent", "backtest", len(r.fills), 0)
    assert s["volume"] > 0 and float(s["volume"]) == pytest.approx(float(r.volume), abs=0.01)
    assert float(s["volume"]) == pytest.approx(float(by_sql), abs=0.01)
    assert trips[0] == len(r.trades)
    assert s["fees"] == pytest.approx(float(trips[1]), abs=1e-6)
    assert s["funding"] != 0 and s["funding"] == pytest.approx(float(trips[2]), abs=1e-6)
    assert s["net_pnl"] == pytest.approx(float(trips[3]), abs=1e-5)
    assert s["net_pnl"] == pytest.approx(r.pnl, abs=1e-5)


def test_a_run_advised_by_a_policy_says_so_and_never_calls_its_decisions_llm_calls(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--policy rules (or no endpoint, or a backtest): the summary names the policy and labels its
    decisions as the policy's, not LLM calls; the counts are still SQL on ``decisions``."""
    from core.settings import get_settings
    from tasks.agent_bot import choose_ask
    from tasks.agent_report import agent_summary, summary_rows

    monkeypatch.setenv("PERPFLOW_LLM__BASE_URL", "http://127.0.0.1:9/v1")  # configured, yet not asked
    get_settings.cache_clear()
    try:
        assert choose_ask(AgentParams(policy="rules"))[1]["kind"] == "policy"
        assert choose_ask(AgentParams(policy="llm"))[1]["kind"] == "llm"
    finally:
        get_settings.cache_clear()
    params = AgentParams(venue="hibachi", symbols=("SOL",), mode="volume", policy="rules")
    path = generate_path(["SOL"], days=2, seed=4, start=DEFAULT_VIRTUAL_START, bar_s=300)
    r = run_backtest(params, path, local_ask(quick))
    paths = WarehousePaths(tmp_path)
    j = Journal("agent-rules", paths.journal_dir)
    asyncio.run(record_backtest(r, j, "agent-rules", adviser="the 'quick' policy"))
    j.close_sync()
    load(paths)
    s = agent_summary(paths.published, "agent-rules")
    rows = dict(summary_rows(s))
    assert s["adviser"] == "policy" and "'quick' policy (backtest); no LLM called" in rows["adviser"]
    assert rows["policy decisions made / skipped (no LLM)"] == f"{r.llm_calls} / {r.llm_skipped}"
    assert not any(k.startswith("LLM calls") for k in rows)
    # the summary's other contents, each SQL on the run: win rate by combo, exits, PnL by mode, calibration
    con = duckdb.connect(str(paths.published), read_only=True)
    try:
        combos = con.execute("SELECT symbol, direction, count(*), avg(win::INT) FROM agent_trades "
                             "WHERE run_id = 'agent-rules' GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
        buckets = con.execute("SELECT count(*), avg(win::INT) FROM agent_trades WHERE run_id = 'agent-rules' "
                              "GROUP BY floor(least(confidence, 0.999) * 10) ORDER BY 1").fetchall()
    finally:
        con.close()
    assert combos and rows["win rate by symbol/direction"] == "; ".join(
        f"{sym} {d} {k} trades {w:.1%}" for sym, d, k, w in combos)
    assert rows["exits by rule"] and rows["PnL by mode"].startswith("volume ")
    cal = rows["calibration (stated confidence: trades, realised win rate)"]
    assert sorted(int(c.split(": ")[1].split(",")[0]) for c in cal.split("; ")) == sorted(k for k, _ in buckets)
    assert rows["fee + spread drag per round trip (% notional)"] == f"{s['drag_pct_per_round_trip']:.3f}"
