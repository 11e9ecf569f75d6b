"""Property: whatever the venue does - fills, partial fills, rejects, timeouts, lost answers,
disconnects - a strategy's true position never exceeds its limit (the kernel counts every order
that could still fill), and a stopped run ends flat with nothing left open.

The strategy is a greedy toy that never checks its own exposure, so the bound is the kernel's."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import VenueError
from exchanges.sim.faults import Faults
from tests.toykit import Ladder, run_toy


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 100_000),
    reject=st.sampled_from([0.0, 0.1, 0.4]),
    timeout=st.sampled_from([0.0, 0.05, 0.2]),
    drops=st.sampled_from([0.0, 600.0, 3600.0]),
    levels=st.integers(1, 4),
    limit=st.sampled_from([D("0.1"), D("0.25"), D("0.4")]),
)
def test_any_strategys_position_stays_within_its_limit_and_a_stop_ends_flat(seed, reject, timeout, drops, levels,
                                                                            limit) -> None:
    faults = Faults(reject_prob=reject, timeout_prob=timeout, timeout_after_accept_prob=0.5, request_timeout_s=1.0,
                    stream_drop_per_hour=drops)
    trace: list[D] = []

    async def watch_then_stop(world, runner) -> None:
        ex = world.exchanges["paradex"]
        for _ in range(1200):  # two virtual minutes
            trace.append(ex.account.positions.get("SOL", D(0)))
            await asyncio.sleep(0.1)
        runner.request_stop(flatten=True)
        while True:
            trace.append(ex.account.positions.get("SOL", D(0)))
            await asyncio.sleep(0.1)

    strategy = Ladder(levels=levels, limit=limit)
    try:
        res, world, _ = run_toy(strategy, seed=seed, script=watch_then_stop, faults={"paradex": faults})
    except VenueError:  # the venue never answered the pre-trade reads: nothing may have been sent
        return
    ex = world.exchanges["paradex"]
    assert max(trace, default=D(0)) <= limit, (max(trace), res.reason)
    assert res.status == "CANCELLED", res.reason
    assert ex.account.positions.get("SOL", D(0)) == 0 and not ex.open, res.reason
