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
    # every summary figure is SQL on the warehouse: fills, volume and funding over the symbols' runs
    money = df("SELECT sum(fills) AS fills, sum(volume) AS volume, sum(funding) AS funding, sum(fees) AS fees "
               "FROM run_summary WHERE run_id LIKE ? || '-%'", [s["run_id"]], path=wh)
    raw = df("SELECT count(*) AS n, sum(price * size) AS volume FROM fills", path=wh)
    assert s["fills"] == int(money["fills"][0]) == int(raw["n"][0]) > 0
    assert float(s["volume_usd"]) > 0
    assert float(s["volume_usd"]) == pytest.approx(float(money["volume"][0]), abs=0.006)
    assert float(s["volume_usd"]) == pytest.approx(float(raw["volume"][0]), abs=0.006)
    assert float(s["funding"]) == pytest.approx(float(money["funding"][0]), abs=1e-6)
    assert f"| fills / volume (USD) | {s['fills']} / {s['volume_usd']} |" in artifacts(
        state.state_details.flow_run_id)["agent-summary"].data
    for journal in (data_dir / "journal").glob("*.jsonl"):
        assert KEY not in journal.read_text()
    found = artifacts(state.state_details.flow_run_id)
    assert {"agent-summary", "agent-progress", "agent-combos"} <= set(found)
    assert f"| trades | {s['trades']} |" in found["agent-summary"].data
    # an LLM answered: its calls are labelled so, and the summary names the endpoint it asked
    assert s["adviser"] == "llm" and f"| adviser | LLM qwen-plus at {fake.base_url} |" in found["agent-summary"].data
    assert f"| LLM calls made / skipped | {s['llm_calls']} / {s['llm_skipped']} |" in found["agent-summary"].data
    assert "Last decision" in found["agent-progress"].data


def test_a_live_run_without_the_venues_credentials_is_refused_naming_the_setting(
        env: tuple[Path, FakeLlm], prefect_harness: None) -> None:
    state = agent_flow(**AgentParams(venue="hibachi", venue_mode="live").model_dump(), return_state=True)
    assert state.is_failed()
    assert state.message.startswith("hibachi.api_key: is required"), state.message
    assert not (env[0] / "journal").exists() or not list((env[0] / "journal").glob("*.jsonl"))


def test_a_cancelled_agent_run_stops_every_symbol_and_ends_cancelled_with_its_summary(
        env: tuple[Path, FakeLlm], prefect_harness: None) -> None:
    """SIGTERM (a Prefect cancel) while the agent trades: every symbol's runner stops (orders
    cancelled, positions flattened), the run ends Cancelled with its summary, no traceback."""
    import os
    import signal
    import threading
    import time

    data_dir, _ = env
    params = AgentParams(venue="extended", symbols=("SOL", "ETH"), mode="volume", days=3, maker_timeout_s=60)
    ensure_account_limit(params.account_key)
    journal = data_dir / "journal"

    def cancel_once_deciding() -> None:
        for _ in range(1200):
            for path in journal.glob("*.jsonl") if journal.exists() else []:
                if '"kind": "decision"' in path.read_text() or '"kind":"decision"' in path.read_text():
                    os.kill(os.getpid(), signal.SIGTERM)
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=cancel_once_deciding)
    killer.start()
    state = agent_flow(**params.model_dump(), return_state=True)
    killer.join()
    assert state.is_cancelled(), state.message
    assert state.message.count("CANCELLED_BY_USER") == 2, state.message  # both symbols' runners
    summary = state.result(raise_on_failure=False).summary
    assert summary["rows"] and summary["source"] == "warehouse" and summary["status"] == "CANCELLED"
    wh = data_dir / "warehouse.duckdb"
    runs = df("SELECT status FROM runs", path=wh)
    assert set(runs["status"]) == {"CANCELLED"}
    final = df("SELECT run_id, arg_max(size, seq) AS size FROM positions GROUP BY run_id", path=wh)
    assert set(final["size"]) == {0}  # flattened
    ended = df("SELECT max(epoch(ts)) - min(epoch(ts)) AS span FROM decisions", path=wh)["span"][0]
    assert ended < 86_400  # stopped long before its three virtual days
