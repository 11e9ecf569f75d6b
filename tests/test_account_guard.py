"""The hedge flow's account guard across processes and servers (issue 10, points 2 and 3).

A bot of another process (another Prefect server's run, a shell's run) holds the account's OS lock:
a flow run here is refused naming it, before any order. A bot killed with kill -9 while holding the
account (OS lock and Prefect slot) leaves it usable at once by the next run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.hedge import hedge_flow
from strategies.hedge.config import HedgeConfig
from tasks.account import ensure_account_limit, limit_name

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = HedgeConfig().account_key

BOT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from tasks.account import hold_account
    with hold_account([sys.argv[2]], {"run_id": "other-run", "flow_run_id": None}, data_dir=Path(sys.argv[1]),
                      timeout=60):
        print("held", flush=True)
        time.sleep(600)
""")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from core.settings import get_settings

    monkeypatch.setenv("PERPFLOW_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def other_bot(data_dir: Path) -> subprocess.Popen[str]:
    """A bot in another process holding the account through the same guard (OS lock + Prefect slot)."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    proc = subprocess.Popen([sys.executable, "-c", BOT, str(data_dir), ACCOUNT], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def slots() -> int:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as c:
        return c.read_global_concurrency_limit_by_name(limit_name(HedgeConfig().account_key)).active_slots


def test_a_run_is_refused_while_another_process_holds_the_account_and_sends_nothing(
        data_dir: Path, prefect_harness: None) -> None:
    ensure_account_limit(HedgeConfig().account_key)
    bot = other_bot(data_dir)
    try:
        state = hedge_flow(iterations=1, lock_timeout=1.0, return_state=True)
        assert state.is_failed()
        assert f"account {ACCOUNT} is in use by run other-run (pid {bot.pid}" in state.message
        assert "waited 1.0 s" in state.message
        assert not any((data_dir / "journal").glob("*.jsonl"))  # no order, no record
    finally:
        bot.send_signal(signal.SIGINT)  # a clean stop: the guard releases its Prefect slot
        bot.wait()
    assert slots() == 0


def test_a_bot_killed_with_kill_9_leaves_its_account_usable_at_once(data_dir: Path, prefect_harness: None) -> None:
    ensure_account_limit(HedgeConfig().account_key)
    bot = other_bot(data_dir)
    assert slots() == 1  # its Prefect slot, with a lease nobody will renew nor release
    os.kill(bot.pid, signal.SIGKILL)
    bot.wait()
    t0 = time.monotonic()
    state = hedge_flow(iterations=1, lock_timeout=5.0, return_state=True)  # the dead lease lives 60 s
    assert state.is_completed(), state.message
    assert time.monotonic() - t0 < 60
    assert slots() == 0


def test_two_live_pairs_never_share_a_venue_account(data_dir: Path, prefect_harness: None) -> None:
    """paradex+grvt and backpack+grvt are different bot accounts (two Prefect limits) but one GRVT
    account: while the first trades live, the second is refused naming the GRVT account, before it
    asks Prefect for anything. A simulated run trades its own world and locks no venue account."""
    from tasks.account import AccountBusy, hold_account, venue_accounts

    assert venue_accounts("sim", ["paradex", "grvt"]) == []
    first, second = "live-paradex-grvt", "live-backpack-grvt"
    for key in (first, second):
        ensure_account_limit(key)
    with hold_account([first], {"run_id": "run-A"}, data_dir=data_dir,
                      venue_accounts=venue_accounts("live", ["paradex", "grvt"])):
        with pytest.raises(AccountBusy) as busy, hold_account(
                [second], {"run_id": "run-B"}, data_dir=data_dir, timeout=0,
                venue_accounts=venue_accounts("live", ["backpack", "grvt"])):
            pytest.fail("a second live bot took the GRVT account")
        assert busy.value.account == "live-venue-grvt" and "run-A" in str(busy.value)
    with hold_account([second], {"run_id": "run-B"}, data_dir=data_dir, timeout=0,
                      venue_accounts=venue_accounts("live", ["backpack", "grvt"])):
        pass  # free again once the first run ends
