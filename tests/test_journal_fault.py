"""Faults end cleanly (issue 10, point 13): a bot whose journal cannot write (the file size limit of
its process reached, as on a full disk: every write fails with EFBIG) stops adding risk, cancels,
flattens with reduce-only orders, ends FAILED naming the journal, and exits - no error loop, no hang.

The bot runs in a subprocess (the limit is per process): the real ``HedgeBot`` on the simulator,
recording through a real ``Journal`` behind the flow's ``GuardedRecorder``; a copy of every record
is kept in memory to see what the bot did after the journal failed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BOT = textwrap.dedent("""
    import json, os, resource, signal, sys
    from decimal import Decimal
    from pathlib import Path
    from core.clock import VirtualClock
    from exchanges.sim.world import SimWorld
    from strategies.hedge.config import HedgeConfig
    from strategies.hedge.bot import HedgeBot
    from strategies.runtime.recorder_guard import GuardedRecorder
    from tests.hedge_run import Tee
    from warehouse.journal import Journal

    import logging
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
    journal_dir = Path(sys.argv[1])
    cfg = HedgeConfig(primary="paradex", hedge="grvt", ticker="SOL", size=Decimal("0.1"), iterations=50, build_to=3,
                      seed=5)
    clock = VirtualClock()
    world = SimWorld(venues=("paradex", "grvt"), symbols=("SOL",), seed=5, clock=clock, warmup=900)
    tee = Tee(Journal("full", journal_dir))
    guard = GuardedRecorder(tee)
    failed_at = []

    def on_cycle(done, total, cycle):
        if done == 2 and not failed_at:  # two cycles open: a position is on
            size = os.path.getsize(journal_dir / "full.jsonl")
            resource.setrlimit(resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))
            failed_at.append(len(tee.memory.orders))

    runner = HedgeBot(cfg, "full", world.venue("paradex"), world.venue("grvt"), guard, clock, on_cycle=on_cycle)
    guard.on_failure = runner.fail

    async def main():
        try:
            return await runner.run()
        finally:
            await world.stop()
            await guard.close()

    result = clock.run(main)
    print(json.dumps({"status": result.status, "reason": result.reason, "positions": {k: str(v) for k, v in
                      result.positions.items()}, "lost": guard.lost, "failure": guard.failure,
                      "cycles": len(result.cycles), "recorded_ids": sorted({o.client_id for o in tee.memory.orders})}))
""")


def test_a_bot_whose_journal_cannot_write_flattens_and_exits_failed(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", BOT, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["status"] == "FAILED" and got["reason"].startswith("RECORD_FAILED"), got
    assert "File too large" in got["failure"]
    assert got["lost"] > 0  # records after the failure were logged, not written
    assert got["cycles"] < 50 * 2  # it stopped trading
    assert {v: float(p) for v, p in got["positions"].items()} == {"paradex": 0.0, "grvt": 0.0}  # flat
    # every order sent after the journal failed was logged ("recording what it can") and is reduce-only
    sent_after = {}
    for line in out.stderr.splitlines():
        found = re.search(r"not recorded \(journal failed\): order (\S+) (\S+) .*", line)
        if found and found.group(2) not in got["recorded_ids"]:
            sent_after[found.group(2)] = line.endswith("reduce-only")
    # orders in flight when the journal failed are named by the stop, which cancels them
    [stop] = [line for line in out.stderr.splitlines() if "perpflow.hedge: risk state RECORD_FAILED" in line
              and "cancelling" in line]
    in_flight = {ref.split(":")[1] for ref in stop.split("cancelling ")[1].split()}
    for client_id in in_flight & set(sent_after):
        assert re.search(rf"order \S+ {client_id} .* CANCELLED", out.stderr), client_id
    flatten = {c: reduce_only for c, reduce_only in sent_after.items() if c not in in_flight}
    assert flatten and all(flatten.values()), sent_after
    errors = [line for line in out.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 2, errors  # the journal's write error and the stop: once each, no loop
