"""Deployment runs on a real local server and process worker: parameters, completion, the account lock,
cancellation and schedules. Bots that must last run on the simulator in real time (``sim_clock=real``)."""

from __future__ import annotations

import itertools
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.local_prefect import LocalPrefect

FINAL_ORDER = {"FILLED", "CANCELLED", "REJECTED", "EXPIRED"}


def one_line(text: str) -> str:
    return " ".join(text.split())  # the CLI wraps long lines


def deployment_runs(lp: LocalPrefect, name: str) -> list[Any]:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    with lp.client() as c:
        d = c.read_deployment_by_name(name)
        return c.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[d.id])))


def test_bad_parameters_are_refused_before_any_run_starts(local_prefect: LocalPrefect) -> None:
    lp = local_prefect
    before = len(deployment_runs(lp, "hedge/paradex-grvt-sol"))
    cases = {
        ("size=-1",): "Validation failed for field 'size'. Failure reason: -1 is less than or equal to the minimum "
                      "of 0",
        ("size=\"-1\"",): "Validation failed for field 'size'. Failure reason: '-1' is not of type 'number'",
        ("primary_mode=bbo_minus_2",): "Validation failed for field 'primary_mode'. Failure reason: 'bbo_minus_2' is "
                                       "not one of ['bbo', 'bbo_minus_1', 'bbo_plus_1', 'market']",
    }

    def run(params: tuple[str, ...]) -> Any:
        return lp.prefect("deployment", "run", "hedge/paradex-grvt-sol", *(a for p in params for a in ("--param", p)))

    with ThreadPoolExecutor(len(cases)) as pool:
        results = dict(zip(cases, pool.map(run, cases), strict=True))
    for params, expected in cases.items():
        out = results[params]
        assert out.returncode != 0, out.stdout
        assert expected in one_line(out.stdout + out.stderr), out.stdout + out.stderr
    assert len(deployment_runs(lp, "hedge/paradex-grvt-sol")) == before  # no run was created


def test_a_deployment_run_the_venues_refuse_fails_with_the_reasons_and_no_traceback(
        local_prefect: LocalPrefect) -> None:
    """``prefect deployment run hedge/paradex-grvt-sol --param size=0.001``: the schema takes it, the
    venues do not. The run ends Failed with the reasons; the worker's engine does not log the
    expected end as a crash ("Engine execution exited with unexpected exception" + traceback)."""
    lp = local_prefect
    out = lp.prefect("deployment", "run", "hedge/paradex-grvt-sol", "--param", "size=0.001")
    assert out.returncode == 0, out.stdout + out.stderr
    run_id = re.search(r"UUID: ([0-9a-f-]{36})", out.stdout).group(1)
    run = lp.wait_final(run_id)
    assert run.state.is_failed() and "no order was sent" in run.state.message
    assert "size: 0.001 is below paradex SOL's minimum size 0.01" in run.state.message
    logs, quiet_since = lp.logs(run_id), time.monotonic()
    while time.monotonic() - quiet_since < 6:  # the engine logs after the final state: until its process is done
        time.sleep(1)
        latest = lp.logs(run_id)
        if latest != logs:
            logs, quiet_since = latest, time.monotonic()
    assert "size: 0.001 is not a multiple of grvt SOL's size step 0.1" in logs  # the reasons, logged
    assert "Traceback" not in logs and "unexpected exception" not in logs, logs
    assert not lp.journal(run_id)  # refused before the journal opened: nothing recorded, nothing sent


def test_a_deployment_run_completes_and_its_cycles_are_in_the_warehouse(local_prefect: LocalPrefect) -> None:
    lp = local_prefect
    eth = lp.run_deployment("hedge/backpack-grvt-eth")  # the UI's Run button, meanwhile
    out = lp.prefect("deployment", "run", "hedge/paradex-grvt-sol", "--watch", "--watch-timeout", "300")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Flow run finished successfully in 'Completed'" in one_line(out.stdout)
    sol = re.search(r"UUID: ([0-9a-f-]{36})", out.stdout).group(1)
    assert lp.wait_final(eth).state.is_completed(), lp.logs(eth)

    for run_id, size in ((sol, Decimal("0.1")), (str(eth), Decimal("0.2"))):
        [(status, flow_run_id)] = lp.sql("SELECT status, flow_run_id FROM runs WHERE run_id = ?", [run_id])
        assert (status, flow_run_id) == ("COMPLETED", run_id)
        kinds = lp.sql("SELECT kind, count(*), min(size), max(size) FROM cycles WHERE run_id = ? GROUP BY kind "
                       "ORDER BY kind DESC", [run_id])
        assert kinds == [("open", 10, size, size), ("close", 10, size, size)]  # 10 iterations of the deployment
        last = dict(lp.sql("SELECT venue, arg_max(size, seq) FROM positions WHERE run_id = ? GROUP BY venue",
                           [run_id]))
        assert set(last.values()) == {0}  # both venues flat at the end


