"""The loader: moves journal records into the warehouse, idempotently, one loader at a time.

How the parts fit (and why) — the warehouse's concurrency design:

- **Writers never touch DuckDB.** Bots append to their own journals (``journal.py``); nothing they
  do can wait on, or fail because of, the loader or a reader.
- **One loader at a time**: an exclusive ``flock`` on ``data/.warehouse/loader.lock`` (the Prefect
  flow adds a global concurrency limit on top). A second loader fails fast with ``LoaderBusy``
  (or waits ``wait`` seconds), which the Prefect task retries.
- **Readers never block the loader**: the loader is the only process that opens its private master
  (``data/.warehouse/master.duckdb``) read-write; after each load it publishes a copy as
  ``data/warehouse.duckdb`` with an atomic rename (``publish.py``). Analysts, ``make sql``, the CLI
  and the pandas helpers open the published file read-only; DuckDB's "one writer or many readers
  per file" rule therefore never puts a reader and the loader on the same file.
- **Nothing lost, nothing twice**: each journal's loaded byte offset and last seq are stored in
  the master, in the same transaction as the rows they produced; rows are deduplicated on the
  natural keys of the table contract (insert-if-absent, or keep-the-latest for tables holding a
  state). A crash anywhere leaves the previous committed state, and loading the same journals again
  changes nothing.
- **Bad records go to ``quarantine``** with the reason and the raw line; they never stop the good
  records beside them. A torn last line of a journal whose writer is gone is quarantined with a
  warning; the unterminated line of a live journal is left for the next load.

Parsing is DuckDB's (``read_json`` over a copy of each journal's new lines): see ``validate.py``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson
import pandas as pd

from core.errors import PerpflowError
from warehouse import segments
from warehouse.paths import WarehousePaths
from warehouse.project import RUNS_SELECT, TABLES, Table, newest_first
from warehouse.publish import publish
from warehouse.schema import migrate
from warehouse.validate import columns_struct, transform_spec, typed_select
from warehouse.views import create_views

log = logging.getLogger(__name__)

EXTRA = ", s.journal, s.line_offset, s.raw"


class LoaderBusy(PerpflowError):
    """Another loader holds the warehouse."""


@dataclass(slots=True)
class LoadResult:
    load_id: int
    journals: int = 0  # journals with new lines
    records: int = 0  # lines read
    inserted: dict[str, int] = field(default_factory=dict)  # new or changed rows per table
    quarantined: int = 0
    torn: int = 0
    pending_live: int = 0  # journals whose writer is still writing a line
    published: bool = False
    seconds: float = 0.0


@contextlib.contextmanager
def loader_lock(path: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold the loader lock; ``LoaderBusy`` if another loader keeps it longer than ``wait`` seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LoaderBusy(f"another loader holds {path}") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def load(paths: WarehousePaths | None = None, *, wait: float = 0.0, publish_snapshot: bool = True) -> LoadResult:
    """Load every journal's new records into the master, then publish the snapshot."""
    paths = paths or WarehousePaths.from_settings()
    paths.ensure()
    t0 = time.perf_counter()
    with loader_lock(paths.lock, wait):
        # The master is attached to an in-memory database so the staging tables live in memory.
        con = duckdb.connect()
        con.execute(f"ATTACH {_lit(str(paths.master))} AS master")
        con.execute("USE master")
        try:
            migrate(con)
            create_views(con, paths)
            result = _load(con, paths)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        if publish_snapshot and (result.records or result.torn or not paths.published.exists()):
            publish(paths.master, paths.published)
            result.published = True
    result.seconds = time.perf_counter() - t0
    return result


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _load(con: duckdb.DuckDBPyConnection, paths: WarehousePaths) -> LoadResult:
    row = con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM loads").fetchone()
    result = LoadResult(load_id=int(row[0]) if row else 1)
    started = _now()
    offsets = {j: (o, s, n) for j, o, s, n in
               con.execute("SELECT journal, byte_offset, last_seq, records FROM journal_offsets").fetchall()}
    segs: list[segments.Segment] = []
    for path in paths.journals():
        offset = offsets.get(path.name, (0, 0, 0))[0]
        if path.stat().st_size < offset:
            log.warning("journal %s is shorter than its loaded offset %d: reloading it from the start", path, offset)
            offset = 0
        seg = segments.scan(path, offset)
        if seg is None:
            continue
        if seg.tail and seg.live:
            result.pending_live += 1
        if seg.end > seg.start or seg.torn:
            segs.append(seg)
    result.journals = len(segs)
    stage = paths.stage / f"load-{result.load_id}-{os.getpid()}"
    stage.mkdir(parents=True, exist_ok=True)
    try:
        t = time.perf_counter()
        _read_batch(con, segs, stage)
        log.debug("load %d: read %d journals in %.2fs", result.load_id, len(segs), time.perf_counter() - t)
        t = time.perf_counter()
        con.execute("BEGIN TRANSACTION")
        try:
            _write_batch(con, segs, result, started)
            con.execute("COMMIT")
            log.debug("load %d: wrote %d records in %.2fs", result.load_id, result.records, time.perf_counter() - t)
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return result


