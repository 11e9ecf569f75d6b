"""Venue profiles for the simulator, loaded from ``profiles.toml`` (data, not code)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.types import Instrument
from exchanges.symbols import to_venue_symbol

PROFILES_PATH = Path(__file__).with_name("profiles.toml")


@dataclass(frozen=True, slots=True)
class AssetProfile:
    symbol: str
    price: float
    vol_annual: float


@dataclass(frozen=True, slots=True)
class Regime:
    """The market regime the shared fair value runs in: the place for scenario parameters.

    ``base`` is a driftless random walk at each asset's own volatility. Scenarios (quiet,
    trending, volatile, mean-reverting, ...) are ``[regimes.<name>]`` tables in ``profiles.toml``
    and are picked with ``SimWorld(regime=...)``; every field defaults to the base behaviour.
    """

    name: str = "base"
    vol_scale: float = 1.0  # multiplies every asset's vol_annual
    drift_annual: float = 0.0  # log-drift per year (0.5 = +50 %/year trend)
    reversion_half_life_s: float = 0.0  # > 0: log price reverts to its start with this half-life
    jump_rate_per_h: float = 0.0  # Poisson jumps of the fair value ...
    jump_bps: float = 0.0  # ... of this typical size (Laplace, either sign)


@dataclass(frozen=True, slots=True)
class MarketProfile:
    """One venue's market for one asset: its rules and the shape of its book and order flow."""

    symbol: str
    tick: Decimal
    lot: Decimal
    min_size: Decimal
    min_notional: Decimal
    spread_bps: float
    level_gap_bps: float
    levels: int
    top_size: float
    depth_growth: float
    book_updates_per_s: float
    trade_rate_per_s: float
    trade_size_median: float
    trade_size_sigma: float
    trade_size_max: float
    basis_bps: float
    noise_bps: float
    lag_ms: float
    max_order_size: Decimal | None = None  # None: the venue publishes no maximum
    # What really executes for a taker, when less than the displayed book (GRVT).
    # Share of the displayed size that is a real queue ahead of a new maker order (GRVT shows
    # far more than it trades: most of its displayed size never stands between us and a taker).
    queue_real_fraction: float = 1.0
    exec_cap_median: float | None = None
    exec_cap_sigma: float = 0.0
    exec_fail_prob: float = 0.0
    oversize_partial_prob: float = 0.0
    oversize_partial_size: float = 0.0
    # --- the touch (exchanges/sim/flow.py); each named model is in exchanges/sim/models.py ---
    quote_rate_per_s: float = 2.0  # how often makers re-price to the fair value (best-price change driver)
    spread_log_sd: float = 0.3  # spreads breathe: log-sd around spread_bps (a one-tick floor applies)
    refill_ms: float = 250.0  # a best level eaten by a taker is re-quoted after about this long
    top_churn_share: float = 0.2  # share of size updates that hit the best level (the rest: deeper)
    flow_model: str = "hawkes"  # taker arrivals: poisson | hawkes (self-exciting, bursty)
    hawkes_branching: float = 0.6  # share of trades triggered by earlier trades (0 = Poisson)
    hawkes_decay_s: float = 1.5  # how long a burst lasts (kernel time constant)
    sign_persistence: float = 0.3  # chance a taker repeats the previous taker's side (order splitting)
    informed_skew: float = 0.35  # takers lean toward where the fair value is going
    informed_prob: float = 0.5  # a stale quote the fair value moved through is picked off before re-pricing
    size_model: str = "pareto_mix"  # taker sizes: lognormal | pareto_mix (log-normal body + power-law tail)
    size_tail_prob: float = 0.04  # pareto_mix: share of trades drawn from the tail ...
    size_tail_alpha: float = 1.2  # ... with this tail exponent (smaller = heavier)
    queue_model: str = "risk_averse"  # our queue position: risk_averse | proportional (see models.py)


