"""The hedge bot's parameters, validated before anything touches a venue.

Names follow the product notes' command line (``--primary paradex --hedge grvt --ticker SOL
--size 0.1 --iter 10 --primary-mode bbo_minus_1 --hedge-mode bbo_minus_1``). A bad value fails
with pydantic's message, which names the field and the allowed values.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from core.decimals import PLAIN_DECIMAL, PlainDecimal, PlainFloat, PlainInt
from core.modes import run_mode
from core.types import PriceMode
from exchanges import registry
from exchanges.fees import FeeRates, parse_fee_rates

# The venue choices come from the venue registry (each venue package says which roles it takes).
PrimaryVenue = Literal[registry.names(role="primary")]  # type: ignore[valid-type]
HedgeVenue = Literal[registry.names(role="hedge")]  # type: ignore[valid-type]
DEFAULT_PRIMARY: str = registry.default("primary")
DEFAULT_HEDGE: str = registry.default("hedge")
Ticker = Literal["SOL", "ETH", "BTC"]
PrimaryMode = Literal["bbo", "bbo_minus_1", "bbo_plus_1", "market"]
HedgeMode = Literal["bbo_minus_1", "market"]
Direction = Literal["long", "short", "alternate"]
OnCancel = Literal["flatten", "leave"]
VenueMode = Literal["sim", "live"]
SimClock = Literal["virtual", "real"]  # virtual: accelerated backtest; real: paper trading in real time


class HedgeConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    primary: PrimaryVenue = DEFAULT_PRIMARY
    hedge: HedgeVenue = DEFAULT_HEDGE
    ticker: Ticker = "SOL"
    size: PlainDecimal = Field(Decimal("0.1"), gt=0, description="order size per cycle, base units")
    iterations: PlainInt = Field(10, ge=1, le=1_000_000, description="open+close cycle pairs")
    primary_mode: PrimaryMode = "bbo_minus_1"
    hedge_mode: HedgeMode = "bbo_minus_1"
    direction: Direction = "long"
    build_to: PlainInt = Field(1, ge=1, le=1000, description="open cycles before closing")
    max_position: Annotated[Decimal, Field(gt=0), PLAIN_DECIMAL] | None = Field(
        None, description="largest |primary position|; default size*build_to")
    daily_loss_limit: PlainDecimal = Field(Decimal("25"), gt=0, description="USD, from real fills and fees; UTC day")
    net_delta_tolerance: PlainDecimal = Field(Decimal("0.01"), gt=0, le=1,
                                         description="allowed unexplained |net delta| as a fraction of size")
    min_spread_bps: Annotated[Decimal, Field(ge=-100, le=100), PLAIN_DECIMAL] | None = Field(None,
                                           description="quote only when the hedge touch is this much better")
    hedge_timeout: PlainFloat = Field(5.0, gt=0, le=600, description="seconds before a maker hedge turns taker")
    on_cancel: OnCancel = "flatten"
    venue_mode: VenueMode = "sim"
    seed: PlainInt = Field(7, ge=0)

    # Advanced knobs with the notes' safe defaults.
    max_hedge_failures: PlainInt = Field(3, ge=1, le=20)
    hedge_slippage_bps: PlainDecimal = Field(Decimal("10"), gt=0, le=500)
    flatten_slippage_bps: PlainDecimal = Field(Decimal("25"), gt=0, le=1000)
    reprice_bps: PlainDecimal = Field(Decimal("1.0"), gt=0, le=100)
    stale_after: PlainFloat = Field(30.0, gt=0, description="seconds before an unfilled primary order is renewed")
    adverse_move_bps: PlainDecimal = Field(Decimal("3"), gt=0, le=500)
    reconcile_interval: PlainFloat = Field(15.0, gt=0)
    reconcile_confirmations: PlainInt = Field(2, ge=2, le=10)
    margin_fraction: PlainDecimal = Field(Decimal("0.2"), gt=0, le=1)
    max_basis_bps: PlainDecimal = Field(Decimal("50"), gt=0, le=10_000,
                                        description="refuse to start when the venues' mids differ by more (bps)")
    sim_clock: SimClock = "virtual"
    replay: tuple[str, ...] = Field((), description="VENUE=FILE: a recorded market drives that simulated venue")
    # The accounts' fee rates, "maker/taker" in bps (simulator only; live reads the account's own).
    primary_fees: str | None = Field(None, description="primary account's maker/taker fee rates, bps (sim)")
    hedge_fees: str | None = Field(None, description="hedge account's maker/taker fee rates, bps (sim)")

    @field_validator("ticker", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @field_validator("primary_fees", "hedge_fees")
    @classmethod
    def _fee_rates(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None:
            parse_fee_rates(v, info.field_name or "fees")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> HedgeConfig:
        if self.venue_mode == "live" and (self.primary_fees or self.hedge_fees):
            raise ValueError("primary_fees/hedge_fees are for the simulator; a live run trades at the accounts' "
                             "own rates, read from the venues")
        if self.max_position is not None and self.max_position < self.size:
            raise ValueError(f"max_position ({self.max_position}) must be at least size ({self.size})")
        for item in self.replay:
            venue, sep, file = item.partition("=")
            if not sep or not file.strip():
                raise ValueError(f"replay {item!r} is not VENUE=FILE (e.g. grvt=data/grvt-ETH.jsonl.gz)")
            if venue.strip() not in (self.primary, self.hedge):
                raise ValueError(f"replay venue {venue.strip()!r} is not traded; allowed: {self.primary}, {self.hedge}")
        if self.replay and (self.venue_mode != "sim" or self.sim_clock != "virtual"):
            raise ValueError("replay needs venue_mode sim and sim_clock virtual "
                             "(a recorded market runs in its own time)")
        return self

    def fee_rates(self) -> dict[str, FeeRates]:
        """The fee rates given for each venue (none: the venue setting, else the simulator's profile)."""
        given = ((self.primary, self.primary_fees), (self.hedge, self.hedge_fees))
        return {v: parse_fee_rates(f, "fees") for v, f in given if f is not None}

    @property
    def position_limit(self) -> Decimal:
        return self.max_position if self.max_position is not None else self.size * self.build_to

    @property
    def primary_price_mode(self) -> PriceMode:
        return PriceMode(self.primary_mode)

    @property
    def hedge_price_mode(self) -> PriceMode:
        return PriceMode(self.hedge_mode)

    @property
    def run_mode(self) -> tuple[str, str]:
        """(mode, clock): backtest/virtual, paper/real or live/real (``core.modes``)."""
        return run_mode(self.venue_mode, self.sim_clock)

    @property
    def account_key(self) -> str:
        """The account pair this bot trades; one bot per pair (the Prefect concurrency limit)."""
        return f"{self.venue_mode}-{self.primary}-{self.hedge}"

    def public_params(self) -> dict[str, object]:
        """Parameters as recorded in the warehouse (no secrets live here)."""
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in self.model_dump().items()}
