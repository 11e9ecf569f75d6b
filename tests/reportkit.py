"""A warehouse for the report tests: real hedge-bot runs on the simulator (one of them meets a GRVT
book that executes nothing at first) and the intelligence flows' records (sentiment, an insight, a
review), all on the simulator's first day, 2026-01-05 (UTC)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from core.clock import DEFAULT_VIRTUAL_START
from tests.hedge_run import RUNS, RecordedRun, record_hedge_run, thin_hedge_book_at_first
from warehouse.journal import Journal
from warehouse.loader import load
from warehouse.paths import WarehousePaths

DAY = dt.date(2026, 1, 5)
EMPTY_DAY = dt.date(2026, 1, 7)
REVIEW_RECOMMENDATION = "Shrink the ETH clip to 0.2 on GRVT"
GRID_RUN = "grid-diag-1"
AGENT_RUN = "agent-day"


def write_intelligence(journal_dir: Path) -> None:
    j = Journal("intel-2026-01-05", journal_dir)
    t0 = DEFAULT_VIRTUAL_START
    for i in range(12):
        j.record("sentiment", source="fear_greed", metric="index", symbol=None, value=40.0 + i, ts=t0 + i * 3600,
                 age_s=10.0, stale=False)
        j.record("sentiment", source="funding", metric="rate_8h", symbol="SOL", value=0.0001 * (i - 5),
                 ts=t0 + i * 3600, age_s=5.0, stale=i == 11)
    j.record("insight", insight_id="ins-1", ts=t0 + 7200, scope="market", topic="regime", data={"regime": "calm"},
             confidence=0.7, source="review")
    j.record("review", review_id="rev-1", ts=t0 + 20 * 3600, reviewer="cross-bot", model="qwen-test",
             period_start=t0, period_end=t0 + 20 * 3600, summary="Hedges turn taker too often.",
             body={"recommendations": [{"action": REVIEW_RECOMMENDATION, "verdict": "accepted"}]}, valid=True)
    j.close_sync()


def write_agent_run(journal_dir: Path) -> list[dict]:
    """An agent backtest of three simulated days (started on DAY), journalled with its orders, fills
    and funding (``record_backtest``); returns its round trips."""
    import asyncio

    from exchanges.sim.paths import generate_path
    from strategies.agent.adviser import local_ask
    from strategies.agent.backtest import record_backtest, run_backtest
    from strategies.agent.params import AgentParams
    from strategies.agent.policies import quick

    params = AgentParams(venue="hibachi", symbols=("SOL", "ETH"), mode="volume", burn=False)
    path = generate_path(["SOL", "ETH"], days=3, seed=5, start=DEFAULT_VIRTUAL_START, bar_s=300)
    r = run_backtest(params, path, local_ask(quick))
    j = Journal(AGENT_RUN, journal_dir)
    asyncio.run(record_backtest(r, j, AGENT_RUN))
    j.close_sync()
    return list(r.trades)


def build_report_warehouse(data_dir: Path) -> dict[str, RecordedRun]:
    """Hedge runs (returned), a grid run (tests/test_grid_diagnostics.py's) and an agent backtest."""
    from tests.test_grid_diagnostics import _journal as write_grid_run

    paths = WarehousePaths(data_dir)
    runs = [record_hedge_run(paths.journal_dir, run_id) for run_id in RUNS]
    runs.append(record_hedge_run(paths.journal_dir, "hedge-thin-grvt", script=thin_hedge_book_at_first,
                                 ticker="SOL", size=RUNS["hedge-sol-taker"]["size"], iterations=2,
                                 hedge_mode="market", seed=11))
    write_intelligence(paths.journal_dir)
    write_grid_run(paths.journal_dir)
    write_agent_run(paths.journal_dir)
    load(paths)
    return {r.run_id: r for r in runs}
