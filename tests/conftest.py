"""Shared fixtures. ``prefect_harness`` is opt-in: only tests that ask for it pay its ~10 s start."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.hedge_run import RecordedRun


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A temporary Prefect server and database for the whole session (started on first use)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def hedge_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[RecordedRun]]:
    """A warehouse loaded from real hedge-bot runs on the simulator (``tests/hedge_run.py``, ~1 s),
    and what each run recorded: the published snapshot's path and the runs."""
    from tests.hedge_run import record_hedge_runs
    from warehouse.loader import load
    from warehouse.paths import WarehousePaths

    paths = WarehousePaths(tmp_path_factory.mktemp("hedge-warehouse"))
    runs = record_hedge_runs(paths.journal_dir)
    load(paths)
    return paths.published, runs
