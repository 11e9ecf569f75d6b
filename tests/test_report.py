"""The daily post-mortem report (issue 17): built from a warehouse of real bot runs, its numbers are
SQL's and the bots' own; an empty day gives a short report; a rebuild gives the same files; a
warehouse being loaded is read from its published snapshot."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from tasks.report import build_report
from tests.hedge_run import RecordedRun
from tests.reportkit import DAY, EMPTY_DAY, REVIEW_RECOMMENDATION, build_report_warehouse
from warehouse import query

Built = tuple[Path, dict[str, RecordedRun]]


@pytest.fixture(scope="module")
def report_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Built:
    data_dir = tmp_path_factory.mktemp("report-warehouse")
    return data_dir, build_report_warehouse(data_dir)


@pytest.fixture(scope="module")
def day_md(report_warehouse: Built) -> str:
    """The whole day's report, built once for the tests that read it."""
    return build_report(DAY, data_dir=report_warehouse[0]).files["markdown"].read_text()


def md_table(md: str, title: str) -> list[dict[str, str]]:
    """The rows of the Markdown table under ``### title``."""
    block = md.split(f"### {title}\n", 1)[1].strip().split("\n\n", 1)[0].splitlines()
    headers = [h.strip() for h in block[0].strip("|").split("|")]
    return [dict(zip(headers, (c.strip() for c in line.strip("|").split("|")), strict=True)) for line in block[2:]]


def num(text: str) -> float:
    return float(text.replace(",", ""))


def test_a_day_of_hedge_runs_reports_the_bots_own_figures(report_warehouse: Built, day_md: str) -> None:
    data_dir, runs = report_warehouse
    md = day_md
    assert (data_dir / "reports" / "2026-01-05" / "report.html").stat().st_size > 10_000
    # per bot: the volume, fees and net PnL of every fill of every run, as the runners accounted them
    volume = sum(f.price * f.size for r in runs.values() for f in r.unique_fills)
    fees = sum(f.fee for r in runs.values() for f in r.unique_fills)
    net = sum(sum(r.result.cash.values(), Decimal(0)) for r in runs.values())  # every run ends flat
    bots = {b["bot"]: b for b in md_table(md, "Per bot")}
    assert set(bots) == {"hedge", "grid", "agent"}
    bot = bots["hedge"]
    assert bot["mode"] == "backtest" and int(bot["runs"]) == len(runs)
    assert num(bot["volume USD"]) == pytest.approx(float(volume), abs=0.011)
    assert num(bot["fees USD"]) == pytest.approx(float(fees), abs=2e-6)
    assert num(bot["net PnL"]) == pytest.approx(float(net), abs=2e-6)
    assert num(bot["cost per $1M"]) == pytest.approx(float(-net / volume * 1_000_000), abs=0.01)
    assert int(bot["cycles"]) == sum(len(r.cycles) for r in runs.values())
    # per run: the cookbook's run_summary, figure for figure
    cookbook = query.named_query("run_summary", path=data_dir / "warehouse.duckdb").set_index("run_id")
    rows = {r["run"]: r for r in md_table(md, "Runs") if r["bot"] == "hedge"}
    assert set(rows) == set(runs)
    for run_id, r in rows.items():
        c = cookbook.loc[run_id]
        assert num(r["volume USD"]) == pytest.approx(c.volume) and num(r["net PnL"]) == pytest.approx(c.net_pnl)
        assert num(r["cost per $1M"]) == pytest.approx(c.cost_per_1m, abs=0.005)
        assert r["net delta"] == c.net_delta_state == "CLEAN"


