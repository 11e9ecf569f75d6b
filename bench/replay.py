"""Replay rate: a capture through our engine and, when installed in a side environment, through
hftbacktest - both rates and their ratio from one run.

    .venv/bin/python bench/replay.py [--file CAPTURE.jsonl.gz] [--minutes 10]
        [--hftbacktest-python PATH]   # default: $HFTBACKTEST_PYTHON, else .venv-hbt/bin/python

Without ``--file`` a capture is recorded from the seeded model first (grvt ETH with busy depth,
``--minutes`` long). Rates count book events (level changes and prints) per CPU second of
replaying (``time.process_time``; the machine is shared), reading and decoding the file apart; our
rate is the best of ``--repeat`` replays (a busy machine's single run varies by 30% and more, and a
short file replays in milliseconds).
hftbacktest needs its own environment (it pins numba/numpy versions of its own):

    .uv/bin/uv venv .venv-hbt && .uv/bin/uv pip install -p .venv-hbt/bin/python hftbacktest

It replays the same events, converted to its event array (depth updates and trades, exchange =
local time), through ``HashMapMarketDepthBacktest.elapse`` with no strategy: its loop at full speed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from exchanges.sim.profiles import load_profiles
from exchanges.sim.replay import ASK, BID, Replay, load_replay, record
from exchanges.sim.world import SimWorld

ROOT = Path(__file__).resolve().parent.parent

_HBT = r"""
import sys, time
import numpy as np
from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest
d = np.load(sys.argv[1])
ev = d["events"]
asset = (BacktestAsset().data(ev).linear_asset(1.0).constant_order_latency(0, 0).risk_adverse_queue_model()
         .no_partial_fill_exchange().trading_value_fee_model(0.0, 0.0).tick_size(float(d["tick"]))
         .lot_size(float(d["lot"])).last_trades_capacity(0))
hbt = HashMapMarketDepthBacktest([asset])
hbt.elapse(1)  # warm-up: loading and first touch of the data are not replay
t0 = time.process_time()
hbt.elapse(int(ev["exch_ts"][-1] - ev["exch_ts"][0]) + 1_000_000_000)
wall = time.process_time() - t0
hbt.close()
print(len(ev), wall)
"""


def capture(minutes: float, out: Path) -> Path:
    """A busy grvt ETH book from the model (a real capture has far more depth updates than prints)."""
    base = load_profiles()
    venue = base.venue("grvt").with_market("ETH", book_updates_per_s=150.0, trade_rate_per_s=4.0)
    profiles = dataclasses.replace(base, venues={**base.venues, "grvt": venue})
    record(SimWorld(venues=("grvt",), symbols=("ETH",), seed=7, profiles=profiles), "grvt", "ETH", minutes * 60, out,
           depth=20)
    return out


def ours(rp: Replay) -> tuple[int, float]:
    world = SimWorld(venues=(rp.venue,), symbols=(rp.symbol,), replays={rp.venue: rp})
    before = world.events
    t0 = time.process_time()
    world.run_for(rp.end - world.t + 1)
    return world.events - before, time.process_time() - t0


def to_hftbacktest(rp: Replay, out: Path) -> None:
    """Our events as hftbacktest's event array (DEPTH_EVENT / TRADE_EVENT, BUY/SELL side flags)."""
    depth, trade, exch, local, buy, sell = 1, 2, 1 << 31, 1 << 30, 1 << 29, 1 << 28
    n = len(rp)
    dtype = np.dtype([("ev", "u8"), ("exch_ts", "i8"), ("local_ts", "i8"), ("px", "f8"), ("qty", "f8"),
                      ("order_id", "u8"), ("ival", "i8"), ("fval", "f8")], align=True)
    arr = np.zeros(n, dtype=dtype)
    k = np.array(rp.ev_k)
    q = np.array(rp.ev_q, dtype=np.float64)
    ts = (np.array(rp.ev_t) * 1e9).astype(np.int64)
    side = np.where(k == BID, buy, np.where(k == ASK, sell, np.where(q > 0, buy, sell)))
    arr["ev"] = np.where(k == 2, trade, depth) | exch | local | side
    arr["exch_ts"] = ts
    arr["local_ts"] = ts
    arr["px"] = np.array(rp.ev_p, dtype=np.float64) * float(rp.tick)
    arr["qty"] = np.abs(q) * float(rp.lot)
    np.savez(out, events=arr, tick=float(rp.tick), lot=float(rp.lot))


def hftbacktest(rp: Replay, python: Path) -> tuple[int, float] | str:
    if not python.exists():
        return (f"not available: no side environment at {python} (make one with: .uv/bin/uv venv .venv-hbt && "
                f".uv/bin/uv pip install -p .venv-hbt/bin/python hftbacktest)")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "events.npz"
        to_hftbacktest(rp, data)
        res = subprocess.run([str(python), "-c", _HBT, str(data)], capture_output=True, text=True)
    if res.returncode:
        return f"not available: hftbacktest failed ({res.stderr.strip().splitlines()[-1:] or res.returncode})"
    n, wall = res.stdout.split()
    return int(n), float(wall)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", type=Path, help="a replay file (default: record one from the model)")
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the recorded capture (no --file)")
    ap.add_argument("--repeat", type=int, default=5, help="replays of the file through our engine, the best is kept")
    ap.add_argument("--hftbacktest-python", type=Path,
                    default=Path(os.environ.get("HFTBACKTEST_PYTHON", ROOT / ".venv-hbt" / "bin" / "python")))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.file or capture(args.minutes, Path(tmp) / "capture.jsonl.gz")
        t0 = time.process_time()
        rp = load_replay(path)
        load_s = time.process_time() - t0
        print(f"capture: {path if args.file else 'recorded from the model'} | {len(rp):,} book events "
              f"({rp.prints:,} prints) over {rp.end - rp.start:,.0f} s | read and decoded in {load_s:.2f} s "
              f"({len(rp) / load_s:,.0f} events/s)")
        n, s = min((ours(rp) for _ in range(max(1, args.repeat))), key=lambda r: r[1])
        rate = n / s
        print(f"perpflow engine : {n:,} events in {s:.3f} s = {rate:,.0f} events/s (target >= 1,000,000) | "
              f"best of {max(1, args.repeat)} | load average {os.getloadavg()[0]:.2f}")
        other = hftbacktest(rp, args.hftbacktest_python)
        if isinstance(other, str):
            print(f"hftbacktest     : {other}")
        else:
            print(f"hftbacktest     : {other[0]:,} events in {other[1]:.3f} s = {other[0] / other[1]:,.0f} events/s | "
                  f"hftbacktest / perpflow = {other[0] / other[1] / rate:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
