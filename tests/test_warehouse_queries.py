"""Every docs/queries.sql query, run on a warehouse loaded from real hedge-bot runs on the simulator
(``tests/hedge_run.py``), checked against the same figures computed in Python from what the runs
recorded, and for plausibility: a maker/maker bot's cost per volume is small, latencies ordered."""

from __future__ import annotations

import statistics
from decimal import Decimal
from pathlib import Path

import pytest

from core.types import Order
from tests.hedge_run import RUNS, RecordedRun
from tests.test_agent_cookbook import AGENT_QUERIES
from tests.test_grid_diagnostics import GRID_QUERIES
from warehouse import query

TESTED = {"run_summary", "today_live", "edge_by_cycle_kind", "fill_success_by_size", "net_delta_over_time",
          "cost_per_million", "hedge_latency_percentiles", "losing_cycles", "hedge_taker_reasons",
          "daily_by_mode"} | GRID_QUERIES | AGENT_QUERIES  # tests/test_run_modes.py, test_grid_diagnostics.py,
# tests/test_agent_cookbook.py
Built = tuple[Path, list[RecordedRun]]


def final_orders(runs: list[RecordedRun]) -> list[Order]:
    """The latest state of each order (by its timestamp, then the order it was recorded in)."""
    latest: dict[tuple[str, str], tuple[float, int, Order]] = {}
    n = 0
    for run in runs:
        for o in run.orders:
            n += 1
            key = (o.venue, o.order_id)
            if key not in latest or (o.ts, n) >= latest[key][:2]:
                latest[key] = (o.ts, n, o)
    return [o for _, _, o in latest.values()]


def test_every_cookbook_query_is_tested() -> None:
    assert set(query.named_queries()) == TESTED


def test_the_runs_are_real_bot_runs_that_traded(hedge_warehouse: Built) -> None:
    _, runs = hedge_warehouse
    assert [r.run_id for r in runs] == list(RUNS)
    for r in runs:
        assert r.result.status == "COMPLETED", r.result.reason
        assert len(r.cycles) == 2 * RUNS[r.run_id]["iterations"]
        assert {f.venue for f in r.fills} == {"paradex", "grvt"}


def test_run_summary(hedge_warehouse: Built) -> None:
    path, runs = hedge_warehouse
    df = query.named_query("run_summary", path=path).set_index("run_id")
    assert set(df.index) == {r.run_id for r in runs}
    for run in runs:
        row = df.loc[run.run_id]
        fills = run.unique_fills
        volume = sum(f.price * f.size for f in fills)
        net = sum(c.pnl for c in run.cycles)
        assert row.cycles == len(run.cycles) and row.fills == len(fills)
        assert row.symbol == RUNS[run.run_id]["ticker"] and row.status == "COMPLETED"
        assert row.volume == pytest.approx(float(volume), abs=0.01)
        assert row.gross_pnl == pytest.approx(float(sum(c.gross_pnl for c in run.cycles)), abs=1e-6)
        assert row.fees == pytest.approx(float(sum(c.fees for c in run.cycles)), abs=1e-6)
        assert row.net_pnl == pytest.approx(float(net), abs=1e-6)
        assert row.pnl_pct == pytest.approx(float(net / volume * 100), abs=1e-6)
        edges = [(c.edge_bps, c.size) for c in run.cycles if c.edge_bps is not None]
        avg = sum(e * s for e, s in edges) / sum(s for _, s in edges)  # size-weighted
        assert row.avg_edge_bps == pytest.approx(float(avg), abs=1e-4)
        assert row.final_net_delta == 0 and row.net_delta_state == "CLEAN"
        assert abs(row.pnl_pct) < 0.5  # a hedged bot loses basis points of its volume, not percents


def test_edge_by_cycle_kind(hedge_warehouse: Built) -> None:
    path, runs = hedge_warehouse
    df = query.named_query("edge_by_cycle_kind", path=path).set_index("kind")
    assert list(df.index) == ["open", "close"]
    cycles = [c for r in runs for c in r.cycles]
    for kind in ("open", "close"):
        cs = [c for c in cycles if c.kind == kind]
        edges = [c.edge_bps for c in cs]
        assert df.loc[kind, "cycles"] == len(cs) == len(cycles) // 2
        assert df.loc[kind, "avg_edge_bps"] == pytest.approx(float(sum(edges) / len(edges)), abs=1e-4)
        assert df.loc[kind, "median_edge_bps"] == pytest.approx(float(statistics.median(edges)), abs=1e-4)
        assert df.loc[kind, "net_pnl"] == pytest.approx(float(sum(c.pnl for c in cs)), abs=1e-6)
        assert -50 < df.loc[kind, "min_edge_bps"] <= df.loc[kind, "max_edge_bps"] < 50


