"""The simulator's small named models, composed per venue and market by the profile.

As in event-driven backtesters (hftbacktest, NautilusTrader), the venue is not one monolith but
a handful of independent, swappable models; a profile names one of each:

- fee (``VenueProfile.fee_model``): ``flat`` - maker/taker fractions of notional, negative maker
  = rebate (charged by ``Instrument.fee``);
- latency (``VenueProfile.latency_model``): ``lognormal`` - each half round trip is
  ``rtt/2 x exp(jitter x N(0,1))`` (``LognormalLatency``);
- queue (``MarketProfile.queue_model``): where our resting order stands in its level's queue.
  ``risk_averse`` assumes every cancellation comes from behind us (we advance only through
  trades, or when the level shrinks below what was ahead); ``proportional`` spreads
  cancellations evenly over the queue, so we also advance by the share of a cancel that was
  ahead of us (``queue_advance``);
- flow (``MarketProfile.flow_model``): when others' market orders arrive. ``poisson`` at a
  constant rate; ``hawkes`` is self-exciting (each trade raises the rate for a while: bursts,
  inter-arrival CV above 1) with the same mean rate (``Arrivals``);
- size (``MarketProfile.size_model``): how big they are. ``lognormal``, or ``pareto_mix``: a
  log-normal body with a power-law tail, as real prints have (p99/median in the hundreds on
  liquid books) (``Sizes``).

``Arrivals`` and ``Sizes`` have compiled twins in ``_core.pyx`` (same draws, same results; see
``engine.py``); the profile's names select the model the same way for both.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

from core.errors import ConfigError

if TYPE_CHECKING:
    from exchanges.sim.profiles import MarketProfile, VenueProfile

FEE_MODELS = ("flat",)
LATENCY_MODELS = ("lognormal",)
QUEUE_MODELS = ("risk_averse", "proportional")
FLOW_MODELS = ("poisson", "hawkes")
SIZE_MODELS = ("lognormal", "pareto_mix")


def _check(value: str, allowed: tuple[str, ...], where: str) -> None:
    if value not in allowed:
        raise ConfigError(where, f"{value!r} is not a model; allowed: {', '.join(allowed)}")


def check_models(v: VenueProfile, where: str) -> None:
    """Refuse a profile naming a model that does not exist (at load time, naming the field)."""
    _check(v.fee_model, FEE_MODELS, f"{where}.fee_model")
    _check(v.latency_model, LATENCY_MODELS, f"{where}.latency_model")
    for s, m in v.markets.items():
        _check(m.queue_model, QUEUE_MODELS, f"{where}.markets.{s}.queue_model")
        _check(m.flow_model, FLOW_MODELS, f"{where}.markets.{s}.flow_model")
        _check(m.size_model, SIZE_MODELS, f"{where}.markets.{s}.size_model")
        if not 0 <= m.hawkes_branching < 1:
            raise ConfigError(f"{where}.markets.{s}.hawkes_branching", "must be in [0, 1) (1 explodes)")
        if not 0 <= m.sign_persistence < 1:
            raise ConfigError(f"{where}.markets.{s}.sign_persistence", "must be in [0, 1)")


class LognormalLatency:
    """Half a round trip, in seconds."""

    def __init__(self, jitter: float, rng: random.Random) -> None:
        self.jitter = jitter
        self.rng = rng

    def half(self, rtt_ms: float) -> float:
        return rtt_ms / 2000 * math.exp(self.jitter * self.rng.gauss(0.0, 1.0))


def queue_advance(proportional: bool, ahead: int, old: int, new: int) -> int:
    """Lots still ahead of us after others' displayed size at our price went ``old`` -> ``new``."""
    if new >= old:
        return ahead  # joiners queue behind us
    if proportional and old > 0:
        ahead -= round((old - new) * ahead / old)
    return ahead if ahead < new else new


class Arrivals:
    """Next arrival time of others' market orders: Poisson, or an exponential-kernel Hawkes
    process (exact simulation, Dassios & Zhao 2013) with the same long-run mean rate."""

    __slots__ = ("alpha", "beta", "excess", "last", "mu", "rng")

    def __init__(self, m: MarketProfile, rng: random.Random, t0: float) -> None:
        branching = m.hawkes_branching if m.flow_model == "hawkes" else 0.0
        self.mu = m.trade_rate_per_s * (1 - branching)  # baseline (immigrant) rate
        self.beta = 1 / m.hawkes_decay_s
        self.alpha = branching * self.beta  # jump of the rate per trade (branching = alpha / beta)
        self.excess = 0.0  # rate above the baseline, as of ``last``
        self.last = t0
        self.rng = rng

    def next_after(self, t: float) -> float:
        """The next arrival after ``t`` (the previous arrival or any later time)."""
        rng = self.rng
        excess = self.excess * math.exp(-self.beta * (t - self.last)) if self.excess else 0.0
        s2 = -math.log(1.0 - rng.random()) / self.mu
        s = s2
        if excess > 1e-12:
            d = 1 + self.beta * math.log(1.0 - rng.random()) / excess
            if d > 0:
                s1 = -math.log(d) / self.beta
                if s1 < s2:
                    s = s1
        self.excess = excess * math.exp(-self.beta * s) + self.alpha
        self.last = t + s
        return t + s

    def excite(self, t: float) -> None:
        """An arrival not drawn here (an informed sweep) excites the flow like any other."""
        if self.alpha:
            self.excess = self.excess * math.exp(-self.beta * (t - self.last)) + self.alpha
            self.last = t


class Sizes:
    """Others' market order sizes in lots."""

    __slots__ = ("body_sd", "max", "mu", "rng", "tail_alpha", "tail_prob", "tail_start")

    def __init__(self, m: MarketProfile, lot: float, rng: random.Random) -> None:
        self.mu = math.log(m.trade_size_median / lot)
        self.body_sd = m.trade_size_sigma
        self.max = max(1, int(m.trade_size_max / lot))
        heavy = m.size_model == "pareto_mix"
        self.tail_prob = m.size_tail_prob if heavy else 0.0
        self.tail_alpha = m.size_tail_alpha
        self.tail_start = math.exp(self.mu + 1.2816 * self.body_sd)  # the body's 90th percentile
        self.rng = rng

    def draw(self) -> int:
        rng = self.rng
        if self.tail_prob and rng.random() < self.tail_prob:
            x = self.tail_start * (1.0 - rng.random()) ** (-1 / self.tail_alpha)
        else:
            x = math.exp(self.mu + self.body_sd * rng.gauss(0.0, 1.0))
        n = int(x)
        return 1 if n < 1 else (self.max if n > self.max else n)
