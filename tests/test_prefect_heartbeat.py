"""A flow run whose process dies without a word is marked Crashed by the heartbeat automation.

The dead run is a ``perpflow hedge`` bot started from a shell against the local server (no worker
watches it), SIGKILLed while it waits for its account. It is killed in the first test; the check
that the automation crashed it runs last (``@pytest.mark.last``), so its 90 s window passes while
the rest of the suite runs.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import pytest

from server.automations import CRASH_SILENT_RUNS, HEARTBEAT_S, MISSED_HEARTBEATS
from tests.local_prefect import BIN, ROOT, LocalPrefect

ACCOUNT = "account-sim-backpack-grvt"


@dataclass(frozen=True)
class KilledRun:
    run_id: UUID
    last_heartbeat: datetime
    killed_at: datetime


def heartbeats(lp: LocalPrefect, run_id: UUID) -> list[datetime]:
    body = {"filter": {"event": {"name": ["prefect.flow-run.heartbeat"]},
                       "resource": {"id": [f"prefect.flow-run.{run_id}"]}}, "limit": 50}
    events = httpx.post(f"{lp.api_url}/events/filter", json=body, timeout=10).json()["events"]
    return sorted(datetime.fromisoformat(e["occurred"]) for e in events)


def shell_run(lp: LocalPrefect, since: datetime) -> UUID | None:
    """The hedge run started from the shell (no deployment) after ``since``, once it runs."""
    with lp.client() as c:
        for run in c.read_flow_runs():
            if run.deployment_id is None and run.created and run.created >= since and run.state.is_running():
                return run.id
    return None


@pytest.fixture(scope="session")
def killed_run(local_prefect: LocalPrefect) -> KilledRun:
    """Hold the account from here, start a bot that waits for it, SIGKILL the bot after its first heartbeat.

    The slot is taken with an explicit client of this server: ``prefect.concurrency.sync.concurrency`` goes
    through a process-wide service bound to the first server this process talked to (the test harness's).
    """
    lp = local_prefect
    since = datetime.now(UTC) - timedelta(seconds=1)
    with lp.client() as c:
        held = c.increment_concurrency_slots_with_lease(names=[ACCOUNT], slots=1, mode="concurrency",
                                                        lease_duration=300)
    held.raise_for_status()
    lease_id = UUID(held.json()["lease_id"])
    try:
        bot = subprocess.Popen([str(BIN / "perpflow"), "hedge", "--primary", "backpack", "--ticker", "ETH", "--size",
                                "0.2", "--iter", "1000", "--sim-clock", "real"], cwd=ROOT, env=lp.env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            run_id = beats = None
            while not beats:
                assert bot.poll() is None, "the bot exited before it could be killed"
                assert time.monotonic() < deadline, "the bot's run never sent a heartbeat"
                run_id = run_id or shell_run(lp, since)
                beats = heartbeats(lp, run_id) if run_id else []
                time.sleep(0.5)
        finally:
            bot.kill()  # SIGKILL: no cleanup, no final state, no word to the server
            bot.wait()
        killed_at = datetime.now(UTC)
    finally:
        with lp.client() as c:
            c.release_concurrency_slots_with_lease(lease_id)
    return KilledRun(run_id, beats[-1], killed_at)


def test_a_killed_bot_looks_alive_to_the_server(local_prefect: LocalPrefect, killed_run: KilledRun) -> None:
    time.sleep(3)
    run = local_prefect.flow_run(killed_run.run_id)
    assert run.state.is_running()  # nobody tells the server: without the automation it stays Running
    assert local_prefect.journal(killed_run.run_id) == []  # it was waiting for the account: it never traded


@pytest.mark.last
def test_the_automation_marks_the_silent_run_crashed(local_prefect: LocalPrefect, killed_run: KilledRun) -> None:
    window = timedelta(seconds=HEARTBEAT_S * MISSED_HEARTBEATS)
    remaining = (killed_run.last_heartbeat + window + timedelta(seconds=90) - datetime.now(UTC)).total_seconds()
    run = local_prefect.wait_run(killed_run.run_id, lambda r: r.state.is_crashed(), max(remaining, 5), "crashed")
    assert run.state.message.startswith(f"no heartbeat for {window.seconds} s")
    assert run.state.timestamp >= killed_run.last_heartbeat + window  # not before the window has passed
    with local_prefect.client() as c:
        [automation] = c.read_automations_by_name(CRASH_SILENT_RUNS)
    assert automation.enabled