def test_fill_success_by_size(hedge_warehouse: Built) -> None:
    path, runs = hedge_warehouse
    df = query.named_query("fill_success_by_size", path=path)
    expected: dict[tuple[str, str, Decimal], list[Order]] = {}
    for o in final_orders(runs):
        if str(o.status) in ("FILLED", "CANCELLED", "EXPIRED", "REJECTED"):
            expected.setdefault((o.venue, str(o.type), o.size.normalize()), []).append(o)
    got = {(r.venue, r.type, Decimal(str(r.size)).normalize()): r for r in df.itertuples()}
    # sizes print in the venue's step (paradex SOL 0.01, ETH 0.0001; grvt SOL 0.1, ETH 0.01), with the symbol
    assert {(r.venue, r.symbol, r.size) for r in df.itertuples()} >= {
        ("paradex", "SOL", "0.10"), ("paradex", "ETH", "0.0100"), ("grvt", "SOL", "0.1"), ("grvt", "ETH", "0.01")}
    assert set(got) == set(expected)
    # what the runs make of it: three sizes on the primary; maker hedges, and takers on grvt
    assert {s for v, _, s in got if v == "paradex"} == {Decimal("0.01"), Decimal("0.1"), Decimal("0.2")}
    assert {t for v, t, _ in got if v == "grvt"} == {"LIMIT", "MARKET"}
    for key, orders in expected.items():
        r = got[key]
        assert r.orders == len(orders)
        assert r.full_fills == sum(o.filled >= o.size for o in orders)
        assert r.no_fills == sum(o.filled == 0 for o in orders)
        assert r.filled_share == pytest.approx(float(sum(o.filled for o in orders) / sum(o.size for o in orders)),
                                               abs=1e-4)


def test_net_delta_over_time(hedge_warehouse: Built) -> None:
    """The exposure the bot really carried: net delta after every fill across venues, not the
    after-cycle value (always 0 for a hedged cycle)."""
    path, runs = hedge_warehouse
    df = query.named_query("net_delta_over_time", path=path)
    assert df.fills.sum() == sum(len(r.unique_fills) for r in runs)
    for run in runs:
        mine = df[df.run_id == run.run_id]
        assert list(mine.minute) == sorted(mine.minute)
        fills = sorted(run.unique_fills, key=lambda f: f.ts)
        net, path_ = Decimal(0), []
        for f in fills:
            net += f.signed_size
            path_.append(net)
        assert mine.iloc[-1].net_delta_last == pytest.approx(float(path_[-1])) == 0
        assert mine.net_delta_max_abs.max() == pytest.approx(max(abs(float(x)) for x in path_))
        assert mine.net_delta_max_abs.max() > 0  # was identically 0: the clip sits unhedged until its hedge fills
        unhedged = sum(b.ts - a.ts for a, b, x in zip(fills, fills[1:], path_, strict=False) if x != 0)
        assert mine.unhedged_s.sum() == pytest.approx(unhedged, abs=0.01)
    assert len(df[df.run_id == "hedge-sol-maker"]) >= 2  # the long run spans minutes


def test_cost_per_million(hedge_warehouse: Built) -> None:
    path, runs = hedge_warehouse
    df = query.named_query("cost_per_million", path=path).set_index("symbol")
    assert set(df["mode"]) == {"backtest"}
    assert set(df.index) == {"SOL", "ETH"}
    for symbol in ("SOL", "ETH"):
        mine = [r for r in runs if RUNS[r.run_id]["ticker"] == symbol]
        volume = float(sum(f.price * f.size for r in mine for f in r.unique_fills))
        net = float(sum(c.pnl for r in mine for c in r.cycles))  # these runs end flat, all in cycles
        fees = float(sum(f.fee for r in mine for f in r.unique_fills))
        assert df.loc[symbol, "runs"] == len(mine)
        assert df.loc[symbol, "cost_per_1m"] == pytest.approx(-net / volume * 1e6, abs=1e-3)
        assert df.loc[symbol, "fees_per_1m"] == pytest.approx(fees / volume * 1e6, abs=1e-3)
        assert 0 < df.loc[symbol, "cost_per_1m"] < 2_000  # a cost, and well under 0.2% of volume


