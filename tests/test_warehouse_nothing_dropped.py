"""The warehouse drops nothing silently (issue 10, point 12): a record too long for DuckDB to read is
quarantined with its size while every other record and journal loads; two runs on a venue that reused
order and trade ids keep their own fills and orders; ``perpflow warehouse status`` reports the quarantine."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from core.records import RunEnd, RunInfo
from tests.warehouse_procs import make_fill, make_order
from warehouse.journal import Journal
from warehouse.loader import load
from warehouse.paths import WarehousePaths
from warehouse.query import connect

ROOT = Path(__file__).resolve().parents[1]
DUCKDB_OBJECT_LIMIT = 2 * 16 * 1024 * 1024  # read_json fails past twice its maximum_object_size (16 MB)


def run_journal(paths: WarehousePaths, run_id: str, fills: int, *, ids_of: str | None = None) -> None:
    """A run's journal; ``ids_of``: its venue handed out the ids another run's venue did (a restart)."""
    j = Journal(run_id, paths.journal_dir)
    j.run_started(RunInfo(run_id, "hedge", ("paradex", "grvt"), "SOL", {}, 1_767_571_200.0))
    for i in range(1, fills + 1):
        j.order(make_order(ids_of or run_id, i))
        asyncio.run(j.fill(make_fill(ids_of or run_id, i)))
    j.run_ended(RunEnd(run_id, 1_767_571_300.0, "COMPLETED"))
    j.close_sync()


def _codec_fill(run_id: str, f: object) -> str:
    from warehouse import codec

    return json.dumps(codec.fill(run_id, f))  # type: ignore[arg-type]


def sql(paths: WarehousePaths, query: str) -> list[tuple]:
    with connect(paths.published) as con:
        return con.execute(query).fetchall()


def test_an_oversized_line_is_quarantined_and_everything_else_loads(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    run_journal(paths, "good", 3)
    huge = {"kind": "risk", "run_id": "huge", "seq": 2, "ts": 1.0, "check": "x", "reason": "INTERNAL_ERROR",
            "detail": "x" * (DUCKDB_OBJECT_LIMIT + 1000), "data": {}}
    start = {"kind": "run_start", "run_id": "huge", "seq": 1, "bot": "hedge", "venues": ["paradex"],
             "symbol": "SOL", "params": {}, "started": 1_767_571_200.0}
    end = {"kind": "run_end", "run_id": "huge", "seq": 3, "ended": 1_767_571_201.0, "status": "COMPLETED"}
    (paths.journal_dir / "huge.jsonl").write_text("\n".join(json.dumps(r) for r in (start, huge, end)) + "\n")
    r = load(paths)
    assert r.quarantined == 1 and r.records == 3 + 3 + 2 + 3
    assert sql(paths, "SELECT run_id, status FROM runs ORDER BY run_id") == [("good", "COMPLETED"),
                                                                          ("huge", "COMPLETED")]
    assert sql(paths, "SELECT count(*) FROM fills") == [(3,)]
    [(journal, reason)] = sql(paths, "SELECT journal, reason FROM quarantine")
    assert journal == "huge.jsonl" and reason.startswith(f"record of {len(json.dumps(huge))} bytes")
    run_journal(paths, "later", 2)  # later loads are not stuck on it
    assert load(paths).records == 6 and sql(paths, "SELECT count(*) FROM fills") == [(5,)]


def test_two_runs_on_a_venue_that_reused_ids_keep_their_own_fills_and_orders(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    run_journal(paths, "first", 3)
    load(paths)
    run_journal(paths, "second", 3, ids_of="first")  # the venue restarted and counted from 1 again
    r = load(paths)
    assert r.inserted["fills"] == 3 and r.inserted["orders"] == 3 and r.quarantined == 0
    assert sql(paths, "SELECT run_id, count(*), count(DISTINCT trade_id) FROM fills GROUP BY run_id ORDER BY 1") == [
        ("first", 3, 3), ("second", 3, 3)]
    assert sql(paths, "SELECT run_id, count(*) FROM orders GROUP BY run_id ORDER BY 1") == [
        ("first", 3), ("second", 3)]


def test_warehouse_status_reports_what_was_quarantined_and_why(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    run_journal(paths, "r", 2)
    with open(paths.journal_dir / "r.jsonl", "a") as f:  # the same fill again, another price
        f.write(json.dumps({**json.loads(_codec_fill("r", make_fill("r", 1))), "price": "1.5", "seq": 99}) + "\n")
        f.write("not json\n")
    load(paths)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PERPFLOW_")}, "PERPFLOW_DATA_DIR": str(tmp_path)}
    out = subprocess.run([str(Path(sys.executable).parent / "perpflow"), "warehouse", "status"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "quarantined records: 2" in text
    assert "same fills key (venue, order_id, trade_id, run_id) as a row already loaded, different price" in text
