"""Fill diagnostics and the PnL split in the warehouse: a run's journal (real ``Journal``, real loader,
real DuckDB) with known book samples, orders, fills, pauses and funding; every column checked
against what was recorded, the split's identity (parts sum to cash + marked position) per run and
per hour, and the strategy's own tracker giving the same split as SQL."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest

from core.records import FundingRecord, RunEnd, RunInfo
from core.types import Fill, Liquidity, Order, OrderStatus, OrderType, Side
from strategies.grid.pnl import PnlTracker
from warehouse import query
from warehouse.journal import Journal
from warehouse.loader import load
from warehouse.paths import WarehousePaths

T0 = 1_767_571_200.0 + 3000  # 10 minutes before an hour boundary: the run spans two hours
RUN = "grid-diag-1"
TICK = D("0.1")
MAKER, TAKER = D("0.00003"), D("0.00045")
GRID_QUERIES = {"hyp_a_markout_by_side_and_momentum", "hyp_b_inventory_buckets", "hyp_c_maker_taker_fees",
                "hyp_d_fill_minus_order_ticks"}


@dataclass
class Recorded:
    mids: dict[float, D]
    orders: list[Order]
    fills: list[Fill]
    funding: D
    tracker: PnlTracker


def _journal(journal_dir: Path) -> Recorded:
    rng = random.Random(5)
    mids: dict[float, D] = {}
    tracker = PnlTracker()
    j = Journal(RUN, journal_dir)
    j.run_started(RunInfo(RUN, "grid", ("paradex",), "BTC", {"levels": 2, "max_position": "0.004"}, T0))
    j.record("strategy_event", ts=T0, event="instrument", detail="paradex BTC",
             data={"venue": "paradex", "symbol": "BTC", "tick": "0.1", "maker_fee": str(MAKER),
                   "taker_fee": str(TAKER), "initial_position": "0"})
    mid = D("90000.0")
    plan = {  # ts offset -> (side, order price, fill price, size, liquidity, placed offset, order id)
        50: (Side.BUY, "89990.0", "89990.0", "0.002", Liquidity.MAKER, 41.5, "o1"),
        200: (Side.BUY, "89980.0", "89980.0", "0.001", Liquidity.MAKER, 190.0, "o2"),
        201: (Side.BUY, "89980.0", "89980.0", "0.001", Liquidity.MAKER, 190.0, "o2"),
        620: (Side.SELL, "90010.0", "90010.0", "0.002", Liquidity.MAKER, 600.0, "o3"),
        700: (Side.SELL, "90000.0", "89999.5", "0.003", Liquidity.TAKER, 699.9, "o4"),
        900: (Side.BUY, "89970.0", "89970.0", "0.001", Liquidity.MAKER, 880.0, "o5"),
    }
    orders: list[Order] = []
    fills: list[Fill] = []
    funding = D(0)
    n = 0
    for k in range(1200):
        t = T0 + k
        mid = mid + D(rng.randint(-20, 20)) * TICK / 2
        mids[t] = mid
        bid, ask = mid - TICK / 2, mid + TICK / 2
        j.record("book_sample", venue="paradex", symbol="BTC", bid=bid, ask=ask, ts=t)
        tracker.mark(t, bid, ask)
        if k == 100:
            j.record("strategy_event", ts=t, event="pause", detail="trend up", data={"direction": 1, "z": 2.5})
        if k == 400:
            j.record("strategy_event", ts=t, event="resume", detail="trend faded", data={"direction": 1})
        if k == 600:
            j.funding(FundingRecord(RUN, "paradex", "BTC", D("0.0000125"), D("0.004"), D("0.0045"), t + 0.5))
            funding += D("0.0045")
            tracker.funding(D("0.0045"), t + 0.5)
        if k in plan:
            side, opx, fpx, size, liq, placed, oid = plan[k]
            if not any(o.order_id == oid for o in orders):
                o = Order("paradex", oid, f"c-{oid}", "BTC", side, OrderType.LIMIT, D(opx), D(size) * 2
                          if oid == "o2" else D(size), status=OrderStatus.OPEN, post_only=liq is Liquidity.MAKER,
                          ts=T0 + placed)
                j.order(o)
                orders.append(o)
            n += 1
            fee = D(fpx) * D(size) * (MAKER if liq is Liquidity.MAKER else TAKER)
            f = Fill("paradex", oid, f"c-{oid}", f"t{n}", "BTC", side, D(fpx), D(size), fee, liq, t + 0.25,
                     bid, ask)
            asyncio.run(j.fill(f))
            tracker.fill(f)
            fills.append(f)
    j.run_ended(RunEnd(RUN, T0 + 1200, "COMPLETED"))
    j.close_sync()
    return Recorded(mids, orders, fills, funding, tracker)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Recorded]:
    paths = WarehousePaths(tmp_path_factory.mktemp("diag"))
    rec = _journal(paths.journal_dir)
    load(paths)
    return paths.published, rec


def _rows(path: Path, sql: str) -> list[dict]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def test_fill_diagnostics_columns(warehouse: tuple[Path, Recorded]) -> None:
    path, rec = warehouse
    rows = _rows(path, f"SELECT * FROM fill_diagnostics WHERE run_id = '{RUN}' ORDER BY ts, seq")
    assert len(rows) == len(rec.fills) == 6
    inv = D(0)
    for row, f in zip(rows, rec.fills, strict=True):
        o = next(o for o in rec.orders if o.order_id == f.order_id)
        assert row["order_price"] == pytest.approx(float(o.price))
        assert row["fill_price"] == pytest.approx(float(f.price))
        assert row["diff_ticks"] == pytest.approx(float((f.price - o.price) / TICK))
        assert row["slippage_ticks"] == pytest.approx(float(f.side.sign * (f.price - o.price) / TICK))
        assert row["queue_s"] == pytest.approx(f.ts - o.ts, abs=1e-6)
        assert row["mid"] == pytest.approx(float((f.bid + f.ask) / 2))
        before = rec.mids[f.ts - 0.25]  # the last sample before the fill (samples on whole seconds)
        assert row["mid_before"] == pytest.approx(float(before))
        assert row["spread_capture"] == pytest.approx(float(f.side.sign * (before - f.price) * f.size))
        assert row["liquidity"] == f.liquidity.value and row["fee"] == pytest.approx(float(f.fee))
        assert row["fee_assumed"] == pytest.approx(float(f.price * f.size * MAKER))
        assert row["inventory_before"] == pytest.approx(float(inv))
        inv += f.signed_size
        assert row["inventory_after"] == pytest.approx(float(inv))
        for h in (1, 10, 60):  # first sample at or after fill + h: samples are on whole seconds, fills at .25
            later = rec.mids[f.ts - 0.25 + h + 1]
            assert row[f"mid_{h}s"] == pytest.approx(float(later))
            assert row[f"markout_{h}s_bps"] == pytest.approx(float(f.side.sign * (later - f.price) / f.price * 10_000))
    by_ts = {round(r["ts"].replace(tzinfo=UTC).timestamp() - T0): r for r in rows}
    assert by_ts[50]["momentum"] == "normal" and by_ts[200]["momentum"] == "paused_up"
    assert by_ts[620]["momentum"] == "normal"
    taker = by_ts[700]
    assert taker["liquidity"] == "TAKER" and taker["fee_excess"] > 0 and taker["slippage_ticks"] == pytest.approx(5)
    assert by_ts[50]["fee_excess"] == pytest.approx(0, abs=1e-12)


def _independent_total(rec: Recorded) -> float:
    """Cash flows, fees and funding plus the position marked at the last mid: no split involved."""
    cash = sum((-f.signed_size * f.price - f.fee for f in rec.fills), D(0)) - rec.funding
    pos = sum((f.signed_size for f in rec.fills), D(0))
    return float(cash + pos * rec.mids[max(rec.mids)])


def test_pnl_split_sums_to_the_marked_total_per_run_and_per_hour(warehouse: tuple[Path, Recorded]) -> None:
    path, rec = warehouse
    (run,) = _rows(path, f"SELECT * FROM pnl_split WHERE run_id = '{RUN}'")
    parts = run["spread_capture"] + run["inventory_pnl"] + run["fees"] + run["funding"]
    assert run["total"] == pytest.approx(parts, abs=1e-9)
    assert run["total"] == pytest.approx(_independent_total(rec), abs=1e-6)
    assert run["fills"] == 6 and run["funding"] == pytest.approx(-float(rec.funding))
    assert run["fees"] == pytest.approx(-float(sum(f.fee for f in rec.fills)))
    hours = _rows(path, f"SELECT * FROM pnl_split_hourly WHERE run_id = '{RUN}' ORDER BY hour")
    assert len(hours) == 2 and [h["fills"] for h in hours] == [3, 3]
    for col in ("spread_capture", "inventory_pnl", "fees", "funding", "total"):
        assert sum(h[col] for h in hours) == pytest.approx(run[col], abs=1e-9), col
    for h in hours:
        assert h["total"] == pytest.approx(h["spread_capture"] + h["inventory_pnl"] + h["fees"] + h["funding"])
    assert hours[0]["funding"] == 0 and hours[1]["funding"] == pytest.approx(-float(rec.funding))
    # the strategy's own tracker splits the same way, per hour too
    py_hours = rec.tracker.split_hourly()
    epoch = [int(h["hour"].replace(tzinfo=UTC).timestamp()) for h in hours]  # warehouse times are UTC
    assert sorted(py_hours) == epoch
    for h, start in zip(hours, epoch, strict=True):
        mine = py_hours[start]
        assert h["fills"] == mine.fills
        for col in ("spread_capture", "inventory_pnl", "fees", "funding"):
            assert h[col] == pytest.approx(float(getattr(mine, col)), abs=1e-6), col
    py = rec.tracker.split()
    for col in ("spread_capture", "inventory_pnl", "fees", "funding"):
        assert run[col] == pytest.approx(float(getattr(py, col)), abs=1e-6), col
    assert float(py.total) == pytest.approx(_independent_total(rec), abs=1e-6)


def test_hypothesis_queries(warehouse: tuple[Path, Recorded]) -> None:
    path, _rec = warehouse
    assert set(query.named_queries()) >= GRID_QUERIES
    a = query.named_query("hyp_a_markout_by_side_and_momentum", path=path)
    assert set(zip(a.side, a.momentum, strict=True)) == {("BUY", "normal"), ("BUY", "paused_up"), ("SELL", "normal")}
    assert a.fills.sum() == 6
    b = query.named_query("hyp_b_inventory_buckets", path=path).set_index("inventory_bucket")
    assert b.fills.to_dict() == {"2: -0.6..-0.2": 1, "3: -0.2..0.2": 1, "4: 0.2..0.6": 2, "5: q > 0.6": 2}
    assert b.adding_fills.sum() == 3  # the three buys up to 0.004; the rest reduced
    c = query.named_query("hyp_c_maker_taker_fees", path=path).set_index("liquidity")
    assert c.loc["MAKER", "fills"] == 5 and c.loc["TAKER", "fills"] == 1
    assert c.loc["TAKER", "fee_excess"] == pytest.approx(float(D("89999.5") * D("0.003") * (TAKER - MAKER)),
                                                         abs=1e-6)
    assert c.loc["MAKER", "fee_excess"] == pytest.approx(0, abs=1e-9)
    d = query.named_query("hyp_d_fill_minus_order_ticks", path=path).set_index("slippage_ticks")
    assert d.loc[0, "fills"] == 5 and d.loc[5, "fills"] == 1
