"""The cross-bot review: bounds, the statistical reviewer, and an LLM reviewer over real HTTP (the
loopback OpenAI-compatible fake) — valid, malformed, out-of-bounds answers, unusable endpoints."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from core.insights import SharedInsights
from core.settings import InsightsSettings, LlmSettings, Settings
from prompts.review import MAX_HOURS, Bounds, ReviewAnswer, adjustable, check_bounds, load_prompt
from tasks.fakes.llm import FakeLlm
from tasks.fakes.thread import in_thread
from tasks.insights import compute
from tasks.review import insight_records, review, review_record
from warehouse.schema import migrate

KEY = "sk-review-key-0123456789"
NOW = datetime.now(UTC).replace(microsecond=0)


def make_warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """Hedge runs with their parameters, and an agent's directional trades: SOL short loses, ETH long wins."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    migrate(con)
    t = NOW.replace(tzinfo=None)
    con.execute("INSERT INTO runs (run_id, bot, symbol, status, started, ended, params) VALUES "
                "('h1', 'hedge', 'SOL', 'RUNNING', ?, NULL, ?)",
                [t - timedelta(hours=2), json.dumps({"hedge_timeout": 5.0, "daily_loss_limit": 25, "size": "0.1"})])
    trades = [("SOL", "short", 1.0 if i < 3 else -1.5, t - timedelta(minutes=10 * i), 0.8) for i in range(20)]
    trades += [("ETH", "long", 1.0 if i < 9 else -1.0, t - timedelta(minutes=10 * i), 0.6) for i in range(12)]
    frame = pd.DataFrame([("a1", i, "agent", *x) for i, x in enumerate(trades)],
                         columns=["run_id", "trade_no", "bot", "symbol", "direction", "pnl", "closed_at", "confidence"])
    con.register("frame", frame)
    con.execute("INSERT INTO agent_trades BY NAME SELECT * FROM frame")  # the agents' table (its migration)
    con.unregister("frame")
    return con


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[tuple[duckdb.DuckDBPyConnection, SharedInsights]]:
    con = make_warehouse(tmp_path)
    yield con, compute(con, InsightsSettings(), NOW)
    con.close()


def llm_settings(fake: FakeLlm, **kw: Any) -> Settings:
    return Settings(llm=LlmSettings(**{"base_url": fake.base_url, "api_key": KEY, "timeout_s": 5, "max_retries": 0,
                                       **kw}))


def good_answer(**rec: Any) -> dict[str, Any]:
    base = {"action": "block_combo", "symbol": "SOL", "direction": "short", "bots": ["agent"],
            "until": (NOW + timedelta(hours=6)).isoformat(), "rationale": "3 of 20 won", "confidence": 0.8}
    return {"summary": "SOL shorts keep losing.", "recommendations": [{**base, **rec}]}


def test_bounds_beyond_the_schema() -> None:
    b = Bounds(now=NOW, bots={"hedge", "agent"}, symbols={"SOL", "ETH"},
               current={"hedge": {"hedge_timeout": 5.0, "daily_loss_limit": 25.0}})

    def problems(**rec: Any) -> str:
        answer = ReviewAnswer.model_validate(good_answer(**rec))
        with pytest.raises(ValueError, match=r"^recommendations\[0\]") as caught:
            check_bounds(answer, b)
        return str(caught.value)

    check_bounds(ReviewAnswer.model_validate(good_answer()), b)
    assert f"within {MAX_HOURS:g} h" in problems(until=(NOW + timedelta(hours=100)).isoformat())
    assert "must be after now" in problems(until=(NOW - timedelta(hours=1)).isoformat())
    assert "symbol DOGE is not traded" in problems(symbol="DOGE")
    assert "unknown bot(s) grid" in problems(bots=["grid"])
    blackout = {"action": "blackout", "start_hour_utc": 5, "end_hour_utc": 3, "until": (NOW + timedelta(hours=6))
                .isoformat(), "rationale": "night losses", "confidence": 0.6}
    with pytest.raises(ValueError, match="end_hour_utc 3 must be after start_hour_utc 5"):
        check_bounds(ReviewAnswer.model_validate({"summary": "abc", "recommendations": [blackout]}), b)
    param = {"action": "set_parameter", "bot": "hedge", "symbol": None, "direction": None, "bots": None}

    def param_problems(**kw: Any) -> str:
        rec = {k: v for k, v in {**good_answer()["recommendations"][0], **param, **kw}.items() if v is not None}
        rec.pop("symbol", None), rec.pop("direction", None), rec.pop("bots", None)
        answer = ReviewAnswer.model_validate({"summary": "x" * 3, "recommendations": [rec]})
        with pytest.raises(ValueError, match=r"^recommendations\[0\]") as caught:
            check_bounds(answer, b)
        return str(caught.value)

    assert "above the hard limit (0, 600]" in param_problems(param="hedge_timeout", value=900)
    assert "more than 50% of its current value" in param_problems(param="hedge_timeout", value=8)
    assert "may only decrease (now 25, asked 30)" in param_problems(param="daily_loss_limit", value=30)
    assert "hedge.size is not adjustable" in param_problems(param="size", value=0.2)
    assert "bot 'mm' has no adjustable parameters" in param_problems(bot="mm", param="spread", value=1)
    assert "grid.spread is not adjustable" in param_problems(bot="grid", param="spread", value=1)


