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

``queue_advance``, ``Arrivals`` and ``Sizes`` are on the simulator's hot path and written in
``hotpath.py`` (one source for the pure-Python and the compiled engine; ``engine.py``); the
profile's names select the model the same way for both.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

from core.errors import ConfigError
from exchanges.sim.hotpath import Arrivals, Sizes, queue_advance

if TYPE_CHECKING:
    from exchanges.sim.profiles import VenueProfile

FEE_MODELS = ("flat",)
LATENCY_MODELS = ("lognormal",)
QUEUE_MODELS = ("risk_averse", "proportional")
FLOW_MODELS = ("poisson", "hawkes")
SIZE_MODELS = ("lognormal", "pareto_mix")
__all__ = ["Arrivals", "LognormalLatency", "Sizes", "check_models", "queue_advance"]


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