def test_the_hedge_section_tables_are_the_cookbooks(report_warehouse: Built, day_md: str) -> None:
    data_dir, runs = report_warehouse
    md = day_md
    path = data_dir / "warehouse.duckdb"
    fs = query.named_query("fill_success_by_size", path=path)
    table = md_table(md, "Fill success by order size and venue")
    got = {(r["venue"], r["symbol"], r["type"], r["size"]): r for r in table}
    assert set(got) == {(r.venue, r.symbol, r.type, r.size) for r in fs.itertuples()}
    for r in fs.itertuples():
        g = got[(r.venue, r.symbol, r.type, r.size)]
        assert (int(g["orders"]), int(g["full"]), int(g["none"])) == (r.orders, r.full_fills, r.no_fills)
    edges = {r["kind"]: r for r in md_table(md, "Open vs close edge")}
    for kind in ("open", "close"):
        cs = [c for r in runs.values() for c in r.cycles if c.kind == kind and c.edge_bps is not None]
        weighted = sum(c.edge_bps * c.size for c in cs) / sum(c.size for c in cs)
        assert num(edges[kind]["avg edge bps (size-weighted)"]) == pytest.approx(float(weighted), abs=1e-4)
    positions = md_table(md, "Final positions per venue")
    assert len(positions) == 2 * len(runs) and all(num(p["position"]) == 0 for p in positions)
    executable = {r["run"]: r for r in md_table(md, "Executable size observed vs the book displayed")}
    thin = executable["hedge-thin-grvt"]
    assert thin["hedge venue"] == "grvt" and num(thin["largest taker order not filled"]) == pytest.approx(0.2)
    # the notes' liquidity finding, from data: GRVT displayed far more than it executed
    assert "did not fully execute a 0.2 SOL taker order" in md
    assert "![Net delta over time](charts/report-net_delta.png)" in md
    assert (data_dir / "reports" / "2026-01-05" / "charts" / "report-net_delta.png").stat().st_size > 1000


def test_recommendations_follow_the_data(report_warehouse: Built, day_md: str) -> None:
    data_dir, _ = report_warehouse
    md = day_md
    recs = md.split("## Recommendations", 1)[1]
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        for kind, edge, n in con.execute("""SELECT kind, sum(edge_bps * size) / sum(size), count(*) FROM cycles
                                            WHERE edge_bps IS NOT NULL GROUP BY kind""").fetchall():
            said = f"{kind.capitalize()} cycles lose on average {abs(float(edge)):.2f} bps of edge over {n} cycles"
            assert (said in recs) == (edge < 0), (kind, edge)
        [(cost,)] = con.execute("SELECT -sum(net_pnl) / sum(volume) * 1e6 FROM run_totals WHERE bot = 'hedge'"
                                ).fetchall()
    assert f"hedge (backtest): $1M of volume cost {cost:,.2f} USD" in recs
    assert REVIEW_RECOMMENDATION in recs  # the latest LLM review's, after the rules


def test_the_grid_and_agent_sections_are_their_tables(report_warehouse: Built, day_md: str) -> None:
    from tests.reportkit import AGENT_RUN, GRID_RUN

    data_dir, _ = report_warehouse
    md = day_md
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        split = con.execute("SELECT fills, spread_capture, inventory_pnl, fees, funding, total FROM pnl_split "
                            "WHERE run_id = ?", [GRID_RUN]).fetchone()
        markout = con.execute("SELECT avg(markout_60s_bps) FROM fill_diagnostics WHERE run_id = ?", [GRID_RUN]
                              ).fetchone()[0]
        trades = con.execute("SELECT count(*), count(*) FILTER (WHERE win), sum(pnl), sum(fees) FROM agent_trades "
                             "WHERE run_id = ?", [AGENT_RUN]).fetchone()
        exits = dict(con.execute("SELECT exit_rule, count(*) FROM agent_trades WHERE run_id = ? GROUP BY 1",
                                 [AGENT_RUN]).fetchall())
    [row] = md_table(md, "PnL split (spread capture, inventory, fees, funding)")
    assert row["run"] == GRID_RUN and int(row["fills"]) == split[0]
    # one truth: the grid's split adds up to the net PnL its run shows everywhere (funding included)
    [grid_run] = [r for r in md_table(md, "Runs") if r["run"] == GRID_RUN]
    assert num(grid_run["net PnL"]) == pytest.approx(float(split[-1]), abs=2e-6) and split[4] != 0
    for key, value in zip(("spread capture", "inventory", "fees", "funding", "total"), split[1:], strict=True):
        assert num(row[key]) == pytest.approx(float(value), abs=1e-6), key
    hyp = {r["hypothesis"][0]: r for r in md_table(md, "Hypotheses")}
    assert set(hyp) == {"A", "B", "C", "D"}
    assert hyp["A"]["verdict"] == ("supported" if markout < 0 else "not supported")
    assert f"{markout:,.2f} bps" in hyp["A"]["evidence"]
    assert md_table(md, "Pause reasons") == [{"reason": "trend up", "pauses": "1"}]
    [agent] = md_table(md, "Round trips")
    assert (int(agent["trades"]), int(agent["wins"])) == (trades[0], trades[1]) and trades[0] > 0
    assert num(agent["net PnL"]) == pytest.approx(float(trades[2]), abs=1e-6)
    assert num(agent["fee drag per round trip"]) == pytest.approx(float(trades[3]) / trades[0], abs=1e-6)
    assert {r["exit rule"]: int(r["trades"]) for r in md_table(md, "Exits by rule")} == exits
    # the agent's run in the executive summary: its real volume and fees (its fills), SQL on the run
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        volume, fees = con.execute("SELECT sum(price * size), sum(fee) FROM fills WHERE run_id = ?",
                                   [AGENT_RUN]).fetchone()
    [agent_run] = [r for r in md_table(md, "Runs") if r["run"] == AGENT_RUN]
    assert float(volume) > 0 and num(agent_run["volume USD"]) == pytest.approx(float(volume), abs=0.006)
    assert num(agent_run["fees"]) == pytest.approx(float(fees), abs=1e-6)
    [agent_bot] = [r for r in md_table(md, "Per bot") if r["bot"] == "agent"]
    assert num(agent_bot["volume USD"]) == pytest.approx(float(volume), abs=0.006)


