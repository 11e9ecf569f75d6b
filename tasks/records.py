"""Prefect tasks the scheduled flows share: write their records to a journal of their own run, load
the warehouse.

The loader stays the warehouse's only writer (docs/architecture.md): a flow appends its rows to
``data/journal/<run_id>.jsonl`` (fsynced before the task returns), then loads. A load that fails
loses nothing: the journal keeps the rows and the next load (scheduled every 15 minutes) picks
them up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from core.settings import Settings
from warehouse.journal import Journal


def flow_run_name(prefix: str) -> str:
    """A journal run id for this flow run: ``<prefix>-<flow run id>`` inside Prefect, else a timestamp."""
    import time

    from prefect.runtime import flow_run

    fid = flow_run.get_id()
    return f"{prefix}-{fid}" if fid else f"{prefix}-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 1_000_000:06d}"


def settings_for(data_dir: str | None) -> Settings:
    """Settings from the environment (and ``.env``), with the data dir of the run's parameter."""
    settings = Settings()
    return settings.model_copy(update={"data_dir": Path(data_dir)}) if data_dir else settings


@task(name="journal-records", retries=2, retry_delay_seconds=[1, 5], cache_policy=NONE)
def journal_records(run_id: str, kind: str, records: list[dict[str, Any]], journal_dir: str) -> int:
    """Append ``records`` of ``kind`` to the run's journal, durably; returns how many."""
    journal = Journal(run_id, Path(journal_dir))
    try:
        for r in records:
            journal.record(kind, **r)
        journal.flush_sync()
    finally:
        journal.close_sync()
    return len(records)


def load_now(settings: Settings) -> dict[str, Any]:
    """One warehouse load (the ``warehouse-load`` task, under its strict concurrency limit)."""
    from tasks.warehouse import ensure_loader_limit, load_warehouse

    ensure_loader_limit()
    return load_warehouse(str(settings.data_dir))
