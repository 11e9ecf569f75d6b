"""One load's records into the tables, inside the loader's transaction.

DuckDB parses every line of a file in every ``read_json`` over it, whichever fields it keeps, and
each field it keeps costs time too. So records are read in a few passes over the copies of the new
lines (``validate.kind_select``, typed and validated in SQL), chosen from the census:

- a kind that makes up a large share of the lines gets a pass of its own with only its fields;
  when its rows go to one insert-only table (fills, say) they stream from the file into the
  table with nothing materialised on the way;
- the other kinds share one pass, materialised in a temp table (as is a kind that feeds an
  upsert or two tables), which their tables then read.

A journal whose records do not all keep the contract is found by the census (a line with no
known kind), by a ``NOT ok`` row in a temp table, or by a direct pass inserting fewer rows than
the census counted; ``BadJournals`` then asks the loader to roll back and load it line by line
(``reread.py``). Duplicates are dropped by key hash afterwards (``merge.py``).
"""

from __future__ import annotations

import duckdb

from warehouse import merge, reread
from warehouse.census import Census, sql_list
from warehouse.contract import KINDS
from warehouse.project import TABLES, Table
from warehouse.validate import kind_fields, kind_select, kind_struct

RUN_KINDS = ("run_start", "run_end")
MAJOR_SHARE = 0.2  # a kind with at least this share of the lines is read in a pass of its own
# Kinds whose records go straight from the file into their only table.
DIRECT = tuple(k for k in {t.kind for t in TABLES.values()}
               if [t.upsert for t in TABLES.values() if t.kind == k] == [False])


class BadJournals(Exception):
    """These journals hold records that break the contract: load them through ``reread``."""

    def __init__(self, journals: set[str]) -> None:
        super().__init__(", ".join(sorted(journals)))
        self.journals = journals


def passes(census: Census, slow: set[str]) -> list[tuple[str, ...]]:
    """Kinds read together: the rest (every kind not major, the run kinds first), then each major kind."""
    totals: dict[str | None, int] = {}
    for journal, kinds in census.counts.items():
        if journal not in slow:
            for kind, n in kinds.items():
                totals[kind] = totals.get(kind, 0) + n
    lines = sum(totals.values())
    major = sorted(k for k, n in totals.items() if k in KINDS and k not in RUN_KINDS and n >= MAJOR_SHARE * lines)
    return [RUN_KINDS + tuple(k for k in KINDS if k not in RUN_KINDS and k not in major)] + [(k,) for k in major]


def _fast(census: Census, kinds: tuple[str, ...], slow: set[str]) -> tuple[str, list[str]] | None:
    """Typed records of ``kinds`` (with ``ok`` and ``journal``) from the fast journals' files that
    have any; only the fields of kinds they have are read."""
    fast = census.with_kinds(kinds, slow)
    if not fast:
        return None
    present = tuple(k for k in kinds if any(k in census.counts[j] for j in fast))
    src = (f"read_json({sql_list([census.files[j] for j in fast])}, format='newline_delimited', "
           f"columns={kind_struct(present)}, ignore_errors=true, filename=true)")
    return kind_select(src, present, ", parse_filename(s.filename) AS journal"), fast


def _slow(kinds: tuple[str, ...]) -> str:
    """The good records of ``kinds`` among the journals loaded line by line (all ``ok``)."""
    names = ", ".join(f'"{n}"' for n in kind_fields(kinds))
    where = ", ".join(f"'{k}'" for k in kinds)
    return f"SELECT {names}, true AS ok, journal FROM {reread.TABLE} WHERE problem IS NULL AND kind IN ({where})"


def _stage(con: duckdb.DuckDBPyConnection, n: int, kinds: tuple[str, ...], census: Census, slow: set[str]) -> str:
    """Materialise a pass in a temp table; ``BadJournals`` if a fast journal's record is not ok."""
    name = f"stage_{n}"
    parts = [_slow(kinds)]
    found = _fast(census, kinds, slow)
    if found:
        parts.insert(0, found[0])
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS " + " UNION ALL BY NAME ".join(parts))
    bad = {j for (j,) in con.execute(f"SELECT DISTINCT journal FROM {name} WHERE NOT ok").fetchall()}
    if bad:
        raise BadJournals(bad)  # slow-path records are all ok: these are fast journals
    return name


def _direct(con: duckdb.DuckDBPyConnection, table: Table, census: Census, slow: set[str], load_id: int) -> int:
    """Stream a kind's records from the files into its insert-only table; rows inserted."""
    kinds = (table.kind,)
    found = _fast(census, kinds, slow)
    src = f"(SELECT * FROM ({found[0]} UNION ALL BY NAME {_slow(kinds)}) WHERE ok)" if found else \
        f"({_slow(kinds)})"
    n = merge.insert(con, table, src, load_id)
    if found and n != census.expected(kinds, found[1]) + _slow_count(con, table.kind, slow):
        got = dict(con.execute(f"SELECT journal, count(*) FROM {table.name} WHERE load_id = {int(load_id)} "
                               "GROUP BY journal").fetchall())
        raise BadJournals({j for j in found[1] if got.get(j, 0) != census.expected(kinds, [j])})
    return n


def _slow_count(con: duckdb.DuckDBPyConnection, kind: str, slow: set[str]) -> int:
    if not slow:
        return 0
    row = con.execute(f"SELECT count(*) FROM {reread.TABLE} WHERE problem IS NULL AND kind = ?", [kind]).fetchone()
    return int(row[0]) if row else 0


def ingest(con: duckdb.DuckDBPyConnection, census: Census, slow: set[str], load_id: int) -> dict[str, int]:
    """Write every good record of the load; new or changed rows per table. Call inside the
    transaction, after ``reread.create`` typed the slow journals."""
    source: dict[str, str] = {}  # kind -> temp table holding its records
    for n, kinds in enumerate(passes(census, slow)):
        if not (len(kinds) == 1 and kinds[0] in DIRECT):
            name = _stage(con, n, kinds, census, slow)
            source.update(dict.fromkeys(kinds, name))
    inserted = {"runs": merge.merge_runs(con, f"(SELECT * FROM {source['run_start']} WHERE ok)")}
    for table in TABLES.values():
        if table.kind in source:
            src = f"(SELECT * FROM {source[table.kind]} WHERE ok AND kind = '{table.kind}')"
            if table.upsert:
                inserted[table.name] = merge.upsert(con, table, src, load_id)
                continue
            rows = merge.insert(con, table, src, load_id)
        else:
            rows = _direct(con, table, census, slow, load_id)
        inserted[table.name] = rows - merge.drop_duplicates(con, table, load_id) if rows else 0
    return inserted
