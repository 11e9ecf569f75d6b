"""The ``warehouse-load`` Prefect flow and the ``perpflow warehouse`` commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from tests.hedge_run import record_hedge_run
from warehouse.paths import WarehousePaths


def test_flow_loads_once_with_a_strict_limit_of_one(tmp_path: Path, prefect_harness: None) -> None:
    from prefect.client.orchestration import get_client

    from flows.warehouse import warehouse_load
    from tasks.warehouse import LIMIT_NAME, load_warehouse

    paths = WarehousePaths(tmp_path)
    run = record_hedge_run(paths.journal_dir, "hedge-sol-taker")
    result = warehouse_load(str(tmp_path))
    assert result["inserted"]["fills"] == len(run.unique_fills)
    assert warehouse_load(str(tmp_path))["records"] == 0  # idempotent
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(LIMIT_NAME).limit == 1
    assert load_warehouse.retries == 3


def test_cli_load_and_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import get_settings

    monkeypatch.setenv("PERPFLOW_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        paths = WarehousePaths(tmp_path)
        run = record_hedge_run(paths.journal_dir, "hedge-sol-taker")
        (paths.journal_dir / "junk.jsonl").write_text('{"kind":"nope","run_id":"junk","seq":1}\n')
        runner = CliRunner()
        out = runner.invoke(app, ["warehouse", "load"])
        assert out.exit_code == 0, out.output
        assert "1 quarantined" in out.output
        out = runner.invoke(app, ["warehouse", "status"])
        assert out.exit_code == 0, out.output
        assert run.run_id in out.output and "COMPLETED" in out.output
        assert "journals pending: 0" in out.output
        assert "quarantined records: 1" in out.output and "kind: 'nope' is unknown" in out.output
        fills_line = next(line for line in out.output.splitlines() if line.startswith("fills "))
        assert fills_line.split()[-1] == str(len(run.unique_fills))
        out = runner.invoke(app, ["warehouse", "path"])
        assert out.output.strip() == str(paths.published)
        for args in (["warehouse", "--help"], ["warehouse", "load", "--help"], ["warehouse", "status", "--help"]):
            assert runner.invoke(app, args).exit_code == 0
        assert "journals pending" in runner.invoke(app, ["warehouse", "status", "--help"]).output
    finally:
        get_settings.cache_clear()
