"""Journal and loader behaviour on real files and a real DuckDB warehouse."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from pydantic import SecretStr

from core.records import RunInfo
from tests.hedge_run import record_hedge_run
from tests.warehouse_procs import make_fill, make_order
from warehouse import codec
from warehouse.journal import Journal, JournalError
from warehouse.loader import LoaderBusy, load, loader_lock
from warehouse.paths import WarehousePaths
from warehouse.schema import LATEST, migrate


def rows(paths: WarehousePaths, sql: str) -> list[tuple]:
    con = duckdb.connect(str(paths.published), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def count(paths: WarehousePaths, table: str) -> int:
    return rows(paths, f"SELECT count(*) FROM {table}")[0][0]


def test_a_hedge_run_loads_exactly_what_was_recorded_and_twice_changes_nothing(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    run = record_hedge_run(paths.journal_dir)
    load(paths)
    assert count(paths, "fills") == len(run.unique_fills)
    assert count(paths, "order_events") == len(run.orders)
    assert count(paths, "orders") == len({(o.venue, o.order_id) for o in run.orders})
    assert count(paths, "cycles") == len(run.cycles)
    assert count(paths, "risk_events") == len(run.risk)
    got = {(v, o, t): (p, s, f)
           for v, o, t, p, s, f in rows(paths, "SELECT venue, order_id, trade_id, price, size, fee FROM fills")}
    assert got == {f.key: (f.price, f.size, f.fee) for f in run.unique_fills}  # decimals exact
    final = dict(rows(paths, "SELECT order_id, status FROM orders"))
    last = {o.order_id: str(o.status) for o in run.orders}
    assert final == last  # latest state per order
    assert rows(paths, "SELECT bot, status FROM runs") == [("hedge", "COMPLETED")]
    before = {t: count(paths, t) for t in ("runs", "orders", "order_events", "fills", "cycles", "positions")}
    again = load(paths)
    assert again.records == 0
    # even with offsets forgotten, the natural keys keep a full reload from duplicating anything
    con = duckdb.connect(str(paths.master))
    con.execute("DELETE FROM journal_offsets")
    con.close()
    assert load(paths).records > 0
    assert {t: count(paths, t) for t in before} == before


def test_secrets_never_reach_journal_or_warehouse(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    paths = WarehousePaths(tmp_path)

    async def main() -> None:
        j = Journal("secret-run", paths.journal_dir)
        j.run_started(RunInfo("secret-run", "hedge", ("grvt",), "ETH",
                              {"size": "0.1", "api_key": "AKIA-plain-text", "grvt": {"private_key": "pk-1"},
                               "wallet": SecretStr("s3cr3t"), "signer": "0x" + "ab" * 32, "seed": 7}, 0.0))
        await j.close()

    with caplog.at_level(logging.WARNING):
        asyncio.run(main())
    text = (paths.journal_dir / "secret-run.jsonl").read_text()
    for secret in ("AKIA-plain-text", "pk-1", "s3cr3t", "ab" * 32, "api_key", "private_key"):
        assert secret not in text
    assert "params.api_key" in caplog.text and "pk-1" not in caplog.text
    load(paths)
    params = json.loads(rows(paths, "SELECT params FROM runs")[0][0])
    assert params == {"size": "0.1", "grvt": {}, "seed": 7}


def test_bad_input_is_refused_with_the_field_named_and_nothing_recorded_is_lost(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="run_id"):
        Journal("../escape", tmp_path)
    j = Journal("ok-run", tmp_path)
    j.order(make_order("ok-run", 1))
    with pytest.raises(ValueError, match=r"kind: 'trade'.*allowed: sentiment, insight, review"):
        j.record("trade", price=1)
    with pytest.raises(ValueError, match="unknown field"):
        j.record("sentiment", colour="red")
    with pytest.raises(TypeError, match=r"run_start\.params"):
        j.run_started(RunInfo("ok-run", "hedge", ("grvt",), "ETH", {"obj": object()}, 0.0))
    with pytest.raises(ValueError, match="run_id"):
        j.run_started(RunInfo("other-run", "hedge", ("grvt",), "ETH", {}, 0.0))
    j.order(make_order("ok-run", 2))
    with pytest.raises(JournalError, match="another writer"):
        Journal("ok-run", tmp_path)
    j.close_sync()
    seqs = [json.loads(line)["seq"] for line in (tmp_path / "ok-run.jsonl").read_text().splitlines()]
    assert seqs == [1, 2]  # refused records took no seq and left no line


def test_group_commit_shares_fsyncs_between_concurrent_fills(tmp_path: Path) -> None:
    async def main() -> Journal:
        j = Journal("gc", tmp_path)
        await asyncio.gather(*(j.fill(make_fill("gc", i)) for i in range(500)))
        assert j.durable_seq == 500
        await j.close()
        return j

    j = asyncio.run(main())
    assert 1 <= j.fsyncs < 500
    assert len((tmp_path / "gc.jsonl").read_text().splitlines()) == 500


BAD_LINES = [
    ('{"kind":"fill","run_id":"bad","seq":2,"venue":"paradex","order_id":"o","trade_id":"t2","symbol":"ETH",'
     '"side":"BUY","price":"abc","size":"1","fee":"0","liquidity":"MAKER","ts":1.0}', "fill.price"),
    ('{"kind":"fill","run_id":"bad","seq":3,"venue":"paradex","order_id":"o","trade_id":"t3","symbol":"ETH",'
     '"side":"BUY","price":"1","fee":"0","liquidity":"MAKER","ts":1.0}', "fill.size"),
    ('{"kind":"fill","run_id":"bad","seq":4,"venue":"paradex","order_id":"o","trade_id":"t4","symbol":"ETH",'
     '"side":"HOLD","price":"1","size":"1","fee":"0","liquidity":"MAKER","ts":1.0}',
     "fill.side: 'HOLD' is not one of BUY, SELL"),
    ('{"kind":"fill","run_id":"bad","seq":5,"venue":"paradex","order_id":"o","trade_id":"t5","symbol":"ETH",'
     '"side":"BUY","price":"1","size":"1","fee":"0","liquidity":"MAKER","ts":1.0,"bid":"oops"}',
     "fill.bid: not a decimal"),
    ('{"kind":"order","run_id":"bad","seq":6,"venue":"paradex","order_id":"o","client_id":"c","symbol":"ETH",'
     '"side":"BUY","type":"LIMIT","size":"1","filled":"0","status":"OPEN","post_only":"maybe","reduce_only":false,'
     '"ts":1.0}', "order.post_only"),
    ('{"kind":"teleport","run_id":"bad","seq":7}', "kind: 'teleport' is unknown; allowed:"),
    ('{"kind":"fill","run_id":"bad","seq":"eight"}', "record.seq"),
    ('this is not json', "not a JSON object"),
    ('[1, 2, 3]', "not a JSON object"),
]


def _good(i: int) -> str:
    return json.dumps({"kind": "fill", "run_id": "bad", "seq": 100 + i, "venue": "paradex", "order_id": "o",
                       "trade_id": f"good{i}", "symbol": "ETH", "side": "SELL", "price": "3000.5", "size": "0.1",
                       "fee": "-0.01", "liquidity": "TAKER", "ts": 2.0, "bid": None, "ask": "3000.6"})


def test_bad_records_are_quarantined_with_reason_and_good_ones_still_load(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    paths.ensure()
    lines = [_good(0)] + [b for b, _ in BAD_LINES] + [_good(1)]
    (paths.journal_dir / "bad.jsonl").write_text("\n".join(lines) + "\n")
    r = load(paths)
    assert r.quarantined == len(BAD_LINES)
    assert sorted(x[0] for x in rows(paths, "SELECT trade_id FROM fills")) == ["good0", "good1"]
    q = rows(paths, "SELECT raw, reason FROM quarantine ORDER BY line_offset")
    assert [raw for raw, _ in q] == [b for b, _ in BAD_LINES]
    for (_, reason), (_, expected) in zip(q, BAD_LINES, strict=True):
        assert expected in reason
    assert "allowed: run_start, run_end, order, fill" in q[5][1]
    assert load(paths).quarantined == 0 and count(paths, "quarantine") == len(BAD_LINES)


def test_torn_last_record_is_skipped_with_a_warning_and_a_live_one_waits(tmp_path: Path,
                                                                            caplog: pytest.LogCaptureFixture) -> None:
    paths = WarehousePaths(tmp_path)
    live = Journal("live", paths.journal_dir)
    for i in range(3):
        asyncio.run(live.fill(make_fill("live", i)))
    whole = (paths.journal_dir / "live.jsonl").read_bytes()
    dead = paths.journal_dir / "dead.jsonl"
    dead.write_bytes(whole.replace(b"live", b"dead") + b'{"kind":"fill","run_id":"dead","se')  # torn mid-record
    rec = codec.order("live", make_order("live", 9))
    rec["seq"] = 4
    line = codec.dumps(rec)
    with open(live.path, "ab") as f:  # the live writer is mid-record (its flock is held)
        f.write(line[:40])
    with caplog.at_level(logging.WARNING):
        r = load(paths)
    assert r.torn == 1 and r.pending_live == 1
    assert "torn last record" in caplog.text and "dead.jsonl" in caplog.text
    assert count(paths, "fills") == 6
    assert rows(paths, "SELECT journal, reason FROM quarantine") == [
        ("dead.jsonl", "torn last record: the line never completed and its writer is gone")]
    with open(live.path, "ab") as f:  # the record completes: it loads, nothing more quarantined
        f.write(line[40:])
    assert load(paths).quarantined == 0
    assert rows(paths, "SELECT order_id FROM orders") == [("live-o9",)]
    assert count(paths, "quarantine") == 1
    live.close_sync()


def test_live_views_show_records_before_they_are_loaded(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    load(paths)  # publishes an empty warehouse with its views
    j = Journal("watch", paths.journal_dir)
    asyncio.run(j.fill(make_fill("watch", 1)))
    j.order(make_order("watch", 1))
    j.flush_sync()
    assert count(paths, "fills") == 0
    assert count(paths, "live_fills") == 1 and count(paths, "live_orders") == 1
    assert rows(paths, "SELECT trade_id, price FROM live_fills") == [("watch-t1", Decimal("3000.02"))]
    load(paths)
    assert count(paths, "fills") == 1 and count(paths, "pending_records") == 0
    assert count(paths, "live_fills") == 1
    j.close_sync()


def test_a_second_loader_is_refused_while_one_runs(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    paths.ensure()
    with loader_lock(paths.lock), pytest.raises(LoaderBusy):
        load(paths, wait=0.2)
    assert load(paths).load_id == 1


def test_migration_from_the_first_version_keeps_every_row(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    run = record_hedge_run(paths.journal_dir, "hedge-sol-taker")
    paths.ensure()
    con = duckdb.connect(str(paths.master))
    migrate(con, target=1)  # fills and cycles as V1 had them; V2 and V3 backfill columns
    for f in run.unique_fills:
        con.execute("INSERT INTO fills (venue, order_id, trade_id, run_id, price, size, fee, ts) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, make_timestamp(CAST(? * 1e6 AS BIGINT)))",
                    [f.venue, f.order_id, f.trade_id, run.run_id, f.price, f.size, f.fee, f.ts])
    for c in run.cycles:
        con.execute("INSERT INTO cycles (run_id, cycle_no, kind, size, primary_price, hedge_price, pnl) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)", [c.run_id, c.cycle_no, c.kind, c.size, c.primary_price,
                                                     c.hedge_price, c.pnl])
    before = con.execute("SELECT venue, order_id, trade_id, price, size, fee FROM fills ORDER BY ALL").fetchall()
    assert migrate(con) == list(range(2, LATEST + 1))
    after = con.execute("SELECT venue, order_id, trade_id, price, size, fee FROM fills ORDER BY ALL").fetchall()
    assert after == before
    notional = dict(con.execute("SELECT trade_id, notional FROM fills").fetchall())
    assert notional == pytest.approx({f.trade_id: float(f.price * f.size) for f in run.unique_fills})
    volume = dict(con.execute("SELECT cycle_no, volume FROM cycles").fetchall())
    assert volume == pytest.approx({c.cycle_no: float(c.size * (c.primary_price + c.hedge_price)) for c in run.cycles})
    assert con.execute("SELECT count(*) FROM cycles").fetchone()[0] == len(run.cycles)
    hashed = con.execute("SELECT count(*) FROM fills "
                         "WHERE key_hash = hash(venue, order_id, trade_id, run_id)").fetchone()
    assert hashed[0] == len(run.unique_fills)  # what the loader's duplicate check compares first
    con.close()
    load(paths)  # the migrated master takes the run's journal: same fills, nothing doubled
    assert count(paths, "fills") == len(run.unique_fills)
    assert count(paths, "cycles") == len(run.cycles)
