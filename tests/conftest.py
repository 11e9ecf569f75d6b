"""Shared fixtures. ``prefect_harness`` and ``local_prefect`` are opt-in: only tests that ask for them pay
their start-up (~10 s for the harness, ~40 s for a real server + worker)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.local_prefect import LocalPrefect, free_port

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
def local_prefect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPrefect]:
    """A real Prefect server and process worker with every deployment, started by ``perpflow serve``
    on a free port with a temporary PREFECT_HOME and data dir; ``perpflow stop`` at the end."""
    lp = LocalPrefect(Path(tmp_path_factory.mktemp("local-prefect")), free_port())
    out = lp.perpflow("serve", "--port", str(lp.port))
    assert out.returncode == 0, f"perpflow serve failed:\n{out.stdout}\n{out.stderr}"
    lp.serve_output = out.stdout
    try:
        yield lp
    finally:
        lp.perpflow("stop")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``last`` run after all others (stable order): checks that need time to pass, and
    last of all the one that stops the session's local server (``stops_local_prefect``), whatever the
    order the test files were given in."""
    items.sort(key=lambda item: (item.get_closest_marker("last") is not None,
                                 item.get_closest_marker("stops_local_prefect") is not None))


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
