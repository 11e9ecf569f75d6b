"""The grid market maker's parameters: the one declaration the flow, the UI form and the CLI share.

Validation happens in two steps, both before any order: the model itself (ranges, known venue and
scenario, an inventory limit of at least one level's size, and, on the simulator, the venue's
tick and minimum size from its profile), and ``check_instrument`` against the instrument a live
venue publishes. Every refusal names the field and what it allows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.errors import ConfigError
from core.types import Instrument
from exchanges import registry
from exchanges.sim.profiles import load_profiles

Mode = Literal["fixed", "naive"]
PauseSides = Literal["against", "both"]
OnCancel = Literal["flatten", "leave"]
VenueMode = Literal["sim", "live"]
SimClock = Literal["virtual", "real"]


def scenarios() -> tuple[str, ...]:
    """The simulator's market regimes (``[regimes.*]`` of its profiles, and ``base``)."""
    return tuple(load_profiles().regimes)


def known_venues() -> tuple[str, ...]:
    """Venues a grid can quote on: every venue the simulator profiles (live ones are a subset)."""
    return tuple(sorted(load_profiles().venues))


class GridParams(BaseModel):
    """A two-sided, maker-only grid whose skew reduces inventory (``fixed``) or, for comparison,
    the original grid whose skew adds to it (``naive``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    venue: str = Field(registry.default("grid"), description="venue to quote on (default: the registry's grid venue)")
    symbol: str = Field("BTC", description="asset (user's short name: BTC, ETH, SOL)")
    mode: Mode = Field("fixed", description="fixed: skew reduces inventory, momentum filter, fast cancels; "
                                            "naive: the original fixed-spread grid whose skew adds to inventory")
    levels: int = Field(2, ge=1, le=20, description="quotes per side")
    spacing_bps: Decimal = Field(Decimal("1.0"), gt=0, le=500, description="distance between levels, bps of mid")
    size: Decimal = Field(Decimal("0.002"), gt=0, description="size per level, base units")
    max_position: Decimal = Field(Decimal("0.01"), gt=0, description="inventory limit |position|, base units")
    half_spread_bps: Decimal = Field(Decimal("0.7"), ge=0, le=500,
                                     description="distance of the first level from the reservation price, bps "
                                                 "(before the volatility term)")
    vol_spread_mult: float = Field(1.0, ge=0, le=20,
                                   description="fixed mode: adds this many sigma*sqrt(horizon) to the half-spread")
    vol_horizon_s: float = Field(1.0, gt=0, le=3600, description="horizon of the volatility terms, seconds")
    skew_bps: Decimal = Field(Decimal("1.5"), ge=0, le=500,
                              description="reservation price offset at the inventory limit, bps")
    risk_aversion: float = Field(0.5, ge=0, le=100,
                                 description="gamma: adds gamma*(sigma*sqrt(horizon))^2 bps per unit of inventory")
    vol_prior_bps: float = Field(1.0, gt=0, le=1000, description="volatility before any sample, bps per sqrt(second)")
    vol_half_life_s: float = Field(60.0, gt=0, le=86_400, description="half-life of the volatility estimate")
    momentum_horizon_s: float = Field(120.0, gt=0, le=3600, description="trend lookback, seconds")
    momentum_enter_z: float = Field(2.0, gt=0, le=50, description="pause when |trend z-score| exceeds this")
    momentum_exit_z: float = Field(0.5, ge=0, le=50, description="resume when |z| falls below this (hysteresis)")
    momentum_min_pause_s: float = Field(10.0, ge=0, le=3600, description="shortest pause, seconds")
    momentum_pause: PauseSides = Field("against", description="against: pause the side that adds against the "
                                                              "trend; both: pause both sides")
    requote_tolerance_bps: Decimal = Field(Decimal("0.5"), gt=0, le=500,
                                           description="re-quote when mid moved this much since placing")
    max_order_age_s: float = Field(20.0, gt=0, le=86_400, description="re-quote an order older than this")
    naive_requote_s: float = Field(60.0, gt=0, le=86_400, description="naive mode: re-quote on this timer only")
    duration_s: float = Field(3600.0, gt=0, le=30 * 86_400, description="run length, seconds (market time)")
    daily_loss_limit: Decimal = Field(Decimal("50"), gt=0, description="USD, from real fills and fees; UTC day")
    on_cancel: OnCancel = Field("flatten", description="when stopped: flatten the inventory or leave it")
    flatten_slippage_bps: Decimal = Field(Decimal("25"), gt=0, le=1000)
    venue_mode: VenueMode = Field("sim", description="sim: the embedded simulator; live: the real venue")
    scenario: str = Field("base", description="simulator market regime: " + ", ".join(scenarios()))
    seed: int = Field(7, ge=0, description="simulator seed")
    sim_clock: SimClock = Field("virtual", description="virtual: accelerated; real: paper trading in real time")
    lock_timeout: float = Field(600.0, ge=0, le=86_400,
                                description="seconds to wait if another bot holds the account")

    @field_validator("symbol", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @field_validator("venue")
    @classmethod
    def _venue(cls, v: str) -> str:
        if v not in known_venues():
            raise ValueError(f"{v!r} is not a known venue; allowed: {', '.join(known_venues())}")
        return v

    @field_validator("scenario")
    @classmethod
    def _scenario(cls, v: str) -> str:
        if v not in scenarios():
            raise ValueError(f"{v!r} is not a simulator scenario; allowed: {', '.join(scenarios())}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> GridParams:
        if self.max_position < self.size:
            raise ConfigError("max_position", f"{self.max_position} is below one level's size ({self.size}); "
                                              f"allowed: >= {self.size}")
        if self.momentum_exit_z >= self.momentum_enter_z:
            raise ConfigError("momentum_exit_z", f"{self.momentum_exit_z} must be below momentum_enter_z "
                                                 f"({self.momentum_enter_z}) so that a pause has hysteresis")
        if self.venue_mode == "sim":
            profiles = load_profiles()
            vp = profiles.venue(self.venue)
            if self.symbol not in vp.markets:
                raise ConfigError("symbol", f"{self.symbol!r} is not simulated on {self.venue}; "
                                            f"allowed: {', '.join(sorted(vp.markets))}")
            check_instrument(self, vp.instrument(self.symbol), Decimal(str(profiles.asset(self.symbol).price)))
        return self

    @property
    def account_key(self) -> str:
        """The account this bot trades; one bot per account (the scaffold's lock)."""
        return f"{self.venue_mode}-{self.venue}"

    def public_params(self) -> dict[str, object]:
        """Parameters as recorded in the warehouse (no secrets live here)."""
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in self.model_dump().items()}


