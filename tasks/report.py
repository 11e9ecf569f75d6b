"""Build a day's post-mortem report from the published warehouse snapshot (task ``build-report``).

The report reads the read-only snapshot, so a load in progress neither blocks it nor shows half a
batch. Files go to ``data/reports/<date>/``: ``report.html`` + ``report.md`` for the whole day,
``report-bot-<bot>`` / ``report-run-<run>`` when narrowed. Rebuilding a date overwrites its files
with the same content (nothing in them depends on when they were built).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from core.settings import get_settings
from render import report as render
from warehouse.daily import Day, read_day
from warehouse.paths import WarehousePaths
from warehouse.query import connect


def yesterday_utc() -> dt.date:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date()


def parse_date(text: str | None) -> dt.date:
    """``YYYY-MM-DD`` (UTC), or yesterday when empty."""
    if not text:
        return yesterday_utc()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"date: {text!r} is not a date; allowed: YYYY-MM-DD (UTC)") from None


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


def stem_for(bot: str | None, run: str | None) -> str:
    if run:
        return f"report-run-{_safe(run)}"
    if bot:
        return f"report-bot-{_safe(bot)}"
    return "report"


@dataclass
class Built:
    day: Day
    report: render.Report
    files: dict[str, Path]
    seconds: float

    def summary(self) -> dict[str, Any]:
        d = self.day
        return {"date": d.date.isoformat(), "bot": d.bot, "run": d.run, "active": d.active, "runs": len(d.runs),
                "html": str(self.files["html"]), "markdown": str(self.files["markdown"]),
                "seconds": round(self.seconds, 3),
                "bots": [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                         for row in d.bots.to_dict("records")]}


def run_date(run: str, warehouse: Path) -> dt.date | None:
    """The UTC day a run started on, or None if the warehouse does not hold it."""
    with connect(warehouse) as con:
        row = con.execute("SELECT started FROM runs WHERE run_id = ?", [run]).fetchone()
    return row[0].date() if row and row[0] else None


def build_report(day: dt.date, bot: str | None = None, run: str | None = None,
                 data_dir: Path | None = None) -> Built:
    """Read the day from the published snapshot, render it, write it; returns what was built."""
    t = time.perf_counter()
    paths = WarehousePaths(data_dir) if data_dir else WarehousePaths.from_settings()
    with connect(paths.published) as con:
        d = read_day(con, day, bot, run)
    rep = render.build(d)
    reports_dir = (data_dir / "reports") if data_dir else get_settings().reports_dir
    files = render.write(rep, reports_dir / day.isoformat(), stem_for(bot, run))
    return Built(d, rep, files, time.perf_counter() - t)


@task(name="build-report", retries=2, retry_delay_seconds=[5, 30], cache_policy=NO_CACHE)
def build_report_task(day: dt.date, bot: str | None = None, run: str | None = None,
                      data_dir: str | None = None) -> Built:
    return build_report(day, bot, run, Path(data_dir) if data_dir else None)
