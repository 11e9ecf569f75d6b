"""The seeded market model: one fair value per asset, and the order flow of each venue's book.

Each venue sees the shared fair value through its own lag (lead/lag between venues), basis and
mean-reverting noise, quotes around it with its typical spread, churns its displayed depth
(size updates as a Poisson process) and receives market orders from others (Poisson arrivals,
log-normal sizes). Takers lean toward the side the fair value is moving to, so a resting order
that the market moves through is filled when it is worst to be filled: adverse selection comes
out of the model, it is not bolted on.
"""

from __future__ import annotations

import math
import random
from collections import deque

from exchanges.sim.market import SimMarket
from exchanges.sim.profiles import AssetProfile, MarketProfile

SECONDS_PER_YEAR = 365 * 24 * 3600
NOISE_HALF_LIFE_S = 5.0
SPREAD_HALF_LIFE_S = 20.0
SPREAD_LOG_SD = 0.3  # spreads breathe: about +-30% around the profile's typical spread
INFORMED_SKEW = 0.35


class FairValue:
    """The true price of an asset: a seeded geometric random walk, with a short history for lags."""

    def __init__(self, asset: AssetProfile, step: float, rng: random.Random, history: int) -> None:
        self._log = math.log(asset.price)
        self._sigma = asset.vol_annual * math.sqrt(step / SECONDS_PER_YEAR)
        self._rng = rng
        self.history: deque[float] = deque([asset.price], maxlen=max(1, history) + 1)

    @property
    def price(self) -> float:
        return self.history[-1]

    def advance(self) -> None:
        self._log += self._sigma * self._rng.gauss(0.0, 1.0)
        self.history.append(math.exp(self._log))

    def lagged(self, steps: int) -> float:
        h = self.history
        return h[-1 - steps] if steps < len(h) else h[0]


class ModelSource:
    """Drives one ``SimMarket`` from the fair value and the venue's flow profile."""

    def __init__(self, market: SimMarket, profile: MarketProfile, fair: FairValue, *, tick: float, lot: float,
                 step: float, rng: random.Random, t0: float) -> None:
        self.market = market
        self.p = profile
        self.fair = fair
        self.tick = tick
        self.lot = lot
        self.step = step
        self.rng = rng
        self.lag_steps = round(profile.lag_ms / 1000 / step)
        theta = math.log(2) / NOISE_HALF_LIFE_S
        self._decay = math.exp(-theta * step)
        self._noise_sd = profile.noise_bps * math.sqrt(1 - self._decay**2)
        self.noise = 0.0
        theta_s = math.log(2) / SPREAD_HALF_LIFE_S
        self._s_decay = math.exp(-theta_s * step)
        self._s_sd = SPREAD_LOG_SD * math.sqrt(1 - self._s_decay**2)
        self.spread_log = 0.0
        self._half_spread = profile.spread_bps / 20_000
        self._size_mu = math.log(profile.trade_size_median / lot)
        self._size_max = max(1, int(profile.trade_size_max / lot))
        self.next_update = t0 + rng.expovariate(profile.book_updates_per_s)
        self.next_trade = t0 + rng.expovariate(profile.trade_rate_per_s)
        self.mid = fair.price

    def advance(self, t: float) -> None:
        rng = self.rng
        m = self.market
        self.noise = self.noise * self._decay + self._noise_sd * rng.gauss(0.0, 1.0)
        mid = self.fair.lagged(self.lag_steps) * (1 + (self.p.basis_bps + self.noise) / 10_000)
        self.mid = mid
        self.spread_log = self.spread_log * self._s_decay + self._s_sd * rng.gauss(0.0, 1.0)
        half = mid * self._half_spread * math.exp(self.spread_log)
        m.set_quotes(math.floor((mid - half) / self.tick), math.ceil((mid + half) / self.tick), t)
        rate = self.p.book_updates_per_s
        while self.next_update <= t:
            m.refresh_random_level(rng.random(), rng.random())
            self.next_update += rng.expovariate(rate)
        if self.next_trade <= t:
            skew = INFORMED_SKEW * math.tanh((self.fair.price - mid) / half)
            rate = self.p.trade_rate_per_s
            while self.next_trade <= t:
                sign = 1 if rng.random() < 0.5 + skew else -1
                lots = min(self._size_max, max(1, int(rng.lognormvariate(self._size_mu, self.p.trade_size_sigma))))
                m.flow_trade(self.next_trade, sign, lots)
                self.next_trade += rng.expovariate(rate)


class StaticSource:
    """A market that holds still: its book changes only when a scenario or test changes it."""

    def advance(self, t: float) -> None:
        return None
