"""The bot scaffold every flow uses: a toy bot through it end to end, logs while it runs, live state,
and refusals that fail the run with their reasons and no traceback (flow, CLI)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from strategies.hedge.config import HedgeConfig
from tasks.botrun import account_limit_name, ensure_account_limit
from tests.logkit import LogCapture
from tests.toykit import ToyParams, toy_flow
from warehouse.query import df


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from core.settings import get_settings

    monkeypatch.setenv("PERPFLOW_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@contextmanager
def console() -> Iterator[LogCapture]:
    """What Prefect and perpflow print to the console while a flow runs (with tracebacks)."""
    capture = LogCapture()
    names = ("prefect", "prefect.flow_runs", "prefect.task_runs", "prefect.engine", "perpflow")
    for name in names:
        logging.getLogger(name).addHandler(capture)
    try:
        yield capture
    finally:
        for name in names:
            logging.getLogger(name).removeHandler(capture)


def api_logs(flow_run_id: Any) -> list[Any]:
    """The run's logs as the UI and `prefect flow-run logs` show them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    with get_client(sync_client=True) as client:
        return client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))


def artifacts(flow_run_id: Any) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(
            any_=[flow_run_id])))
    return {a.key: a for a in found if a.key}


def test_a_toy_bot_runs_through_the_scaffold_flattens_and_lands_in_the_warehouse(
        data_dir: Path, prefect_harness: None) -> None:
    ensure_account_limit(ToyParams().account_key)
    state = toy_flow(target=D("0.2"), return_state=True)
    assert state.is_completed(), state.message
    run_id = state.result()["run_id"]
    warehouse = data_dir / "warehouse.duckdb"
    [(bot, status)] = df("SELECT bot, status FROM runs WHERE run_id = ?", [run_id], path=warehouse).itertuples(
        index=False, name=None)
    assert (bot, status) == ("toy", "COMPLETED")
    orders = df("SELECT client_id, reduce_only FROM orders WHERE run_id = ?", [run_id], path=warehouse)
    closes = orders[orders["client_id"].str.contains("-f")]
    assert len(closes) and closes["reduce_only"].all()  # flattened by the kernel, reduce-only
    fills = df("SELECT side, sum(size) AS q FROM fills WHERE run_id = ? GROUP BY side", [run_id], path=warehouse)
    q = dict(zip(fills["side"], fills["q"], strict=True))
    assert q["BUY"] >= D("0.2") and q["BUY"] == q["SELL"]  # built the target, closed it
    found = artifacts(state.state_details.flow_run_id)
    assert {"toy-summary", "toy-live-state"} <= set(found)
    assert "position paradex | 0" in found["toy-live-state"].data  # the last live state: flat


def test_a_bots_info_lines_reach_the_run_logs_and_its_live_state_is_an_artifact(
        data_dir: Path, prefect_harness: None) -> None:
    from flows.hedge import hedge_flow

    ensure_account_limit(HedgeConfig().account_key)
    state = hedge_flow(iterations=1, return_state=True)
    assert state.is_completed(), state.message
    logs = api_logs(state.state_details.flow_run_id)
    cycles = [log for log in logs if log.message.startswith("cycle ")]
    assert [log.message.split()[:3] for log in cycles] == [["cycle", "1", "open"], ["cycle", "2", "close"]]
    assert all(log.level == logging.INFO and log.name.startswith("perpflow") for log in cycles)
    live = artifacts(state.state_details.flow_run_id)["hedge-live-state"].data
    assert "position paradex" in live and "net delta" in live and "open orders" in live


def test_a_pre_trade_refusal_fails_with_its_reasons_and_no_traceback(data_dir: Path, prefect_harness: None) -> None:
    from flows.hedge import hedge_flow

    ensure_account_limit(HedgeConfig().account_key)
    with console() as out:
        state = hedge_flow(ticker="ETH", size=D("0.5"), return_state=True)
    assert state.is_failed() and "really executes" in state.message
    assert "Traceback" not in out.text, out.text
    errors = [line for line in out.lines if " ERROR " in line]
    assert errors and all("really executes" in e or "Failed" in e for e in errors), errors
    logged = "\n".join(log.message for log in api_logs(state.state_details.flow_run_id))
    assert "really executes" in logged and "Traceback" not in logged


