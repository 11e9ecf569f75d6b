"""The hedge bot's parameters, validated before anything touches a venue.

Names follow the product notes' command line (``--primary paradex --hedge grvt --ticker SOL
--size 0.1 --iter 10 --primary-mode bbo_minus_1 --hedge-mode bbo_minus_1``). A bad value fails
with pydantic's message, which names the field and the allowed values.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, WithJsonSchema, field_validator, model_validator

from core.modes import run_mode
from core.params import REPLAY_HELP, Fraction, PositiveDecimal, SpreadBps, decimal, integer, replay_problem, seconds
from core.types import PriceMode
from exchanges import registry
from exchanges.fees import FEE_RATES_PATTERN, FeeRates, parse_fee_rates

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
FeeBps = Annotated[str, WithJsonSchema({"type": "string", "pattern": FEE_RATES_PATTERN,
                                         "examples": ["0.3/4.5", "-0.3/1.9"]})]
"""An account's fee rates, "maker/taker" in basis points, plain decimals (a negative maker: a rebate). The
schema's pattern lets the server refuse a malformed value; in Python ``parse_fee_rates`` says what is wrong."""


class HedgeConfig(BaseModel):
    """Every parameter of a hedge bot run: the flow's parameters, the UI form and the CLI's options."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    CLI_NAMES: ClassVar[dict[str, str]] = {"iterations": "iter"}  # the product notes' spelling

    primary: PrimaryVenue = Field(DEFAULT_PRIMARY, description="primary (maker) venue")
    hedge: HedgeVenue = Field(DEFAULT_HEDGE, description="hedge venue; every primary fill is hedged here at once")
    ticker: Ticker = Field("SOL", description="the perpetual traded on both venues")
    size: PositiveDecimal = Field(Decimal("0.1"), description="order size per cycle, in base units (SOL, ETH, BTC)")
    iterations: integer(ge=1, le=1_000_000) = Field(
        10, description="iterations before the run completes (one open and one close cycle each)")
    primary_mode: PrimaryMode = Field(
        "bbo_minus_1", description="primary order price: bbo joins the best price, bbo_minus_1 one tick behind it, "
                                   "bbo_plus_1 one tick inside a wide spread, market an IOC taker")
    hedge_mode: HedgeMode = Field("bbo_minus_1", description="hedge order price: bbo_minus_1 (maker, then taker "
                                                             "after hedge_timeout) or market")
    direction: Direction = Field("long", description="the primary's side when opening (alternate switches every "
                                                     "cycle)")
    build_to: integer(ge=1, le=1000) = Field(1, description="open cycles before closing (bounded by max_position)")
    max_position: PositiveDecimal | None = Field(None, description="largest |primary position| in base units; "
                                                                   "empty = size x build_to")
    daily_loss_limit: PositiveDecimal = Field(Decimal("25"), description="USD lost today (real fills and fees, UTC "
                                                                         "day) before the bot reduces and stops")
    net_delta_tolerance: Fraction = Field(Decimal("0.01"), description="unexplained |net delta| allowed, as a "
                                                                       "fraction of size")
    min_spread_bps: SpreadBps | None = Field(None, description="quote only when the hedge touch is this many bps "
                                                               "better than the primary price")
    hedge_timeout: seconds(gt=0, le=600) = Field(5.0, description="seconds before a maker hedge turns taker")
    on_cancel: OnCancel = Field("flatten", description="when the run is cancelled, after its open orders are "
                                                       "cancelled: flatten both venues or leave the positions")
    venue_mode: VenueMode = Field("sim", description="sim (embedded simulator) or live (real venues, credentials "
                                                     "from the environment)")
    seed: integer(ge=0) = Field(7, description="simulator seed")
    lock_timeout: seconds(ge=0) = Field(600.0, description="seconds to wait while another run holds this account")
    sim_clock: SimClock = Field("virtual", description="simulator time: virtual runs accelerated (a backtest), real "
                                                       "is paper trading in real time")

    # Advanced knobs with the notes' safe defaults.
    max_hedge_failures: integer(ge=1, le=20) = Field(3, description="consecutive hedge failures before the bot "
                                                                "flattens and stops")
    hedge_slippage_bps: decimal(gt=0, le=500) = Field(Decimal("10"), description="slippage cap of a taker hedge, bps "
                                                                                 "(grows with each failure)")
    flatten_slippage_bps: decimal(gt=0, le=1000) = Field(Decimal("25"), description="slippage cap of the reduce-only "
                                                                                    "orders that flatten, bps")
    reprice_bps: decimal(gt=0, le=100) = Field(Decimal("1.0"), description="re-price a resting primary order when "
                                                                           "the book moved this far away, bps")
    stale_after: seconds(gt=0) = Field(30.0, description="seconds before an unfilled primary order is renewed")
    adverse_move_bps: decimal(gt=0, le=500) = Field(Decimal("3"), description="a maker hedge turns taker when the "
                                                                              "hedge venue moves this far against it")
    reconcile_interval: seconds(gt=0) = Field(15.0, description="seconds between position reads checked against "
                                                              "the ledger")
    reconcile_confirmations: integer(ge=2, le=10) = Field(2, description="identical mismatching reads before a "
                                                                     "mismatch is believed")
    margin_fraction: decimal(gt=0, le=1) = Field(Decimal("0.2"), description="margin a position needs, as a "
                                                                             "fraction of its value (pre-trade)")
    max_basis_bps: decimal(gt=0, le=10_000) = Field(Decimal("50"), description="refuse to start when the two venues' "
                                                                               "mids differ by more than this (bps)")
    replay: tuple[str, ...] = Field((), description=REPLAY_HELP)
    # The accounts' fee rates, "maker/taker" in bps (simulator only; live reads the account's own).
    primary_fees: FeeBps | None = Field(None, description="the primary account's fee rates for the simulator, "
                                                          "maker/taker in bps (e.g. 0.3/4.5); empty = the venue's "
                                                          "fees setting, else the simulator's profile")
    hedge_fees: FeeBps | None = Field(None, description="the hedge account's fee rates for the simulator, maker/taker "
                                                        "in bps (e.g. -0.3/1.9)")

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
        problem = replay_problem(self.replay, (self.primary, self.hedge), self.venue_mode, self.sim_clock)
        if problem is not None:
            raise ValueError(f"replay: {problem}" if not problem.startswith("replay") else problem)
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

    @property
    def venues(self) -> tuple[str, ...]:
        return (self.primary, self.hedge)

    def public_params(self) -> dict[str, object]:
        """Parameters as recorded in the warehouse (no secrets live here)."""
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in self.model_dump().items()}
