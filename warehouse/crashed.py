"""Runs whose bot died without a word: RUNNING forever unless the loader settles them.

A bot killed with ``kill -9`` (or by the OOM killer, or a host crash) never writes its ``run_end``
record, so its ``runs`` row would say RUNNING with no end. A journal is ``flock``-ed by its writer
while open, so the loader can tell: a RUNNING run whose journal nobody holds any more has crashed.
Its row becomes CRASHED, ended at the last timestamp the run recorded (not the time of the load),
with a reason saying so. A ``run_end`` that turns up later (a writer that closed between the check
and the load) still wins: the runs merge lets a run_end overwrite the status.
"""

from __future__ import annotations

import duckdb

from warehouse.paths import WarehousePaths
from warehouse.segments import writer_alive

REASON = ("crashed: the bot's process ended without recording how the run ended (killed?); "
          "ended is the last time it recorded anything")

# Where a run's records leave a timestamp, per table.
_LAST = " UNION ALL ".join(f"SELECT run_id, {col} AS t FROM {table}" for table, col in (
    ("orders", "ts"), ("fills", "ts"), ("positions", "ts"), ("risk_events", "ts"), ("cycles", "ended"),
    ("funding", "ts"), ("runs", "started")))


def dead_running(con: duckdb.DuckDBPyConnection, paths: WarehousePaths) -> set[str]:
    """Journals of RUNNING runs that no writer holds. Call it before reading journals: a writer that
    closes after this check has written its run_end first, which the load then sees."""
    rows = con.execute("SELECT journal FROM runs WHERE status = 'RUNNING' AND journal IS NOT NULL").fetchall()
    return {journal for (journal,) in rows if not writer_alive(paths.journal_dir / journal)}


def settle(con: duckdb.DuckDBPyConnection, dead_journals: set[str]) -> int:
    """Mark the runs of these journals CRASHED (those still RUNNING after the load's records are in),
    ended at their last record; returns how many."""
    if not dead_journals:
        return 0
    con.execute("CREATE OR REPLACE TEMP TABLE dead_runs AS "
                "SELECT run_id FROM runs WHERE status = 'RUNNING' AND journal IN (SELECT unnest(?::VARCHAR[]))",
                [sorted(dead_journals)])
    con.execute(f"""
        UPDATE runs SET status = 'CRASHED', reason = ?, ended = last.t
        FROM (SELECT a.run_id, max(a.t) AS t FROM ({_LAST}) a JOIN dead_runs d USING (run_id) GROUP BY a.run_id) last
        WHERE runs.run_id = last.run_id AND runs.status = 'RUNNING'""", [REASON])
    row = con.fetchone()
    return int(row[0]) if row and row[0] is not None else 0