def test_a_second_run_for_the_same_account_waits_and_never_trades_alongside(local_prefect: LocalPrefect) -> None:
    lp = local_prefect
    runs = [lp.run_deployment("hedge/paradex-grvt-sol", sim_clock="real", iterations=2) for _ in range(2)]
    # Both start; one takes the account lock and trades, the other runs and waits for the slot.
    holder = None
    for _ in range(600):
        states = [lp.flow_run(r).state for r in runs]
        trading = [r for r in runs if lp.journal(r)]
        if all(s.is_running() for s in states) and trading:
            [holder] = trading
            break
        assert not any(s.is_final() for s in states), states
        time.sleep(0.25)
    assert holder is not None, "the two runs never ran at the same time"
    waiter = runs[1] if holder == runs[0] else runs[0]
    with lp.client() as c:
        assert c.read_global_concurrency_limit_by_name("account-sim-paradex-grvt").active_slots == 1
    assert lp.journal(waiter) == []  # running, but no order, no record: it waits

    for r in runs:
        assert lp.wait_final(r, timeout=240).state.is_completed(), lp.logs(r)
    held, waited = lp.journal(holder), lp.journal(waiter)
    held_end = next(r["ended"] for r in held if r["kind"] == "run_end")
    assert next(r["started"] for r in waited if r["kind"] == "run_start") >= held_end
    assert max(r["ts"] for r in held if r["kind"] == "order") < min(r["ts"] for r in waited if r["kind"] == "order")
    assert "account sim-paradex-grvt locked" in lp.logs(waiter)


def final_positions(lp: LocalPrefect, run_id: str) -> dict[str, Decimal]:
    return dict(lp.sql("SELECT venue, arg_max(size, seq) FROM positions WHERE run_id = ? GROUP BY venue", [run_id]))


def test_cancelling_a_running_bot_cancels_its_orders_then_flattens_or_leaves(local_prefect: LocalPrefect) -> None:
    lp = local_prefect
    # build_to=100: the bots only open (never close) while the test runs, so a position is on from the first
    # open cycle until the cancel, whenever the cancel reaches them
    flatten = str(lp.run_deployment("hedge/paradex-grvt-sol", sim_clock="real", iterations=1000, build_to=100,
                                    on_cancel="flatten"))
    leave = str(lp.run_deployment("hedge/backpack-grvt-eth", sim_clock="real", iterations=1000, build_to=100,
                                  on_cancel="leave"))

    def cancel_when_open(run_id: str) -> Any:  # as a user would: prefect flow-run cancel <id>
        lp.wait_open_position(run_id)
        return lp.prefect("flow-run", "cancel", run_id)

    with ThreadPoolExecutor(2) as pool:
        outs = list(pool.map(cancel_when_open, (flatten, leave)))
    assert all(o.returncode == 0 for o in outs), [o.stdout + o.stderr for o in outs]

    cancels_seen: dict[str, int] = {}
    orders: dict[str, OrderBook] = {}
    for r in (flatten, leave):
        run = lp.wait_final(r, timeout=120)
        assert run.state.is_cancelled(), (run.state, lp.logs(r))
        states = [(s.type.value, s.message) for s in lp.states(r)]
        assert [t for t, _ in states][-2:] == ["CANCELLING", "CANCELLED"], states
        assert any(t == "CANCELLED" and (m or "").startswith("CANCELLED_BY_USER") for t, m in states), states
        assert "Unexpected result for failed state" not in lp.logs(r)  # the state's data resolves (BotStopped)
        [(status, reason)] = lp.sql("SELECT status, reason FROM runs WHERE run_id = ?", [r])
        assert status == "CANCELLED" and reason.startswith("CANCELLED_BY_USER")
        [(stop_ts,)] = lp.sql("SELECT min(ts) FROM risk_events WHERE run_id = ? AND reason = 'CANCELLED_BY_USER'",
                              [r])
        assert stop_ts is not None  # the bot recorded the user's cancel
        orders[r] = OrderBook.of(lp.journal(r))
        final = orders[r].final()
        assert final and set(final.values()) <= FINAL_ORDER, final  # nothing left open on a venue
        # Orders resting when the cancel reached the bot (there may be none: it can land between two orders)
        # end cancelled, or filled if a fill beat the cancel.
        resting = orders[r].resting_at(orders[r].stop_ts)
        assert all(final[key] in ("CANCELLED", "FILLED") for key in resting), (resting, final)
        cancels_seen[r] = sum(final[key] == "CANCELLED" for key in resting)
        # an order sent just before the cancel and acknowledged after it was cancelled (or filled first)
        assert all(final[key] in ("CANCELLED", "FILLED") for key in orders[r].in_flight_at_stop()), final

    assert final_positions(lp, flatten) == {"paradex": 0, "grvt": 0}
    flattening = orders[flatten].placed_after_stop()
    assert {v for v, _ in flattening} == {"paradex", "grvt"}  # flattened on both venues ...
    assert all(reduce_only for _, reduce_only in flattening)  # ... with reduce-only orders only
    left = final_positions(lp, leave)
    assert left["backpack"] > 0 and left["grvt"] < 0  # the hedged position is left open on both venues
    assert orders[leave].placed_after_stop() == []  # after the stop: cancels only, no new order
    print(f"orders resting at the cancel and cancelled by it: {cancels_seen}")