def _read_batch(con: duckdb.DuckDBPyConnection, segs: list[segments.Segment], stage: Path) -> None:
    """Materialise every new line of every journal as a typed record with its ``problem`` (temp ``batch``)."""
    files = []
    for seg in segs:
        if seg.end > seg.start:
            dest = stage / seg.journal
            segments.copy_segment(seg, dest)
            files.append(str(dest))
    empty = "SELECT * FROM ({}) WHERE false".format(_lines_source("lines_empty"))
    con.execute("CREATE OR REPLACE TEMP TABLE lines_empty (journal VARCHAR, line_offset BIGINT, raw VARCHAR)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE batch AS {typed_select(f'({empty})', EXTRA)}")
    if not files:
        return
    listing = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    src = (f"(SELECT *, parse_filename(filename) AS journal, NULL::BIGINT AS line_offset, NULL::VARCHAR AS raw "
           f"FROM read_json({listing}, format='newline_delimited', columns={columns_struct()}, "
           f"ignore_errors=true, filename=true))")
    con.execute(f"INSERT INTO batch {typed_select(src, EXTRA)}")
    bad = [r[0] for r in con.execute("SELECT DISTINCT journal FROM batch WHERE problem IS NOT NULL").fetchall()]
    for seg in segs:
        if seg.journal in bad:
            _reread_with_raw_lines(con, seg)


def _lines_source(table: str) -> str:
    return (f"SELECT j.*, journal, line_offset, raw FROM (SELECT CASE WHEN json_valid(raw) AND "
            f"json_type(raw) = 'OBJECT' THEN json_transform(raw, {transform_spec()}) END AS j, "
            f"journal, line_offset, raw FROM {table})")


def _reread_with_raw_lines(con: duckdb.DuckDBPyConnection, seg: segments.Segment) -> None:
    """A segment with bad lines is typed again line by line, keeping each line's text and offset."""
    rows = segments.lines(seg)
    log.warning("journal %s: bad records among %d new lines; they go to quarantine", seg.journal, len(rows))
    frame = pd.DataFrame({"journal": seg.journal, "line_offset": [o for o, _ in rows], "raw": [t for _, t in rows]})
    con.register("seg_lines", frame)
    try:
        con.execute("DELETE FROM batch WHERE journal = ?", [seg.journal])
        con.execute(f"INSERT INTO batch {typed_select('(' + _lines_source('seg_lines') + ')', EXTRA)}")
    finally:
        con.unregister("seg_lines")


def _write_batch(con: duckdb.DuckDBPyConnection, segs: list[segments.Segment], result: LoadResult,
                 started: datetime) -> None:
    con.execute("CREATE OR REPLACE TEMP VIEW good AS SELECT * FROM batch WHERE problem IS NULL")
    counts = con.execute("SELECT count(*), count(*) FILTER (WHERE problem IS NOT NULL) FROM batch").fetchone()
    result.records = int(counts[0]) if counts else 0
    result.inserted["runs"] = _merge_runs(con)
    for table in TABLES.values():
        result.inserted[table.name] = _upsert(con, table) if table.upsert else _insert_new(con, table)
    result.quarantined = _quarantine(con, segs, result)
    _advance_offsets(con, segs)
    con.execute("INSERT INTO loads VALUES (?, ?, ?, ?, ?, ?, ?)",
                [result.load_id, started, _now(), result.journals, result.records,
                 orjson.dumps(result.inserted).decode(), result.quarantined])


def _count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _columns(con: duckdb.DuckDBPyConnection, select: str) -> list[str]:
    return [d[0] for d in con.execute(f"SELECT * FROM ({select}) LIMIT 0").description]


def _insert_new(con: duckdb.DuckDBPyConnection, table: Table) -> int:
    select = table.sql("good")
    cols = ", ".join(_columns(con, select))
    match = " AND ".join(f"x.{k} = n.{k}" for k in table.key)
    keys = ", ".join(f"n.{k}" for k in table.key)
    con.execute(f"""
        INSERT INTO {table.name} ({cols})
        SELECT {cols} FROM ({select}) n
        WHERE NOT EXISTS (SELECT 1 FROM {table.name} x WHERE {match})
        QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY n.journal, n.seq) = 1""")
    return _count(con)


def _newer(table: Table) -> str:
    """n is newer than x by the table's order columns (lexicographic)."""
    cols = [c.strip() for c in table.order.split(",")]
    terms = []
    for i, c in enumerate(cols):
        same = [f"n.{p} = x.{p}" for p in cols[:i]]
        terms.append("(" + " AND ".join([*same, f"n.{c} > x.{c}"]) + ")")
    return " OR ".join(terms)