def test_hedge_latency_percentiles(hedge_warehouse: Built) -> None:
    path, runs = hedge_warehouse
    row = query.named_query("hedge_latency_percentiles", path=path).iloc[0]
    lat = sorted(c.hedge_latency_ms for r in runs for c in r.cycles if c.hedge_latency_ms is not None)
    assert row.hedge_venue == "grvt" and row.cycles == len(lat) > 0
    assert row.p50_ms == pytest.approx(statistics.median(lat), abs=0.1)
    assert row.max_ms == pytest.approx(max(lat), abs=0.1)
    assert 0 < row.p50_ms <= row.p90_ms <= row.p99_ms <= row.max_ms < 15_000  # 5 s hedge timeout, then a taker


def test_helpers_return_dataframes(hedge_warehouse: Built) -> None:
    path, runs = hedge_warehouse
    assert sorted(query.runs(path=path).run_id) == sorted(r.run_id for r in runs)
    for run in runs:
        assert list(query.cycles(run.run_id, path=path).cycle_no) == [c.cycle_no for c in run.cycles]
        assert len(query.fills(run.run_id, path=path)) == len(run.unique_fills)
    with pytest.raises(KeyError, match="allowed: run_summary"):
        query.named_query("nope", path=path)


def test_losing_cycles_say_why(hedge_warehouse: Built) -> None:
    path, runs = hedge_warehouse
    df = query.named_query("losing_cycles", path=path)
    failures = {(r.run_id, c.cycle_no): sum(1 for e in r.risk if e.check == "hedge" and c.started <= e.ts <= c.ended)
                for r in runs for c in r.cycles}
    listed = {(r.run_id, c.cycle_no): c for r in runs for c in r.cycles
              if c.pnl < 0 or failures[(r.run_id, c.cycle_no)]}
    assert {(r.run_id, r.cycle_no) for r in df.itertuples()} == set(listed)
    assert list(df.pnl) == sorted(df.pnl)  # worst first
    for r in df.itertuples():
        c = listed[(r.run_id, r.cycle_no)]
        assert r.pnl == pytest.approx(float(c.pnl), abs=1e-6)
        assert r.hedge_failures == failures[(r.run_id, r.cycle_no)]
        assert r.primary_orders.split() == list(c.primary_orders) and r.hedge_orders.split() == list(c.hedge_orders)
        if c.edge_bps is not None and c.edge_bps < 0:
            assert "worse price" in r.why
        elif c.edge_bps is not None and c.pnl < 0:
            assert "fees exceed" in r.why
        if c.hedge_taker_reason:
            assert f"hedge went taker: {c.hedge_taker_reason}" in r.why
        assert "." not in r.size or len(r.size.split(".")[1]) in (2, 4)  # paradex's step, not decimal(18,10)


def test_hedge_taker_reasons(hedge_warehouse: Built) -> None:
    path, runs = hedge_warehouse
    df = query.named_query("hedge_taker_reasons", path=path)
    for run in runs:
        mine = df[df.run_id == run.run_id].set_index("reason")
        counts: dict[str, int] = {}
        for c in run.cycles:
            counts[c.hedge_taker_reason or "stayed maker"] = counts.get(c.hedge_taker_reason or "stayed maker", 0) + 1
        assert mine.cycles.to_dict() == counts
    assert set(df[df.run_id == "hedge-sol-taker"].reason) == {"hedge_mode_market"}


def test_today_live_counts_only_todays_live_runs(tmp_path: Path) -> None:
    """A backtest today and a live run yesterday are not in today's live figures."""
    import time

    from tests.hedge_run import record_hedge_run
    from warehouse.loader import load
    from warehouse.paths import WarehousePaths

    paths = WarehousePaths(tmp_path)
    now = time.time()
    today = max(now - 600, now - now % 86_400)  # earlier today (UTC), however close to midnight
    cfg = dict(ticker="SOL", size=Decimal("0.1"), iterations=2)
    live = record_hedge_run(paths.journal_dir, "live-today", start=today, venue_mode="live", seed=21, **cfg)
    record_hedge_run(paths.journal_dir, "live-yesterday", start=now - 86_400 - 3600, venue_mode="live", seed=22, **cfg)
    record_hedge_run(paths.journal_dir, "backtest-today", start=today, seed=23, **cfg)
    load(paths)
    row = query.named_query("today_live", path=paths.published).iloc[0]
    volume = sum(f.price * f.size for f in live.unique_fills)
    net = sum(live.result.cash.values(), Decimal(0))
    assert row.runs == 1 and row.cycles == len(live.cycles)
    assert row.volume == pytest.approx(float(volume), abs=0.005)
    assert row.net_pnl == pytest.approx(float(net), abs=1e-6)
    assert row.cost_per_1m == pytest.approx(float(-net / volume * 1_000_000), abs=1e-3)
