"""The ``hedge`` Prefect flow: warehouse rows, artifacts, the strict account lock, refusals."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from flows.hedge import hedge_flow
from strategies.hedge.config import HedgeConfig
from tasks.botrun import account_limit_name, ensure_account_limit
from warehouse.query import df, named_query

ACCOUNT = HedgeConfig().account_key
LIMIT = account_limit_name(ACCOUNT)


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


def test_a_run_lands_its_cycles_in_the_warehouse_and_its_summary_in_artifacts(
        data_dir: Path, prefect_harness: None) -> None:
    ensure_account_limit(ACCOUNT)
    state = hedge_flow(iterations=2, return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    warehouse = data_dir / "warehouse.duckdb"
    cycles = df("SELECT * FROM cycles WHERE run_id = ? ORDER BY cycle_no", [summary["run_id"]], path=warehouse)
    assert list(cycles["kind"]) == ["open", "close", "open", "close"]
    fills = df("SELECT * FROM fills WHERE run_id = ?", [summary["run_id"]], path=warehouse)
    primary = fills[fills["venue"] == "paradex"]
    assert float(cycles["size"].astype(float).sum()) == pytest.approx(float(primary["size"].astype(float).sum()))
    [run] = df("SELECT status FROM runs WHERE run_id = ?", [summary["run_id"]], path=warehouse)["status"]
    assert run == "COMPLETED"
    # one truth: the summary's figures are the cookbook's for this run
    cookbook = named_query("run_summary", path=warehouse).set_index("run_id").loc[summary["run_id"]]
    assert summary["source"] == "warehouse"
    for key in ("volume", "fees", "gross_pnl", "net_pnl", "cost_per_1m", "avg_edge_bps", "max_abs_net_delta",
                "tw_abs_net_delta", "hedge_maker_share"):
        assert summary[key] == pytest.approx(cookbook[key]), key

    found = artifacts(state.state_details.flow_run_id)
    assert found["hedge-progress"].data == 100.0
    markdown = found["hedge-summary"].data
    for label, value in summary["rows"]:  # the CLI prints these same rows
        assert f"| {label} | {value} |" in markdown
    assert "CLEAN" in markdown
    assert len(found["hedge-cycles"].data) > 0


def test_pre_trade_refusal_fails_the_run_with_the_reason_and_sends_nothing(
        data_dir: Path, prefect_harness: None) -> None:
    ensure_account_limit(ACCOUNT)
    state = hedge_flow(ticker="ETH", size=D("0.5"), return_state=True)
    assert state.is_failed()
    assert "really executes" in state.message and "no order was sent" in state.message


def test_a_missing_account_limit_fails_instead_of_running_unlocked(data_dir: Path, prefect_harness: None) -> None:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    name = account_limit_name(HedgeConfig(primary="backpack", ticker="ETH", size=D("0.2")).account_key)
    with get_client(sync_client=True) as client, contextlib.suppress(ObjectNotFound):
        client.delete_global_concurrency_limit_by_name(name)  # absent already is what this test needs
    state = hedge_flow(primary="backpack", ticker="ETH", size=D("0.2"), iterations=1, return_state=True)
    assert state.is_failed()
    assert name in state.message
    assert not (data_dir / "journal").exists() or not any((data_dir / "journal").glob("*-*.jsonl"))


def test_a_second_run_for_the_same_account_waits_for_the_slot_and_never_trades_alongside(
        data_dir: Path, prefect_harness: None) -> None:
    """The slot is held (as a running bot holds it); a run started now waits, then trades only
    after the slot is released, and gives up with a clear error if it never is."""
    from prefect.concurrency.sync import concurrency

    ensure_account_limit(ACCOUNT)
    released: list[float] = []
    held = threading.Event()

    def running_bot() -> None:
        with concurrency(LIMIT, occupy=1, strict=True):
            held.set()
            time.sleep(4)
            released.append(time.time())

    holder = threading.Thread(target=running_bot)
    holder.start()
    held.wait(30)
    state = hedge_flow(iterations=1, lock_timeout=1.0, return_state=True)  # gives up
    assert state.is_failed() and "1.0" in state.message
    state = hedge_flow(iterations=1, lock_timeout=60.0, return_state=True)  # waits for the slot
    holder.join()
    assert state.is_completed(), state.message
    run_id = state.result()["run_id"]
    [started] = df("SELECT epoch(started) AS s FROM runs WHERE run_id = ?", [run_id],
                   path=data_dir / "warehouse.duckdb")["s"]
    first_order = df("SELECT min(epoch(ts)) AS t FROM orders WHERE run_id = ?", [run_id],
                     path=data_dir / "warehouse.duckdb")["t"][0]
    assert started >= released[0] and first_order >= released[0]  # nothing before the slot was free


def test_a_replayed_market_runs_the_flow_from_the_file_and_completes_when_it_ends(
        data_dir: Path, prefect_harness: None) -> None:
    from exchanges.sim.replay import load_replay, record
    from exchanges.sim.world import SimWorld

    ensure_account_limit(ACCOUNT)
    capture = data_dir / "grvt-ETH.jsonl.gz"
    record(SimWorld(venues=("grvt",), symbols=("ETH",), seed=3, warmup=600), "grvt", "ETH", 120, capture)
    rp = load_replay(capture)
    state = hedge_flow(ticker="ETH", size=D("0.01"), iterations=10_000, daily_loss_limit=D(1000),
                       replay=[f"grvt={capture}"], return_state=True)
    assert state.is_completed(), state.message
    assert state.message.startswith("REPLAY_ENDED")
    summary = state.result()
    fills = df("SELECT epoch(ts) AS t FROM fills WHERE run_id = ?", [summary["run_id"]],
               path=data_dir / "warehouse.duckdb")
    assert len(fills) and rp.start <= fills["t"].min() and fills["t"].max() <= rp.end + 60  # the file's time