@dataclass(frozen=True)
class OrderBook:
    """A run's orders from its own journal: per (venue, order_id), its (ts, status, reduce_only) records in
    order, each timestamped on the same clock as the bot's record of the user's cancel; and the orders that
    record says the stop cancelled (an order sent just before the cancel is acknowledged just after it)."""

    history: dict[tuple[str, str], list[tuple[float, str, bool]]]
    client_ids: dict[tuple[str, str], str]
    stop_ts: float
    cancelled_by_stop: frozenset[str]  # "venue:client_id"

    @classmethod
    def of(cls, records: list[dict[str, Any]]) -> OrderBook:
        history: dict[tuple[str, str], list[tuple[float, str, bool]]] = {}
        client_ids: dict[tuple[str, str], str] = {}
        for rec in records:
            if rec["kind"] == "order":
                key = (rec["venue"], rec["order_id"])
                history.setdefault(key, []).append((rec["ts"], rec["status"], bool(rec.get("reduce_only"))))
                client_ids[key] = f"{rec['venue']}:{rec['client_id']}"
        stop = min((r for r in records if r["kind"] == "risk" and r["reason"] == "CANCELLED_BY_USER"),
                   key=lambda r: r["ts"])
        named = (stop.get("detail") or "").partition("cancelling ")[2].split()
        return cls(history, client_ids, stop["ts"], frozenset(named))

    def final(self) -> dict[tuple[str, str], str]:
        return {key: h[-1][1] for key, h in self.history.items()}

    def resting_at(self, ts: float) -> set[tuple[str, str]]:
        """Orders placed before ``ts`` and not yet final at ``ts``."""
        return {key for key, h in self.history.items()
                if h[0][0] < ts and [s for t, s, _ in h if t < ts][-1] not in FINAL_ORDER}

    def in_flight_at_stop(self) -> set[tuple[str, str]]:
        """Orders first acknowledged after the stop that the stop itself named as cancelled: sent before it."""
        return {key for key, h in self.history.items()
                if h[0][0] >= self.stop_ts and self.client_ids[key] in self.cancelled_by_stop}

    def placed_after_stop(self) -> list[tuple[str, bool]]:
        """(venue, reduce_only) of the orders sent once the user's cancel reached the bot."""
        late = self.in_flight_at_stop()
        return [(venue, h[0][2]) for (venue, oid), h in self.history.items()
                if h[0][0] >= self.stop_ts and (venue, oid) not in late]


def test_the_scheduled_deployment_gets_scheduled_runs_that_the_worker_runs(local_prefect: LocalPrefect) -> None:
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    lp = local_prefect
    now = datetime.now(UTC)
    scheduled = sorted(r.expected_start_time for r in deployment_runs(lp, "warehouse-load/every-15-minutes")
                        if r.state.is_scheduled() and r.expected_start_time > now)
    assert len(scheduled) >= 3  # created by the server's scheduler from the deployment's schedule
    assert all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(scheduled))
    assert all(t.minute % 15 == 0 and t.second == 0 for t in scheduled)
    assert scheduled[0] - now <= timedelta(minutes=15)

    with temporary_settings({PREFECT_API_URL: lp.api_url}):  # one due now, as a schedule makes them
        run = run_deployment("warehouse-load/every-15-minutes", scheduled_time=now + timedelta(seconds=2), timeout=0)
    assert run.state.is_scheduled()
    done = lp.wait_final(run.id, timeout=180)
    assert done.state.is_completed(), lp.logs(run.id)
    with lp.client() as c:
        [artifact] = [a for a in c.read_artifacts() if a.flow_run_id == run.id]
    assert artifact.key == "warehouse-load"
