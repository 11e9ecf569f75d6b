"""The scheduler of a real local Prefect server (``perpflow serve``) creates and completes runs of the
``sentiment``, ``insights`` and ``review`` deployments, with their schedules shortened for the test.

The session's server keeps the sentiment sources and the LLM offline (tests/local_prefect.py
OFFLINE): every sentiment component is neutral and says why, the review is the statistical reviewer's.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.insights import load_insights
from tests.local_prefect import LocalPrefect

DEPLOYMENTS = ("sentiment/hourly", "insights/hourly", "review/every-6-hours")
SHORT_S = 30
WAIT_S = 360


def _auto_runs(c: Any, deployment_id: Any) -> list[Any]:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    runs = c.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))
    return [r for r in runs if r.auto_scheduled]


@pytest.mark.timeout(900)  # the session's server may start inside this test (~1-2 min on a busy machine)
def test_scheduler_creates_and_completes_runs_of_the_intel_deployments(local_prefect: LocalPrefect) -> None:
    from prefect.client.schemas.actions import DeploymentUpdate
    from prefect.client.schemas.schedules import IntervalSchedule

    lp = local_prefect
    originals: dict[str, tuple[Any, Any, Any]] = {}
    with lp.client() as c:
        for name in DEPLOYMENTS:
            d = c.read_deployment_by_name(name)
            limit = d.global_concurrency_limit
            assert limit is not None and limit.limit == 1, name  # one run at a time
            (sched,) = c.read_deployment_schedules(d.id)
            originals[name] = (d.id, sched.id, sched.schedule)
            anchor = datetime.now(UTC) + timedelta(seconds=5)
            c.update_deployment_schedule(d.id, sched.id, schedule=IntervalSchedule(
                interval=timedelta(seconds=SHORT_S), anchor_date=anchor, timezone="UTC"))
            # any update of the deployment itself lets the server's recent-deployments scheduler (every 5 s)
            # schedule it now instead of at the next full scheduler loop (every 60 s)
            c.update_deployment(d.id, DeploymentUpdate(paused=False))
    done: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + WAIT_S
        while len(done) < len(DEPLOYMENTS) and time.monotonic() < deadline:
            with lp.client() as c:
                for name, (dep_id, _, _) in originals.items():
                    if name in done:
                        continue
                    finished = [r for r in _auto_runs(c, dep_id) if r.state is not None and r.state.is_final()]
                    if finished:
                        done[name] = finished[0]
            time.sleep(2)
    finally:
        with lp.client() as c:
            for dep_id, sched_id, schedule in originals.values():
                c.update_deployment_schedule(dep_id, sched_id, schedule=schedule)
                for r in _auto_runs(c, dep_id):  # runs queued behind the test's own: not wanted any more
                    if r.state is not None and not r.state.is_final() and not r.state.is_running():
                        with contextlib.suppress(Exception):  # best effort: a busy server may refuse (503)
                            c.delete_flow_run(r.id)
    missing = [n for n in DEPLOYMENTS if n not in done]
    if missing:
        with lp.client() as c:
            seen = {n: [(r.name, r.state_name) for r in _auto_runs(c, originals[n][0])] for n in missing}
        raise AssertionError(f"no scheduled run of {missing} finished within {WAIT_S} s; runs: {seen}")
    for name, run in done.items():
        assert run.state.is_completed(), f"{name}: {run.state}\n{lp.logs(run.id)[-3000:]}"
    with lp.client() as c:
        for dep_id, _, schedule in originals.values():
            (restored,) = c.read_deployment_schedules(dep_id)
            assert restored.schedule.interval == schedule.interval  # back to hourly / 6-hourly
    sentiment = done["sentiment/hourly"]
    rows = lp.sql("SELECT count(*), count(*) FILTER (WHERE source = 'combined') FROM sentiment WHERE run_id = ?",
                  [f"sentiment-{sentiment.id}"])
    assert rows[0][0] > 0 and rows[0][1] > 0
    review = lp.sql("SELECT reviewer, verdict FROM reviews ORDER BY ts DESC LIMIT 1")
    assert review == [("statistical", "accepted")]
    assert load_insights(lp.data_dir / "shared_insights.json").present
