"""The warehouse under real processes: concurrent writers, loader and analyst; a writer killed -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb

from warehouse.loader import load
from warehouse.paths import WarehousePaths

ROOT = Path(__file__).resolve().parent.parent


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.warehouse_procs", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_writers_loader_and_analyst_at_once_lose_nothing_and_never_block(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    paths.ensure()
    n_fills = 6000
    writers = [spawn("writer", str(paths.journal_dir), f"w{k}", str(n_fills), "32") for k in range(4)]
    analyst = spawn("analyst", str(paths.published), "12")
    lock_held: list[tuple[float, float]] = []
    loads = 0
    stop = threading.Event()
    load_errors: list[BaseException] = []

    def loader_loop() -> None:
        nonlocal loads
        while not stop.is_set():
            try:
                t0 = time.time()
                load(paths, wait=30)
                lock_held.append((t0, time.time()))
                loads += 1
            except BaseException as err:  # the test fails on any
                load_errors.append(err)
                return

    thread = threading.Thread(target=loader_loop)
    thread.start()
    results = []
    for w in writers:
        out, err = w.communicate(timeout=240)
        assert w.returncode == 0, err
        assert "lock" not in err.lower(), err
        results.append(last_json(out))
    stop.set()
    thread.join(timeout=120)
    out, err = analyst.communicate(timeout=120)
    report = last_json(out)
    assert not load_errors, load_errors
    assert report["n_errors"] == 0, report["errors"]  # the reader never saw a lock error, nor blocked the loader
    assert report["queries"] > 0
    assert loads >= 2
    # writers kept acknowledging fills while the loader held its lock: they never waited for it
    stamps = [s for r in results for s in r["stamps"]]
    assert any(a <= s <= b for a, b in lock_held for s in stamps)

    final = load(paths, wait=30)
    assert final.quarantined == 0
    con = duckdb.connect(str(paths.published), read_only=True)
    try:
        total, distinct = con.execute(
            "SELECT count(*), count(DISTINCT (venue, order_id, trade_id)) FROM fills").fetchone()
        assert total == distinct == 4 * n_fills
        per_run = dict(con.execute("SELECT run_id, count(*) FROM fills GROUP BY run_id").fetchall())
        assert per_run == {f"w{k}": n_fills for k in range(4)}
        assert con.execute("SELECT count(*) FROM orders").fetchone()[0] == sum(r["orders"] for r in results)
        assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0
    finally:
        con.close()


def test_writer_killed_mid_stream_loses_no_acknowledged_fill(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    paths.ensure()
    proc = spawn("crash_writer", str(paths.journal_dir), "crash")
    acked: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        acked.append(line.strip())
        if len(acked) >= 3000:
            break
    os.kill(proc.pid, signal.SIGKILL)  # mid-stream: it keeps writing until the signal lands
    proc.wait(timeout=30)
    rest = proc.stdout.read()
    acked += [x for x in rest.splitlines() if x.strip()]
    if rest and not rest.endswith("\n"):
        acked.pop()  # a half-printed id was never fully reported
    first = load(paths)
    con = duckdb.connect(str(paths.published), read_only=True)
    try:
        loaded = {r[0] for r in con.execute("SELECT trade_id FROM fills").fetchall()}
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("fills", "orders", "order_events")}
    finally:
        con.close()
    assert set(acked) <= loaded
    assert first.quarantined == 0
    second = load(paths)  # the same journals again change nothing
    assert second.records == 0
    con = duckdb.connect(str(paths.published), read_only=True)
    try:
        assert {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in counts} == counts
    finally:
        con.close()
