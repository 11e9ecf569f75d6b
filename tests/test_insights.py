"""Shared insights: statistics from a real warehouse (hedge cycles recorded by the bot; directional
trades in the table shape the grid and agent bots add), the typed export and its readers."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from core.insights import BlockedCombo, SharedInsights, Unblock, load_insights, write_insights
from core.settings import InsightsSettings
from core.stats import wilson
from tasks.insights import compute, diff_markdown, read_review_items, rows
from warehouse.journal import Journal
from warehouse.loader import load
from warehouse.paths import WarehousePaths
from warehouse.query import connect
from warehouse.schema import migrate

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
S = InsightsSettings(min_trades=10, blackout_min_sample=20)


def warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    migrate(con)
    return con


def agent_trades(con: duckdb.DuckDBPyConnection, trades: list[tuple[str, str, float, datetime, float | None]]) -> None:
    """Closed agent trades in the warehouse's ``agent_trades`` table (the agents' migration):
    (symbol, direction long|short, pnl, closed_at, confidence)."""
    frame = pd.DataFrame([(f"run-{i}", i, "agent", s, d.upper(), p, t.replace(tzinfo=None), c)
                          for i, (s, d, p, t, c) in enumerate(trades)],
                         columns=["run_id", "trade_no", "bot", "symbol", "direction", "pnl", "closed_at", "confidence"])
    con.register("new_trades", frame)
    con.execute("INSERT INTO agent_trades BY NAME SELECT * FROM new_trades")
    con.unregister("new_trades")


def series(symbol: str, side: str, wins: int, losses: int, start: datetime, step: timedelta = timedelta(minutes=7),
           confidence: float | None = None) -> list[tuple[str, str, float, datetime, float | None]]:
    out = []
    for i in range(wins + losses):
        out.append((symbol, side, 1.0 if i < wins else -1.5, start + i * step, confidence))
    return out


def test_wilson_bounds() -> None:
    assert wilson(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    lo, hi = wilson(5, 10)
    assert (lo, hi) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))
    assert wilson(0, 0) == (0.0, 1.0)


def test_hedge_cycles_win_rates_match_the_recorded_runs(hedge_warehouse: tuple[Path, list]) -> None:
    published, runs = hedge_warehouse
    cycles = [c for r in runs for c in r.cycles]
    now = datetime.fromtimestamp(max(c.ended for c in cycles), UTC) + timedelta(hours=1)
    with connect(published) as con:
        ins = compute(con, S, now)
    for combo_ in {(c.symbol, c.direction) for c in cycles}:
        mine = [c for c in cycles if (c.symbol, c.direction) == combo_]
        rate = next(r for r in ins.win_rates if (r.symbol, r.direction) == combo_ and r.bot == "hedge")
        assert (rate.n, rate.wins, rate.kind) == (len(mine), sum(c.pnl > 0 for c in mine), "cycle")
        assert rate.pnl == pytest.approx(float(sum(c.pnl for c in mine)))
        assert rate.lower <= rate.win_rate <= rate.upper
    assert ins.blocked == []  # a delta-neutral cycle's direction is not a market bet: never blocks
    assert next(s for s in ins.sources if s.name == "cycles").rows == len(cycles)


def test_a_confidently_losing_trade_combo_is_blocked_with_an_expiry(tmp_path: Path) -> None:
    con = warehouse(tmp_path)
    t0 = NOW - timedelta(days=2)
    agent_trades(con, series("SOL", "SELL", 3, 17, t0) + series("ETH", "BUY", 8, 4, t0)
                 + series("BTC", "SELL", 0, 6, t0))
    ins = compute(con, S, NOW)
    sol = next(r for r in ins.win_rates if r.bot == "agent" and r.symbol == "SOL")
    assert (sol.direction, sol.n, sol.wins, sol.kind) == ("short", 20, 3, "trade")
    assert sol.upper < 0.5
    blocked = {(b.combo, tuple(b.bots or ["*"])) for b in ins.blocked}
    assert blocked == {("SOL_SHORT", ("agent",)), ("SOL_SHORT", ("*",))}  # BTC: 6 trades < min_trades
    b = ins.blocked[0]
    assert b.until == NOW + timedelta(hours=24) and b.source == "statistics" and "won 3 of 20" in b.reason
    assert ins.blocked_combo("SOL", "short", "agent", NOW) is not None
    assert ins.blocked_combo("SOL", "short", "agent", NOW + timedelta(hours=25)) is None  # expired
    assert ins.blocked_combo("ETH", "long", "agent", NOW) is None


def test_outcomes_outside_the_window_do_not_count(tmp_path: Path) -> None:
    con = warehouse(tmp_path)
    agent_trades(con, series("SOL", "SELL", 0, 20, NOW - timedelta(days=30)))
    ins = compute(con, S, NOW)
    assert ins.win_rates == [] and ins.blocked == []


def test_absent_tables_and_columns_are_tolerated(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))  # not even migrated
    ins = compute(con, S, NOW)
    assert ins.win_rates == [] and ins.active_positions == [] and ins.sentiment is None
    assert [(s.name, s.note) for s in ins.sources] == [("cycles", "table absent")]
    con.execute("CREATE TABLE agent_trades (symbol VARCHAR, side VARCHAR, ts TIMESTAMP)")
    ins = compute(con, S, NOW)
    assert ("agent_trades", "skipped: no pnl") in [(s.name, s.note) for s in ins.sources]


def test_grid_fills_count_by_their_markout_and_never_block(tmp_path: Path) -> None:
    from tests.test_grid_diagnostics import T0, _journal

    paths = WarehousePaths(tmp_path)
    rec = _journal(paths.journal_dir)
    load(paths)
    now = datetime.fromtimestamp(T0, UTC) + timedelta(hours=2)
    with connect(paths.published) as con:
        ins = compute(con, InsightsSettings(min_trades=1, blackout_min_sample=1), now)
        truth = dict(((s, w), n) for s, w, n in con.execute(
            "SELECT side, markout_60s_pnl > 0, count(*) FROM fill_diagnostics WHERE bot = 'grid' "
            "AND markout_60s_pnl IS NOT NULL GROUP BY ALL").fetchall())
    grid = {r.direction: r for r in ins.win_rates if r.bot == "grid"}
    assert set(grid) == {"long", "short"} and all(r.kind == "fill" for r in grid.values())
    for side, direction in (("BUY", "long"), ("SELL", "short")):
        assert grid[direction].wins == truth.get((side, True), 0)
        assert grid[direction].n == truth.get((side, True), 0) + truth.get((side, False), 0)
    assert sum(r.n for r in grid.values()) <= len(rec.fills)
    assert ins.blocked == []  # a fill's side is not a market bet either
    src = next(s for s in ins.sources if s.name == "fill_diagnostics")
    assert src.rows == sum(r.n for r in grid.values()) > 0


def test_blackout_hours_lose_more_than_each_bots_own_rate(tmp_path: Path) -> None:
    con = warehouse(tmp_path)
    day = NOW.replace(hour=0) - timedelta(days=1)
    trades = []
    for h in range(24):  # the bot's usual hours: 12 wins, 12 losses
        trades += series("ETH", "BUY", 12, 12, day + timedelta(hours=h), timedelta(minutes=2))
    trades = [t for t in trades if t[3].hour not in (3, 4, 9)]
    trades += series("ETH", "BUY", 2, 22, day + timedelta(hours=3), timedelta(minutes=2))
    trades += series("ETH", "BUY", 1, 23, day + timedelta(hours=4), timedelta(minutes=2))
    trades += series("ETH", "BUY", 0, 10, day + timedelta(hours=9), timedelta(minutes=2))  # too few to tell
    agent_trades(con, trades)
    ins = compute(con, S, NOW)
    assert [(w.start_hour, w.end_hour, w.n) for w in ins.blackouts] == [(3, 5, 48)]
    w = ins.blackouts[0]
    assert w.loss_rate == pytest.approx(45 / 48) and w.lower > w.baseline
    assert ins.blackout_at(NOW.replace(hour=4, minute=30)) == w
    assert ins.blackout_at(NOW.replace(hour=5)) is None


def test_blackouts_need_no_more_losses_than_usual_from_a_bot_that_always_loses(tmp_path: Path) -> None:
    con = warehouse(tmp_path)
    day = NOW.replace(hour=0) - timedelta(days=1)
    trades = []
    for h in range(24):
        trades += series("SOL", "BUY", 0, 25, day + timedelta(hours=h), timedelta(minutes=2))
    agent_trades(con, trades)
    assert compute(con, S, NOW).blackouts == []


def test_confidence_calibration(tmp_path: Path) -> None:
    con = warehouse(tmp_path)
    t0 = NOW - timedelta(hours=10)
    agent_trades(con, series("SOL", "BUY", 9, 11, t0, confidence=0.82) + series("ETH", "BUY", 6, 4, t0,
                                                                                   confidence=0.65))
    cal = {(c.lo, c.hi): c for c in compute(con, S, NOW).calibration}
    assert set(cal) == {(0.6, 0.7), (0.8, 0.9)}
    high = cal[(0.8, 0.9)]
    assert (high.n, high.wins, high.win_rate) == (20, 9, 0.45) and high.gap == pytest.approx(-0.4)


def test_active_positions_of_running_bots_and_latest_sentiment(tmp_path: Path) -> None:
    con = warehouse(tmp_path)
    t = NOW.replace(tzinfo=None)
    con.executemany("INSERT INTO runs (run_id, bot, status) VALUES (?, ?, ?)",
                    [["r1", "hedge", "RUNNING"], ["r2", "hedge", "COMPLETED"], ["r3", "grid", "RUNNING"]])
    con.executemany("INSERT INTO positions (run_id, venue, symbol, ts, size) VALUES (?, ?, ?, ?, ?)", [
        ["r1", "paradex", "SOL", t - timedelta(minutes=5), 0], ["r1", "paradex", "SOL", t, 0.5],
        ["r1", "grvt", "SOL", t, -0.5], ["r2", "paradex", "ETH", t, 1.0],
        ["r3", "paradex", "ETH", t - timedelta(minutes=5), 2.0], ["r3", "paradex", "ETH", t, 0]])
    con.executemany("INSERT INTO sentiment (source, metric, symbol, ts, value, run_id, detail) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?)", [
                        ["combined", "score", None, t - timedelta(hours=1), 0.3, "s1", "old"],
                        ["combined", "score", None, t, -0.25, "s2", "mean of 3 of 3"],
                        ["combined", "score", "SOL", t, -0.5, "s2", "x"]])
    ins = compute(con, S, NOW)
    assert [(p.bot, p.venue, p.size) for p in ins.active_positions] == [("hedge", "grvt", -0.5),
                                                                         ("hedge", "paradex", 0.5)]
    assert ins.sentiment is not None
    assert (ins.sentiment.market, ins.sentiment.symbols, ins.sentiment.detail) == (-0.25, {"SOL": -0.5},
                                                                                    "mean of 3 of 3")
    assert ins.sentiment_for("sol") == -0.5 and ins.sentiment_for("BTC") == -0.25


def test_export_is_atomic_and_reads_back_typed(tmp_path: Path) -> None:
    con = warehouse(tmp_path)
    agent_trades(con, series("SOL", "SELL", 3, 17, NOW - timedelta(hours=5)))
    ins = compute(con, S, NOW)
    path = tmp_path / "data" / "shared_insights.json"
    write_insights(ins, path)
    back = load_insights(path)
    assert back == ins and back.present and back.schema_version == 1
    assert [p.name for p in path.parent.iterdir()] == ["shared_insights.json"]  # no temporary file left
    assert ins.version.startswith("20260302T120000Z-")
    assert compute(con, S, NOW).version == ins.version  # same data, same version


def test_readers_never_see_a_half_written_file(tmp_path: Path) -> None:
    path = tmp_path / "shared_insights.json"
    versions = [SharedInsights(version=f"v{i}", generated_at=NOW, window_start=NOW,
                               blocked=[BlockedCombo(combo="SOL_SHORT", symbol="SOL", direction="short", until=NOW,
                                                     reason="x" * 5000, source="statistics")] * (i % 7))
                for i in range(40)]
    write_insights(versions[0], path)
    seen: list[SharedInsights] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            seen.append(load_insights(path))

    t = threading.Thread(target=reader)
    t.start()
    for v in versions[1:]:
        write_insights(v, path)
    done.set()
    t.join()
    assert seen and all(s.present for s in seen)


def test_missing_or_corrupt_file_reads_as_no_insights_with_a_warning(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "shared_insights.json"
    none = load_insights(path)
    assert not none.present and "no shared insights exported yet" in (none.problem or "")
    assert none.blocked_combo("SOL", "short", "agent", NOW) is None and none.blackout_at(NOW) is None
    path.write_text('{"schema_version": 1, "version": "x", "generated_at": ')
    assert "not valid JSON" in (load_insights(path).problem or "")
    path.write_text(json.dumps({"schema_version": 99}))
    assert "schema_version 99" in (load_insights(path).problem or "")
    path.write_text(json.dumps({"schema_version": 1, "version": "x", "generated_at": "2026-01-01T00:00:00Z",
                                "window_start": "2026-01-01T00:00:00Z", "blocked": [{"combo": 1}]}))
    assert "blocked.0" in (load_insights(path).problem or "")
    assert sum("no insights" in r.message for r in caplog.records) == 4


def test_unblock_by_review_overrides_a_block_for_its_bots_until_it_expires() -> None:
    block = BlockedCombo(combo="SOL_SHORT", symbol="SOL", direction="short", until=NOW + timedelta(hours=24),
                         reason="stats", source="statistics")
    unblock = Unblock(combo="SOL_SHORT", symbol="SOL", direction="short", bots=["agent"],
                      until=NOW + timedelta(hours=6), reason="regime changed", review_id="rv1")
    ins = SharedInsights(version="v", generated_at=NOW, window_start=NOW, blocked=[block], unblocked=[unblock])
    assert ins.blocked_combo("SOL", "short", "agent", NOW) is None
    assert ins.blocked_combo("SOL", "short", "grid", NOW) == block
    assert ins.blocked_combo("SOL", "short", "agent", NOW + timedelta(hours=7)) == block


def test_versions_land_in_the_insights_table_and_review_rows_are_read_back(tmp_path: Path) -> None:
    con = warehouse(tmp_path)
    agent_trades(con, series("SOL", "SELL", 3, 17, NOW - timedelta(hours=5)))
    ins = compute(con, S, NOW)
    con.close()
    paths = WarehousePaths(tmp_path / "data")
    j = Journal("insights-test", paths.journal_dir)
    for r in rows(ins):
        j.record("insight", **r)
    review_block = BlockedCombo(combo="ETH_LONG", symbol="ETH", direction="long", until=NOW + timedelta(hours=6),
                                reason="review", source="review", review_id="rv-1")
    j.record("insight", insight_id="review/rv-1/0", ts=NOW.timestamp(), scope="*", topic="blocked_combo",
             data=review_block.model_dump(mode="json"), source="review", version=None,
             expires=review_block.until.timestamp(), review_id="rv-1")
    j.close_sync()
    load(paths)
    with connect(paths.published) as wh:
        n, versions = wh.execute("SELECT count(*), count(DISTINCT version) FROM insights "
                                 "WHERE insight_id NOT LIKE 'review/%'").fetchone()
        assert (n, versions) == (len(rows(ins)), 1)
        snap = json.loads(wh.execute("SELECT data FROM insights WHERE topic = 'snapshot'").fetchone()[0])
        assert snap["counts"]["blocked"] == 2
        assert read_review_items(wh, NOW) == [review_block]
        assert read_review_items(wh, NOW + timedelta(hours=7)) == []  # expired
        again = compute(wh, S, NOW)
    assert review_block in again.blocked and again.reviews == ["rv-1"]
    md = diff_markdown(ins, again)
    assert "- added ETH_LONG for every bot (review rv-1)" in md  # this warehouse has no agent_trades:
    assert "- removed SOL_SHORT for agent (statistics)" in md
    assert "| agent | SOL_SHORT | trade | 20 |" in diff_markdown(SharedInsights.none("first"), ins)
