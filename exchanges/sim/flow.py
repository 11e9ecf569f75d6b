"""The seeded market model: one fair value per asset, and the order flow of each venue's book.

Time is event-driven: each venue's book moves only when something happens to it - a maker
re-pricing to the fair value, a size update, a taker's print - and the engine jumps from one
event to the next instead of stepping through quiet time.

- ``FairValue``: the asset's true price on a fine grid (``GRID_S``), drawn in blocks with numpy
  (a random walk at the asset's volatility, shaped by the world's ``Regime``: drift, mean
  reversion, jumps). A venue reads it at any instant, or ``lag`` seconds ago (lead/lag).
- ``ModelSource``: one venue's book. Makers re-price at ``quote_rate_per_s`` (and soon after a
  taker empties the best level) to the lagged fair value with the venue's basis and
  mean-reverting noise; the spread is a whole number of ticks (tick-constrained books sit at one
  tick most of the time). Between re-pricings the best price holds while sizes churn. Takers
  arrive by the profile's flow model (Hawkes: bursty), keep their side with
  ``sign_persistence``, lean toward where the fair value is going, draw sizes from the size
  model (heavy-tailed), and pick off a quote the fair value has moved through before makers
  re-price it: adverse selection for resting orders comes out of the model.
"""

from __future__ import annotations

import hashlib
import math
import random

import numpy as np

from exchanges.sim.market import SimMarket
from exchanges.sim.models import Arrivals, Sizes
from exchanges.sim.profiles import AssetProfile, MarketProfile, Regime

SECONDS_PER_YEAR = 365 * 24 * 3600
GRID_S = 0.05  # resolution of the fair value path
BLOCK = 1 << 15  # grid points drawn at once (~27 simulated minutes)
NOISE_HALF_LIFE_S = 5.0
SPREAD_HALF_LIFE_S = 20.0
INF = math.inf


