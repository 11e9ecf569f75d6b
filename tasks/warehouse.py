"""Prefect task ``warehouse-load``: one load of every journal, retried, never two at once.

Two locks, on purpose: the Prefect global concurrency limit ``warehouse-loader`` (limit 1,
``strict=True``: a missing limit fails instead of running unlocked) keeps Prefect from starting a
second load anywhere, and the loader's own file lock protects the warehouse from anything that
bypasses Prefect (the CLI, a script). A load that finds the file lock held raises ``LoaderBusy``,
which the task's retries absorb.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.concurrency.sync import concurrency

from warehouse.loader import load
from warehouse.paths import WarehousePaths

LIMIT_NAME = "warehouse-loader"


def ensure_loader_limit() -> None:
    """Create the ``warehouse-loader`` global concurrency limit (limit 1) if it does not exist."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(LIMIT_NAME, 1)


@task(name="warehouse-load", retries=3, retry_delay_seconds=[2, 5, 15], log_prints=False)
def load_warehouse(data_dir: str | None = None) -> dict[str, Any]:
    """Load journals into the warehouse and publish the snapshot; returns the load's figures."""
    paths = WarehousePaths(Path(data_dir)) if data_dir else WarehousePaths.from_settings()
    with concurrency(LIMIT_NAME, occupy=1, strict=True, timeout_seconds=600):
        result = load(paths, wait=5.0)
    get_run_logger().info("load %d: %d records from %d journals in %.2fs (%d quarantined, %d torn)",
                          result.load_id, result.records, result.journals, result.seconds,
                          result.quarantined, result.torn)
    return asdict(result)
