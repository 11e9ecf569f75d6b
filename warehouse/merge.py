"""How a batch of typed records becomes rows, without duplicating a natural key (schema.py lists them).

- Insert-only tables (a later record of a key is a duplicate): the batch is inserted as it comes,
  then its rows are checked for a key that was already loaded or that the batch holds twice, by
  ``key_hash`` first (an 8-byte column, ``keys.py``) and real keys only for rows whose hashes met.
  The common load - nothing seen before - so costs one pass over 8 bytes a row, with no sort,
  no anti-join on strings and no second pass over the journals; a load that does meet its keys
  again deletes its own extra rows (the first loaded wins, then the first by journal and seq).
- Upsert tables (the row holds the latest state of its key, by the table's ``order``): the batch
  is reduced to the newest record per key; loaded rows sharing a key hash are read, replaced when
  older, and new keys inserted.
- ``runs``: one row per run merged from its run_start and run_end records.
"""

from __future__ import annotations

import duckdb

from warehouse.project import RUNS_SELECT, Table, newest_first


def _count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _same_key(table: Table, a: str, b: str) -> str:
    return " AND ".join(f"{a}.{k} IS NOT DISTINCT FROM {b}.{k}" for k in table.key)


def _newer(table: Table, n: str, x: str) -> str:
    """``n`` is newer than ``x`` by the table's order columns (lexicographic); never NULL."""
    cols = [c.strip() for c in table.order.split(",")]
    terms = []
    for i, c in enumerate(cols):
        same = [f"{n}.{p} = {x}.{p}" for p in cols[:i]]
        terms.append("(" + " AND ".join([*same, f"{n}.{c} > {x}.{c}"]) + ")")
    return "coalesce(" + " OR ".join(terms) + ", false)"


def rows_sql(table: Table, src: str, load_id: int) -> str:
    """The table's rows from the typed records ``src``, with their ``key_hash`` and ``load_id``."""
    return (f"SELECT p.*, {table.key_hash('p')} AS key_hash, {int(load_id)}::BIGINT AS load_id "
            f"FROM ({table.sql(src)}) p")


def insert(con: duckdb.DuckDBPyConnection, table: Table, src: str, load_id: int) -> int:
    """Insert every row of ``src`` (duplicates included: ``drop_duplicates`` follows); rows inserted."""
    con.execute(f"INSERT INTO {table.name} BY NAME {rows_sql(table, src, load_id)}")
    return _count(con)


def drop_duplicates(con: duckdb.DuckDBPyConnection, table: Table, load_id: int) -> int:
    """Delete this load's rows whose key was loaded before or came earlier in the load; rows deleted."""
    new = f"SELECT key_hash FROM {table.name} WHERE load_id = {int(load_id)}"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE suspects AS
        SELECT key_hash FROM {table.name} WHERE load_id = {int(load_id)} GROUP BY key_hash HAVING count(*) > 1
        UNION
        SELECT key_hash FROM {table.name} WHERE load_id IS DISTINCT FROM {int(load_id)} AND key_hash IN ({new})""")
    if not _count(con.execute("SELECT count(*) FROM suspects")):
        return 0
    keys = ", ".join(table.key)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE dup_ranked AS
        SELECT rowid AS rid, t.*, row_number() OVER (
            PARTITION BY {keys} ORDER BY load_id IS NOT DISTINCT FROM {int(load_id)}, journal, seq) AS rn
        FROM {table.name} t WHERE key_hash IN (SELECT key_hash FROM suspects)""")
    quarantine_conflicts(con, table, load_id)
    con.execute(f"""
        DELETE FROM {table.name} WHERE rowid IN (
            SELECT rid FROM dup_ranked WHERE rn > 1 AND load_id IS NOT DISTINCT FROM {int(load_id)})""")
    return _count(con)


# Columns that say where a row came from, not what it says: two records differing only there are
# the same record recorded twice (a replayed journal, a fill from both the stream and the history).
BOOKKEEPING = {"journal", "seq", "load_id", "key_hash", "bot", "run_id", "rid", "rn"}


