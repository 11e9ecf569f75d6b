"""The grid market maker's parameters: the one declaration the flow, the UI form and the CLI share.

Validation happens in two steps, both before any order: the model itself (ranges, known venue and
scenario, an inventory limit of at least one level's size, and, on the simulator, the venue's
tick and minimum size from its profile), and ``check_instrument`` against the instrument a live
venue publishes (the strategy's pre-trade check). Every refusal names the field and what it allows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from core.errors import ConfigError
from core.params import REPLAY_HELP, replay_problem
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

    venue: str = Field(registry.default("grid"), description="venue to quote on (default: the registry's grid "
                                                              "venue): " + ", ".join(known_venues()))
    venue_mode: VenueMode = Field("sim", description="sim: the embedded simulator; live: the real venue")
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
    scenario: str = Field("base", description="simulator market regime: " + ", ".join(scenarios()))
    seed: int = Field(7, ge=0, description="simulator seed")
    sim_clock: SimClock = Field("virtual", description="virtual: accelerated; real: paper trading in real time")
    lock_timeout: float = Field(600.0, ge=0, le=86_400,
                                description="seconds to wait if another bot holds the account")
    replay: tuple[str, ...] = Field((), description=REPLAY_HELP)

    # Checks across fields read the fields declared before (pydantic validates in declaration order),
    # so each refusal is located on its own field: the CLI and the UI name it.
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

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, v: str, info: ValidationInfo) -> str:
        if info.data.get("venue_mode") == "sim" and info.data.get("venue") in known_venues():
            markets = load_profiles().venue(info.data["venue"]).markets
            if v not in markets:
                raise ValueError(f"{v!r} is not simulated on {info.data['venue']}; "
                                 f"allowed: {', '.join(sorted(markets))}")
        return v

    @field_validator("spacing_bps")
    @classmethod
    def _spacing(cls, v: Decimal, info: ValidationInfo) -> Decimal:
        sim = _sim_instrument(info.data)
        if sim is not None:
            _raise(spacing_problem(v, *sim))
        return v

    @field_validator("size")
    @classmethod
    def _size(cls, v: Decimal, info: ValidationInfo) -> Decimal:
        sim = _sim_instrument(info.data)
        if sim is not None:
            _raise(size_problem(v, *sim))
        return v

    @field_validator("max_position")
    @classmethod
    def _max_position(cls, v: Decimal, info: ValidationInfo) -> Decimal:
        size = info.data.get("size")
        if size is not None and v < size:
            raise ValueError(f"{v} is below one level's size ({size}); allowed: >= {size}")
        return v

    @field_validator("momentum_exit_z")
    @classmethod
    def _hysteresis(cls, v: float, info: ValidationInfo) -> float:
        enter = info.data.get("momentum_enter_z")
        if enter is not None and v >= enter:
            raise ValueError(f"{v} must be below momentum_enter_z ({enter}) so that a pause has hysteresis")
        return v

    @field_validator("replay")
    @classmethod
    def _replay(cls, v: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        data = info.data
        _raise(replay_problem(v, (str(data.get("venue")),), data.get("venue_mode"), data.get("sim_clock")))
        return v

    @field_validator("scenario")
    @classmethod
    def _scenario(cls, v: str) -> str:
        if v not in scenarios():
            raise ValueError(f"{v!r} is not a simulator scenario; allowed: {', '.join(scenarios())}")
        return v

    @property
    def sim_regime(self) -> str:
        """The simulator's market regime this run trades in (the scaffold opens the simulator with it)."""
        return self.scenario

    @property
    def account_key(self) -> str:
        """The account this bot trades; one bot per account (the scaffold's lock)."""
        return f"{self.venue_mode}-{self.venue}"

    def public_params(self) -> dict[str, object]:
        """Parameters as recorded in the warehouse (no secrets live here)."""
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in self.model_dump().items()}


def _sim_instrument(data: dict[str, object]) -> tuple[Instrument, Decimal] | None:
    """The simulated instrument and its reference price, when the fields validated so far name one."""
    venue, symbol = data.get("venue"), data.get("symbol")
    if data.get("venue_mode") != "sim" or venue not in known_venues():
        return None
    profiles = load_profiles()
    vp = profiles.venue(str(venue))
    if symbol not in vp.markets:
        return None
    return vp.instrument(str(symbol)), Decimal(str(profiles.asset(str(symbol)).price))


def _raise(problem: str | None) -> None:
    if problem is not None:
        raise ValueError(problem)


def spacing_problem(spacing_bps: Decimal, ins: Instrument, mid: Decimal) -> str | None:
    spacing = spacing_bps * mid / 10_000
    if spacing < ins.tick:
        return (f"{spacing_bps} bps is {spacing:.6f} at price {mid}, below one tick ({ins.tick}); "
                f"allowed: >= {ins.tick / mid * 10_000:.4f} bps")
    return None


def size_problem(size: Decimal, ins: Instrument, mid: Decimal) -> str | None:
    if size < ins.min_size:
        return f"{size} is below {ins.venue}'s minimum size {ins.min_size} for {ins.symbol}"
    if size * mid < ins.min_notional:
        return (f"{size} is {size * mid:.2f} notional at {mid}, below {ins.venue}'s minimum notional "
                f"{ins.min_notional}; allowed: >= {ins.round_size(ins.min_notional / mid) + ins.lot}")
    if not ins.on_lot(size):
        return f"{size} is not a multiple of {ins.venue}'s size step {ins.lot}"
    if ins.max_order_size is not None and size > ins.max_order_size:
        return f"{size} is above {ins.venue}'s maximum order size {ins.max_order_size}"
    return None


def check_instrument(p: GridParams, ins: Instrument, mid: Decimal) -> None:
    """Refuse parameters the venue cannot trade (its live instrument and price), naming the field:
    spacing below one tick, a level size below the venue's minimum size or notional, off its size
    step or above its maximum order size."""
    for field, problem in (("spacing_bps", spacing_problem(p.spacing_bps, ins, mid)),
                           ("size", size_problem(p.size, ins, mid))):
        if problem is not None:
            raise ConfigError(field, problem)


def parse_params(**raw: object) -> GridParams:
    """Build ``GridParams``; a pydantic error becomes a ``ConfigError`` naming the first bad field."""
    from pydantic import ValidationError

    try:
        return GridParams(**raw)  # type: ignore[arg-type]
    except ValidationError as e:
        err = e.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        field = ".".join(str(x) for x in err["loc"]) or "params"
        raise ConfigError(field, msg) from None
