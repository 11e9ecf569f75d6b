"""``bench/agents.py`` in small (one seed, a day and a half simulated, one venue): it records every backtest
into a warehouse, reads its figures back by SQL, checks them against the backtests (it exits
non-zero when they disagree) and prints every column the issue asks for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent


def test_the_agent_bench_prints_the_warehouses_figures(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "agents.py"), "--seeds", "1", "--days", "1.5",
                          "--venues", "extended", "--keep", str(tmp_path)],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    for column in ("trades/day", "avg hold h", "drag %/trip", "win rate", "PnL USD", "max DD USD", "calls",
                   "skipped"):
        assert column in text
    for variant in ("profit", "volume", "quick baseline", "floor (coin flip)"):
        assert f"\n{variant} " in text
    # the volume row's PnL is the warehouse's sum over that run's round trips
    row = next(line for line in text.splitlines() if line.startswith("volume "))
    pnl = float(row.split()[5])
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        (sql_pnl, n), = con.execute("SELECT coalesce(sum(pnl), 0), count(*) FROM agent_trades "
                                    "WHERE run_id = 'bench-extended-volume-s0'").fetchall()
        (calls,), = con.execute("SELECT count(*) FILTER (WHERE llm_called) FROM decisions "
                                "WHERE run_id = 'bench-extended-volume-s0'").fetchall()
    finally:
        con.close()
    assert n > 0 and round(float(sql_pnl), 3) == pnl
    assert float(row.split()[7]) == calls
