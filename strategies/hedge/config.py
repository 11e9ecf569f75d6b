"""The hedge bot's parameters, validated before anything touches a venue.

Names follow the product notes' command line (``--primary paradex --hedge grvt --ticker SOL
--size 0.1 --iter 10 --primary-mode bbo_minus_1 --hedge-mode bbo_minus_1``). A bad value fails
with pydantic's message, which names the field and the allowed values.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.types import PriceMode
from exchanges import registry

# The venue choices come from the venue registry (each venue package says which roles it takes).
PrimaryVenue = Literal[registry.names(role="primary")]  # type: ignore[valid-type]
HedgeVenue = Literal[registry.names(role="hedge")]  # type: ignore[valid-type]
Ticker = Literal["SOL", "ETH", "BTC"]
PrimaryMode = Literal["bbo", "bbo_minus_1", "bbo_plus_1", "market"]
HedgeMode = Literal["bbo_minus_1", "market"]
Direction = Literal["long", "short", "alternate"]
OnCancel = Literal["flatten", "leave"]
VenueMode = Literal["sim", "live"]
SimClock = Literal["virtual", "real"]  # virtual: accelerated backtest; real: paper trading in real time


class HedgeConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    primary: PrimaryVenue = "paradex"
    hedge: HedgeVenue = "grvt"
    ticker: Ticker = "SOL"
    size: Decimal = Field(Decimal("0.1"), gt=0, description="order size per cycle, base units")
    iterations: int = Field(10, ge=1, le=1_000_000, description="open+close cycle pairs")
    primary_mode: PrimaryMode = "bbo_minus_1"
    hedge_mode: HedgeMode = "bbo_minus_1"
    direction: Direction = "long"
    build_to: int = Field(1, ge=1, le=1000, description="open cycles before closing")
    max_position: Decimal | None = Field(None, gt=0, description="largest |primary position|; default size*build_to")
    daily_loss_limit: Decimal = Field(Decimal("25"), gt=0, description="USD, from real fills and fees; UTC day")
    net_delta_tolerance: Decimal = Field(Decimal("0.01"), gt=0, le=1,
                                         description="allowed unexplained |net delta| as a fraction of size")
    min_spread_bps: Decimal | None = Field(None, ge=-100, le=100,
                                           description="quote only when the hedge touch is this much better")
    hedge_timeout: float = Field(5.0, gt=0, le=600, description="seconds before a maker hedge turns taker")
    on_cancel: OnCancel = "flatten"
    venue_mode: VenueMode = "sim"
    seed: int = Field(7, ge=0)

    # Advanced knobs with the notes' safe defaults.
    max_hedge_failures: int = Field(3, ge=1, le=20)
    hedge_slippage_bps: Decimal = Field(Decimal("10"), gt=0, le=500)
    flatten_slippage_bps: Decimal = Field(Decimal("25"), gt=0, le=1000)
    reprice_bps: Decimal = Field(Decimal("1.0"), gt=0, le=100)
    stale_after: float = Field(30.0, gt=0, description="seconds before an unfilled primary order is renewed")
    adverse_move_bps: Decimal = Field(Decimal("3"), gt=0, le=500)
    reconcile_interval: float = Field(15.0, gt=0)
    reconcile_confirmations: int = Field(2, ge=2, le=10)
    margin_fraction: Decimal = Field(Decimal("0.2"), gt=0, le=1)
    sim_clock: SimClock = "virtual"

    @field_validator("ticker", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @model_validator(mode="after")
    def _consistent(self) -> HedgeConfig:
        if self.max_position is not None and self.max_position < self.size:
            raise ValueError(f"max_position ({self.max_position}) must be at least size ({self.size})")
        return self

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
    def account_key(self) -> str:
        """The account pair this bot trades; one bot per pair (the Prefect concurrency limit)."""
        return f"{self.venue_mode}-{self.primary}-{self.hedge}"

    def public_params(self) -> dict[str, object]:
        """Parameters as recorded in the warehouse (no secrets live here)."""
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in self.model_dump().items()}
