"""Prefect flow ``sentiment`` (hourly, prefect.yaml): read every sentiment source, record the
components and combined scores in the warehouse ``sentiment`` table, show them as an artifact.

A source that fails or is stale is a neutral component with the reason in its row, never a failed
flow (tasks/sentiment.py); the flow's own retry covers a failed journal write or load.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from tasks.records import flow_run_name, journal_records, load_now, settings_for
from tasks.sentiment import fetch_sentiment

TIMEOUT_S = 600


@flow(name="sentiment", retries=1, retry_delay_seconds=60, timeout_seconds=TIMEOUT_S)
def sentiment_flow(data_dir: str | None = None) -> dict[str, Any]:
    """Fear & greed, long/short ratio and venue funding → the combined score, recorded hourly."""
    log = get_run_logger()
    settings = settings_for(data_dir)
    run_id = flow_run_name("sentiment")
    result = fetch_sentiment(settings)
    rows = result.rows()
    journal_records(run_id, "sentiment", rows, str(settings.journal_dir))
    load_now(settings)
    missing = [f"{c.source}{':' + c.symbol if c.symbol else ''}: {c.detail}" for c in result.components
               if not c.available]
    for line in missing:
        log.warning("sentiment source not available: %s", line)
    market = result.market()
    log.info("sentiment %+.2f (%s); %d rows in run %s", market.score, market.detail, len(rows), run_id)
    create_table_artifact(
        [{"source": r["source"], "metric": r["metric"], "symbol": r["symbol"] or "",
          "value": round(r["value"], 8), "age (s)": None if r["age_s"] is None else round(r["age_s"]),
          "stale": r["stale"], "detail": r["detail"] or ""} for r in rows],
        key="sentiment", description=f"combined {market.score:+.2f}: {market.detail}")
    return {"run_id": run_id, "rows": len(rows), "market": market.score,
            "symbols": {c.symbol: c.score for c in result.combined if c.symbol},
            "unavailable": missing}
