"""Read the warehouse from Python: pandas DataFrames over the published, read-only snapshot.

Each call opens its own connection and closes it, so it sees the latest published load. It
attaches the file to an in-memory database instead of ``duckdb.connect(path)``: DuckDB caches one
database instance per path and process, so a second ``connect`` while another connection is open
would silently return the old snapshot.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from warehouse.paths import WarehousePaths

QUERIES_SQL = Path(__file__).resolve().parent.parent / "docs" / "queries.sql"
_NAME = re.compile(r"^--\s*name:\s*([a-z0-9_]+)\s*$", re.MULTILINE)


@contextlib.contextmanager
def connect(path: Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the published warehouse (``data/warehouse.duckdb``)."""
    path = path or WarehousePaths.from_settings().published
    if not path.exists():
        raise FileNotFoundError(f"{path}: no warehouse published yet; run `perpflow warehouse load` first")
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{str(path).replace(chr(39), chr(39) * 2)}' AS warehouse (READ_ONLY)")
        con.execute("USE warehouse")
        yield con
    finally:
        con.close()


def df(sql: str, params: list[Any] | None = None, path: Path | None = None) -> pd.DataFrame:
    with connect(path) as con:
        return con.execute(sql, params or []).df()


def runs(path: Path | None = None) -> pd.DataFrame:
    return df("SELECT * FROM runs ORDER BY started, run_id", path=path)


def cycles(run_id: str, path: Path | None = None) -> pd.DataFrame:
    return df("SELECT * FROM cycles WHERE run_id = ? ORDER BY cycle_no", [run_id], path=path)


def fills(run_id: str, path: Path | None = None) -> pd.DataFrame:
    return df("SELECT * FROM fills WHERE run_id = ? ORDER BY ts, seq", [run_id], path=path)


def named_queries(source: Path = QUERIES_SQL) -> dict[str, str]:
    """The cookbook (docs/queries.sql) as {name: sql}, in file order."""
    text = source.read_text()
    marks = list(_NAME.finditer(text))
    out = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        out[m.group(1)] = text[m.end():end].strip().rstrip(";").strip()
    return out


def named_query(name: str, path: Path | None = None) -> pd.DataFrame:
    queries = named_queries()
    if name not in queries:
        raise KeyError(f"query: {name!r} is not in {QUERIES_SQL.name}; allowed: {', '.join(queries)}")
    return df(queries[name], path=path)