def test_the_intelligence_section_shows_the_day(day_md: str) -> None:
    md = day_md
    rows = {(r["source"], r["metric"], r["symbol"]): r for r in md_table(md, "Sentiment over the day")}
    fg = rows[("fear_greed", "index", "")]
    assert int(fg["samples"]) == 12 and num(fg["first"]) == 40 and num(fg["last"]) == 51
    assert int(rows[("funding", "rate_8h", "SOL")]["stale samples"]) == 1
    [insight] = md_table(md, "Insights written or changed")
    assert insight["topic"] == "regime" and "calm" in insight["data"]
    assert "Latest review: rev-1 by cross-bot (qwen-test)" in md and "Hedges turn taker too often." in md


def test_a_day_without_activity_gives_a_short_report(report_warehouse: Built) -> None:
    data_dir, _ = report_warehouse
    built = build_report(EMPTY_DAY, data_dir=data_dir)
    md = built.files["markdown"].read_text()
    assert "No activity: no bot run started on this day." in md
    assert "## Hedge bot" not in md and "### Runs" not in md and "## Grid" not in md and "## Agents" not in md
    assert built.files["html"].exists() and not built.report.charts


def test_rebuilding_a_day_gives_the_same_files(report_warehouse: Built, day_md: str) -> None:
    folder = report_warehouse[0] / "reports" / "2026-01-05"
    html, md = (folder / "report.html").read_bytes(), (folder / "report.md").read_bytes()
    charts = {p.name: p.read_bytes() for p in (folder / "charts").iterdir()}
    second = build_report(DAY, data_dir=report_warehouse[0])
    assert second.files["html"].read_bytes() == html and second.files["markdown"].read_bytes() == md
    assert {p.name: p.read_bytes() for p in (second.files["html"].parent / "charts").iterdir()} == charts


def test_narrowed_to_a_run(report_warehouse: Built) -> None:
    data_dir, runs = report_warehouse
    built = build_report(DAY, run="hedge-eth-alt", data_dir=data_dir)
    assert built.files["html"].name == "report-run-hedge-eth-alt.html"
    md = built.files["markdown"].read_text()
    assert [r["run"] for r in md_table(md, "Runs")] == ["hedge-eth-alt"]
    [bot] = md_table(md, "Per bot")
    volume = sum(f.price * f.size for f in runs["hedge-eth-alt"].unique_fills)
    assert num(bot["volume USD"]) == pytest.approx(float(volume), abs=0.011)
    assert "## Intelligence" not in md  # market intelligence belongs to the whole day's report


