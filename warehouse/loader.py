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

How a load runs, and why it is fast (the target is ≥ 500,000 rows/s; bench/warehouse.py measures it):

1. each journal's new complete lines are copied aside (in the kernel), so every read of them sees
   the same bytes while the writer appends;
2. a census (``census.py``) reads only ``kind`` and ``seq`` of every line;
3. one transaction: each kind's records are read once by DuckDB (``read_json`` with just that
   kind's fields, typed and validated in SQL), projected and inserted straight into their table
   (``ingest.py``); duplicates are found afterwards by key hash (``merge.py``, ``keys.py``). A
   journal with a bad record is found by its count and loaded again line by line (``reread.py``);
4. quarantine, offsets and the load's own row commit with the rows; then a checkpoint (which
   after a big load does not merge row groups, ``checkpoint``), and the snapshot is published
   (``publish.py``) when something changed.
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

from core.errors import PerpflowError
from warehouse import census, crashed, keys, reread, segments
from warehouse.ingest import BadJournals, ingest
from warehouse.paths import WarehousePaths
from warehouse.publish import publish
from warehouse.schema import attach_sql, migrate
from warehouse.views import ensure_views

log = logging.getLogger(__name__)
VACUUM_BELOW = 122_880  # rows a load writes (one DuckDB row group) from which its checkpoint merges no row groups


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
    crashed: int = 0  # RUNNING runs whose writer died without a run_end: now CRASHED (warehouse/crashed.py)
    slow: int = 0  # journals with a bad record, loaded line by line
    published: bool = False
    seconds: float = 0.0  # the whole call: lock, load, checkpoint and publish
    load_seconds: float = 0.0  # read, validate, dedupe, insert, offsets: committed and checkpointed
    publish_seconds: float = 0.0  # copying the master to the published snapshot


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
    """Load every journal's new records into the master, then publish the snapshot if anything changed."""
    paths = paths or WarehousePaths.from_settings()
    paths.ensure()
    t0 = time.perf_counter()
    with loader_lock(paths.lock, wait):
        # The master is attached to an in-memory database so temp tables live in memory. Row order
        # in a table means nothing (seq does), so inserts need not keep it and can run in parallel.
        con = duckdb.connect(config={"preserve_insertion_order": False})
        try:
            con.execute(attach_sql(str(paths.master), "master"))
            con.execute("USE master")
            migrated = migrate(con)
            ensure_views(con, paths)
            result = _load(con, paths)
            checkpoint(con, sum(result.inserted.values()))
        finally:
            con.close()
        result.load_seconds = time.perf_counter() - t0
        if publish_snapshot and (result.records or result.torn or result.crashed or migrated
                                 or not paths.published.exists()):
            t = time.perf_counter()
            publish(paths.master, paths.published)
            result.published = True
            result.publish_seconds = time.perf_counter() - t
    result.seconds = time.perf_counter() - t0
    return result


def checkpoint(con: duckdb.DuckDBPyConnection, rows: int) -> None:
    """Checkpoint the master; after a big load, without merging row groups.

    DuckDB's checkpoint merges a table's partly filled row groups ("vacuum"): after a load of a
    million fills it would decompress and compress again most of what the load had just written,
    which doubled the load's time. A big load's rows are already in full row groups but for its last
    one, so it skips the merge (row groups left empty by deletes are still dropped); small loads
    merge as usual, which keeps a table from piling up tiny row groups.
    """
    if rows < VACUUM_BELOW:
        con.execute("CHECKPOINT")
        return
    default = con.execute("SELECT current_setting('max_vacuum_tasks')").fetchone()
    con.execute("SET max_vacuum_tasks = 0")
    try:
        con.execute("CHECKPOINT")
    finally:
        con.execute(f"SET max_vacuum_tasks = {int(default[0]) if default else 100}")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _segments(con: duckdb.DuckDBPyConnection, paths: WarehousePaths, result: LoadResult) -> list[segments.Segment]:
    offsets = dict(con.execute("SELECT journal, byte_offset FROM journal_offsets").fetchall())
    segs = []
    for path in paths.journals():
        offset = offsets.get(path.name, 0)
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
    return segs


class _Changed(Exception):
    """Journals read in place were written to during the load."""

    def __init__(self, journals: set[str]) -> None:
        super().__init__(", ".join(sorted(journals)))
        self.journals = journals


def _load(con: duckdb.DuckDBPyConnection, paths: WarehousePaths) -> LoadResult:
    copy: set[str] = set()
    while True:
        try:
            return _attempt(con, paths, copy)
        except _Changed as changed:
            log.info("journals %s changed while being read: loading again from a copy", changed)
            copy |= changed.journals


def _stage_files(segs: list[segments.Segment], stage: Path, copy: set[str]) -> dict[str, Path]:
    """The file DuckDB reads for each journal's new lines: the journal itself when the new lines are the
    whole of a journal nobody writes (checked again before committing), else a copy of just those lines."""
    files = {}
    for seg in segs:
        if seg.end <= seg.start:
            continue
        if seg.whole and seg.journal not in copy:
            files[seg.journal] = seg.path
        else:
            files[seg.journal] = stage / seg.journal
            segments.copy_segment(seg, files[seg.journal])
    return files