def _upsert(con: duckdb.DuckDBPyConnection, table: Table) -> int:
    select = table.sql("good")
    names = _columns(con, select)
    match = " AND ".join(f"x.{k} = n.{k}" for k in table.key)
    keys = ", ".join(table.key)
    sets = ", ".join(f"{c} = n.{c}" for c in names if c not in table.key)
    con.execute(f"""
        MERGE INTO {table.name} x
        USING (SELECT * FROM ({select}) QUALIFY row_number() OVER (PARTITION BY {keys}
               ORDER BY {newest_first(table)}) = 1) n
        ON {match}
        WHEN MATCHED AND ({_newer(table)}) THEN UPDATE SET {sets}
        WHEN NOT MATCHED THEN INSERT ({', '.join(names)}) VALUES ({', '.join('n.' + c for c in names)})""")
    return _count(con)


def _merge_runs(con: duckdb.DuckDBPyConnection) -> int:
    select = RUNS_SELECT.format(src="good")
    names = _columns(con, select)
    con.execute(f"""
        MERGE INTO runs x USING ({select}) n ON x.run_id = n.run_id
        WHEN MATCHED THEN UPDATE SET
            bot = coalesce(n.bot, x.bot), flow_run_id = coalesce(n.flow_run_id, x.flow_run_id),
            venues = coalesce(n.venues, x.venues), symbol = coalesce(n.symbol, x.symbol),
            params = coalesce(n.params, x.params), started = coalesce(n.started, x.started),
            ended = coalesce(n.ended, x.ended),
            status = CASE WHEN n.status IS NOT NULL THEN n.status ELSE x.status END,
            reason = CASE WHEN n.status IS NOT NULL THEN n.reason ELSE x.reason END
        WHEN NOT MATCHED THEN INSERT ({', '.join(names)}) VALUES
            ({', '.join('coalesce(n.status, ' + repr('RUNNING') + ')' if c == 'status' else 'n.' + c
                        for c in names)})""")
    return _count(con)


def _quarantine(con: duckdb.DuckDBPyConnection, segs: list[segments.Segment], result: LoadResult) -> int:
    now = _now()
    for seg in segs:
        if seg.torn:
            result.torn += 1
            log.warning("journal %s: torn last record at byte %d (%d bytes, writer gone) skipped to quarantine",
                        seg.journal, seg.end, len(seg.tail))
            con.execute("INSERT INTO batch (journal, line_offset, raw, problem) VALUES (?, ?, ?, ?)",
                        [seg.journal, seg.end, segments.printable(seg.tail),
                         "torn last record: the line never completed and its writer is gone"])
    con.execute("""
        INSERT INTO quarantine
        SELECT b.journal, b.line_offset, coalesce(b.run_id, regexp_replace(b.journal, '\\.jsonl$', '')), b.kind,
               b.problem, b.raw, ?, ?
        FROM batch b
        WHERE b.problem IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.journal = b.journal AND q.line_offset = b.line_offset)""",
                [now, result.load_id])
    count = _count(con)
    for journal, problem, n in con.execute(
            "SELECT journal, any_value(problem), count(*) FROM batch WHERE problem IS NOT NULL GROUP BY journal"
    ).fetchall():
        log.warning("journal %s: %d record(s) quarantined, e.g. %s", journal, n, problem)
    return count


def _advance_offsets(con: duckdb.DuckDBPyConnection, segs: list[segments.Segment]) -> None:
    per_journal = {j: (s, n) for j, s, n in con.execute(
        "SELECT journal, max(seq) FILTER (WHERE problem IS NULL), count(*) FROM batch GROUP BY journal").fetchall()}
    now = _now()
    for seg in segs:
        last_seq, records = per_journal.get(seg.journal, (None, 0))
        end = seg.end + len(seg.tail) if seg.torn else seg.end
        con.execute("""
            MERGE INTO journal_offsets x
            USING (SELECT ?::VARCHAR AS journal, ?::BIGINT AS byte_offset, ?::BIGINT AS last_seq,
                          ?::BIGINT AS records, ?::BIGINT AS torn, ?::TIMESTAMP AS updated) n
            ON x.journal = n.journal
            WHEN MATCHED THEN UPDATE SET byte_offset = n.byte_offset,
                 last_seq = greatest(x.last_seq, coalesce(n.last_seq, 0)), records = x.records + n.records,
                 torn = x.torn + n.torn, updated = n.updated
            WHEN NOT MATCHED THEN INSERT VALUES (n.journal, n.byte_offset, coalesce(n.last_seq, 0), n.records,
                 n.torn, n.updated)""",
                    [seg.journal, end, last_seq, records, int(seg.torn), now])
