"""The grid strategy on the generic runner and the simulator: it quotes, fills, stays inside its
inventory limit, ends flat (or leaves its inventory) when its duration is up, refuses what the venue
cannot trade before any order, and the PnL split it shows equals the warehouse's."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest

from core.clock import VirtualClock
from core.records import MemoryRecorder, Recorder
from core.types import Side
from exchanges.sim.world import SimWorld
from strategies.grid.params import GridParams
from strategies.grid.result import progress_markdown
from strategies.grid.strategy import GridStrategy
from strategies.preflight import PreTradeError
from strategies.runtime.runner import Runner, RunOutcome
from warehouse.journal import Journal
from warehouse.loader import load
from warehouse.paths import WarehousePaths


@dataclass
class GridRun:
    outcome: RunOutcome
    strategy: GridStrategy
    world: SimWorld
    recorder: Recorder


def run_grid(p: GridParams, recorder: Recorder | None = None, run_id: str = "grid-test",
             cancel_after: float | None = None) -> GridRun:
    """Run the grid on the simulator; ``cancel_after`` seconds in, cancel it as a user would."""
    clock = VirtualClock()
    world = SimWorld(venues=(p.venue,), symbols=(p.symbol,), seed=p.seed, clock=clock, warmup=300, regime=p.scenario)
    rec = recorder or MemoryRecorder()
    strategy = GridStrategy(p)
    runner = Runner(strategy, run_id, [world.venue(p.venue)], rec, clock)

    async def main() -> RunOutcome:
        loop = asyncio.get_running_loop()
        cancel = None if cancel_after is None else loop.call_later(
            cancel_after, lambda: runner.request_stop(flatten=strategy.flatten_on_cancel))
        try:
            return await runner.run()
        finally:
            if cancel is not None:
                cancel.cancel()
            await world.stop()

    return GridRun(clock.run(main), strategy, world, rec)


def test_naive_grid_quotes_fills_stays_inside_its_limit_and_ends_flat() -> None:
    p = GridParams(mode="naive", duration_s=300, size=D("0.002"), max_position=D("0.006"), seed=3)
    run = run_grid(p)
    out, rec = run.outcome, run.recorder
    assert out.status == "COMPLETED", out.reason
    assert out.positions == {"paradex": D(0)}  # on_cancel=flatten: flat at the end
    assert isinstance(rec, MemoryRecorder) and rec.fills
    assert out.max_abs_net <= p.max_position  # never past the inventory limit, fills in flight included
    kinds = out.records
    assert [e["event"] for e in kinds["strategy_event"]][:1] == ["instrument"]
    assert len(kinds["book_sample"]) >= 250  # about one a second
    quotes = [o for o in rec.orders if o.post_only]
    assert quotes and {o.side for o in quotes} == {Side.BUY, Side.SELL}
    split = run.strategy.split()
    assert split is not None and split.fills == len({f.key for f in rec.fills})
    assert split.position == 0
    hours = run.strategy.split_hourly()
    assert hours and all(len(h) == 16 and h.endswith(":00") for h in hours)
    assert sum(x.total for x in hours.values()) == split.total
    view = progress_markdown(run.strategy.state(D("0.004"), []), "grid-test")
    assert "inventory: 0.004 (limit 0.006)" in view and f"fills: {split.fills}" in view
    assert "quoting both sides" in view and "| (none) | | |" in view and f"total {split.total:.6f}" in view


def test_leave_keeps_the_inventory_and_cancels_every_quote() -> None:
    p = GridParams(mode="naive", duration_s=240, on_cancel="leave", seed=3, max_position=D("0.004"))
    run = run_grid(p)
    assert run.outcome.status == "COMPLETED"
    ex = run.world.exchanges["paradex"]
    assert not [o for o in ex.open.values()], "a quote outlived the run"
    assert run.outcome.positions["paradex"] == ex.account.positions.get("BTC", D(0))
    assert "left as it is" in run.outcome.reason


@pytest.mark.parametrize("on_cancel", ["flatten", "leave"])
def test_cancel_withdraws_every_quote_then_flattens_or_leaves(on_cancel: str) -> None:
    p = GridParams(mode="naive", duration_s=3600, on_cancel=on_cancel, seed=3, max_position=D("0.004"))
    run = run_grid(p, cancel_after=150)
    out = run.outcome
    assert out.status == "CANCELLED"
    ex = run.world.exchanges["paradex"]
    assert not list(ex.open.values()), "a quote outlived the cancel"
    held = ex.account.positions.get("BTC", D(0))
    if on_cancel == "flatten":
        assert held == 0 and out.positions["paradex"] == 0
    else:
        assert out.positions["paradex"] == held
        assert held != 0  # the naive grid is loaded by then, and the position was left alone
    rec = run.recorder
    assert isinstance(rec, MemoryRecorder) and not [o for o in rec.fills if o.ts > out.ended]


def test_what_the_venue_cannot_trade_is_refused_before_any_order() -> None:
    # validated against the live instrument only (venue_mode=live skips the simulator profile check);
    # the simulator plays the venue: BTC at ~90k, so 0.0001 BTC is ~9 USD, below the 10 USD minimum
    p = GridParams(venue_mode="live", size=D("0.0001"), max_position=D("0.001"), duration_s=60)
    with pytest.raises(PreTradeError) as e:
        run_grid(p)
    assert [pr.field for pr in e.value.problems] == ["size"]
    assert "minimum notional" in str(e.value)


def test_the_split_it_shows_is_the_warehouses(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    journal = Journal("grid-wh-1", paths.journal_dir)
    p = GridParams(mode="naive", duration_s=240, seed=5)
    run = run_grid(p, journal, "grid-wh-1")
    journal.close_sync()
    load(paths)
    con = duckdb.connect(str(paths.published), read_only=True)
    try:
        row = con.execute("SELECT fills, spread_capture, inventory_pnl, fees, funding, total FROM pnl_split "
                          "WHERE run_id = 'grid-wh-1'").fetchone()
        facts = con.execute(
            "SELECT count(*) FILTER (WHERE liquidity = 'MAKER'), count(*) FILTER (WHERE liquidity = 'TAKER'), "
            "sum(notional), max(abs(inventory_after)), (SELECT count(*) FROM strategy_events e "
            "WHERE e.run_id = 'grid-wh-1' AND e.event = 'pause') FROM fill_diagnostics WHERE run_id = 'grid-wh-1'"
        ).fetchone()
        n_diag = con.execute("SELECT count(*), count(*) FILTER (WHERE order_price IS NOT NULL), "
                             "count(*) FILTER (WHERE d.order_id IN "
                             "(SELECT order_id FROM orders WHERE type = 'MARKET')) "
                             "FROM fill_diagnostics d WHERE run_id = 'grid-wh-1'").fetchone()
    finally:
        con.close()
    split = run.strategy.split()
    assert split is not None and row is not None and split.fills > 0
    assert row[0] == split.fills
    for got, want in zip(row[1:], (split.spread_capture, split.inventory_pnl, split.fees, split.funding,
                                   split.total), strict=True):
        assert got == pytest.approx(float(want), abs=1e-6)
    summary = run.strategy.summary("grid-wh-1", run.outcome.status, run.outcome.reason,
                                   run.outcome.positions["paradex"])
    assert facts is not None
    assert (summary.maker_fills, summary.taker_fills) == (facts[0], facts[1]) and summary.taker_fills >= 1
    assert float(summary.volume) == pytest.approx(facts[2], abs=1e-6)
    assert float(summary.max_abs_inventory) == pytest.approx(facts[3], abs=1e-12)
    assert summary.pauses == facts[4]
    assert summary.total_pnl == split.total and summary.final_position == 0
    # every fill joined to its order: a limit price for the quotes, none for the flatten's market order
    assert n_diag is not None and n_diag[0] == split.fills and n_diag[1] + n_diag[2] == split.fills
