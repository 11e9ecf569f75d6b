"""Shared fixtures. ``prefect_harness`` and ``local_prefect`` are opt-in: only tests that ask for them pay
their start-up (~10 s for the harness, ~40 s for a real server + worker).

``make test`` runs the suite on two pytest-xdist workers (``-n 2 --dist loadgroup``): most of its time is
waiting on servers and subprocesses, so a second worker runs other tests meanwhile. Each worker is a
session of its own (its own harness server, its own ``local_prefect`` if it needs one), so two things are
kept apart here: each worker gets a Prefect home of its own (temporary servers' databases, concurrency
lease files), and every test that uses ``local_prefect`` is put in one xdist group, so one worker runs them
all, in collection order, against one server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.local_prefect import LocalPrefect, free_port

# Before anything imports Prefect (its settings read PREFECT_HOME once): under xdist, a Prefect home per
# worker. Two temporary servers on one home would share its SQLite database and its lease files.
if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    _home = Path(os.environ.get("PREFECT_HOME") or Path(__file__).resolve().parents[1] / ".prefect")
    (_home / "xdist" / worker).mkdir(parents=True, exist_ok=True)  # Prefect makes only the last level
    os.environ["PREFECT_HOME"] = str(_home / "xdist" / worker)

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


LOCAL_PREFECT_GROUP = "local_prefect"


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses ``local_prefect`` (directly or through another fixture) joins one xdist group:
    one worker, one server, and the ``stops_local_prefect`` test still runs after all of them.

    Tests marked ``last`` run after all others (stable order): checks that need time to pass, and
    last of all the one that stops the session's local server (``stops_local_prefect``), whatever the
    order the test files were given in. Under xdist each worker sorts its collection so, and a group runs
    in that order on its worker."""
    for item in items:
        if "local_prefect" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group(LOCAL_PREFECT_GROUP))
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
