"""A killed bot's run does not stay RUNNING forever (issue 10, point 3): the next load marks it CRASHED,
ended at the last thing it recorded; a live run stays RUNNING; a run_end that turns up later wins."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

from core.records import RunEnd, RunInfo
from core.types import Order, OrderStatus, OrderType, Side
from warehouse.crashed import REASON
from warehouse.journal import Journal
from warehouse.loader import load
from warehouse.paths import WarehousePaths
from warehouse.query import connect

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_780_000_000.0

BOT = textwrap.dedent("""
    import sys, time
    from decimal import Decimal
    from pathlib import Path
    from core.records import RunInfo
    from core.types import Order, OrderStatus, OrderType, Side
    from warehouse.journal import Journal
    j = Journal(sys.argv[2], Path(sys.argv[1]))
    t0 = float(sys.argv[3])
    j.run_started(RunInfo(sys.argv[2], "hedge", ("paradex", "grvt"), "SOL", {"venue_mode": "live"}, t0))
    j.order(Order("paradex", "o1", "c1", "SOL", Side.BUY, OrderType.LIMIT, Decimal("100"), Decimal("0.1"),
                  status=OrderStatus.OPEN, ts=t0 + 42))
    j.flush_sync()
    print("trading", flush=True)
    time.sleep(600)
""")


def trading_bot(journal_dir: Path, run_id: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", BOT, str(journal_dir), run_id, str(T0)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "trading"
    return proc


def kill_9(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def killed_bot(journal_dir: Path, run_id: str) -> None:
    kill_9(trading_bot(journal_dir, run_id))


def runs(paths: WarehousePaths) -> dict[str, tuple]:
    with connect(paths.published) as con:
        return {r[0]: r[1:] for r in con.execute("SELECT run_id, status, epoch(ended), reason FROM runs").fetchall()}


def test_a_run_killed_with_kill_9_becomes_crashed_at_its_last_record(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    live = Journal("alive", paths.journal_dir)  # a bot still trading in this process
    live.run_started(RunInfo("alive", "hedge", ("paradex", "grvt"), "SOL", {}, T0))
    live.flush_sync()
    killed_bot(paths.journal_dir, "killed")
    assert load(paths).crashed == 1  # the first load that sees it settles it
    got = runs(paths)
    assert got["alive"] == ("RUNNING", None, None)
    status, ended, reason = got["killed"]
    assert (status, ended, reason) == ("CRASHED", T0 + 42, REASON)
    assert load(paths).crashed == 0  # settled once

    live.run_ended(RunEnd("alive", T0 + 5, "COMPLETED", "done"))
    live.close_sync()
    load(paths)
    assert runs(paths)["alive"][0] == "COMPLETED"


def test_a_run_end_that_arrives_after_the_crash_verdict_wins(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    killed_bot(paths.journal_dir, "late")
    load(paths)
    assert runs(paths)["late"][0] == "CRASHED"
    j = Journal("late", paths.journal_dir)  # the journal was resumed and ended properly after all
    j.run_ended(RunEnd("late", T0 + 50, "CANCELLED", "stopped"))
    j.order(Order("paradex", "o1", "c1", "SOL", Side.BUY, OrderType.LIMIT, Decimal("100"), Decimal("0.1"),
                  status=OrderStatus.CANCELLED, ts=T0 + 49))
    j.close_sync()
    load(paths)
    assert runs(paths)["late"][:2] == ("CANCELLED", T0 + 50)


def test_a_run_loaded_while_trading_then_killed_is_settled_by_the_next_load(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    bot = trading_bot(paths.journal_dir, "later-killed")
    try:
        assert load(paths).crashed == 0
        assert runs(paths)["later-killed"][0] == "RUNNING"
    finally:
        kill_9(bot)
    assert load(paths).crashed == 1  # no new line in its journal: the runs row alone tells
    assert runs(paths)["later-killed"][:2] == ("CRASHED", T0 + 42)
