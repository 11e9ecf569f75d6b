"""The ``agent`` flow end to end on a temporary Prefect server: the loopback LLM answers, the
simulator trades, the warehouse holds decisions and trades, and the summary is SQL on them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flows.agent import agent_flow
from strategies.agent.params import AgentParams
from tasks.account import ensure_account_limit
from tasks.fakes.llm import FakeLlm
from tasks.fakes.thread import in_thread
from warehouse.query import df

KEY = "sk-flow-abcdef0123456789"


def artifacts(flow_run_id: Any) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(
            any_=[flow_run_id])))
    return {a.key or a.type: a for a in found}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, FakeLlm]]:
    from core.settings import get_settings

    def responder(body: dict[str, Any]) -> str:
        inputs = json.loads(body["messages"][-1]["content"].split("\n", 1)[1])
        if "open_short" in inputs["allowed_actions"].get("ETH", []):
            return json.dumps({"action": "open_short", "symbol": "ETH", "size_usd": 400.0, "confidence": 0.8,
                               "thesis": "scripted"})
        return json.dumps({"action": "hold", "confidence": 0.5})

    with in_thread(FakeLlm(api_key=KEY, responder=responder)) as fake:
        monkeypatch.setenv("PERPFLOW_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("PERPFLOW_LLM__BASE_URL", fake.base_url)
        monkeypatch.setenv("PERPFLOW_LLM__API_KEY", KEY)
        get_settings.cache_clear()
        yield tmp_path, fake
        get_settings.cache_clear()


def test_an_agent_run_records_decisions_and_trades_and_summarises_them_by_sql(
        env: tuple[Path, FakeLlm], prefect_harness: None) -> None:
    data_dir, fake = env
    params = AgentParams(venue="extended", symbols=("SOL", "ETH"), mode="volume", days=0.02, maker_timeout_s=60)
    ensure_account_limit(params.account_key)
    state = agent_flow(**params.model_dump(), return_state=True)
    assert state.is_completed(), state.message
    s = state.result()
    wh = data_dir / "warehouse.duckdb"
    runs = df("SELECT run_id, bot, status FROM runs ORDER BY run_id", path=wh)
    assert list(runs["bot"]) == ["agent", "agent"] and set(runs["status"]) == {"COMPLETED"}
    trades = df("SELECT * FROM agent_trades", path=wh)
    assert len(trades) == s["trades"] >= 1 and set(trades["symbol"]) == {"ETH"}
    assert set(trades["direction"]) == {"SHORT"} and str(trades["pnl"].astype(float).sum()) == str(float(s["pnl"]))
    decisions = df("SELECT * FROM decisions", path=wh)
    assert len(decisions) == s["llm_calls"] + s["llm_skipped"] and s["llm_calls"] == len(fake.bodies)
    assert all(b["enable_thinking"] is False for b in fake.bodies)
    fills = df("SELECT sum(fee) AS fees FROM fills", path=wh)
    assert float(fills["fees"][0]) == pytest.approx(float(s["fees"]))  # the trades' fees are the fills' fees
    for journal in (data_dir / "journal").glob("*.jsonl"):
        assert KEY not in journal.read_text()
    found = artifacts(state.state_details.flow_run_id)
    assert {"agent-summary", "agent-progress", "agent-combos"} <= set(found)
    assert f"| trades | {s['trades']} |" in found["agent-summary"].data
    assert "Last decision" in found["agent-progress"].data


def test_a_live_run_on_a_venue_without_an_adapter_is_refused_naming_it(
        env: tuple[Path, FakeLlm], prefect_harness: None) -> None:
    state = agent_flow(**AgentParams(venue="hibachi", venue_mode="live").model_dump(), return_state=True)
    assert state.is_failed()
    assert state.message.startswith("venue: 'hibachi' is not a venue with a live adapter; allowed: ")
    assert not (env[0] / "journal").exists() or not list((env[0] / "journal").glob("*.jsonl"))