def test_hard_limits_come_from_each_bots_parameter_model() -> None:
    limits = adjustable()
    assert limits["hedge"]["min_spread_bps"].describe() == "[-100, 100]"  # bounds inside an Optional field
    assert limits["hedge"]["hedge_timeout"].describe() == "(0, 600]"
    assert limits["agent"]["min_confidence"].describe() == "[0, 1]"
    assert limits["agent"]["size_usd"].tighten_only and limits["grid"]["max_position"].tighten_only
    assert limits["grid"]["half_spread_bps"].breach(501) == "above the hard limit [0, 500]"
    assert limits["agent"]["stop_loss_pct"].breach(0) == "below the hard limit (0, 50]"


def test_schema_is_strict() -> None:
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        ReviewAnswer.model_validate({**good_answer(), "mood": "great"})
    with pytest.raises(ValueError, match="confidence"):
        ReviewAnswer.model_validate(good_answer(confidence=1.5))
    with pytest.raises(ValueError, match="until"):
        ReviewAnswer.model_validate(good_answer(until="2026-01-01T00:00:00"))  # no time zone


def test_statistical_reviewer_without_an_endpoint(wh: tuple[duckdb.DuckDBPyConnection, SharedInsights]) -> None:
    con, ins = wh
    out = review(Settings(), con, ins, NOW)
    assert (out.reviewer, out.model, out.verdict) == ("statistical", None, "accepted")
    recs = out.answer.recommendations  # type: ignore[union-attr]
    assert {(r.action, r.symbol, tuple(r.bots or ["*"])) for r in recs} == {
        ("block_combo", "SOL", ("agent",)), ("block_combo", "SOL", ("*",))}
    assert all(r.until == NOW + timedelta(hours=6) for r in recs)
    again = review(Settings(), con, ins, NOW)
    assert again.answer == out.answer and again.inputs_digest == out.inputs_digest  # deterministic
    rows = insight_records(out)
    assert [r["insight_id"] for r in rows] == [f"review/{out.review_id}/0", f"review/{out.review_id}/1"]
    assert all(r["review_id"] == out.review_id and r["source"] == "review" for r in rows)
    rec = review_record(out)
    assert rec["reviewer"] == "statistical" and rec["verdict"] == "accepted" and rec["valid"] is True
    assert rec["prompt_hash"] == hashlib.sha256(load_prompt().text.encode()).hexdigest()


def test_llm_review_valid_answer(wh: tuple[duckdb.DuckDBPyConnection, SharedInsights]) -> None:
    con, ins = wh
    with in_thread(FakeLlm(api_key=KEY)) as fake:
        fake.answer(good_answer())
        out = review(llm_settings(fake), con, ins, NOW)
        body = fake.bodies[-1]
    assert (out.reviewer, out.model, out.verdict) == ("llm", "qwen-plus", "accepted")
    assert body["enable_thinking"] is False and body["response_format"]["type"] == "json_schema"
    prompt = body["messages"][-1]["content"]
    assert f"Now (UTC): {NOW.isoformat()}" in prompt and '"SOL_SHORT"' in prompt and '"hedge_timeout"' in prompt
    rec = review_record(out)
    assert rec["prompt_tokens"] > 0 and rec["completion_tokens"] > 0 and rec["attempts"] == 1
    assert json.loads(rec["answer"]) == good_answer() and rec["parsed"]["recommendations"][0]["symbol"] == "SOL"
    assert rec["inputs_digest"] == out.inputs_digest and len(rec["prompt_hash"]) == 64
    assert KEY not in json.dumps(rec, default=str) and KEY not in prompt
    assert insight_records(out)[0]["data"]["combo"] == "SOL_SHORT"


