"""``perpflow serve`` / ``perpflow stop`` (``make serve`` / ``make stop``) against a real server and worker."""

from __future__ import annotations

import socket
from datetime import timedelta
from decimal import Decimal

import pytest

from server.automations import CRASH_SILENT_RUNS
from server.serve import WORKER_NAME, ServePaths
from tests.local_prefect import LocalPrefect

ACCOUNT_LIMITS = {"account-sim-paradex-grvt", "account-sim-backpack-grvt", "account-sim-hibachi",
                  "account-sim-extended", "account-sim-paradex", "warehouse-loader"}
DEPLOYMENTS = {"hedge/paradex-grvt-sol", "hedge/backpack-grvt-eth", "warehouse-load/every-15-minutes",
               "sentiment/hourly", "insights/hourly", "review/every-6-hours", "agent/hibachi", "agent/extended",
               "daily-report/daily", "grid/paradex-btc"}


def server_objects(lp: LocalPrefect) -> dict[str, object]:
    """What serve creates, as the server reports it."""
    from prefect.client.schemas.objects import WorkerStatus

    with lp.client() as c:
        flows = {f.id: f.name for f in c.read_flows()}
        deployments = {f"{flows[d.flow_id]}/{d.name}": d for d in c.read_deployments()}
        return {
            "pools": [(p.name, p.type) for p in c.read_work_pools()],
            "workers": [(w.name, w.status) for w in c.read_workers_for_work_pool("perpflow")
                        if w.status == WorkerStatus.ONLINE],
            "limits": {g.name: (g.limit, g.active_slots, g.active) for g in c.read_global_concurrency_limits()},
            "automations": c.read_automations_by_name(CRASH_SILENT_RUNS),
            "deployments": deployments,
        }


def test_serve_brings_everything_up_and_is_safe_to_repeat(local_prefect: LocalPrefect) -> None:
    lp = local_prefect
    paths = ServePaths(lp.data_dir)
    server_pid, worker_pid = paths.server.pid(), paths.worker.pid()
    assert server_pid and worker_pid
    assert f"Prefect UI: {lp.ui_url}" in lp.serve_output
    assert paths.database.exists() and paths.database.parent == lp.data_dir / "prefect"  # under the data dir
    before = server_objects(lp)

    again = lp.perpflow("serve", "--port", str(lp.port))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "starting" not in again.stdout  # nothing was started a second time
    assert f"Prefect UI: {lp.ui_url}" in again.stdout
    assert (paths.server.pid(), paths.worker.pid()) == (server_pid, worker_pid)

    after = server_objects(lp)
    assert after["pools"] == before["pools"] == [("perpflow", "process")]
    assert after["workers"] == [(WORKER_NAME, after["workers"][0][1])]  # one worker, online
    for name in ACCOUNT_LIMITS:
        assert after["limits"][name] == (1, 0, True), name  # limit 1 each, no slot leaked
    assert len(after["automations"]) == 1  # updated in place, not duplicated
    assert set(after["deployments"]) == DEPLOYMENTS
    assert {d.id for d in after["deployments"].values()} == {d.id for d in before["deployments"].values()}


def test_deployments_carry_the_safe_defaults_typed_parameters_and_schedule(local_prefect: LocalPrefect) -> None:
    deployments = server_objects(local_prefect)["deployments"]
    sol, eth = deployments["hedge/paradex-grvt-sol"], deployments["hedge/backpack-grvt-eth"]
    assert (sol.parameters["primary"], sol.parameters["ticker"], Decimal(str(sol.parameters["size"]))) == \
        ("paradex", "SOL", Decimal("0.1"))
    assert (eth.parameters["primary"], eth.parameters["ticker"], Decimal(str(eth.parameters["size"]))) == \
        ("backpack", "ETH", Decimal("0.2"))
    for d in (sol, eth):
        assert Decimal(str(d.parameters["net_delta_tolerance"])) == Decimal("0.01")
        assert d.parameters["venue_mode"] == "sim" and d.parameters["hedge"] == "grvt"
        assert d.enforce_parameter_schema and d.work_pool_name == "perpflow"
        props = d.parameter_openapi_schema["properties"]
        assert props["size"]["type"] == "number" and props["size"]["exclusiveMinimum"] == 0
        assert props["on_cancel"]["enum"] == ["flatten", "leave"]
        assert d.job_variables["env"]["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] == "30"
        assert not d.schedules  # bots start when a person starts them
    load = deployments["warehouse-load/every-15-minutes"]
    [schedule] = load.schedules
    assert schedule.active and schedule.schedule.interval == timedelta(minutes=15)
    report = deployments["daily-report/daily"]
    [daily] = report.schedules  # after midnight UTC, for the day before; the flow retries
    assert daily.active and daily.schedule.cron == "30 0 * * *" and daily.schedule.timezone == "UTC"
    assert report.parameter_openapi_schema["properties"]["date"]


def test_the_crash_automation_exists_with_its_heartbeat_trigger(local_prefect: LocalPrefect) -> None:
    [automation] = server_objects(local_prefect)["automations"]
    t = automation.trigger
    assert automation.enabled
    assert t.posture == "Proactive" and t.after == {"prefect.flow-run.heartbeat"}
    assert t.expect == {"prefect.flow-run.*"} and t.for_each == {"prefect.resource.id"}
    assert t.within == timedelta(seconds=90) and t.threshold == 1
    [action] = automation.actions
    assert action.type == "change-flow-run-state" and action.state.value == "CRASHED"


@pytest.mark.last
@pytest.mark.stops_local_prefect
def test_stop_cancels_running_bots_cleanly_then_stops_worker_and_server(local_prefect: LocalPrefect) -> None:
    lp = local_prefect
    paths = ServePaths(lp.data_dir)
    server_pid, worker_pid = paths.server.pid(), paths.worker.pid()
    run_id = lp.run_deployment("hedge/paradex-grvt-sol", sim_clock="real", iterations=1000, build_to=3,
                               on_cancel="flatten")
    lp.wait_open_position(run_id)
    name = lp.flow_run(run_id).name

    out = lp.perpflow("stop", timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"run {name}: Cancelled" in out.stdout
    assert f"worker: stopped (pid {worker_pid})" in out.stdout
    assert f"server: stopped (pid {server_pid})" in out.stdout
    assert paths.server.pid() is None and paths.worker.pid() is None
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", lp.port)) != 0  # nothing listens any more

    records = lp.journal(run_id)
    [end] = [r for r in records if r["kind"] == "run_end"]
    assert end["status"] == "CANCELLED" and end["reason"].startswith("CANCELLED_BY_USER")
    last = {}
    for r in records:
        if r["kind"] == "position":
            last[r["venue"]] = Decimal(r["size"])
    assert last == {"paradex": 0, "grvt": 0}  # flattened before the process ended
    assert lp.perpflow("stop").stdout.split("\n")[:2] == ["worker: not running", "server: not running"]