@dataclass(frozen=True, slots=True)
class VenueProfile:
    name: str
    maker_fee: Decimal
    taker_fee: Decimal
    feed_latency_ms: float
    order_rtt_ms: float
    cancel_rtt_ms: float
    latency_jitter: float
    funding_interval_s: float
    funding_rate: Decimal
    initial_margin: Decimal
    account_equity: Decimal
    markets: dict[str, MarketProfile] = field(default_factory=dict)
    fee_model: str = "flat"  # maker/taker fractions of notional (negative maker = rebate)
    latency_model: str = "lognormal"  # half round trips: rtt/2 x exp(latency_jitter x N(0,1))
    # a reduce-only order closing the whole position may be below min_notional (Instrument)
    closes_below_min_notional: bool = False

    def market(self, symbol: str) -> MarketProfile:
        try:
            return self.markets[symbol]
        except KeyError:
            raise ConfigError("symbol", f"{symbol!r} is not simulated on {self.name}; "
                                        f"allowed: {', '.join(sorted(self.markets))}") from None

    def instrument(self, symbol: str) -> Instrument:
        m = self.market(symbol)
        return Instrument(
            venue=self.name, symbol=symbol, venue_symbol=to_venue_symbol(self.name, symbol),
            tick=m.tick, lot=m.lot, min_size=m.min_size, min_notional=m.min_notional,
            max_order_size=m.max_order_size, maker_fee=self.maker_fee, taker_fee=self.taker_fee,
            closes_below_min_notional=self.closes_below_min_notional,
        )

    def with_fees(self, maker: Decimal | str, taker: Decimal | str) -> VenueProfile:
        return replace(self, maker_fee=Decimal(maker), taker_fee=Decimal(taker))

    def with_market(self, symbol: str, **changes: Any) -> VenueProfile:
        markets = dict(self.markets)
        markets[symbol] = replace(self.market(symbol), **changes)
        return replace(self, markets=markets)


@dataclass(frozen=True, slots=True)
class SimProfiles:
    assets: dict[str, AssetProfile]
    venues: dict[str, VenueProfile]
    regimes: dict[str, Regime] = field(default_factory=lambda: {"base": Regime()})

    def regime(self, name: str) -> Regime:
        try:
            return self.regimes[name]
        except KeyError:
            raise ConfigError("regime", f"{name!r} is not a simulated regime; "
                                        f"allowed: {', '.join(sorted(self.regimes))}") from None

    def venue(self, name: str) -> VenueProfile:
        try:
            return self.venues[name]
        except KeyError:
            raise ConfigError("venue", f"{name!r} has no simulator profile; "
                                       f"allowed: {', '.join(sorted(self.venues))}") from None

    def asset(self, symbol: str) -> AssetProfile:
        try:
            return self.assets[symbol]
        except KeyError:
            raise ConfigError("symbol", f"{symbol!r} is not simulated; "
                                        f"allowed: {', '.join(sorted(self.assets))}") from None


def _coerce(cls: type, raw: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    known = {f.name: f for f in fields(cls)}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{where}.{key}", f"unknown profile field; allowed: {', '.join(known)}")
        kind = str(known[key].type)
        out[key] = Decimal(str(value)) if "Decimal" in kind else value
    return out


def parse_profiles(data: dict[str, Any]) -> SimProfiles:
    assets = {s: AssetProfile(symbol=s, **_coerce(AssetProfile, a, f"assets.{s}"))
              for s, a in data.get("assets", {}).items()}
    venues = {}
    for name, raw in data.get("venues", {}).items():
        raw = dict(raw)
        markets = {s: MarketProfile(symbol=s, **_coerce(MarketProfile, m, f"venues.{name}.markets.{s}"))
                   for s, m in raw.pop("markets", {}).items()}
        venues[name] = VenueProfile(name=name, markets=markets,
                                    **_coerce(VenueProfile, raw, f"venues.{name}"))
    regimes = {"base": Regime()}
    regimes.update({n: Regime(name=n, **_coerce(Regime, r, f"regimes.{n}"))
                    for n, r in data.get("regimes", {}).items()})
    from exchanges.sim.models import check_models
    for name, v in venues.items():
        check_models(v, f"venues.{name}")
    return SimProfiles(assets=assets, venues=venues, regimes=regimes)


@cache
def load_profiles(path: Path = PROFILES_PATH) -> SimProfiles:
    with open(path, "rb") as f:
        return parse_profiles(tomllib.load(f))


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_profiles_with(overlay: Path) -> SimProfiles:
    """The shipped profiles with an overlay's tables merged over them (``perpflow sim calibrate``
    writes such an overlay: one market's fitted shape)."""
    if not Path(overlay).exists():
        raise ConfigError("profiles", f"{overlay}: no such file")
    with open(PROFILES_PATH, "rb") as f, open(overlay, "rb") as g:
        try:
            extra = tomllib.load(g)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("profiles", f"{overlay}: not TOML ({exc})") from None
        return parse_profiles(_merge(tomllib.load(f), extra))
