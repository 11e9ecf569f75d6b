"""Prefect flow ``warehouse-load``: scheduled (every 15 minutes, prefect.yaml), and run at the end of every bot run.

A load is idempotent (natural keys), so the flow may retry; its timeout keeps a stuck load from
running into the next scheduled one.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_table_artifact

from tasks.warehouse import ensure_loader_limit, load_warehouse

LOAD_TIMEOUT_S = 600


@flow(name="warehouse-load", retries=1, retry_delay_seconds=60, timeout_seconds=LOAD_TIMEOUT_S)
def warehouse_load(data_dir: str | None = None) -> dict[str, Any]:
    """Move every journal's new records into data/warehouse.duckdb (see warehouse/loader.py)."""
    ensure_loader_limit()
    result = load_warehouse(data_dir)
    rows = [{"table": t, "rows written": n} for t, n in result["inserted"].items()]
    rows.append({"table": "quarantine", "rows written": result["quarantined"]})
    create_table_artifact(rows, key="warehouse-load", description=f"load {result['load_id']}: "
                          f"{result['records']} records from {result['journals']} journals")
    return result
