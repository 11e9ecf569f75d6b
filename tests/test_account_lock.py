"""One bot per account across processes: the OS lock under Prefect's limit (issue 10, points 2 and 3)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core.account_lock import AccountBusy, hold_accounts, lock_path, read_holder

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from core.account_lock import hold_accounts
    with hold_accounts(Path(sys.argv[1]), sys.argv[2].split(","), {"run_id": "run-A", "flow_run_id": "fr-A"}) as locks:
        locks[0].note(lease_id="lease-of-A")
        print("held", flush=True)
        time.sleep(600)
""")


def start_holder(lock_dir: Path, accounts: str) -> subprocess.Popen[str]:
    """Another process (another server's bot, a shell's run) holding accounts until killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock_dir), accounts], stdout=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parents[1])
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_process_is_refused_naming_the_run_that_holds_the_account(tmp_path: Path) -> None:
    holder = start_holder(tmp_path, "sim-paradex-grvt")
    try:
        with pytest.raises(AccountBusy) as busy, hold_accounts(tmp_path, ["sim-paradex-grvt"], {"run_id": "run-B"}):
            pytest.fail("two holders of one account")
        assert busy.value.holder["pid"] == holder.pid and busy.value.holder["flow_run_id"] == "fr-A"
        assert f"pid {holder.pid}" in str(busy.value) and "run fr-A" in str(busy.value)
        # other accounts stay free
        with hold_accounts(tmp_path, ["sim-backpack-grvt"], {"run_id": "run-B"}) as [lock]:
            assert lock.account == "sim-backpack-grvt"
    finally:
        holder.kill()
        holder.wait()


def test_waiting_reports_the_holder_and_gives_up_after_the_timeout(tmp_path: Path) -> None:
    holder = start_holder(tmp_path, "acct")
    seen: list[AccountBusy] = []
    try:
        t0 = time.monotonic()
        with pytest.raises(AccountBusy) as busy, hold_accounts(tmp_path, ["acct"], {}, timeout=0.6,
                                                                 on_wait=seen.append):
            pytest.fail("held a busy account")
        assert time.monotonic() - t0 >= 0.6
        assert "waited 0.6 s" in str(busy.value)
        assert [b.holder["run_id"] for b in seen] == ["run-A"]  # logged once, not per poll
    finally:
        holder.kill()
        holder.wait()


def test_kill_9_frees_the_account_at_once_and_the_next_holder_sees_what_the_dead_one_left(tmp_path: Path) -> None:
    holder = start_holder(tmp_path, "acct,other")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with hold_accounts(tmp_path, ["other", "acct"], {"run_id": "run-B"}, timeout=0) as locks:
        assert [lk.account for lk in locks] == ["acct", "other"]  # sorted: no deadlock between two runs
        assert locks[0].previous["lease_id"] == "lease-of-A" and locks[0].previous["pid"] == holder.pid
        assert read_holder(lock_path(tmp_path, "acct"))["run_id"] == "run-B"
    # a clean release leaves nothing behind to clean up
    assert read_holder(lock_path(tmp_path, "acct")) == {}


def test_a_partly_busy_set_holds_nothing(tmp_path: Path) -> None:
    holder = start_holder(tmp_path, "b")
    try:
        with pytest.raises(AccountBusy), hold_accounts(tmp_path, ["a", "b"], {"run_id": "run-B"}):
            pytest.fail("held a busy account")
        with hold_accounts(tmp_path, ["a"], {"run_id": "run-C"}):  # "a" was released when "b" was refused
            pass
    finally:
        holder.kill()
        holder.wait()


def test_lock_files_are_named_safely(tmp_path: Path) -> None:
    with hold_accounts(tmp_path, ["live-../paradex"], {"run_id": "x"}):
        [path] = tmp_path.iterdir()
        assert path.parent == tmp_path and "/" not in path.name
        assert json.loads(path.read_text())["account"] == "live-../paradex"