def test_the_cli_prints_a_refusals_reasons_without_a_traceback_and_exits_non_zero(
        data_dir: Path, prefect_harness: None) -> None:
    from cli.app import app

    out = CliRunner().invoke(app, ["hedge", "--ticker", "ETH", "--size", "0.5"])
    assert out.exit_code == 1, out.output
    assert "FAILED: pre-trade validation refused the run (no order was sent)" in out.output
    assert "really executes" in out.output and "Traceback" not in out.output
    bad = CliRunner().invoke(app, ["hedge", "--size", "-1", "--iter", "0"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert "--size: Input should be greater than 0" in bad.output and "--iter:" in bad.output


def test_a_run_waiting_for_a_busy_account_says_so_then_gives_up_cleanly(data_dir: Path,
                                                                        prefect_harness: None) -> None:
    from prefect.concurrency.sync import concurrency

    from flows.hedge import hedge_flow

    key = HedgeConfig().account_key
    ensure_account_limit(key)
    held, done = threading.Event(), threading.Event()

    def running_bot() -> None:
        with concurrency(account_limit_name(key), occupy=1, strict=True):
            held.set()
            done.wait(30)

    holder = threading.Thread(target=running_bot)
    holder.start()
    held.wait(30)
    try:
        with console() as out:
            started = time.monotonic()
            state = hedge_flow(iterations=1, lock_timeout=1.0, return_state=True)
    finally:
        done.set()
        holder.join()
    assert state.is_failed() and f"account {key} is in use by" in state.message and "(waited 1.0 s)" in state.message
    assert time.monotonic() - started < 60
    logged = "\n".join(log.message for log in api_logs(state.state_details.flow_run_id))
    assert f"account {key} is busy: waiting up to 1 s for another run" in logged
    assert "Traceback" not in out.text, out.text


def test_a_cancelled_run_ends_cancelled_with_its_summary_and_no_traceback(data_dir: Path,
                                                                          prefect_harness: None) -> None:
    """SIGTERM (what Prefect's worker sends to cancel a run) while the bot trades: orders cancelled,
    both venues flattened, the run Cancelled with its summary; no ERROR line, no traceback, and the
    hedge the stop withdrew is not a hedge failure."""
    import json
    import os
    import signal

    from flows.hedge import hedge_flow

    ensure_account_limit(HedgeConfig().account_key)
    journal = data_dir / "journal"

    def cancel_once_trading() -> None:
        for _ in range(1200):
            for path in journal.glob("*.jsonl") if journal.exists() else []:
                if any(json.loads(line).get("kind") == "cycle" for line in path.read_text().splitlines()
                       if line.endswith("}")):
                    os.kill(os.getpid(), signal.SIGTERM)
                    return
            time.sleep(0.1)

    killer = threading.Thread(target=cancel_once_trading)
    killer.start()
    with console() as out:
        state = hedge_flow(iterations=1000, build_to=100, sim_clock="real", return_state=True)
    killer.join()
    assert state.is_cancelled(), state.message
    assert state.message.startswith("CANCELLED_BY_USER")
    summary = state.result(raise_on_failure=False).summary
    assert summary["rows"] and summary["source"] == "warehouse"  # the summary rides on the state
    assert "Traceback" not in out.text, out.text
    assert not [line for line in out.lines if " ERROR " in line], out.text
    run_id = summary["run_id"]
    final = df("SELECT venue, arg_max(size, seq) AS size FROM positions WHERE run_id = ? GROUP BY venue", [run_id],
               path=data_dir / "warehouse.duckdb")
    assert set(final["size"]) == {0}  # flattened
    failures = df("SELECT count(*) AS n FROM risk_events WHERE run_id = ? AND check_name = 'hedge'", [run_id],
                  path=data_dir / "warehouse.duckdb")
    assert failures["n"][0] == 0
