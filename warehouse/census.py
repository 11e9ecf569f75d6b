"""What a load's new journal lines hold, before anything else is read: one pass over them.

The census reads ``kind`` and ``seq`` of every new line, and every field of the run records
(DuckDB ``read_json`` still parses each whole line, but keeps only those), and so tells the loader

- which record kinds each journal has, so it reads each kind's fields only from the files that
  have it, and not at all when no journal has it;
- how many records of each kind each journal has: the fast path inserts only records that keep
  the contract, so a count that comes up short names a journal with a bad record;
- journals with a line that is no JSON object, or has no known kind: those are typed line by
  line (``reread.py``) to keep each bad line's text and offset for the quarantine.

A run has one run_start and one run_end among thousands of records: the census keeps their raw
fields (temp table ``census``, column ``runs``) and ``run_records`` types just those, which spares
a whole pass over the lines to find them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from warehouse.contract import KINDS
from warehouse.validate import kind_fields, kind_select, kind_struct

RUN_KINDS = ("run_start", "run_end")
TABLE = "census"


def sql_list(items: list) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in items) + "]"


@dataclass(slots=True)
class Census:
    files: dict[str, Path]  # journal -> file holding its new complete lines
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

    def run_records(self, journals: list[str]) -> str:
        """The typed run records (with ``ok`` and ``journal``) of ``journals``, as kept by the census."""
        raw = (f"(SELECT journal, unnest(runs, recursive := true) FROM {TABLE} "
               f"WHERE journal IN (SELECT unnest({sql_list(journals)})) AND runs IS NOT NULL)")
        return kind_select(raw, RUN_KINDS, ", s.journal")


def take(con: duckdb.DuckDBPyConnection, files: dict[str, Path]) -> Census:
    """Count records per journal and kind, the last seq of each journal, and keep the run records."""
    census = Census(files)
    if not files:
        return census
    # Raw (untyped) run fields are packed only for run rows: typing every line here would cost more
    # than the census itself; ``run_records`` types the few kept ones.
    pack = ", ".join(f'"{n}" := "{n}"' for n in kind_fields(RUN_KINDS))
    kinds = ", ".join(f"'{k}'" for k in RUN_KINDS)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {TABLE} AS
        SELECT parse_filename(filename) AS journal, kind, n, last_seq, runs FROM (
            SELECT filename, kind, count(*) AS n, max(seq) AS last_seq,
                   list(struct_pack({pack})) FILTER (WHERE kind IN ({kinds})) AS runs
            FROM read_json({sql_list(list(files.values()))}, format='newline_delimited',
                           columns={kind_struct(RUN_KINDS)}, ignore_errors=true, filename=true)
            GROUP BY ALL)""")
    for journal, kind, n, seq in con.execute(f"SELECT journal, kind, n, last_seq FROM {TABLE}").fetchall():
        census.counts.setdefault(journal, {})[kind] = int(n)
        if seq is not None:
            census.last_seq[journal] = max(int(seq), census.last_seq.get(journal) or 0)
    return census
