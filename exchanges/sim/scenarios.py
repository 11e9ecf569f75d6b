"""Market regimes for the simulator: how the shared fair value drifts, how much it moves, whether it
mean-reverts.

A scenario only shapes the fair value. The venues' books and their order flow (``flow.py``) follow
it as they follow any fair value, so adverse selection comes from the same mechanism in every
regime: when the fair value moves, each venue's quotes move with it, the takers lean toward the
side the fair value is heading to, and a resting order the market moves through is filled at its
own (now stale) price (``SimMarket.cross_check``). A trend is a fair value that keeps moving one
way, so a quote that is not pulled in time is filled on the wrong side, again and again.

``baseline`` is the asset profile's own random walk (what every simulation ran before scenarios
existed, draw for draw).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from core.errors import ConfigError
from exchanges.sim.flow import SECONDS_PER_YEAR, FairValue
from exchanges.sim.profiles import AssetProfile


@dataclass(frozen=True, slots=True)
class Scenario:
    """A regime of the fair value, relative to the asset profile.

    ``drift_bps_per_hour``: a steady log-drift; ``vol_mult``: multiplies the profile's volatility;
    ``revert_half_life_s``: when set, the log price is an Ornstein-Uhlenbeck process pulled back to
    its (drifting) anchor with this half-life. Trends: ``leg_bps_per_s`` is the drift of a trend
    leg; legs last ``leg_mean_s`` on average and come every ``leg_mean_s + gap_mean_s`` (both
    exponential). Real trends come in such legs, which is what a short-horizon momentum filter can
    see; a steady drift of the same size would hide under the noise.
    """

    name: str
    description: str
    drift_bps_per_hour: float = 0.0
    vol_mult: float = 1.0
    revert_half_life_s: float | None = None
    leg_bps_per_s: float = 0.0
    leg_mean_s: float = 60.0
    gap_mean_s: float = 240.0

    @property
    def mean_drift_bps_per_hour(self) -> float:
        """Expected drift per hour, legs included."""
        legs = self.leg_bps_per_s * self.leg_mean_s / (self.leg_mean_s + self.gap_mean_s) * 3600
        return self.drift_bps_per_hour + legs


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("baseline", "the asset profile's random walk, unchanged"),
    Scenario("quiet", "half the profile's volatility, no drift", vol_mult=0.5),
    Scenario("trending_up", "rising in legs of ~0.5 bps/s for ~1 min every ~5 min (~360 bps an hour), "
             "0.6x the profile's volatility", vol_mult=0.6, leg_bps_per_s=0.5),
    Scenario("trending_down", "falling in legs of ~0.5 bps/s for ~1 min every ~5 min (~360 bps an hour), "
             "0.6x the profile's volatility", vol_mult=0.6, leg_bps_per_s=-0.5),
    Scenario("volatile", "three times the profile's volatility, no drift", vol_mult=3.0),
    Scenario("mean_reverting", "1.5x the profile's volatility, pulled back to the start (half-life 2 min)",
             vol_mult=1.5, revert_half_life_s=120.0),
)}


def scenario(name: str) -> Scenario:
    """The scenario called ``name``; a ``ConfigError`` naming the allowed ones otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ConfigError("scenario", f"{name!r} is not a simulator scenario; "
                                      f"allowed: {', '.join(SCENARIOS)}") from None


class ScenarioFairValue(FairValue):
    """``FairValue`` under a regime: drift, scaled volatility and optional mean reversion."""

    def __init__(self, asset: AssetProfile, step: float, rng: random.Random, history: int, regime: Scenario) -> None:
        super().__init__(asset, step, rng, history)
        self.regime = regime
        self._anchor = self._log
        self._sigma *= regime.vol_mult
        self._drift = regime.drift_bps_per_hour / 10_000 * step / 3600
        hl = regime.revert_half_life_s
        self._keep = math.exp(-math.log(2) / hl * step) if hl else 1.0
        self._leg = regime.leg_bps_per_s / 10_000 * step
        self._p_end = step / regime.leg_mean_s
        self._p_start = step / regime.gap_mean_s
        self.in_leg = False

    def advance(self) -> None:
        if self._leg and self._rng.random() < (self._p_end if self.in_leg else self._p_start):
            self.in_leg = not self.in_leg
        drift = self._drift + (self._leg if self.in_leg else 0.0)
        dev = (self._log - self._anchor) * self._keep
        self._anchor += drift
        self._log = self._anchor + dev + self._sigma * self._rng.gauss(0.0, 1.0)
        self.history.append(math.exp(self._log))


def fair_value(asset: AssetProfile, step: float, rng: random.Random, history: int,
               name: str | None = None) -> FairValue:
    """The fair-value process of ``asset`` under scenario ``name`` (None or baseline: the profile's)."""
    if name is None or name == "baseline":
        return FairValue(asset, step, rng, history)
    return ScenarioFairValue(asset, step, rng, history, scenario(name))


def annual_vol(asset: AssetProfile, name: str | None) -> float:
    """The fair value's volatility per year under the scenario (for tests and benchmarks)."""
    return asset.vol_annual * (scenario(name).vol_mult if name else 1.0)


__all__ = ["SCENARIOS", "SECONDS_PER_YEAR", "Scenario", "ScenarioFairValue", "annual_vol", "fair_value", "scenario"]
