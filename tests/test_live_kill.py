"""A live hedge bot killed mid-cycle (SIGKILL, a real process), then restarted for the same account.

The fakes run here, on one simulated market whose books hold still so the scenario is exact.
``perpflow hedge --venue-mode live`` runs in a subprocess against them (a Prefect flow run on the
session's temporary Prefect server). Its primary order is filled by someone else's market order;
once its maker hedge rests on GRVT and the fill is in its journal, the process is SIGKILLed: an
unhedged primary position and a resting hedge order are left behind, and no ``finally`` ran.

A second bot for the same account then starts (in this process, through the same live-adapter
registry; a second CLI run would start at once too: the OS lock died with the bot and the next
holder releases its Prefect lease, see tests/test_cli_server.py). It must cancel the dead run's
order, read the venues' positions before anything else,
report a ``RESTART_RECONCILE`` risk event, flatten, trade its own cycles and end flat; and the
killed run's fill, fsynced before the kill, must reach the warehouse, and the killed run's row must
say CRASHED, ended at its journal's last record.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path

from core.reasons import Reason
from core.types import Side
from exchanges.fakes.venues import FakeVenues
from strategies.hedge.config import HedgeConfig
from tests.livekit import hold_still, position, rows, run_bot, wait_for
from warehouse.loader import load
from warehouse.paths import WarehousePaths

PERPFLOW = Path(sys.executable).with_name("perpflow")
SIZE = Decimal("0.1")


def journal_kinds(paths: WarehousePaths) -> list[dict]:
    out = []
    for p in Path(paths.journal_dir).glob("*.jsonl"):
        for line in p.read_text().splitlines():
            with contextlib.suppress(ValueError):  # a torn last line of the killed writer
                out.append(json.loads(line))
    return out


def resting(fakes: FakeVenues, venue: str) -> dict[str, str]:
    """The orders resting on the fake venue that came through its API: wire id -> client id."""
    fake = fakes.server("paradex") if venue == "paradex" else fakes.server("grvt")
    assert fake is not None
    ex = fake.engine.ex
    return {wire: ex.orders[o.sim_id].client_id for wire, o in fake.engine.orders.items() if o.sim_id in ex.open}


def status(fakes: FakeVenues, venue: str, wire_id: str) -> str:
    fake = fakes.server("paradex") if venue == "paradex" else fakes.server("grvt")
    assert fake is not None
    sim_id = fake.engine.orders[wire_id].sim_id
    return fake.engine.ex.orders[sim_id].status.value


async def test_a_bot_killed_mid_cycle_is_reconciled_by_the_next_one(tmp_path: Path, prefect_harness: None) -> None:
    from prefect.settings import PREFECT_API_URL

    paths = WarehousePaths(tmp_path / "data")
    # only the venues it trades: the market's paths (seeded) must not change when a venue is added
    async with FakeVenues(("paradex", "grvt"), symbols=("SOL",)) as fakes:
        assert fakes.server("paradex") is not None and fakes.server("grvt") is not None
        thaw = hold_still(fakes)
        env = {**os.environ, **fakes.env(), "PERPFLOW_DATA_DIR": str(paths.data_dir),
               "PREFECT_API_URL": str(PREFECT_API_URL.value()), "PREFECT_HOME": str(tmp_path / "prefect")}
        proc = await asyncio.create_subprocess_exec(
            str(PERPFLOW), "hedge", "--venue-mode", "live", "--ticker", "SOL", "--size", str(SIZE), "--iter", "1",
            "--primary-mode", "bbo_plus_1", "--hedge-mode", "bbo_minus_1", "--hedge-timeout", "300",
            "--lock-timeout", "30", env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        try:
            await wait_for(lambda: any("-p" in c for c in resting(fakes, "paradex").values())
                           or proc.returncode is not None, 90, "the bot's primary order")
            assert proc.returncode is None, (await proc.stdout.read()).decode()[-3000:]  # type: ignore[union-attr]
            # someone else's market sell fills our bid (bbo_plus_1: alone at the top of the book)
            assert fakes.server("paradex").market_trade("SOL", Side.SELL, SIZE) == SIZE
            await wait_for(lambda: bool(resting(fakes, "grvt"))
                           and any(r.get("kind") == "fill" for r in journal_kinds(paths)), 30,
                           "the maker hedge resting on GRVT and the primary fill in the journal")
            proc.send_signal(signal.SIGKILL)  # mid-cycle: unhedged, a hedge order resting, no cleanup
            assert await proc.wait() == -signal.SIGKILL
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        [dead_hedge] = resting(fakes, "grvt")
        assert position(fakes, "paradex", "SOL") == SIZE and position(fakes, "grvt", "SOL") == 0
        [killed_run] = {r["run_id"] for r in journal_kinds(paths)}

        thaw()  # the market moves again
        cfg = HedgeConfig(ticker="SOL", size=SIZE, iterations=1, primary_mode="bbo", hedge_mode="market",
                          venue_mode="live")
        result = await run_bot(fakes, cfg, "restarted-1", paths)
        assert result.status == "COMPLETED", result.reason
        assert position(fakes, "paradex", "SOL") == 0 and position(fakes, "grvt", "SOL") == 0
        assert status(fakes, "grvt", dead_hedge) == "CANCELLED"  # the dead run's order, cancelled first

    [restart] = [e for e in result.risk_events if e.reason is Reason.RESTART_RECONCILE]
    assert "unhedged position (paradex 0.1, grvt 0)" in restart.detail and "flattening" in restart.detail
    first = min(result.risk_events, key=lambda e: e.ts)
    assert first is restart  # reconciled before anything else happened
    assert [c.kind for c in result.cycles] == ["open", "close"]  # then traded its own cycle

    load(paths)
    runs = {r: (st, ended) for r, st, ended in rows(paths, "SELECT run_id, status, ended FROM runs")}
    assert runs["restarted-1"][0] == "COMPLETED"
    assert runs[killed_run][0] == "CRASHED" and runs[killed_run][1] is not None  # never ended: crashed, not RUNNING
    [(killed_fill,)] = rows(paths, "SELECT size FROM fills WHERE run_id = ? AND venue = 'paradex'", [killed_run])
    assert killed_fill == SIZE  # fsynced before the kill, so it survived it
    reduce_only = rows(paths, "SELECT DISTINCT reduce_only FROM orders WHERE run_id = 'restarted-1' "
                              "AND client_id LIKE '%-f%'")
    assert reduce_only == [(True,)]  # the restart flattened with reduce-only orders only
    assert rows(paths, "SELECT reason FROM risk_events WHERE run_id = 'restarted-1' ORDER BY ts, seq LIMIT 1") \
        == [("RESTART_RECONCILE",)]
