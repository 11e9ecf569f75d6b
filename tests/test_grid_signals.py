"""The grid's volatility estimate and momentum filter: pause on a trend, hold at least the minimum
pause, hysteresis between enter and exit, resume with a reason, reversal."""

from __future__ import annotations

import math
import random

import pytest

from core.types import Side
from strategies.grid.signals import MomentumFilter, VolEstimator


def test_volatility_estimate_converges_to_the_true_sigma() -> None:
    rng = random.Random(1)
    est = VolEstimator(prior_bps=10.0, half_life_s=120.0)
    log_mid, sigma = math.log(90_000), 0.9  # bps per sqrt(s)
    for i in range(3000):
        log_mid += sigma / 10_000 * math.sqrt(0.5) * rng.gauss(0, 1)
        est.update(i * 0.5, math.exp(log_mid))
    assert est.sigma == pytest.approx(sigma, rel=0.25)
    assert est.samples == 1499  # sampled once a second, not on every update


def _filter(**kw: float) -> MomentumFilter:
    args = {"horizon_s": 20.0, "enter_z": 2.0, "exit_z": 0.75, "min_pause_s": 15.0} | kw
    return MomentumFilter(**args)  # type: ignore[arg-type]


def _feed(f: MomentumFilter, mids: list[tuple[float, float]], sigma: float = 1.0) -> list:
    out = []
    for ts, mid in mids:
        out += f.update(ts, mid, sigma)
    return out


def test_flat_market_never_pauses() -> None:
    f = _filter()
    rng = random.Random(2)
    events = _feed(f, [(t, 90_000 * (1 + rng.gauss(0, 0.3) / 10_000)) for t in range(600)])
    assert events == [] and f.direction == 0 and f.paused_seconds == 0


def test_trend_pauses_the_side_that_adds_against_it_then_resumes_with_reasons() -> None:
    f = _filter()
    mids = [(float(t), 90_000.0) for t in range(30)]
    # a rise of 0.5 bps/s: 10 bps over the 20 s horizon = z 2.2 with sigma 1 bps/sqrt(s)
    mids += [(30.0 + t, 90_000.0 * math.exp(0.5 * t / 10_000)) for t in range(1, 31)]
    events = _feed(f, mids)
    assert [e.action for e in events] == ["pause"]
    pause = events[0]
    assert pause.direction == 1 and pause.z >= 2.0 and "trend up" in pause.reason
    assert f.paused_sides() == frozenset({Side.SELL})  # selling would add a short against the rise
    assert pause.paused_sides == ("SELL",)
    # flat again: the trend measure falls below exit only after the window has left the rise
    top = mids[-1][1]
    events = _feed(f, [(60.0 + t, top) for t in range(1, 40)])
    assert [e.action for e in events] == ["resume"]
    assert "faded" in events[0].reason
    assert events[0].ts - pause.ts >= 15.0
    assert f.direction == 0 and f.paused_sides() == frozenset()
    assert f.paused_seconds == pytest.approx(events[0].ts - pause.ts)


def test_minimum_pause_holds_even_when_the_trend_stops_at_once() -> None:
    f = _filter(min_pause_s=30.0)
    mids = [(float(t), 100.0) for t in range(20)] + [(20.0, 100.3)]  # a 30 bps jump: z >> 2
    events = _feed(f, mids)
    assert events and events[0].action == "pause" and events[0].direction == 1
    # the jump leaves the 20 s window after 20 s, but the pause lasts 30 s
    events = _feed(f, [(20.0 + t, 100.3) for t in range(1, 29)])
    assert events == [] and f.direction == 1
    events = _feed(f, [(20.0 + t, 100.3) for t in range(29, 35)])
    assert [e.action for e in events] == ["resume"]
    assert events[0].ts >= 50.0


def test_hysteresis_keeps_the_pause_between_exit_and_enter() -> None:
    f = _filter(min_pause_s=0.0)
    mids = [(float(t), 100.0) for t in range(21)] + [(21.0, 100.0 * math.exp(12 / 10_000))]
    assert [e.action for e in _feed(f, mids)] == ["pause"]
    # a slower rise: z about 1.2, below enter (2) but above exit (0.75): still paused
    last = mids[-1][1]
    slow = [(21.0 + t, last * math.exp(0.27 * t / 10_000)) for t in range(1, 60)]
    assert _feed(f, slow) == []
    assert f.direction == 1 and 0.75 < f.z < 2.0


def test_a_reversal_switches_the_paused_side() -> None:
    f = _filter(pause="against")
    mids = [(float(t), 100.0) for t in range(21)] + [(21.0, 100.2)]
    _feed(f, mids)
    assert f.direction == 1
    events = _feed(f, [(22.0, 99.7)])
    assert [e.action for e in events] == ["resume", "pause"]
    assert "reversed" in events[0].reason and events[1].direction == -1
    assert f.paused_sides() == frozenset({Side.BUY})


def test_pause_both_holds_both_sides() -> None:
    f = _filter(pause="both")
    _feed(f, [(float(t), 100.0) for t in range(21)] + [(21.0, 99.8)])
    assert f.direction == -1 and f.paused_sides() == frozenset({Side.BUY, Side.SELL})


def test_exit_must_be_below_enter() -> None:
    with pytest.raises(ValueError, match="exit_z"):
        _filter(exit_z=2.0)