def quarantine_conflicts(con: duckdb.DuckDBPyConnection, table: Table, load_id: int) -> int:
    """Quarantine this load's duplicates (``dup_ranked`` rows after the first of their key) whose content
    differs from the row kept: a key seen twice with two stories is a fault to look at, not a duplicate
    to drop. ``line_offset`` is minus the record's seq (the byte offset is not known here)."""
    cols = [r[0] for r in con.execute(f"SELECT * FROM {table.name} LIMIT 0").description]
    content = [c for c in cols if c not in BOOKKEEPING and c not in table.key]
    differs = ", ".join(f"CASE WHEN d.\"{c}\" IS DISTINCT FROM k.\"{c}\" THEN '{c}' END" for c in content)
    same_key = " AND ".join(f"d.{k} IS NOT DISTINCT FROM k.{k}" for k in table.key)
    fields = ", ".join(f"'{c}', d.\"{c}\"" for c in cols if c not in {"rid", "rn", "key_hash", "load_id"})
    con.execute(f"""
        INSERT INTO quarantine (journal, line_offset, run_id, kind, reason, raw, quarantined_at, load_id)
        SELECT d.journal, -d.seq, d.run_id, '{table.kind}',
               'same {table.name} key ({", ".join(table.key)}) as a row already loaded, different '
                 || array_to_string(list_filter([{differs}], x -> x IS NOT NULL), ', '),
               CAST(json_object({fields}, 'kept_from', k.journal || ' seq ' || CAST(k.seq AS VARCHAR)) AS VARCHAR),
               now()::TIMESTAMP, {int(load_id)}
        FROM dup_ranked d JOIN dup_ranked k ON {same_key} AND k.rn = 1
        WHERE d.rn > 1 AND d.load_id IS NOT DISTINCT FROM {int(load_id)}
          AND len(list_filter([{differs}], x -> x IS NOT NULL)) > 0
          AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.journal = d.journal AND q.line_offset = -d.seq)""")
    return _count(con)


def upsert(con: duckdb.DuckDBPyConnection, table: Table, src: str, load_id: int) -> int:
    """Keep the newest row per key from ``src`` and the table; rows inserted or replaced."""
    keys = ", ".join(table.key)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE latest AS {rows_sql(table, src, load_id)}
        QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {newest_first(table)}) = 1""")
    con.execute(f"SELECT count(*) FROM {table.name} WHERE key_hash IN (SELECT key_hash FROM latest)")
    if not _count(con):
        con.execute(f"INSERT INTO {table.name} BY NAME SELECT * FROM latest")
        return _count(con)
    order = ", ".join(f"x.{c.strip()}" for c in table.order.split(","))
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE loaded AS
        SELECT x.rowid AS rid, {', '.join('x.' + k for k in table.key)}, {order}
        FROM {table.name} x WHERE x.key_hash IN (SELECT key_hash FROM latest)""")
    con.execute(f"""
        DELETE FROM {table.name} WHERE rowid IN (
            SELECT o.rid FROM loaded o JOIN latest n ON {_same_key(table, 'n', 'o')}
            WHERE {_newer(table, 'n', 'o')})""")
    con.execute(f"""
        INSERT INTO {table.name} BY NAME SELECT n.* FROM latest n
        WHERE NOT EXISTS (SELECT 1 FROM loaded o WHERE {_same_key(table, 'n', 'o')}
                          AND NOT {_newer(table, 'n', 'o')})""")
    return _count(con)


def merge_runs(con: duckdb.DuckDBPyConnection, src: str) -> int:
    """Runs from run_start/run_end records: start fields fill in, the latest end wins; rows written."""
    select = RUNS_SELECT.format(src=src)
    names = [d[0] for d in con.execute(f"SELECT * FROM ({select}) LIMIT 0").description]
    con.execute(f"""
        MERGE INTO runs x USING ({select}) n ON x.run_id = n.run_id
        WHEN MATCHED THEN UPDATE SET
            bot = coalesce(n.bot, x.bot), flow_run_id = coalesce(n.flow_run_id, x.flow_run_id),
            venues = coalesce(n.venues, x.venues), symbol = coalesce(n.symbol, x.symbol),
            params = coalesce(n.params, x.params), started = coalesce(n.started, x.started),
            ended = coalesce(n.ended, x.ended),
            status = CASE WHEN n.status IS NOT NULL THEN n.status ELSE x.status END,
            reason = CASE WHEN n.status IS NOT NULL THEN n.reason ELSE x.reason END,
            mode = coalesce(n.mode, x.mode), clock = coalesce(n.clock, x.clock)
        WHEN NOT MATCHED THEN INSERT ({', '.join(names)}) VALUES
            ({', '.join('coalesce(n.status, ' + repr('RUNNING') + ')' if c == 'status' else 'n.' + c
                        for c in names)})""")
    return _count(con)
