"""The run summary, defined once in SQL (``summary.sql``) and read from the warehouse.

A bot's end-of-run summary, its Prefect artifacts, the cookbook and the daily report all show the
figures of the ``run_summary`` and ``run_venues`` views, so they cannot disagree: a summary that
computed its own PnL once counted a flatten's volume but not its loss. The views live in the
master (``views.ensure_views`` creates them with the live views) and so in every published
snapshot; the flow reads them after its final load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

SUMMARY_SQL = Path(__file__).with_name("summary.sql")
_NAME = re.compile(r"^--\s*name:\s*([a-z0-9_]+)\s*$", re.MULTILINE)


def view_definitions(source: Path = SUMMARY_SQL) -> dict[str, str]:
    """{view name: its SELECT}, in file order (a view may read the ones before it)."""
    text = source.read_text()
    marks = list(_NAME.finditer(text))
    out = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        out[m.group(1)] = text[m.end():end].strip().rstrip(";").strip()
    return out


def view_sql() -> list[str]:
    return [f"CREATE OR REPLACE VIEW {name} AS {body}" for name, body in view_definitions().items()]


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    for statement in view_sql():
        con.execute(statement)


@dataclass(frozen=True)
class RunFigures:
    """One run's ``run_summary`` row and its ``run_venues`` rows, as plain Python values."""

    row: dict[str, Any]
    venues: list[dict[str, Any]]

    def __getitem__(self, key: str) -> Any:
        return self.row[key]


def _records(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description or ()]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def read_run(con: duckdb.DuckDBPyConnection, run_id: str) -> RunFigures | None:
    """The run's figures from the views, or None if the warehouse does not hold the run."""
    rows = _records(con.execute("SELECT * FROM run_summary WHERE run_id = ?", [run_id]))
    if not rows:
        return None
    venues = _records(con.execute("SELECT * FROM run_venues WHERE run_id = ? ORDER BY venue", [run_id]))
    return RunFigures(rows[0], venues)


def run_figures(run_id: str, path: Path | None = None) -> RunFigures | None:
    """Read one run's figures from the published warehouse snapshot."""
    from warehouse.query import connect

    with connect(path) as con:
        return read_run(con, run_id)
