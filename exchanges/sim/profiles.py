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
    return SimProfiles(assets=assets, venues=venues)


@cache
def load_profiles(path: Path = PROFILES_PATH) -> SimProfiles:
    with open(path, "rb") as f:
        return parse_profiles(tomllib.load(f))