def _attempt(con: duckdb.DuckDBPyConnection, paths: WarehousePaths, copy: set[str]) -> LoadResult:
    row = con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM loads").fetchone()
    result = LoadResult(load_id=int(row[0]) if row else 1)
    started = _now()
    dead = crashed.dead_running(con, paths)  # before reading: see warehouse/crashed.py
    segs = _segments(con, paths, result)
    result.journals = len(segs)
    stage = paths.stage / f"load-{result.load_id}-{os.getpid()}"
    stage.mkdir(parents=True, exist_ok=True)
    try:
        files = _stage_files(segs, stage, copy)
        in_place = [s for s in segs if files.get(s.journal) == s.path]
        t = time.perf_counter()
        counted = census.take(con, files)
        slow = counted.unreadable()
        log.debug("load %d: census of %d journals in %.2fs", result.load_id, len(files), time.perf_counter() - t)
        while True:
            t = time.perf_counter()
            con.execute("BEGIN TRANSACTION")
            try:
                keys.refresh(con)
                reread.create(con, [s for s in segs if s.journal in slow])
                result.inserted = ingest(con, counted, slow, result.load_id)
                _finish(con, segs, counted, slow, result, started)
                # runs first seen in this load whose writer was already gone when its journal was scanned
                result.crashed = crashed.settle(con, dead | {s.journal for s in segs if not s.live})
                changed = {s.journal for s in in_place if not s.unchanged()}
                if changed:
                    raise _Changed(changed)
                con.execute("COMMIT")
            except BadJournals as bad:
                con.execute("ROLLBACK")
                if bad.journals <= slow:
                    raise RuntimeError(f"load {result.load_id}: journals {bad} still short on the slow path") from None
                log.info("load %d: %s hold bad records: loading them line by line", result.load_id, bad)
                slow |= bad.journals
                continue
            except BaseException:
                con.execute("ROLLBACK")
                raise
            log.debug("load %d: wrote %d records in %.2fs", result.load_id, result.records, time.perf_counter() - t)
            result.slow = len(slow)
            return result
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _finish(con: duckdb.DuckDBPyConnection, segs: list[segments.Segment], counted: census.Census, slow: set[str],
            result: LoadResult, started: datetime) -> None:
    """Quarantine, offsets and the load's row, in the load's transaction."""
    per_slow = {j: (s, n) for j, s, n in con.execute(
        f"SELECT journal, max(seq) FILTER (WHERE problem IS NULL), count(*) FROM {reread.TABLE} GROUP BY journal"
    ).fetchall()}
    result.records = sum(counted.records(s.journal) for s in segs if s.journal not in slow)
    result.records += sum(n for _, n in per_slow.values())
    result.quarantined = _quarantine(con, segs, result)
    now = _now()
    rows = []
    for seg in segs:
        if seg.journal in slow:
            last_seq, records = per_slow.get(seg.journal, (None, 0))
        else:
            last_seq, records = counted.last_seq.get(seg.journal), counted.records(seg.journal)
        end = seg.end + len(seg.tail) if seg.torn else seg.end
        rows.append((seg.journal, end, last_seq, records + int(seg.torn), int(seg.torn), now))
    _advance_offsets(con, rows)
    con.execute("INSERT INTO loads VALUES (?, ?, ?, ?, ?, ?, ?)",
                [result.load_id, started, _now(), result.journals, result.records,
                 orjson.dumps(result.inserted).decode(), result.quarantined])


def _count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _quarantine(con: duckdb.DuckDBPyConnection, segs: list[segments.Segment], result: LoadResult) -> int:
    for seg in segs:
        if seg.torn:
            result.torn += 1
            log.warning("journal %s: torn last record at byte %d (%d bytes, writer gone) skipped to quarantine",
                        seg.journal, seg.end, len(seg.tail))
            con.execute(f"INSERT INTO {reread.TABLE} (journal, line_offset, raw, problem) VALUES (?, ?, ?, ?)",
                        [seg.journal, seg.end, segments.printable(seg.tail),
                         "torn last record: the line never completed and its writer is gone"])
    con.execute(f"""
        INSERT INTO quarantine
        SELECT b.journal, b.line_offset, coalesce(b.run_id, regexp_replace(b.journal, '\\.jsonl$', '')), b.kind,
               b.problem, b.raw, ?, ?
        FROM {reread.TABLE} b
        WHERE b.problem IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.journal = b.journal AND q.line_offset = b.line_offset)""",
                [_now(), result.load_id])
    # with the records the merge quarantined (a key seen twice with different content, merge.py)
    count = _count(con.execute("SELECT count(*) FROM quarantine WHERE load_id = ?", [result.load_id]))
    for journal, problem, n in con.execute(
            f"SELECT journal, any_value(problem), count(*) FROM {reread.TABLE} WHERE problem IS NOT NULL "
            "GROUP BY journal").fetchall():
        log.warning("journal %s: %d record(s) quarantined, e.g. %s", journal, n, problem)
    return count


def _advance_offsets(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE new_offsets (journal VARCHAR, byte_offset BIGINT, last_seq BIGINT, "
                "records BIGINT, torn BIGINT, updated TIMESTAMP)")
    if not rows:
        return
    con.executemany("INSERT INTO new_offsets VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.execute("""
        MERGE INTO journal_offsets x USING new_offsets n ON x.journal = n.journal
        WHEN MATCHED THEN UPDATE SET byte_offset = n.byte_offset,
             last_seq = greatest(x.last_seq, coalesce(n.last_seq, 0)), records = x.records + n.records,
             torn = x.torn + n.torn, updated = n.updated
        WHEN NOT MATCHED THEN INSERT VALUES (n.journal, n.byte_offset, coalesce(n.last_seq, 0), n.records,
             n.torn, n.updated)""")
