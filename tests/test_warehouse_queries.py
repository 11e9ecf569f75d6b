"""Every docs/queries.sql query, run on a warehouse built from a simulated hedge run, checked
against the same figures computed in Python from the records the run produced."""

from __future__ import annotations

import statistics
from decimal import Decimal
from pathlib import Path

import pytest

from tests.sim_run import SimRun, run_hedge
from warehouse import query
from warehouse.loader import load
from warehouse.paths import WarehousePaths

TESTED = {"run_summary", "edge_by_cycle_kind", "fill_success_by_size", "net_delta_over_time", "cost_per_million",
          "hedge_latency_percentiles"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimRun]:
    paths = WarehousePaths(tmp_path_factory.mktemp("wh"))
    run = run_hedge(paths.journal_dir, cycles=8)
    load(paths)
    return paths.published, run


def test_every_cookbook_query_is_tested() -> None:
    assert set(query.named_queries()) == TESTED


def test_run_summary(built: tuple[Path, SimRun]) -> None:
    path, run = built
    df = query.named_query("run_summary", path=path)
    assert len(df) == 1
    row = df.iloc[0]
    volume = sum(f.price * f.size for f in run.fills)
    net = sum(c.pnl for c in run.cycles)
    assert row.cycles == len(run.cycles) and row.fills == len(run.fills)
    assert row.volume == pytest.approx(float(volume), abs=0.01)
    assert row.gross_pnl == pytest.approx(float(sum(c.gross_pnl for c in run.cycles)), abs=1e-6)
    assert row.fees == pytest.approx(float(sum(c.fees for c in run.cycles)), abs=1e-6)
    assert row.net_pnl == pytest.approx(float(net), abs=1e-6)
    assert row.pnl_pct == pytest.approx(float(net / volume * 100), abs=1e-6)
    edges = [c.edge_bps for c in run.cycles if c.edge_bps is not None]
    assert row.avg_edge_bps == pytest.approx(float(sum(edges) / len(edges)), abs=1e-4)
    assert row.status == "COMPLETED"


def test_edge_by_cycle_kind(built: tuple[Path, SimRun]) -> None:
    path, run = built
    df = query.named_query("edge_by_cycle_kind", path=path).set_index("kind")
    assert set(df.index) == {"open", "close"}
    for kind in ("open", "close"):
        cs = [c for c in run.cycles if c.kind == kind]
        assert df.loc[kind, "cycles"] == len(cs)
        assert df.loc[kind, "avg_edge_bps"] == pytest.approx(float(sum(c.edge_bps for c in cs) / len(cs)), abs=1e-4)
        assert df.loc[kind, "net_pnl"] == pytest.approx(float(sum(c.pnl for c in cs)), abs=1e-6)


def test_fill_success_by_size(built: tuple[Path, SimRun]) -> None:
    path, run = built
    df = query.named_query("fill_success_by_size", path=path)
    final = {}
    for o in run.orders:
        final[(o.venue, o.order_id)] = o
    expected: dict[tuple[str, str, Decimal], list] = {}
    for o in final.values():
        expected.setdefault((o.venue, str(o.type), o.size), []).append(o)
    got = {(r.venue, r.type, Decimal(str(r.size)).normalize()): r for r in df.itertuples()}
    assert set(got) == {(v, t, s.normalize()) for v, t, s in expected}
    for (v, t, s), orders in expected.items():
        r = got[(v, t, s.normalize())]
        assert r.orders == len(orders)
        assert r.full_fills == sum(o.filled >= o.size for o in orders)
        assert r.filled_share == pytest.approx(float(sum(o.filled for o in orders) / sum(o.size for o in orders)),
                                               abs=1e-4)


def test_net_delta_over_time(built: tuple[Path, SimRun]) -> None:
    path, run = built
    df = query.named_query("net_delta_over_time", path=path)
    assert df.cycles.sum() == len(run.cycles)
    assert df.iloc[-1].net_delta_last == pytest.approx(float(run.cycles[-1].net_delta_after))
    assert df.net_delta_max_abs.max() == pytest.approx(max(abs(float(c.net_delta_after)) for c in run.cycles))
    assert list(df.minute) == sorted(df.minute)


def test_cost_per_million(built: tuple[Path, SimRun]) -> None:
    path, run = built
    row = query.named_query("cost_per_million", path=path).iloc[0]
    volume = float(sum(f.price * f.size for f in run.fills))
    net = float(sum(c.pnl for c in run.cycles))
    assert row.cost_per_1m == pytest.approx(-net / volume * 1e6, abs=1e-3)
    assert row.cost_per_1m > 0  # the scripted run pays fees and crosses spreads: a cost


def test_hedge_latency_percentiles(built: tuple[Path, SimRun]) -> None:
    path, run = built
    row = query.named_query("hedge_latency_percentiles", path=path).iloc[0]
    lat = sorted(c.hedge_latency_ms for c in run.cycles if c.hedge_latency_ms is not None)
    assert row.cycles == len(lat)
    assert row.p50_ms == pytest.approx(statistics.median(lat), abs=0.1)
    assert row.max_ms == pytest.approx(max(lat), abs=0.1)
    assert row.p50_ms <= row.p90_ms <= row.p99_ms <= row.max_ms


def test_helpers_return_dataframes(built: tuple[Path, SimRun]) -> None:
    path, run = built
    assert list(query.runs(path=path).run_id) == [run.run_id]
    assert list(query.cycles(run.run_id, path=path).cycle_no) == [c.cycle_no for c in run.cycles]
    assert len(query.fills(run.run_id, path=path)) == len(run.fills)
    with pytest.raises(KeyError, match="allowed: run_summary"):
        query.named_query("nope", path=path)
