"""Shared learning: what one agent's trades teach reaches the other agent's rules.

The Hibachi agent's SOL shorts keep hitting their stop loss; its trades are journalled and loaded;
the insights computation (tasks/insights.py) blocks SOL_SHORT for agents and calibrates their
confidence; the Extended agent's outlook then removes open_short on SOL before its LLM is asked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from core.insights import ActivePosition, SharedInsights, load_insights, write_insights
from core.records import RunEnd, RunInfo
from core.settings import InsightsSettings
from core.types import BBO, Side
from exchanges.sim.profiles import load_profiles
from strategies.agent.allowed import Action
from strategies.agent.decision import Accepted, Decision
from strategies.agent.desk import Desk, Enter, Exit, Note, Signal
from strategies.agent.outlook import outlook_from, sentiment_from
from strategies.agent.params import AgentParams
from tasks.insights import compute
from warehouse.journal import Journal
from warehouse.loader import load
from warehouse.paths import WarehousePaths

D = Decimal
T0 = 1_767_571_200.0  # 2026-01-05 00:00 UTC


def losing_sol_shorts(n: int) -> list[dict]:  # type: ignore[type-arg]
    p = AgentParams(venue="hibachi", symbols=("SOL",), maker_first=False, daily_loss_limit_usd=D(10_000))
    desk = Desk(p, {"SOL": load_profiles().venue("hibachi").instrument("SOL")}, run_id="hib", client_prefix="a",
                now=T0)
    rows = []
    now, price = T0, D(150)
    for i in range(n):
        now += 3600
        desk.on_bbo(BBO("hibachi", "SOL", price, D(5), price + D("0.01"), D(5), now), now)
        d = Decision(action="open_short", symbol="SOL", size_usd=450.0, confidence=0.8)
        [enter] = [a for a in desk.on_signal(Signal(f"d{i}", now, Accepted(d, "SOL", D(450), False),
                                                    outlook=_empty()), now) if isinstance(a, Enter)]
        desk.on_fill(enter.client_id, "SOL", price, enter.size, D("0.2"), maker=False, mid=price, now=now)
        desk.on_order_done(enter.client_id, "SOL", now, filled=enter.size)
        price = price * D("1.05")  # straight through the 4% stop
        now += 600
        [ex] = [a for a in desk.on_bbo(BBO("hibachi", "SOL", price, D(5), price + D("0.01"), D(5), now), now)
                if isinstance(a, Exit)]
        assert ex.side is Side.BUY and ex.rule == "stop_loss"
        notes = desk.on_fill(ex.client_id, "SOL", price + D("0.01"), ex.size, D("0.2"), maker=False, mid=price,
                             now=now)
        rows += [n.payload for n in notes if isinstance(n, Note) and n.kind == "agent_trade"]
    return rows


def _empty():  # type: ignore[no-untyped-def]
    from strategies.agent.desk import Outlook
    return Outlook()


def test_one_agents_losses_block_the_combo_for_the_other(tmp_path: Path) -> None:
    trades = losing_sol_shorts(12)
    assert len(trades) == 12 and all(not t["win"] for t in trades)
    paths = WarehousePaths(tmp_path)
    j = Journal("hib-1", paths.journal_dir)
    j.run_started(RunInfo("hib-1", "agent", ("hibachi",), "SOL", {"venue": "hibachi"}, T0))
    for t in trades:
        j.record("agent_trade", **t)
    j.run_ended(RunEnd("hib-1", T0 + 20 * 3600, "COMPLETED"))
    j.close_sync()
    load(paths)
    now = datetime.fromtimestamp(T0, UTC) + timedelta(days=1)
    con = duckdb.connect(str(paths.published), read_only=True)
    try:
        ins = compute(con, InsightsSettings(), now)
    finally:
        con.close()
    assert {b.combo for b in ins.blocked} == {"SOL_SHORT"}  # for the agents, and pooled over trading bots
    assert {tuple(b.bots) if b.bots else None for b in ins.blocked} == {("agent",), None}
    write_insights(ins, tmp_path / "shared_insights.json")
    shared = load_insights(tmp_path / "shared_insights.json")

    ext = outlook_from(shared, symbols=("SOL", "ETH"), now=now.timestamp(), own_run_ids={"ext-1-sol"})
    assert ext.blocked == {"SOL_SHORT"}
    assert 0.0 <= ext.calibration.apply(0.8) < 0.5  # 0 wins in 12 at 0.8: the stated 0.8 is worth far less
    p = AgentParams(venue="extended", symbols=("SOL", "ETH"))
    vp = load_profiles().venue("extended")
    desk = Desk(p, {s: vp.instrument(s) for s in p.symbols}, run_id="ext-1", client_prefix="e", now=now.timestamp())
    allowed = desk.allowed(now.timestamp(), ext)
    assert allowed.by_symbol["SOL"] == {Action.HOLD, Action.OPEN_LONG}
    assert Action.OPEN_SHORT in allowed.by_symbol["ETH"]
    # the block expires with the insights' own expiry
    later = outlook_from(shared, symbols=("SOL",), now=(now + timedelta(hours=25)).timestamp(), own_run_ids=set())
    assert later.blocked == frozenset()


def test_other_bots_positions_blackouts_and_sentiment_reach_the_rules() -> None:
    now = datetime(2026, 1, 6, 14, 30, tzinfo=UTC)
    ins = SharedInsights.model_validate({
        "version": "v1", "generated_at": now, "window_start": now - timedelta(days=7),
        "active_positions": [
            ActivePosition(bot="agent", run_id="other-sol", venue="hibachi", symbol="SOL", size=2.0, ts=now),
            ActivePosition(bot="agent", run_id="mine-eth", venue="extended", symbol="ETH", size=-1.0, ts=now)],
        "blackouts": [{"start_hour": 14, "end_hour": 16, "until": now + timedelta(days=1), "reason": "losses",
                       "source": "statistics"}],
        "sentiment": {"ts": now, "market": -0.4, "symbols": {"SOL": -0.6}, "detail": "fear"}})
    o = outlook_from(ins, symbols=("SOL", "ETH"), now=now.timestamp(), own_run_ids={"mine-eth"})
    assert o.others == {"SOL": frozenset({"LONG"})} and o.blackout
    calm = outlook_from(ins, symbols=("SOL",), now=(now + timedelta(hours=3)).timestamp(), own_run_ids=set())
    assert not calm.blackout
    assert sentiment_from(ins, ("SOL", "ETH"))["by_symbol"] == {"SOL": -0.6, "ETH": -0.4}  # type: ignore[index]
    none = SharedInsights.none("no file")
    assert outlook_from(none, symbols=("SOL",), now=now.timestamp(), own_run_ids=set()).blocked == frozenset()
    assert sentiment_from(none, ("SOL",)) is None


def test_the_flow_feed_reads_the_exported_file_once_per_decision(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    from tasks.agent import log

    log.addHandler(caplog.handler)  # the perpflow loggers may not propagate to the root (Prefect's logging)
    try:
        feed_reads(tmp_path, caplog)
    finally:
        log.removeHandler(caplog.handler)


def feed_reads(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from tasks.agent import InsightsFeed

    now = datetime(2026, 1, 6, 9, 0, tzinfo=UTC)
    path = tmp_path / "shared_insights.json"
    feed = InsightsFeed(path, ("SOL", "ETH"), lambda: now.timestamp(), {"me-sol"})
    with caplog.at_level("WARNING"):
        for _ in range(5):  # a decision a minute: why there are no insights is said once, not every time
            assert feed.outlook().blocked == frozenset() and feed.sentiment() is None  # no file yet
    said = {id(r): r.getMessage() for r in caplog.handler.records}  # a record seen by the root too is one record
    assert list(said.values()).count(
        f"no insights: {path}: no shared insights exported yet (the insights flow writes it)") == 1
    write_insights(SharedInsights.model_validate({
        "version": "v2", "generated_at": now, "window_start": now - timedelta(days=7),
        "blocked": [{"combo": "ETH_LONG", "symbol": "ETH", "direction": "long", "bots": None,
                     "until": now + timedelta(hours=2), "reason": "loses", "source": "review", "review_id": "r1"}],
        "sentiment": {"ts": now, "market": 0.2, "symbols": {}, "detail": "neutral"}}), path)
    assert feed.outlook().blocked == {"ETH_LONG"} and feed.sentiment()["market"] == 0.2  # type: ignore[index]
    path.write_text("{ torn")
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert feed.outlook().blocked == frozenset()  # a corrupt file is no insights, never an exception
    assert any("not valid JSON" in r.getMessage() for r in caplog.handler.records)  # a new reason is said again
