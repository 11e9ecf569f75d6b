"""Prefect flow ``insights`` (hourly, prefect.yaml): shared insights from the warehouse across every
bot, recorded as a new version in the ``insights`` table and exported atomically to
``data/shared_insights.json``; the artifact is what changed since the previous export.

Order matters: load (so the newest journals count), compute from the published snapshot, journal
the version's rows, export the file, load again (so the version is in the table too).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from core.insights import load_insights, write_insights
from tasks.insights import counts, diff_markdown, rows
from tasks.insights_task import compute_insights
from tasks.records import flow_run_name, journal_records, load_now, settings_for

TIMEOUT_S = 600


@flow(name="insights", retries=1, retry_delay_seconds=60, timeout_seconds=TIMEOUT_S)
def insights_flow(data_dir: str | None = None) -> dict[str, Any]:
    """Win rates, blocked combos, blackouts, calibration, positions, sentiment → shared_insights.json."""
    log = get_run_logger()
    settings = settings_for(data_dir)
    run_id = flow_run_name("insights")
    load_now(settings)
    previous = load_insights(settings.insights_path)
    ins = compute_insights(settings)
    journal_records(run_id, "insight", rows(ins), str(settings.journal_dir))
    write_insights(ins, settings.insights_path)
    load_now(settings)
    n = counts(ins)
    log.info("insights %s: %s; exported to %s", ins.version, ", ".join(f"{k} {v}" for k, v in n.items()),
             settings.insights_path)
    create_markdown_artifact(diff_markdown(previous, ins), key="insights", description=f"version {ins.version}")
    return {"run_id": run_id, "version": ins.version, "path": str(settings.insights_path), **n}
