"""What a load's new journal lines hold, before anything is typed: one cheap pass over them.

The census reads only ``kind`` and ``seq`` of every new line (DuckDB ``read_json`` with two
columns: it still parses each line, but types and keeps nothing else), and so tells the loader

- which record kinds each journal has, so it reads each kind's fields only from the files that
  have it, and not at all when no journal has it;
- how many records of each kind each journal has: the fast path inserts only records that keep
  the contract, so a count that comes up short names a journal with a bad record;
- journals with a line that is no JSON object, or has no known kind: those are typed line by
  line (``reread.py``) to keep each bad line's text and offset for the quarantine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from warehouse.contract import KINDS


def sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


@dataclass(slots=True)
class Census:
    files: dict[str, Path]  # journal -> copy of its new complete lines
    counts: dict[str, dict[str | None, int]] = field(default_factory=dict)  # journal -> kind -> records
    last_seq: dict[str, int | None] = field(default_factory=dict)  # journal -> highest seq read

    def unreadable(self) -> set[str]:
        """Journals with a record that has no kind the contract knows (or is no JSON object at all)."""
        return {j for j, kinds in self.counts.items() if any(k not in KINDS for k in kinds)}

    def records(self, journal: str) -> int:
        return sum(self.counts.get(journal, {}).values())

    def with_kinds(self, kinds: tuple[str, ...], skip: set[str]) -> list[str]:
        """Journals (not in ``skip``) that have records of any of ``kinds``."""
        return [j for j, ks in self.counts.items() if j not in skip and any(k in ks for k in kinds)]

    def expected(self, kinds: tuple[str, ...], journals: list[str]) -> int:
        return sum(n for j in journals for k, n in self.counts[j].items() if k in kinds)


OVERSIZED = None  # the census's kind for a journal DuckDB cannot read at all: it goes line by line


def take(con: duckdb.DuckDBPyConnection, files: dict[str, Path]) -> Census:
    """Count records per journal and kind, and the last seq of each journal, in one pass.

    A line longer than DuckDB reads as one JSON object (``maximum_object_size``) fails the whole
    ``read_json``: such a journal is left out of the pass and marked unreadable, so it is typed line
    by line (``reread.py``, which quarantines the long line with its size) and every other journal
    still loads the fast way."""
    census = Census(files)
    readable = dict(files)
    while readable:
        try:
            rows = _count(con, readable)
            break
        except duckdb.InvalidInputException as exc:
            journal = _unreadable_journal(str(exc), readable)
            if journal is None:
                raise
            census.counts[journal] = {OVERSIZED: 1}
            del readable[journal]
    else:
        return census
    for journal, kind, n, seq in rows:
        census.counts.setdefault(journal, {})[kind] = int(n)
        if seq is not None:
            census.last_seq[journal] = max(int(seq), census.last_seq.get(journal) or 0)
    return census


def _count(con: duckdb.DuckDBPyConnection, files: dict[str, Path]) -> list[tuple]:
    return con.execute(f"""
        SELECT parse_filename(filename) AS journal, kind, count(*), max(seq)
        FROM read_json({sql_list(list(files.values()))}, format='newline_delimited',
                       columns={{'kind': 'VARCHAR', 'seq': 'BIGINT'}}, ignore_errors=true, filename=true)
        GROUP BY ALL""").fetchall()


def _unreadable_journal(message: str, files: dict[str, Path]) -> str | None:
    """The journal a ``maximum_object_size`` error names, if any of ``files``."""
    if "maximum_object_size" not in message:
        return None
    for journal, path in files.items():
        if f'"{path}"' in message:
            return journal
    return None
