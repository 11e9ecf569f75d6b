"""The ``grid`` Prefect flow and ``perpflow grid``: a run lands its fills, diagnostics and PnL split
in the warehouse and its summary, hourly split, progress and live view in artifacts (every summary
figure equal to SQL on the run); bad parameters and busy accounts are refused with reasons, no
traceback, nothing sent; the deployment is in prefect.yaml."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cli.app import app
from flows.grid import grid_flow
from strategies.grid.params import GridParams
from tasks.botrun import ensure_account_limit
from warehouse.query import df

ACCOUNT = GridParams().account_key
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from core.settings import get_settings

    monkeypatch.setenv("PERPFLOW_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def artifacts(flow_run_id: Any) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(
            any_=[flow_run_id])))
    return {a.key or a.type: a for a in found}


def test_a_grid_run_lands_in_the_warehouse_and_its_summary_equals_sql(data_dir: Path, prefect_harness: None) -> None:
    ensure_account_limit(ACCOUNT)
    state = grid_flow(mode="naive", duration_s=240.0, seed=3, scenario="quiet", return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    run_id = summary["run_id"]
    wh = data_dir / "warehouse.duckdb"
    split = df("SELECT * FROM pnl_split WHERE run_id = ?", [run_id], path=wh).iloc[0]
    fills = df("SELECT * FROM fill_diagnostics WHERE run_id = ?", [run_id], path=wh)
    assert summary["fills"] == len(fills) == split["fills"] > 0
    assert summary["maker_fills"] == int((fills["liquidity"] == "MAKER").sum())
    assert summary["taker_fills"] == int((fills["liquidity"] == "TAKER").sum())  # the closing flatten
    for key, col in (("spread_capture", "spread_capture"), ("inventory_pnl", "inventory_pnl"), ("fees", "fees"),
                     ("funding", "funding"), ("total_pnl", "total")):
        assert float(Decimal(summary[key])) == pytest.approx(float(split[col]), abs=1e-6), key
    assert float(Decimal(summary["volume"])) == pytest.approx(float(fills["notional"].sum()), abs=1e-6)
    assert float(Decimal(summary["max_abs_inventory"])) == pytest.approx(
        float(fills["inventory_after"].abs().max()), abs=1e-12)
    [row] = df("SELECT bot, status, params->>'scenario' AS scenario FROM runs WHERE run_id = ?", [run_id],
               path=wh).itertuples(index=False)
    assert (row.bot, row.status, row.scenario) == ("grid", "COMPLETED", "quiet")

    found = artifacts(state.state_details.flow_run_id)
    assert found["grid-progress"].data == 100.0
    markdown = found["grid-summary"].data
    for label, value in summary["rows"]:  # the CLI prints these same rows
        assert f"| {label} | {value} |" in markdown
    hourly = found["grid-pnl-hourly"].data
    hourly = json.loads(hourly) if isinstance(hourly, str) else hourly  # a table artifact is stored as JSON
    assert sum(h["fills"] for h in hourly) == summary["fills"]
    live = found["grid-live-state"].data
    assert "inventory" in live and "quote" in live


def test_parameters_that_disagree_fail_the_run_with_the_reason_and_no_order(data_dir: Path,
                                                                         prefect_harness: None) -> None:
    ensure_account_limit(ACCOUNT)
    state = grid_flow(size=Decimal("0.002"), max_position=Decimal("0.001"), return_state=True)
    assert state.is_failed()
    assert "max_position" in state.message and "no order was sent" in state.message
    assert not (data_dir / "journal").exists() or not list((data_dir / "journal").glob("*.jsonl"))


@pytest.mark.parametrize(("options", "field"), [
    (["--levels", "0"], "--levels"),
    (["--spacing-bps", "-1"], "--spacing-bps"),
    (["--spacing-bps", "0.001"], "--spacing-bps"),
    (["--size", "0.000001"], "--size"),
    (["--max-position", "0.001"], "--max-position"),
    (["--venue", "binance"], "--venue"),
    (["--scenario", "crash"], "--scenario"),
    (["--replay", "grvt=x.jsonl.gz"], "--replay"),  # a venue the grid does not quote on
    (["--replay", "paradex"], "--replay"),
    (["--replay", "paradex=x.jsonl.gz", "--sim-clock", "real"], "--replay"),
    (["--replay", "paradex=/nonexistent/capture.jsonl.gz"], "replay"),  # the file itself is read first
])
def test_bad_options_are_refused_naming_the_field_before_anything_runs(options: list[str], field: str) -> None:
    out = CliRunner().invoke(app, ["grid", *options])
    assert out.exit_code == 2, out.output
    assert f"error: {field}:" in out.output
    assert "Traceback" not in out.output


def test_a_replayed_market_drives_the_grid_and_the_run_completes_when_the_file_ends(
        data_dir: Path, prefect_harness: None) -> None:
    from exchanges.sim.replay import load_replay, record
    from exchanges.sim.world import SimWorld

    capture = data_dir / "grvt-ETH.jsonl.gz"
    record(SimWorld(venues=("grvt",), symbols=("ETH",), seed=3, warmup=600), "grvt", "ETH", 120, capture)
    rp = load_replay(capture)
    params = GridParams(venue="grvt", symbol="ETH", size=Decimal("0.01"), max_position=Decimal("0.05"),
                        replay=(f"grvt={capture}",))
    ensure_account_limit(params.account_key)
    state = grid_flow(**params.model_dump(), return_state=True)
    assert state.is_completed(), state.message
    assert state.message.startswith("REPLAY_ENDED")  # the file ran out, not the hour of duration_s
    summary = state.result()
    assert ("grid", "fixed on grvt ETH (replay grvt-ETH.jsonl.gz)") in [tuple(r) for r in summary["rows"]]
    fills = df("SELECT epoch(ts) AS t FROM fills WHERE run_id = ?", [summary["run_id"]],
               path=data_dir / "warehouse.duckdb")
    assert len(fills) and rp.start <= fills["t"].min() and fills["t"].max() <= rp.end + 60  # the file's time


def test_cli_options_come_from_the_parameter_model() -> None:
    out = CliRunner().invoke(app, ["grid", "--help"], terminal_width=200)
    assert out.exit_code == 0
    for name in GridParams.model_fields:
        assert f"--{name.replace('_', '-')}" in out.output, name


def test_the_deployment_is_declared_and_valid() -> None:
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    [dep] = [d for d in spec["deployments"] if d["name"] == "paradex-btc"]
    assert dep["entrypoint"] == "flows.grid:grid_flow"
    params = GridParams(**dep["parameters"])  # what the server will run is valid
    assert (params.venue, params.symbol) == ("paradex", "BTC")
