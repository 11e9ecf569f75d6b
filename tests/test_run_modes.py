"""Backtest, paper and live are told apart (issue 10, point 6): every run carries its mode and clock in
the warehouse, the cookbook's daily figures are per mode, and a simulated duration says so."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import duckdb

from core.records import RunEnd, RunInfo
from strategies.hedge.config import HedgeConfig
from strategies.hedge.result import summarize, summary_rows
from tests.hedge_run import record_hedge_run
from warehouse import query
from warehouse.journal import Journal
from warehouse.loader import load
from warehouse.paths import WarehousePaths
from warehouse.schema import LATEST, MIGRATIONS, migrate, version


def params(**kw: object) -> dict[str, object]:
    return HedgeConfig(**kw).public_params()  # type: ignore[arg-type]


def journal_run(paths: WarehousePaths, run_id: str, info_params: dict[str, object], started: float,
                mode: str | None = None, clock: str | None = None) -> None:
    j = Journal(run_id, paths.journal_dir)
    j.run_started(RunInfo(run_id, "hedge", ("paradex", "grvt"), "SOL", info_params, started, None, mode, clock))
    j.run_ended(RunEnd(run_id, started + 60, "COMPLETED", "done"))
    j.close_sync()


def test_runs_carry_mode_and_clock_and_the_daily_query_keeps_them_apart(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    backtest = record_hedge_run(paths.journal_dir, "hedge-sol-maker")  # a real bot run, virtual clock
    now = time.time()
    journal_run(paths, "paper-run", params(sim_clock="real"), now)
    journal_run(paths, "live-run", params(venue_mode="live"), now)
    journal_run(paths, "other-bot", {"anything": 1}, now, mode="live", clock="real")  # a bot that says it
    load(paths)
    rows = dict(((r, (m, c)) for r, m, c in query.df("SELECT run_id, mode, clock FROM runs", path=paths.published)
                 .itertuples(index=False, name=None)))
    assert rows == {backtest.run_id: ("backtest", "virtual"), "paper-run": ("paper", "real"),
                    "live-run": ("live", "real"), "other-bot": ("live", "real")}

    daily = query.named_query("daily_by_mode", path=paths.published)
    by_mode = {m: (int(n), float(v)) for m, n, v in daily[["mode", "runs", "volume"]].itertuples(index=False)}
    volume = sum(float(f.notional) for f in backtest.unique_fills)
    assert by_mode["backtest"] == (1, round(volume, 2))  # a backtest's volume stays out of the live day
    assert by_mode["live"] == (2, 0.0) and by_mode["paper"] == (1, 0.0)


def test_a_warehouse_from_before_modes_gets_them_from_each_runs_params(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    ours = next(m.version for m in MIGRATIONS if m.description.startswith("runs: mode"))
    migrate(con, ours - 1)  # the warehouse as it was before runs had a mode
    assert "mode" not in [r[0] for r in con.execute("DESCRIBE runs").fetchall()]
    con.execute("INSERT INTO runs (run_id, params) VALUES ('a', ?), ('b', ?), ('c', NULL)",
                [json.dumps(params(venue_mode="live")), json.dumps(params(sim_clock="virtual"))])
    migrate(con)
    assert version(con) == LATEST
    got = dict((r, (m, c)) for r, m, c in con.execute("SELECT run_id, mode, clock FROM runs").fetchall())
    assert got == {"a": ("live", "real"), "b": ("backtest", "virtual"), "c": (None, None)}


def test_a_backtests_duration_is_labelled_simulated(tmp_path: Path) -> None:
    run = record_hedge_run(tmp_path, "hedge-sol-taker")
    backtest = dict(summary_rows(summarize(run.result, mode="backtest", clock="virtual")))
    assert "duration" not in backtest and backtest["duration (simulated)"].endswith("min of simulated time")
    assert backtest["mode"] == "backtest (virtual clock)"
    live = dict(summary_rows(summarize(run.result, mode="live", clock="real")))
    assert "duration (simulated)" not in live and live["duration"].endswith(" min")
    assert HedgeConfig(venue_mode="sim", sim_clock="real").run_mode == ("paper", "real")
    assert HedgeConfig(size=Decimal("0.1")).run_mode == ("backtest", "virtual")
