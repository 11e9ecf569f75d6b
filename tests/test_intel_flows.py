"""The ``sentiment`` and ``insights`` flows on a temporary Prefect server, against the loopback sources:
what they record equals what the warehouse holds; a failing source or a corrupt insights file loses nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.insights import load_insights
from tasks.fakes.sentiment import FakeSentiment
from tasks.fakes.thread import in_thread
from tests.hedge_run import record_hedge_run
from warehouse.paths import WarehousePaths
from warehouse.query import connect


@pytest.fixture
def sources(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSentiment]:
    with in_thread(FakeSentiment(fear_greed=70, ratios={"SOLUSDT": 2.0})) as fake:
        monkeypatch.setenv("PERPFLOW_SENTIMENT__FEAR_GREED_URL", fake.fear_greed_url)
        monkeypatch.setenv("PERPFLOW_SENTIMENT__LONG_SHORT_URL", fake.long_short_url)
        monkeypatch.setenv("PERPFLOW_SENTIMENT__SYMBOLS", '["SOL"]')
        monkeypatch.setenv("PERPFLOW_SENTIMENT__FUNDING_VENUES", '["grvt"]')
        monkeypatch.setenv("PERPFLOW_SENTIMENT__TIMEOUT_S", "0.5")
        monkeypatch.setenv("PERPFLOW_SENTIMENT__RETRIES", "0")
        yield fake


def test_sentiment_flow_records_what_it_reports(tmp_path: Path, sources: FakeSentiment,
                                                prefect_harness: None) -> None:
    from flows.sentiment import sentiment_flow

    sources.malformed("ls", count=None)
    out = sentiment_flow(str(tmp_path))
    assert out["unavailable"] and out["unavailable"][0].startswith("long_short:SOL: neutral: malformed JSON")
    with connect(WarehousePaths(tmp_path).published) as con:
        rows = con.execute("SELECT source, metric, symbol, value, stale, detail FROM sentiment WHERE run_id = ? "
                           "ORDER BY source, metric, symbol", [out["run_id"]]).fetchall()
        market = con.execute("SELECT value FROM sentiment WHERE run_id = ? AND source = 'combined' "
                             "AND symbol IS NULL", [out["run_id"]]).fetchone()[0]
    assert len(rows) == out["rows"] and market == pytest.approx(out["market"])
    ls = next(r for r in rows if r[0] == "long_short")
    assert ls[1:5] == ("score", "SOL", 0.0, True) and ls[5].startswith("neutral: malformed JSON")
    fg = next(r for r in rows if r[0] == "fear_greed" and r[1] == "score")
    assert fg[3] == pytest.approx(0.4) and fg[4] is False
    grvt = next(r for r in rows if r[0] == "funding:grvt" and r[1] == "score")
    assert grvt[3] == pytest.approx(-0.2)
    assert market == pytest.approx((0.4 - 0.2) / 2)  # the long/short component is not in the mean


def test_insights_flow_exports_a_version_and_survives_a_corrupt_file(tmp_path: Path, sources: FakeSentiment,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    prefect_harness: None) -> None:
    from flows.insights import insights_flow
    from flows.sentiment import sentiment_flow

    monkeypatch.setenv("PERPFLOW_INSIGHTS__WINDOW_DAYS", "365")  # the recorded runs are dated early in 2026
    paths = WarehousePaths(tmp_path)
    run = record_hedge_run(paths.journal_dir, "hedge-sol-taker")
    sentiment_flow(str(tmp_path))
    path = tmp_path / "shared_insights.json"
    path.write_text('{"schema_version": 1, "version": ')  # corrupt: read as no insights, then replaced
    first = insights_flow(str(tmp_path))
    ins = load_insights(path)
    assert ins.present and ins.version == first["version"] and ins.sentiment is not None
    cycles = {(c.symbol, c.direction) for c in run.cycles}
    assert {(r.symbol, r.direction) for r in ins.win_rates if r.bot == "hedge"} == cycles
    assert sum(r.n for r in ins.win_rates) == len(run.cycles)
    with connect(paths.published) as con:
        n, version = con.execute("SELECT count(*), any_value(version) FROM insights WHERE version = ?",
                                 [ins.version]).fetchone()
        snap = json.loads(con.execute("SELECT data FROM insights WHERE insight_id = ?",
                                      [f"{ins.version}/snapshot"]).fetchone()[0])
    assert version == ins.version and n == 1 + len(ins.win_rates) + 1  # win rates, sentiment, snapshot
    assert snap["counts"]["win_rates"] == first["win_rates"] == len(ins.win_rates)


def test_review_flow_records_verdicts_and_shares_accepted_advice(tmp_path: Path, sources: FakeSentiment,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 prefect_harness: None) -> None:
    from datetime import UTC, datetime, timedelta

    from flows.insights import insights_flow
    from flows.review import review_flow
    from tasks.fakes.llm import FakeLlm

    monkeypatch.setenv("PERPFLOW_INSIGHTS__WINDOW_DAYS", "365")
    paths = WarehousePaths(tmp_path)
    record_hedge_run(paths.journal_dir, "hedge-sol-taker")
    insights_flow(str(tmp_path))
    until = (datetime.now(UTC) + timedelta(hours=6)).replace(microsecond=0)
    answer = {"summary": "SOL shorts lose.", "recommendations": [
        {"action": "block_combo", "symbol": "SOL", "direction": "short", "bots": None, "until": until.isoformat(),
         "rationale": "hedge cycles short lose", "confidence": 0.7}]}
    with in_thread(FakeLlm(api_key="sk-flow-secret")) as fake:
        monkeypatch.setenv("PERPFLOW_LLM__BASE_URL", fake.base_url)
        monkeypatch.setenv("PERPFLOW_LLM__API_KEY", "sk-flow-secret")
        monkeypatch.setenv("PERPFLOW_LLM__MAX_RETRIES", "0")
        fake.answer(answer)
        ok = review_flow(str(tmp_path))
        shared = load_insights(tmp_path / "shared_insights.json")
        monkeypatch.setenv("PERPFLOW_LLM__API_KEY", "sk-wrong")
        failed = review_flow(str(tmp_path), return_state=True)
    assert ok["verdict"] == "accepted" and ok["recommendations"] == 1
    assert shared.version == ok["insights_version"] and shared.reviews == [ok["review_id"]]
    block = shared.blocked_combo("SOL", "short", "agent", datetime.now(UTC))
    assert block is not None and block.review_id == ok["review_id"] and block.source == "review"
    assert failed.is_failed() and "llm.api_key" in (failed.message or "")
    assert load_insights(tmp_path / "shared_insights.json").version == shared.version  # untouched by the failure
    with connect(paths.published) as con:
        rows = con.execute("SELECT review_id, reviewer, verdict, valid, prompt_hash, prompt_tokens, error, answer, "
                           "CAST(body AS VARCHAR) FROM reviews ORDER BY ts").fetchall()
        provenance = con.execute("SELECT count(*) FROM insights WHERE review_id = ?", [ok["review_id"]]).fetchone()
    assert [(r[1], r[2], r[3]) for r in rows] == [("llm", "accepted", True), ("llm", "failed", False)]
    assert rows[0][0] == ok["review_id"] and len(rows[0][4]) == 64 and rows[0][5] > 0
    assert rows[1][6].startswith("llm.api_key: ")
    assert provenance[0] >= 2  # the review's own row and its copy in the version it exported
    assert not any("sk-flow-secret" in str(v) or "sk-wrong" in str(v) for r in rows for v in r)