def check_instrument(p: GridParams, ins: Instrument, mid: Decimal) -> None:
    """Refuse parameters the venue cannot trade, naming the field: spacing below one tick, a level
    size below the venue's minimum size or notional, or off its size step."""
    spacing = p.spacing_bps * mid / 10_000
    if spacing < ins.tick:
        raise ConfigError("spacing_bps", f"{p.spacing_bps} bps is {spacing:.6f} at price {mid}, below one tick "
                                         f"({ins.tick}); allowed: >= {ins.tick / mid * 10_000:.4f} bps")
    if p.size < ins.min_size:
        raise ConfigError("size", f"{p.size} is below {ins.venue}'s minimum size {ins.min_size} for {ins.symbol}")
    if p.size * mid < ins.min_notional:
        raise ConfigError("size", f"{p.size} is {p.size * mid:.2f} notional at {mid}, below {ins.venue}'s "
                                  f"minimum notional {ins.min_notional}; allowed: >= "
                                  f"{ins.round_size(ins.min_notional / mid) + ins.lot}")
    if not ins.on_lot(p.size):
        raise ConfigError("size", f"{p.size} is not a multiple of {ins.venue}'s size step {ins.lot}")
    if ins.max_order_size is not None and p.size > ins.max_order_size:
        raise ConfigError("size", f"{p.size} is above {ins.venue}'s maximum order size {ins.max_order_size}")


def parse_params(**raw: object) -> GridParams:
    """Build ``GridParams``; a pydantic error becomes a ``ConfigError`` naming the first bad field."""
    from pydantic import ValidationError

    try:
        return GridParams(**raw)  # type: ignore[arg-type]
    except ValidationError as e:
        err = e.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        field = ".".join(str(x) for x in err["loc"])
        if not field:  # a check across fields: its ConfigError named the field
            field, _, msg = msg.partition(": ")
        raise ConfigError(field or "params", msg) from None
