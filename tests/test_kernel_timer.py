"""The runner's ticker: on the quarter-second grid, only when the kernel has something due.

A strategy that says when its timer is next due (``Strategy.next_timer``) is ticked at the first
grid point from that deadline and not before; an event that brings the deadline forward re-arms
the ticker; a strategy that says nothing is ticked at every grid point, as before."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from core.clock import DEFAULT_VIRTUAL_START
from core.types import Instrument
from strategies.base import Context, Finish, Intent, Limits, Strategy
from strategies.runtime.runner import TICK
from tests.hedgekit import until
from tests.toykit import run_toy

NOON = DEFAULT_VIRTUAL_START + 12 * 3600  # away from UTC midnight, where every tick may roll the day


class Alarm(Strategy):
    """Finishes the run at its alarm, ``at`` seconds after trading began (a signal moves it)."""

    name = "alarm"

    def __init__(self, at: float | None) -> None:
        self.venues, self.symbol = ("paradex",), "SOL"
        self.at = at  # None: no deadline, tick at every grid point (the default ``next_timer``)
        self.started = 0.0
        self.calls: list[float] = []

    def limits(self, instruments: Mapping[str, Instrument]) -> Limits:
        return Limits(tolerance=Decimal("0.005"))

    def on_start(self, ctx: Context) -> Iterator[Intent]:
        self.started = ctx.now
        return iter(())

    def next_timer(self, ctx: Context) -> float:
        return ctx.now if self.at is None else self.started + self.at

    def on_signal(self, ctx: Context, signal: Any) -> Iterator[Intent]:
        self.at = signal
        return iter(())

    def on_timer(self, ctx: Context) -> Iterator[Intent]:
        elapsed = ctx.now - self.started
        self.calls.append(elapsed)
        if elapsed >= (1.99 if self.at is None else self.at):
            yield Finish("COMPLETED", "the alarm rang")


def test_a_strategy_with_a_deadline_is_ticked_at_the_first_grid_point_from_it_and_not_before() -> None:
    alarm = Alarm(at=10.1)
    res, _, _ = run_toy(alarm, start=NOON)
    assert res.status == "COMPLETED" and res.reason == "the alarm rang"
    [when] = alarm.calls  # no tick in the 10 s before it: 40 grid points skipped
    assert abs(when - 10.25) < 1e-3


def test_an_event_that_brings_the_deadline_forward_rearms_the_ticker() -> None:
    alarm = Alarm(at=60.0)

    async def move_it(world: Any, runner: Any) -> None:
        await until(lambda: runner.kernel is not None and runner.kernel.mode == "trading")
        runner.signal(3.1)  # the strategy now wants its timer 3.1 s after the start, not 60 s

    res, _, _ = run_toy(alarm, script=move_it, start=NOON)
    assert res.status == "COMPLETED"
    [when] = alarm.calls
    assert abs(when - 3.25) < 1e-3


def test_a_strategy_without_deadlines_is_ticked_at_every_grid_point() -> None:
    every = Alarm(at=None)
    res, _, _ = run_toy(every, start=NOON)
    assert res.status == "COMPLETED"
    assert len(every.calls) == 8  # 0.25, 0.5, ... 2.0
    assert all(abs(t - TICK * (i + 1)) < 1e-3 for i, t in enumerate(every.calls))
