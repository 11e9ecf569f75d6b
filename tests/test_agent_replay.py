"""The agent on a replayed market: ``--replay VENUE=FILE`` drives its venue from a recorded file, the
run starts at the file's start and completes when it ends; a replay the agent cannot trade is
refused naming the field, before anything runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from flows.agent import agent_flow
from strategies.agent.params import AgentParams
from tasks.account import ensure_account_limit
from warehouse.query import df


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from core.settings import get_settings

    monkeypatch.setenv("PERPFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PERPFLOW_LLM__BASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from exchanges.sim.replay import record
    from exchanges.sim.world import SimWorld

    out = tmp_path_factory.mktemp("replay") / "hibachi-ETH.jsonl.gz"
    record(SimWorld(venues=("hibachi",), symbols=("ETH",), seed=3, warmup=600), "hibachi", "ETH", 900, out)
    return out


def test_a_replayed_market_drives_the_agent_and_the_run_completes_when_the_file_ends(
        capture: Path, data_dir: Path, prefect_harness: None) -> None:
    from exchanges.sim.replay import load_replay

    rp = load_replay(capture)
    params = AgentParams(venue="hibachi", symbols=("ETH",), policy="rules", mode="volume", days=2.0,
                         replay=(f"hibachi={capture}",))
    ensure_account_limit(params.account_key)
    state = agent_flow(**params.model_dump(), return_state=True)
    assert state.is_completed(), state.message
    assert "REPLAY_ENDED" in state.message  # the file ran out long before the two days
    summary = state.result()
    decisions = df("SELECT epoch(ts) AS t FROM decisions WHERE run_id LIKE ? || '-%'", [summary["run_id"]],
                   path=data_dir / "warehouse.duckdb")
    assert len(decisions) >= 1 and rp.start <= decisions["t"].min() <= rp.end  # on the file's clock


@pytest.mark.parametrize(("options", "said"), [
    (["--symbols", "ETH,SOL", "--replay", "hibachi={f}"], "give its symbol alone"),
    (["--symbols", "ETH", "--replay", "extended={f}"], "replay venue 'extended' is not traded"),
    (["--symbols", "ETH", "--replay", "hibachi"], "is not VENUE=FILE"),
    (["--symbols", "ETH", "--replay", "hibachi={f}", "--venue-mode", "live"], "replay needs venue_mode sim"),
    (["--symbols", "SOL", "--replay", "hibachi={f}"], "ETH"),  # the file records another symbol
])
def test_a_replay_the_agent_cannot_trade_is_refused_naming_the_field(
        capture: Path, data_dir: Path, options: list[str], said: str) -> None:
    args = [o.replace("{f}", str(capture)) for o in options]
    out = CliRunner().invoke(app, ["agent", "--venue", "hibachi", "--policy", "rules", *args])
    assert out.exit_code == 2, out.output
    assert "replay" in out.output and said in out.output
    assert "Traceback" not in out.output
    assert not (data_dir / "journal").exists()  # nothing ran
