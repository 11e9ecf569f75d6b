"""Prefect task ``compute-insights``: tasks/insights.py over the published warehouse snapshot."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
from prefect import task
from prefect.cache_policies import NONE

from core.insights import SharedInsights
from core.settings import Settings
from tasks.insights import compute
from warehouse.paths import WarehousePaths
from warehouse.query import connect


@task(name="compute-insights", retries=2, retry_delay_seconds=[5, 30], cache_policy=NONE)
def compute_insights(settings: Settings, now: datetime | None = None) -> SharedInsights:
    """Read-only on the published snapshot, so it never waits for (or blocks) a load."""
    now = now or datetime.now(UTC)
    published = WarehousePaths.from_settings(settings).published
    if not published.exists():
        con = duckdb.connect()  # nothing loaded yet: every source reads as absent
        try:
            return compute(con, settings.insights, now)
        finally:
            con.close()
    with connect(published) as con:
        return compute(con, settings.insights, now)
