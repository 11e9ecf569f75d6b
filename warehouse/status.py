"""What ``perpflow warehouse status`` shows: runs, rows per table, journals pending, quarantine.

Read from the published snapshot (never the loader's master) and from the journal folder, so
asking for status never waits on, or blocks, a load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from warehouse import segments
from warehouse.paths import WarehousePaths
from warehouse.query import connect
from warehouse.schema import TABLES


@dataclass(frozen=True, slots=True)
class PendingJournal:
    journal: str
    bytes_pending: int
    live: bool  # its writer is still recording


@dataclass(slots=True)
class Status:
    published: Path
    schema_version: int = 0
    last_load: str | None = None
    runs: list[tuple] = field(default_factory=list)  # run_id, bot, symbol, status, started, ended
    rows: dict[str, int] = field(default_factory=dict)
    pending: list[PendingJournal] = field(default_factory=list)
    quarantined: list[tuple] = field(default_factory=list)  # reason, count
    quarantined_total: int = 0


def status(paths: WarehousePaths | None = None) -> Status:
    paths = paths or WarehousePaths.from_settings()
    out = Status(paths.published)
    offsets: dict[str, int] = {}
    if paths.published.exists():
        with connect(paths.published) as con:
            row = con.execute("SELECT max(version) FROM schema_version").fetchone()
            out.schema_version = int(row[0]) if row and row[0] else 0
            row = con.execute("SELECT max(finished) FROM loads").fetchone()
            out.last_load = str(row[0]) if row and row[0] else None
            out.runs = con.execute("SELECT run_id, bot, symbol, status, started, ended FROM runs "
                                   "ORDER BY started DESC NULLS LAST, run_id").fetchall()
            out.rows = {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}  # type: ignore[index]
            out.quarantined = con.execute("SELECT reason, count(*) FROM quarantine GROUP BY reason "
                                          "ORDER BY count(*) DESC, reason").fetchall()
            out.quarantined_total = out.rows.get("quarantine", 0)
            offsets = dict(con.execute("SELECT journal, byte_offset FROM journal_offsets").fetchall())
    for path in paths.journals():
        size = path.stat().st_size
        done = offsets.get(path.name, 0)
        live = segments.writer_alive(path)
        if size > done or live:
            out.pending.append(PendingJournal(path.name, max(0, size - done), live))
    return out