def test_llm_malformed_twice_is_rejected_and_recorded(wh: tuple[duckdb.DuckDBPyConnection, SharedInsights]) -> None:
    con, ins = wh
    with in_thread(FakeLlm(api_key=KEY)) as fake:
        fake.malformed().malformed('{"summary": "ok"')
        out = review(llm_settings(fake), con, ins, NOW)
    assert out.verdict == "rejected" and out.answer is None and insight_records(out) == []
    rec = review_record(out)
    assert rec["valid"] is False and rec["attempts"] == 2 and rec["answer"] == '{"summary": "ok"'
    assert len(rec["body"]["answers"]) == 2 and "not valid JSON" in rec["body"]["rejections"][0]
    assert rec["error"].startswith("llm.model: no valid answer after 2 tries")


def test_llm_out_of_bounds_is_repaired_or_rejected(wh: tuple[duckdb.DuckDBPyConnection, SharedInsights]) -> None:
    con, ins = wh
    raise_limit = good_answer(action="set_parameter", bot="hedge", param="daily_loss_limit", value=40)
    for k in ("symbol", "direction", "bots"):
        del raise_limit["recommendations"][0][k]
    with in_thread(FakeLlm(api_key=KEY)) as fake:
        fake.answer(raise_limit).answer(good_answer())
        out = review(llm_settings(fake), con, ins, NOW)
        assert out.verdict == "accepted" and "may only decrease (now 25, asked 40)" in out.errors[0]
        repair = fake.bodies[-1]["messages"][-1]["content"]
        assert "may only decrease" in repair
        fake.answer(raise_limit).answer(good_answer(until=(NOW + timedelta(days=9)).isoformat()))
        out = review(llm_settings(fake), con, ins, NOW)
    assert out.verdict == "rejected" and f"within {MAX_HOURS:g} h" in (out.error or "")


@pytest.mark.parametrize(("kw", "setting", "transient"), [
    ({"api_key": "sk-wrong"}, "llm.api_key", False),
    ({"model": "qwen-imaginary"}, "llm.model", False),
    ({"base_url": "http://127.0.0.1:9/v1"}, "llm.base_url", True),
])
def test_unusable_endpoints_fail_naming_the_setting(wh: tuple[duckdb.DuckDBPyConnection, SharedInsights],
                                                    kw: dict[str, str], setting: str, transient: bool) -> None:
    con, ins = wh
    with in_thread(FakeLlm(api_key=KEY)) as fake:
        out = review(llm_settings(fake, **kw), con, ins, NOW)
    assert out.verdict == "failed" and out.error_setting == setting and out.transient is transient
    assert (out.error or "").startswith(setting + ": ")
    assert "sk-wrong" not in json.dumps(review_record(out), default=str)


def test_api_key_from_a_prefect_secret_block(wh: tuple[duckdb.DuckDBPyConnection, SharedInsights],
                                             prefect_harness: None) -> None:
    from prefect.blocks.system import Secret

    con, ins = wh
    Secret(value=KEY).save("perpflow-test-llm-key", overwrite=True)
    with in_thread(FakeLlm(api_key=KEY)) as fake:
        fake.answer(good_answer())
        ok = review(llm_settings(fake, api_key=None, api_key_block="perpflow-test-llm-key"), con, ins, NOW)
        missing = review(llm_settings(fake, api_key=None, api_key_block="no-such-block"), con, ins, NOW)
    assert ok.verdict == "accepted"
    assert missing.verdict == "failed" and missing.error_setting == "llm.api_key_block"
    assert "no Prefect Secret block named 'no-such-block'" in (missing.error or "")
    assert KEY not in json.dumps(review_record(ok), default=str)
