"""Views that show journal records before the loader has moved them (live views: a run shows while it trades).

``journal_records`` reads every journal with DuckDB's ``read_json`` (a line being written, or a
bad one, is skipped); ``pending_records`` keeps those past each journal's loaded ``seq``; and
``live_<table>`` is the table with its pending rows merged in, through the loader's own
projections (``project.py``), so a live row equals the row the next load will write. The views
are stored in the master and so in every published snapshot, with the journal folder's absolute
path: they work from the read-only snapshot, in ``make sql`` or in pandas.

``diagnostics.py`` adds views over the loaded tables that explain fills and split PnL
(``fill_diagnostics``, ``pnl_split``, ``pnl_split_hourly``).

Live views re-read whole journals on every query: they are for watching runs, not for analysis
over months (query the tables for that). A record that another journal already loaded, or one
recorded twice, can show twice in an insert-only ``live_`` view until the next load.
"""

from __future__ import annotations

import hashlib

import duckdb

from warehouse import diagnostics, summary
from warehouse.paths import JOURNAL_SUFFIX, WarehousePaths
from warehouse.project import RUNS_SELECT, TABLES, merged_runs, newest_first
from warehouse.validate import columns_struct, typed_select


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def view_sql(paths: WarehousePaths) -> list[str]:
    glob = str(paths.journal_dir.resolve() / f"*{JOURNAL_SUFFIX}")
    src = (f"(SELECT *, parse_filename(filename) AS journal FROM read_json({_lit(glob)}, "
           f"format='newline_delimited', columns={columns_struct()}, ignore_errors=true, filename=true))")
    out = [
        f"CREATE OR REPLACE VIEW journal_records AS {typed_select(src, ', s.journal')}",
        """CREATE OR REPLACE VIEW pending_records AS
           SELECT r.* FROM journal_records r
           WHERE r.problem IS NULL AND r.seq > coalesce((SELECT max(o.last_seq) FROM journal_offsets o
                                                       WHERE o.journal = r.journal), 0)""",
        f"CREATE OR REPLACE VIEW live_runs AS {merged_runs('runs', RUNS_SELECT.format(src='pending_records'))}",
    ]
    for t in TABLES.values():
        pending = t.sql("pending_records", runs="live_runs")
        if t.upsert:
            match = " AND ".join(f"p.{k} = x.{k}" for k in t.key)
            keys = ", ".join(t.key)
            body = (f"WITH p AS (SELECT * FROM ({pending}) QUALIFY row_number() OVER "
                    f"(PARTITION BY {keys} ORDER BY {newest_first(t)}) = 1) "
                    f"SELECT * FROM {t.name} x WHERE NOT EXISTS (SELECT 1 FROM p WHERE {match}) "
                    f"UNION ALL BY NAME SELECT * FROM p")
        else:
            body = f"SELECT * FROM {t.name} UNION ALL BY NAME {pending}"
        out.append(f"CREATE OR REPLACE VIEW live_{t.name} AS {body}")
    return out + summary.view_sql() + list(diagnostics.VIEWS)  # run summary (summary.sql), grid diagnostics


def create_views(con: duckdb.DuckDBPyConnection, paths: WarehousePaths) -> None:
    paths.ensure()  # the sentinel journal keeps read_json's glob from matching nothing
    for statement in view_sql(paths):
        con.execute(statement)


VIEWS_META = "views_sha256"


def ensure_views(con: duckdb.DuckDBPyConnection, paths: WarehousePaths) -> bool:
    """Create the views unless the master already has these very ones (a digest of their SQL, kept in
    ``loader_meta``): binding them costs ~0.1 s, a good share of a small load. True if created."""
    statements = view_sql(paths)
    digest = hashlib.sha256("\n".join(statements).encode()).hexdigest()
    row = con.execute("SELECT value FROM loader_meta WHERE name = ?", [VIEWS_META]).fetchone()
    if row and row[0] == digest and con.execute(
            "SELECT count(*) FROM duckdb_views() WHERE database_name = current_database() "
            "AND view_name = 'journal_records'").fetchone() == (1,):
        return False
    create_views(con, paths)
    con.execute("DELETE FROM loader_meta WHERE name = ?", [VIEWS_META])
    con.execute("INSERT INTO loader_meta VALUES (?, ?)", [VIEWS_META, digest])
    return True
