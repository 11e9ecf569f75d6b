"""What the grid reads from the mid-price series: its volatility and its trend. Pure, no I/O.

``VolEstimator`` is an exponentially weighted variance of log returns per second, sampled at most
once a second (book updates arrive many times a second, and a mid that moved one tick is not a
second's worth of information). ``MomentumFilter`` turns the return over a short horizon into a
z-score against that volatility and pauses quoting against a trend: it enters a pause when
``|z| >= enter_z``, holds it at least ``min_pause_s`` and leaves only once ``|z| < exit_z``
(hysteresis, so one noisy sample does not flip it); each pause and resume is an event with its
reason, recorded by the strategy.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from core.types import Side

MIN_SAMPLE_S = 1.0


class VolEstimator:
    """sigma of the mid, bps per sqrt(second)."""

    def __init__(self, prior_bps: float, half_life_s: float) -> None:
        self.var = prior_bps * prior_bps
        self.half_life_s = half_life_s
        self.samples = 0
        self._last: tuple[float, float] | None = None

    @property
    def sigma(self) -> float:
        return math.sqrt(self.var)

    def update(self, ts: float, mid: float) -> float:
        if self._last is None:
            self._last = (ts, mid)
            return self.sigma
        t0, m0 = self._last
        dt = ts - t0
        if dt < MIN_SAMPLE_S or mid <= 0 or m0 <= 0:
            return self.sigma
        r = math.log(mid / m0) * 10_000
        w = 1 - math.exp(-math.log(2) * dt / self.half_life_s)
        self.var += w * (r * r / dt - self.var)
        self.samples += 1
        self._last = (ts, mid)
        return self.sigma


@dataclass(frozen=True, slots=True)
class MomentumEvent:
    """A pause or a resume of quoting, with the measure that caused it."""

    ts: float
    action: str  # pause | resume
    direction: int  # +1 trend up, -1 trend down (the trend that was or is paused for)
    z: float
    trend_bps: float
    paused_sides: tuple[str, ...]  # sides held back after this event
    reason: str


@dataclass(frozen=True, slots=True)
class MomentumState:
    direction: int  # 0: not paused
    z: float
    trend_bps: float
    since: float | None

    @property
    def label(self) -> str:
        return {1: "paused_up", -1: "paused_down"}.get(self.direction, "normal")


class MomentumFilter:
    def __init__(self, *, horizon_s: float, enter_z: float, exit_z: float, min_pause_s: float,
                 pause: str = "against") -> None:
        if not 0 <= exit_z < enter_z:
            raise ValueError(f"exit_z ({exit_z}) must be in [0, enter_z={enter_z})")
        self.horizon_s = horizon_s
        self.enter_z = enter_z
        self.exit_z = exit_z
        self.min_pause_s = min_pause_s
        self.pause = pause
        self.direction = 0
        self.since: float | None = None
        self.z = 0.0
        self.trend_bps = 0.0
        self.paused_seconds = 0.0
        self._window: deque[tuple[float, float]] = deque()
        self._last_ts: float | None = None

    @property
    def state(self) -> MomentumState:
        return MomentumState(self.direction, self.z, self.trend_bps, self.since)

    def paused_sides(self, direction: int | None = None) -> frozenset[Side]:
        """Sides held back: in an up-trend selling would add against it (a short), so asks pause."""
        d = self.direction if direction is None else direction
        if d == 0:
            return frozenset()
        if self.pause == "both":
            return frozenset({Side.BUY, Side.SELL})
        return frozenset({Side.SELL if d > 0 else Side.BUY})

    def _measure(self, ts: float, mid: float, sigma: float) -> None:
        w = self._window
        w.append((ts, mid))
        while len(w) > 2 and w[1][0] <= ts - self.horizon_s:
            w.popleft()
        t0, m0 = w[0]
        span = ts - t0
        if span < self.horizon_s * 0.5 or m0 <= 0:  # not enough history to call a trend
            self.z = 0.0
            self.trend_bps = 0.0
            return
        self.trend_bps = math.log(mid / m0) * 10_000
        self.z = self.trend_bps / max(sigma * math.sqrt(span), 1e-9)

    def update(self, ts: float, mid: float, sigma: float) -> list[MomentumEvent]:
        """Feed one mid; returns the pause/resume events it caused (usually none)."""
        if self._last_ts is not None and self.direction:
            self.paused_seconds += max(0.0, ts - self._last_ts)
        self._last_ts = ts
        self._measure(ts, mid, sigma)
        z = self.z
        events: list[MomentumEvent] = []
        sign = 1 if z > 0 else -1
        if self.direction == 0:
            if abs(z) >= self.enter_z:
                events.append(self._pause(ts, sign))
        else:
            held = ts - (self.since or ts)
            if sign != self.direction and abs(z) >= self.enter_z:
                events.append(self._resume(ts, f"trend reversed: z {z:+.2f}"))
                events.append(self._pause(ts, sign))
            elif held >= self.min_pause_s and z * self.direction < self.exit_z:
                events.append(self._resume(ts, f"trend faded: z {z:+.2f} below {self.exit_z} "
                                               f"after {held:.0f}s"))
        return events

    def _pause(self, ts: float, direction: int) -> MomentumEvent:
        self.direction = direction
        self.since = ts
        sides = tuple(sorted(s.value for s in self.paused_sides()))
        word = "up" if direction > 0 else "down"
        return MomentumEvent(ts, "pause", direction, self.z, self.trend_bps, sides,
                             f"trend {word}: {self.trend_bps:+.2f} bps over {self.horizon_s:.0f}s, "
                             f"z {self.z:+.2f} >= {self.enter_z}")

    def _resume(self, ts: float, reason: str) -> MomentumEvent:
        d = self.direction
        self.direction = 0
        self.since = None
        return MomentumEvent(ts, "resume", d, self.z, self.trend_bps, (), reason)