def test_a_warehouse_being_loaded_is_read_from_its_published_snapshot(tmp_path: Path, report_warehouse: Built) -> None:
    """The loader holds its lock and the master open for writing, with a new run's journal waiting:
    the report reads the published snapshot - neither blocked nor showing the run half-loaded."""
    import shutil

    from tests.hedge_run import record_hedge_run
    from warehouse.loader import loader_lock
    from warehouse.paths import WarehousePaths

    data_dir, runs = report_warehouse
    shutil.copytree(data_dir, tmp_path / "data", ignore=shutil.ignore_patterns("reports"))
    paths = WarehousePaths(tmp_path / "data")
    record_hedge_run(paths.journal_dir, "hedge-late", ticker="SOL", size=Decimal("0.1"), iterations=1, seed=31)
    with loader_lock(paths.lock), duckdb.connect(str(paths.master)) as master:
        master.execute("BEGIN TRANSACTION")
        master.execute("DELETE FROM fills")  # a load mid-way, not committed
        built = build_report(DAY, data_dir=paths.data_dir)
        master.execute("ROLLBACK")
    md = built.files["markdown"].read_text()
    assert {r["run"] for r in md_table(md, "Runs") if r["bot"] == "hedge"} == set(runs)  # not hedge-late
    assert all(int(r["cycles"]) > 0 for r in md_table(md, "Runs") if r["bot"] == "hedge")


def test_the_cli_builds_a_report_and_refuses_a_bad_date(report_warehouse: Built,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.app import app
    from core.settings import get_settings

    data_dir, _ = report_warehouse
    monkeypatch.setenv("PERPFLOW_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    try:
        ok = CliRunner().invoke(app, ["report", "--date", "2026-01-05", "--bot", "hedge"])
        bad = CliRunner().invoke(app, ["report", "--date", "05/01/2026"])
        by_run = CliRunner().invoke(app, ["report", "--run", "hedge-sol-taker"])
    finally:
        get_settings.cache_clear()
    assert ok.exit_code == 0, ok.output
    assert "report-bot-hedge.html" in ok.output and re.search(r"hedge \(backtest\): \d+ run\(s\)", ok.output)
    assert bad.exit_code == 2 and "--date: '05/01/2026' is not a date; allowed: YYYY-MM-DD" in bad.output
    assert "Traceback" not in bad.output
    assert by_run.exit_code == 0 and "2026-01-05/report-run-hedge-sol-taker.html" in by_run.output


def test_the_flow_publishes_artifacts(report_warehouse: Built, prefect_harness: None) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.report import daily_report

    data_dir, _ = report_warehouse
    state = daily_report(date="2026-01-05", data_dir=str(data_dir), return_state=True)
    assert state.is_completed(), state.message
    out = state.result()
    assert out["active"] and out["runs"] == 6 and out["html"].endswith("2026-01-05/report.html")
    with get_client(sync_client=True) as client:
        found = {a.key: a for a in client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))}
    assert "cost per $1M" in found["daily-report-2026-01-05"].data
    assert "data:image/png;base64," in found["daily-report-2026-01-05"].data
    assert len(found["daily-report-hedge"].data) > 0
    assert found["daily-report-html"].data.startswith("file://") or "report.html" in found["daily-report-html"].data
    empty = daily_report(date="2026-01-07", data_dir=str(data_dir), return_state=True)
    assert empty.is_completed() and not empty.result()["active"]


def test_the_html_opens_offline_in_chromium_and_every_chart_renders(report_warehouse: Built, day_md: str,
                                                                     tmp_path: Path) -> None:
    """Headless Chromium (the browser test's setup) opens the report from disk: every chart is a decoded
    image, nothing is broken, and the page asks for nothing beyond its own file."""
    from playwright.sync_api import sync_playwright

    from tests.test_prefect_ui import ARGS, CHROMIUM, SHOTS, ensure_chromium

    html = report_warehouse[0] / "reports" / "2026-01-05" / "report.html"
    ensure_chromium()
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True, args=ARGS,
            viewport={"width": 1300, "height": 900}, offline=True)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(html.as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => ({alt: e.alt, ok: e.complete && e.naturalWidth > 0, w: e.naturalWidth}))")
            sections = page.eval_on_selector_all("section h2", "els => els.map(e => e.textContent)")
            SHOTS.mkdir(parents=True, exist_ok=True)
            shot = SHOTS / "report-2026-01-05.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    print(f"screenshot: {shot}")
    assert sections == ["Executive summary", "Hedge bot", "Grid", "Agents", "Intelligence", "Recommendations"]
    assert {i["alt"] for i in images} == {"Net PnL per run", "Fill success by order size", "Net delta over time",
                                          "Edge per cycle", "Markout curves by side", "Grid inventory over time",
                                          "Sentiment over the day"}
    assert all(i["ok"] and i["w"] > 100 for i in images), images
    leaving = [u for u in requests if not (u.startswith("file://") or u.startswith("data:"))]
    assert not leaving, leaving
    assert shot.stat().st_size > 50_000
