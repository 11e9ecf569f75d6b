"""The loader's fast path and its fall-backs: bad values among well-formed lines, duplicates found by key
hash, upserts across loads, a DuckDB that hashes differently, a journal written while read in place."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from core.reasons import Reason
from core.records import CycleRecord, RiskEvent, RunEnd, RunInfo
from core.types import OrderStatus
from tests.warehouse_procs import make_fill, make_order
from warehouse import codec
from warehouse.journal import Journal
from warehouse.loader import load
from warehouse.paths import WarehousePaths

ROOT = Path(__file__).resolve().parent.parent


def rows(paths: WarehousePaths, sql: str) -> list[tuple]:
    con = duckdb.connect(str(paths.published), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def lines(*records: dict) -> str:
    out = []
    for seq, rec in enumerate(records, 1):
        out.append(json.dumps({**rec, "seq": rec.get("seq", seq)}))
    return "\n".join(out) + "\n"


def fill(run: str, i: int, **change: object) -> dict:
    return {**codec.fill(run, make_fill(run, i)), **change}


def order(run: str, i: int, **change: object) -> dict:
    return {**codec.order(run, make_order(run, i)), **change}


def cycle(run_id: str, n: int, status: str) -> dict:
    d = Decimal
    return codec.cycle(CycleRecord(run_id, "hedge", n, 1, "open", "long", "paradex", "grvt", "SOL", d("0.1"), d("150"),
                                   d("150.1"), d("6.6"), d("0.001"), d("0.002"), d("0.01"), d("0.007"), d(0), 12.5,
                                   status, 1_767_571_200.0, 1_767_571_201.0))


def test_a_bad_value_in_a_well_formed_line_sends_only_its_journal_to_the_slow_path(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    paths.ensure()
    start = codec.run_start(RunInfo("mixed", "hedge", ("paradex", "grvt"), "SOL", {}, 1.0), {})
    (paths.journal_dir / "mixed.jsonl").write_text(lines(
        start, fill("mixed", 1), fill("mixed", 2, price="abc"), fill("mixed", 3),
        order("mixed", 1), order("mixed", 2, post_only="maybe"), cycle("mixed", 1, "recovered"),
        cycle("mixed", 2, "fills_missing"), codec.run_end(RunEnd("mixed", 2.0, "COMPLETED"))))
    (paths.journal_dir / "clean.jsonl").write_text(lines(*(fill("clean", i) for i in range(50))))
    r = load(paths)
    assert r.slow == 1  # only the journal with bad values was read line by line
    assert r.quarantined == 2 and r.records == 9 + 50
    got = rows(paths, "SELECT journal, kind, reason FROM quarantine ORDER BY line_offset")
    assert [(j, k) for j, k, _ in got] == [("mixed.jsonl", "fill"), ("mixed.jsonl", "order")]
    assert "fill.price: missing, null or not a decimal" in got[0][2]
    assert "order.post_only" in got[1][2]
    assert rows(paths, "SELECT run_id, count(*) FROM fills GROUP BY ALL ORDER BY ALL") == [("clean", 50), ("mixed", 2)]
    assert rows(paths, "SELECT order_id FROM orders") == [("mixed-o1",)]
    assert rows(paths, "SELECT status FROM cycles ORDER BY cycle_no") == [("recovered",), ("fills_missing",)]
    assert rows(paths, "SELECT bot FROM fills WHERE run_id = 'mixed' LIMIT 1") == [("hedge",)]
    assert rows(paths, "SELECT journal, last_seq, records FROM journal_offsets ORDER BY journal") == [
        ("clean.jsonl", 50, 50), ("mixed.jsonl", 9, 9)]
    assert load(paths).records == 0 and rows(paths, "SELECT count(*) FROM quarantine") == [(2,)]


def test_duplicates_in_a_load_and_across_loads_keep_the_first_row(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    paths.ensure()
    senti = {"kind": "sentiment", "run_id": "a", "source": "fng", "metric": "index", "symbol": None, "value": 40.0,
             "ts": 1_767_571_200.0, "age_s": 1.0, "stale": False}
    (paths.journal_dir / "a.jsonl").write_text(lines(
        fill("a", 1), fill("a", 2), fill("a", 2), fill("a", 2, price="1.5"), senti))
    r = load(paths)
    assert r.inserted["fills"] == 2 and r.inserted["sentiment"] == 1
    assert rows(paths, "SELECT trade_id, price FROM fills ORDER BY trade_id") == [
        ("a-t1", Decimal("3000.02")), ("a-t2", Decimal("3000.03"))]  # the first of the t2 lines
    # the same fill twice is dropped; the same key with another price is a fault: quarantined, not dropped
    assert r.quarantined == 1
    [(offset, kind, reason, raw)] = rows(paths, "SELECT line_offset, kind, reason, raw FROM quarantine")
    assert (offset, kind) == (-4, "fill") and reason.startswith("same fills key (venue, order_id, trade_id, run_id)")
    assert reason.endswith("different price, notional") and json.loads(raw)["kept_from"] == "a.jsonl seq 2"
    (paths.journal_dir / "b.jsonl").write_text(lines(
        fill("a", 2, price="2.5", run_id="b"), fill("b", 3), {**senti, "run_id": "b"}))
    r = load(paths)
    # run b's fill of a reused trade id is b's own (a restarted venue reuses ids); one observation
    # recorded by two runs is one row (a NULL symbol is still a key)
    assert r.inserted["fills"] == 2 and r.inserted["sentiment"] == 0 and r.quarantined == 0
    assert rows(paths, "SELECT trade_id, price, run_id FROM fills ORDER BY trade_id, run_id") == [
        ("a-t1", Decimal("3000.02"), "a"), ("a-t2", Decimal("3000.03"), "a"), ("a-t2", Decimal("2.5"), "b"),
        ("b-t3", Decimal("3000.04"), "b")]
    assert rows(paths, "SELECT value FROM sentiment") == [(40.0,)]
    (paths.journal_dir / "c.jsonl").write_text(lines({**senti, "value": 41.0, "run_id": "c"}))
    r = load(paths)  # the same observation key with another value: quarantined with the reason
    assert r.inserted["sentiment"] == 0 and r.quarantined == 1
    assert rows(paths, "SELECT reason FROM quarantine WHERE journal = 'c.jsonl'") == [
        ("same sentiment key (source, metric, symbol, ts) as a row already loaded, different value",)]


def test_an_order_keeps_its_latest_state_across_loads(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    j = Journal("ord", paths.journal_dir)
    o = make_order("ord", 1)
    j.order(o)
    j.order(make_order("ord", 2))
    j.flush_sync()
    assert load(paths).inserted["orders"] == 2
    j.order(o.evolve(status=OrderStatus.FILLED, filled=o.size, avg_price=o.price, ts=o.ts + 5))
    j.close_sync()
    r = load(paths)
    assert r.inserted["orders"] == 1 and r.inserted["order_events"] == 1
    assert rows(paths, "SELECT order_id, status, filled FROM orders ORDER BY order_id") == [
        ("ord-o1", "FILLED", Decimal("0.052")), ("ord-o2", "OPEN", Decimal(0))]
    assert rows(paths, "SELECT count(*) FROM order_events") == [(3,)]
    # an older state of the order, recorded elsewhere later, does not overwrite the newer one
    (paths.journal_dir / "replay.jsonl").write_text(lines(order("ord", 1)))
    assert load(paths).inserted["orders"] == 0
    assert rows(paths, "SELECT status, load_id FROM orders WHERE order_id = 'ord-o1'") == [("FILLED", 2)]


def test_key_hashes_are_recomputed_when_duckdb_hashes_differently(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    paths = WarehousePaths(tmp_path)
    paths.ensure()
    (paths.journal_dir / "h.jsonl").write_text(lines(*(fill("h", i) for i in range(20))))
    load(paths)
    con = duckdb.connect(str(paths.master))  # as if written by a DuckDB whose hash() differs
    con.execute("UPDATE loader_meta SET value = 'another hash' WHERE name = 'key_hash_canary'")
    con.execute("UPDATE fills SET key_hash = xor(key_hash, 1)")
    con.close()
    (paths.journal_dir / "h.jsonl").rename(paths.journal_dir / "h-copy.jsonl")
    with caplog.at_level(logging.WARNING):
        r = load(paths)
    assert "recomputing every key_hash" in caplog.text
    assert r.records == 20 and r.inserted["fills"] == 0  # the same fills: recognised, not doubled
    assert rows(paths, "SELECT count(*) FROM fills WHERE key_hash = hash(venue, order_id, trade_id, run_id)") == [(20,)]


def test_a_journal_written_while_read_in_place_is_loaded_again_from_a_copy(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    paths = WarehousePaths(tmp_path)
    paths.ensure()
    load(paths)  # the master exists and is migrated: the load below reads while the appender still writes
    path = paths.journal_dir / "appended.jsonl"
    first = 20_000
    path.write_text(lines(*(fill("appended", i) for i in range(first))))
    size = path.stat().st_size
    more = 2000
    proc = subprocess.Popen([sys.executable, "-m", "tests.warehouse_procs", "appender", str(path), str(first),
                             str(more)], cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        while path.stat().st_size == size:
            time.sleep(0.005)  # the appender has started
        with caplog.at_level(logging.INFO):
            loads = [load(paths)]
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:
        proc.kill()
    assert "changed while being read: loading again from a copy" in caplog.text
    loads.append(load(paths))
    assert sum(r.records for r in loads) == first + more
    assert rows(paths, "SELECT count(*), count(DISTINCT trade_id) FROM fills") == [(first + more, first + more)]
    assert rows(paths, "SELECT count(*) FROM quarantine") == [(0,)]
    assert rows(paths, "SELECT byte_offset FROM journal_offsets") == [(path.stat().st_size,)]


def test_risk_events_and_their_reasons_load(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    j = Journal("risky", paths.journal_dir)
    j.risk_event(RiskEvent("risky", 1_767_571_200.0, "net_delta", Reason.NET_DELTA_TOLERANCE, "ACTIVE", "REDUCING",
                           "net delta 0.02", {"net": "0.02"}))
    j.close_sync()
    load(paths)
    assert rows(paths, "SELECT check_name, reason, state_to FROM risk_events") == [
        ("net_delta", str(Reason.NET_DELTA_TOLERANCE), "REDUCING")]


def test_a_big_load_keeps_its_row_groups_and_small_loads_are_merged(tmp_path: Path) -> None:
    """A big load's checkpoint does not rewrite the row groups it just wrote; small loads still merge
    into few row groups, and every row is kept either way."""
    from warehouse.loader import VACUUM_BELOW

    paths = WarehousePaths(tmp_path)
    paths.ensure()
    big = VACUUM_BELOW + 1000
    with duckdb.connect() as con:
        con.execute(f"""COPY (SELECT 'fill' AS kind, 'big' AS run_id, i + 1 AS seq, 'paradex' AS venue,
            'o' || i AS order_id, 't' || i AS trade_id, 'ETH' AS symbol, 'BUY' AS side, '3000' AS price,
            '0.05' AS size, '0' AS fee, 'MAKER' AS liquidity, 1767571200 + i AS ts FROM range({big}) t(i))
            TO '{paths.journal_dir / 'big.jsonl'}' (FORMAT json)""")
    assert load(paths).inserted["fills"] == big
    for n in range(3):
        (paths.journal_dir / f"small-{n}.jsonl").write_text(lines(*(fill(f"small-{n}", i) for i in range(200))))
        assert load(paths).inserted["fills"] == 200
    assert rows(paths, "SELECT count(*), count(DISTINCT trade_id) FROM fills") == [(big + 600, big + 600)]
    groups = dict(rows(paths, "SELECT 'rg', count(DISTINCT row_group_id) FROM pragma_storage_info('fills')"))["rg"]
    # the big load filled 2 row groups; each small load would have added one more without merging
    assert groups <= 2


def test_views_are_created_once_and_again_when_missing_or_moved(tmp_path: Path) -> None:
    from warehouse.schema import migrate
    from warehouse.views import ensure_views

    with duckdb.connect() as con:
        migrate(con)
        assert ensure_views(con, WarehousePaths(tmp_path / "a")) is True
        assert ensure_views(con, WarehousePaths(tmp_path / "a")) is False  # the same views: nothing to do
        assert ensure_views(con, WarehousePaths(tmp_path / "b")) is True  # journals elsewhere: new SQL
        con.execute("DROP VIEW journal_records CASCADE")
        assert ensure_views(con, WarehousePaths(tmp_path / "b")) is True
        assert con.execute("SELECT count(*) FROM live_fills").fetchone() == (0,)
