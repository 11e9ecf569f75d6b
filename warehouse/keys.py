"""``key_hash``: a 64-bit hash of each row's natural key, so the loader's duplicate checks read 8 bytes a row.

Deduplicating on natural keys means comparing every new row with every loaded one. Comparing the
key columns themselves (two or three strings) would scan every loaded row's strings on every load;
so each keyed table keeps ``key_hash`` (DuckDB ``hash()`` of the key) and the loader looks for equal
hashes first, comparing real keys only among rows whose hashes met. A hash collision costs one more
comparison, never a row.

``hash()`` is DuckDB's own, not a standard: an upgrade could change it. The master keeps the hash
of a fixed canary; when the running DuckDB hashes the canary differently, every ``key_hash`` is
recomputed before loading. Rows without one (inserted by hand into the master) get one the same way.
"""

from __future__ import annotations

import logging

import duckdb

from warehouse.project import TABLES

log = logging.getLogger(__name__)

CANARY = "CAST(hash('perpflow', 42::BIGINT, TIMESTAMP '2026-01-05 12:00:00') AS VARCHAR)"
CANARY_NAME = "key_hash_canary"


def backfill_statements(names: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """A migration's statements: add ``key_hash`` and ``load_id`` to the keyed tables ``names`` (all
    by default; a migration names the tables that exist at its version), fill them in."""
    out: list[str] = []
    for t in TABLES.values():
        if names is not None and t.name not in names:
            continue
        # both columns before the update: DuckDB refuses to commit ALTER, UPDATE, ALTER of one table
        out += [f"ALTER TABLE {t.name} ADD COLUMN key_hash UBIGINT",
                f"ALTER TABLE {t.name} ADD COLUMN load_id BIGINT",
                f"UPDATE {t.name} SET key_hash = {t.key_hash(t.name)}, load_id = 0"]
    out += ["CREATE TABLE loader_meta (name VARCHAR NOT NULL, value VARCHAR)",
            f"INSERT INTO loader_meta VALUES ('{CANARY_NAME}', {CANARY})"]
    return tuple(out)


def refresh(con: duckdb.DuckDBPyConnection) -> int:
    """Make every ``key_hash`` what this DuckDB computes (run in the load's transaction); rows fixed."""
    row = con.execute(f"SELECT value = {CANARY} FROM loader_meta WHERE name = '{CANARY_NAME}'").fetchone()
    stale = not (row and row[0])
    if stale:
        log.warning("DuckDB hashes differently from when key hashes were written: recomputing every key_hash")
        con.execute(f"DELETE FROM loader_meta WHERE name = '{CANARY_NAME}'")
        con.execute(f"INSERT INTO loader_meta VALUES ('{CANARY_NAME}', {CANARY})")
    fixed = 0
    for t in TABLES.values():
        where = "" if stale else " WHERE key_hash IS NULL"
        con.execute(f"UPDATE {t.name} SET key_hash = {t.key_hash(t.name)}{where}")
        row = con.fetchone()
        fixed += int(row[0]) if row and row[0] else 0
    if fixed and not stale:
        log.warning("%d row(s) had no key_hash (written into the master by hand?): hashed", fixed)
    return fixed
