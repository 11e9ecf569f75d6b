"""Multi-day price paths with market regimes and funding, for backtests of slow bots.

The tick-level simulator (``world.py``) models every book update and trade print: right for a
maker bot over minutes, far too slow for a directional bot held for days over weeks. A
``PricePath`` is one bar per ``bar_s`` seconds (a minute by default) of mid price, typical spread
and hourly funding rate per symbol, over any number of days, from a seed.

Regimes are shared by every symbol of a path (crypto moves together): ``bull`` and ``bear``
drift, ``range`` mean-reverts to an anchor, ``storm`` doubles the volatility. They switch as a
Markov chain with the regime's mean duration. Funding follows the regime (longs pay in a bull,
shorts in a bear) with noise, as on the venues. A reader at time ``t`` only ever sees bars that
closed at or before ``t`` (``PricePath.upto``), so a backtest cannot look ahead.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from exchanges.sim.profiles import SimProfiles, load_profiles

SECONDS_PER_YEAR = 365 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Regime:
    name: str
    drift_per_day: float  # log drift, fraction per day
    vol_mult: float  # times the asset's annual volatility
    revert_half_life_h: float | None  # range: pull back to the anchor with this half-life
    funding_hourly: float  # mean funding rate per hour (a long pays this fraction of notional)
    mean_hours: float  # mean duration


REGIMES: dict[str, Regime] = {r.name: r for r in (
    Regime("bull", 0.012, 0.9, None, 0.000015, 40.0),
    Regime("bear", -0.012, 1.0, None, -0.000008, 36.0),
    Regime("range", 0.0, 0.7, 6.0, 0.000004, 48.0),
    Regime("storm", 0.0, 2.0, None, 0.0, 10.0),
)}
# Where a regime goes next (a storm ends a trend more often than a range).
NEXT: dict[str, tuple[tuple[str, float], ...]] = {
    "bull": (("range", 0.5), ("storm", 0.25), ("bear", 0.25)),
    "bear": (("range", 0.5), ("storm", 0.25), ("bull", 0.25)),
    "range": (("bull", 0.4), ("bear", 0.4), ("storm", 0.2)),
    "storm": (("range", 0.4), ("bull", 0.3), ("bear", 0.3)),
}


@dataclass(frozen=True, slots=True)
class Bar:
    ts: float  # close time of the bar
    mid: float
    spread_bps: float
    funding_hourly: float
    regime: str

    @property
    def bid(self) -> float:
        return self.mid * (1 - self.spread_bps / 20_000)

    @property
    def ask(self) -> float:
        return self.mid * (1 + self.spread_bps / 20_000)


@dataclass(frozen=True, slots=True)
class SymbolPath:
    symbol: str
    ts: tuple[float, ...]
    mid: tuple[float, ...]
    spread_bps: tuple[float, ...]
    funding_hourly: tuple[float, ...]
    regime: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ts)

    def bar(self, i: int) -> Bar:
        return Bar(self.ts[i], self.mid[i], self.spread_bps[i], self.funding_hourly[i], self.regime[i])

    def index_at(self, t: float) -> int:
        """Index of the last bar closed at or before ``t`` (-1: none yet)."""
        return bisect.bisect_right(self.ts, t) - 1

    def upto(self, t: float, n: int) -> Sequence[float]:
        """The last ``n`` mids known at ``t`` (oldest first), never a bar from after ``t``."""
        i = self.index_at(t)
        return self.mid[max(0, i - n + 1):i + 1] if i >= 0 else ()


@dataclass(frozen=True, slots=True)
class PricePath:
    seed: int
    start: float
    bar_s: float
    symbols: dict[str, SymbolPath]

    @property
    def end(self) -> float:
        return self.start + self.bar_s * len(next(iter(self.symbols.values())))

    def regime_hours(self) -> dict[str, float]:
        """Hours spent in each regime (the same for every symbol)."""
        first = next(iter(self.symbols.values()))
        out: dict[str, float] = {}
        for r in first.regime:
            out[r] = out.get(r, 0.0) + self.bar_s / 3600
        return out


def _regimes(n_hours: int, rng: random.Random, first: str) -> list[str]:
    out: list[str] = []
    current = first
    while len(out) < n_hours:
        hours = max(1, round(rng.expovariate(1 / REGIMES[current].mean_hours)))
        out.extend([current] * hours)
        names, weights = zip(*NEXT[current], strict=True)
        current = rng.choices(names, weights)[0]
    return out[:n_hours]


def generate_path(symbols: Iterable[str], *, days: float, seed: int, start: float, bar_s: float = 60.0,
                  venue: str = "hibachi", profiles: SimProfiles | None = None, first_regime: str | None = None,
                  funding_noise: float = 0.5) -> PricePath:
    """A seeded multi-day path for ``symbols`` as quoted on ``venue`` (its typical spread).

    Each symbol starts at its asset profile's price, moves with its profile's volatility scaled by
    the regime, and carries the regime's funding times (1 + noise). The same arguments give the
    same path.
    """
    profiles = profiles or load_profiles()
    vp = profiles.venue(venue)
    n = max(1, round(days * 86_400 / bar_s))
    rng = random.Random(f"{seed}/paths/regimes")
    first = first_regime or rng.choice(sorted(REGIMES))
    hours = _regimes(math.ceil(n * bar_s / 3600) + 1, rng, first)
    dt_y = bar_s / SECONDS_PER_YEAR
    dt_d = bar_s / 86_400
    out: dict[str, SymbolPath] = {}
    for symbol in symbols:
        asset = profiles.asset(symbol)
        base_spread = vp.market(symbol).spread_bps
        r = random.Random(f"{seed}/paths/{symbol}")
        log_p = math.log(asset.price)
        anchor = log_p
        ts, mids, spreads, funding, regimes = [], [], [], [], []
        fund_noise = 0.0
        for i in range(n):
            t = start + (i + 1) * bar_s
            reg = REGIMES[hours[int((i * bar_s) // 3600)]]
            sigma = asset.vol_annual * reg.vol_mult * math.sqrt(dt_y)
            if reg.revert_half_life_h is not None:
                theta = math.log(2) / (reg.revert_half_life_h * 3600) * bar_s
                log_p += theta * (anchor - log_p)
            else:
                anchor = log_p  # a range starts where the trend left the price
            log_p += reg.drift_per_day * dt_d + sigma * r.gauss(0.0, 1.0)
            fund_noise = 0.98 * fund_noise + 0.2 * r.gauss(0.0, funding_noise)
            ts.append(t)
            mids.append(math.exp(log_p))
            spreads.append(base_spread * reg.vol_mult ** 0.5 * (0.8 + 0.4 * r.random()))
            funding.append(reg.funding_hourly * (1 + fund_noise) + 0.000002 * fund_noise)
            regimes.append(reg.name)
        out[symbol] = SymbolPath(symbol, tuple(ts), tuple(mids), tuple(spreads), tuple(funding), tuple(regimes))
    return PricePath(seed, start, bar_s, out)