def seed_int(*parts: object) -> int:
    """A stable 64-bit seed from named parts (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "big")


class FairValue:
    """The true price of an asset as a function of time, from ``t0`` on."""

    def __init__(self, asset: AssetProfile, regime: Regime, seed: int, t0: float) -> None:
        self.t0 = t0
        self._inv = 1 / GRID_S
        self._gen = np.random.default_rng(seed)
        self._sigma = asset.vol_annual * regime.vol_scale * math.sqrt(GRID_S / SECONDS_PER_YEAR)
        self._drift = regime.drift_annual * GRID_S / SECONDS_PER_YEAR
        self._phi = (math.exp(-math.log(2) / regime.reversion_half_life_s * GRID_S)
                     if regime.reversion_half_life_s > 0 else 1.0)
        self._jump_p = regime.jump_rate_per_h * GRID_S / 3600
        self._jump = regime.jump_bps / 10_000
        self._anchor = self._last = math.log(asset.price)
        self._start = 0  # grid index of _cur[0]
        self._cur: list[float] = self._block()
        self._prev: list[float] | None = None
        self.now = t0

    def _block(self) -> list[float]:
        g = self._gen
        steps = self._sigma * g.standard_normal(BLOCK) + self._drift
        if self._jump_p:
            hits = g.random(BLOCK) < self._jump_p
            steps += np.where(hits, g.laplace(0.0, self._jump, BLOCK), 0.0)
        if self._phi < 1.0:  # AR(1) around the anchor; a plain loop keeps it exact
            x, a, phi = self._last - self._anchor, self._anchor, self._phi
            out = np.empty(BLOCK)
            for i, e in enumerate(steps.tolist()):
                x = phi * x + e
                out[i] = a + x
            logs = out
        else:
            logs = self._last + np.cumsum(steps)
        self._last = float(logs[-1])
        return np.exp(logs).tolist()

    def at(self, t: float) -> float:
        j = int((t - self.t0) * self._inv) - self._start
        if j < BLOCK:
            if j >= 0:
                return self._cur[j]
            if self._prev is not None and j >= -BLOCK:
                return self._prev[j]
            return (self._prev or self._cur)[0]
        while j >= BLOCK:
            self._prev, self._cur = self._cur, self._block()
            self._start += BLOCK
            j -= BLOCK
        return self._cur[j]

    @property
    def price(self) -> float:
        return self.at(self.now)


class ModelSource:
    """Drives one ``SimMarket`` from the fair value and the venue's flow profile, event by event."""

    def __init__(self, market: SimMarket, profile: MarketProfile, fair: FairValue, *, tick: float, lot: float,
                 rng: random.Random, t0: float) -> None:
        self.market = market
        self.p = p = profile
        self.fair = fair
        self.tick = tick
        self.rng = rng
        self.lag = p.lag_ms / 1000
        self._theta = math.log(2) / NOISE_HALF_LIFE_S
        self._theta_s = math.log(2) / SPREAD_HALF_LIFE_S
        self.noise = 0.0
        self.spread_log = 0.0
        self._t_ou = t0
        self._basis = p.basis_bps
        self.arrivals = Arrivals(p, rng, t0)
        self.sizes = Sizes(p, lot, rng)
        self.mid = fair.at(t0)
        self._spread_ticks = self.mid * p.spread_bps / 10_000 / tick  # typical spread, in ticks
        self.sign = 1
        self._quote_rate = p.quote_rate_per_s
        self._churn_rate = p.book_updates_per_s
        self.t_quote = t0
        self.t_churn = t0 + rng.expovariate(self._churn_rate) if self._churn_rate > 0 else INF
        self.t_trade = self.arrivals.next_after(t0) if p.trade_rate_per_s > 0 else INF
        self.t_refill = INF
        self.next_t = t0

    # --- the event loop ------------------------------------------------------------------------
    def advance(self, t: float, hook: object = None) -> None:
        """Apply every event up to ``t``; ``hook(event_time)`` after each (fills, publishing)."""
        while self.next_t <= t:
            et = self.next_t
            if et == self.t_trade:
                self._trade(et)
                self.t_trade = self.arrivals.next_after(et)
            elif et == self.t_churn:
                self._churn()
                self.t_churn = et + self.rng.expovariate(self._churn_rate)
            elif et == self.t_quote:
                self._requote(et, True)
                self.t_quote = et + self.rng.expovariate(self._quote_rate)
            else:
                self._requote(et, False)
                self.t_refill = INF
            tt, tc, tq, tr = self.t_trade, self.t_churn, self.t_quote, self.t_refill
            n = tt if tt < tc else tc
            if tq < n:
                n = tq
            self.next_t = tr if tr < n else n
            if hook is not None:
                hook(et)  # type: ignore[operator]

    # --- makers --------------------------------------------------------------------------------
    def _requote(self, t: float, informed: bool) -> None:
        rng = self.rng
        m = self.market
        dt = t - self._t_ou
        if dt > 0:
            self._t_ou = t
            d = math.exp(-self._theta * dt)
            self.noise = self.noise * d + self.p.noise_bps * math.sqrt(1 - d * d) * rng.gauss(0.0, 1.0)
            d = math.exp(-self._theta_s * dt)
            self.spread_log = self.spread_log * d + self.p.spread_log_sd * math.sqrt(1 - d * d) * rng.gauss(0.0, 1.0)
        mid = self.fair.at(t - self.lag) * (1 + (self._basis + self.noise) / 10_000)
        self.mid = mid
        s = self._spread_ticks * math.exp(self.spread_log)
        s = 1 if s < 1.5 else int(s + 0.5)
        bid = math.floor(mid / self.tick - s / 2 + 0.5)
        ask = bid + s
        if informed and self.p.informed_prob and m.best_bid and m.best_ask:
            # The fair value moved through a quote makers have not re-priced yet: a taker who saw it
            # first picks the stale side off (the resting orders there, ours included, fill adversely).
            if bid >= m.best_ask and rng.random() < self.p.informed_prob:
                m.flow_trade(t, 1, self.sizes.draw(), limit=bid)
                self.arrivals.excite(t)
                self.sign = 1
            elif ask <= m.best_bid and rng.random() < self.p.informed_prob:
                m.flow_trade(t, -1, self.sizes.draw(), limit=ask)
                self.arrivals.excite(t)
                self.sign = -1
        m.set_quotes(bid, ask, t)

    def _churn(self) -> None:
        rng = self.rng
        self.market.refresh_level(-1 if rng.random() < 0.5 else 1, rng.random() < self.p.top_churn_share,
                                  rng.random())

    # --- takers --------------------------------------------------------------------------------
    def _trade(self, t: float) -> None:
        rng = self.rng
        m = self.market
        if not (self.p.sign_persistence and rng.random() < self.p.sign_persistence):
            half = (m.best_ask - m.best_bid) * self.tick / 2 or self.tick
            lean = self.p.informed_skew * math.tanh((self.fair.at(t) - self.mid) / half)
            self.sign = 1 if rng.random() < 0.5 + lean else -1
        bid, ask = m.best_bid, m.best_ask
        m.flow_trade(t, self.sign, self.sizes.draw())
        if (m.best_bid != bid or m.best_ask != ask) and self.t_refill == INF:
            self.t_refill = t + rng.expovariate(1000 / self.p.refill_ms)
            if self.t_refill < self.next_t:
                self.next_t = self.t_refill


class StaticSource:
    """A market that holds still: its book changes only when a scenario or test changes it."""

    next_t = INF

    def advance(self, t: float, hook: object = None) -> None:
        return None
