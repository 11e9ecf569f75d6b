"""The agent bot's parameters: one pydantic model, the single declaration of every knob.

Defaults are the product notes' fix for the agents that bled out in small losses: profit mode
holds 1-48 h with a 10% take profit and a 4% stop loss; volume mode is the notes' old quick-trade
table (2 h max hold, 4% TP / 2% SL) and only burns profit already banked. A bad value fails
before anything touches a venue, with a message that names the field and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from core.params import REPLAY_HELP, replay_problem
from exchanges import registry
from exchanges.sim.profiles import load_profiles

# the agents' venues come from the venue registry (each venue package says which roles it takes)
AgentVenue = Literal[registry.names(role="agent")]  # type: ignore[valid-type]
Mode = Literal["profit", "volume"]
VenueMode = Literal["sim", "live"]
Policy = Literal["llm", "rules"]
MakerFallback = Literal["taker", "abandon"]


def venue_symbols(venue: str) -> tuple[str, ...]:
    """Symbols the agent may trade on ``venue`` (the markets its simulator profile lists)."""
    return tuple(sorted(load_profiles().venue(venue).markets))


@dataclass(frozen=True, slots=True)
class ExitRules:
    """One mode's exit table, in the units the rules compare (percent of entry, seconds)."""

    mode: str
    stop_loss_pct: float
    take_profit_pct: float
    max_hold_s: float
    min_hold_s: float
    cut_loser_after_s: float | None  # None: the mode never cuts a loser early
    cut_loser_confidence: float
    decision_interval_s: float


class AgentParams(BaseModel):
    """What an agent run trades and the rules it trades by (also the flow's UI form)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    venue: AgentVenue = Field(registry.default("agent"),
                              description="the account this run trades (one bot per account)")
    venue_mode: VenueMode = Field("sim", description="sim: the embedded simulator; live: the venue in your settings")
    symbols: tuple[str, ...] = Field(("SOL", "ETH", "BTC"), min_length=1,
                                     description="symbols the agent may trade on its venue")
    mode: Mode = Field("profit", description="starting mode: profit (hold 1-48 h) or volume (quick trades)")
    policy: Policy = Field("llm", description="who proposes: the LLM adviser (a deterministic policy when no "
                                              "endpoint is configured), or the rule-based policy")

    # sizing and risk
    max_total_usd: Decimal = Field(Decimal("2000"), gt=0, le=10_000_000,
                                   description="cap on the open notional over all symbols, USD")
    max_size_usd: Decimal = Field(Decimal("1000"), gt=0, le=1_000_000,
                                  description="cap on any entry, USD, whatever the LLM asks (at most max_total_usd)")
    size_usd: Decimal = Field(Decimal("500"), gt=0, le=1_000_000,
                              description="default entry size, USD notional (at most max_size_usd)")
    max_open_positions: int = Field(1, ge=1, le=10, description="positions open at once")
    leverage: Decimal = Field(Decimal("5"), ge=1, le=50, description="margin = notional / leverage")
    daily_loss_limit_usd: Decimal = Field(Decimal("50"), gt=0, description="USD, real fills and fees; UTC day")
    min_confidence: float = Field(0.55, ge=0, le=1, description="calibrated confidence needed to open")

    # profit mode (the notes' fix)
    stop_loss_pct: float = Field(4.0, gt=0, le=50,
                                 description="profit mode stop loss, % of entry (below the margin, 100/leverage)")
    take_profit_pct: float = Field(10.0, gt=0, le=100, description="profit mode take profit, % of entry (8-10)")
    max_hold_h: float = Field(48.0, gt=0, le=24 * 14, description="profit mode: close after this many hours")
    min_hold_min: float = Field(60.0, ge=0, le=24 * 60,
                                description="profit mode: no exit but the stop loss before this (at most max_hold_h)")
    cut_loser_after_h: float = Field(4.0, gt=0, le=24 * 14,
                                     description="close a losing position after this many hours ...")
    cut_loser_confidence: float = Field(0.7, ge=0, le=1, description="... when its calibrated confidence is below")
    decision_interval_min: float = Field(60.0, ge=1, le=24 * 60, description="profit mode: minutes between decisions")

    # volume mode (the notes' old quick-trade table)
    volume_stop_loss_pct: float = Field(2.0, gt=0, le=50, description="volume mode stop loss, % of entry")
    volume_take_profit_pct: float = Field(4.0, gt=0, le=100, description="volume mode take profit, % of entry")
    volume_max_hold_h: float = Field(2.0, gt=0, le=24 * 14, description="volume mode: close after this many hours")
    volume_min_hold_min: float = Field(5.0, ge=0, le=24 * 60,
                                       description="volume mode: no exit but the stop loss before this")
    volume_decision_interval_min: float = Field(15.0, ge=1, le=24 * 60,
                                                description="volume mode: minutes between decisions")

    # volume burn: spend banked profit on volume, only when asked
    burn: bool = Field(False, description="switch to volume mode once banked profit reaches burn_threshold_usd")
    burn_threshold_usd: Decimal = Field(Decimal("50"), gt=0, description="banked profit since reset needed to burn")
    burn_budget_usd: Decimal = Field(Decimal("25"), gt=0,
                                     description="most fees + losses one burn may spend (at most burn_threshold_usd)")

    # execution
    maker_first: bool = Field(True, description="enter with a post-only order at the touch where the venue allows")
    maker_timeout_s: float = Field(120.0, gt=0, le=3600, description="seconds a maker entry rests before fallback")
    maker_fallback: MakerFallback = Field("taker", description="after the maker timeout: take, or drop the entry")
    slippage_bps: Decimal = Field(Decimal("20"), gt=0, le=500, description="cap on taker entries and exits")

    # run
    days: float = Field(1.0, gt=0, le=90,
                        description="how long the run trades, in days (virtual on the simulator, wall-clock live)")
    seed: int = Field(7, ge=0, description="simulator seed")
    lock_timeout: float = Field(600.0, ge=0, le=86_400, description="seconds to wait while another run holds "
                                                                    "this account")
    replay: tuple[str, ...] = Field((), description=REPLAY_HELP + " (one symbol: the file's)")

    @field_validator("replay")
    @classmethod
    def _replay(cls, v: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        problem = replay_problem(v, (str(info.data.get("venue")),), info.data.get("venue_mode"), "virtual")
        if problem is None and v and len(info.data.get("symbols") or ()) != 1:
            problem = "a replayed file records one market: give its symbol alone in symbols"
        if problem is not None:
            raise ValueError(problem)
        return v

    @field_validator("symbols", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):
            v = [s for s in v.replace(" ", ",").split(",") if s]
        if isinstance(v, list | tuple):  # the command line's repeatable option: each may be "SOL,ETH"
            return tuple(p.upper() for s in v for p in str(s).replace(" ", ",").split(",") if p)
        return v

    @field_validator("symbols")
    @classmethod
    def _known(cls, v: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise ValueError("a symbol is listed twice")
        odd = [s for s in v if not s.isalnum()]
        if odd:
            raise ValueError(f"{', '.join(odd)}: a symbol is the base asset's letters and digits (SOL, ETH)")
        venue = info.data.get("venue")
        if venue is None or info.data.get("venue_mode") == "live":
            # an invalid venue is the error to read; a live venue says itself what it lists (the
            # pre-trade check refuses an unlisted symbol naming this field, before any order)
            return v
        allowed = venue_symbols(venue)
        unknown = [s for s in v if s not in allowed]
        if unknown:
            raise ValueError(f"{', '.join(unknown)} not traded on {venue}; allowed: {', '.join(allowed)}")
        return v

    # Checks across fields sit on the later field (pydantic validates in declaration order), so a
    # refusal names the field it is about: the command line prints its option, the flow its name.
    @field_validator("max_size_usd")
    @classmethod
    def _entry_cap(cls, v: Decimal, info: ValidationInfo) -> Decimal:
        total = info.data.get("max_total_usd")
        if total is not None and v > total:
            raise ValueError(f"{v} is above max_total_usd ({total})")
        return v

    @field_validator("size_usd")
    @classmethod
    def _default_size(cls, v: Decimal, info: ValidationInfo) -> Decimal:
        cap = info.data.get("max_size_usd")
        if cap is not None and v > cap:
            raise ValueError(f"{v} is above max_size_usd ({cap})")
        return v

    @field_validator("stop_loss_pct", "volume_stop_loss_pct")
    @classmethod
    def _below_margin(cls, v: float, info: ValidationInfo) -> float:
        leverage = info.data.get("leverage")
        if leverage is not None and v >= float(100 / leverage):
            raise ValueError(f"{v}% is not below the position's margin ({float(100 / leverage):g}% at leverage "
                             f"{leverage}): the position would be liquidated before its stop loss")
        return v

    @field_validator("take_profit_pct")
    @classmethod
    def _profit_tp(cls, v: float) -> float:
        if not 8 <= v <= 10:
            raise ValueError(f"{v} outside the profit mode's 8-10%")
        return v

    @field_validator("min_hold_min", "volume_min_hold_min")
    @classmethod
    def _min_hold(cls, v: float, info: ValidationInfo) -> float:
        longest = "max_hold_h" if info.field_name == "min_hold_min" else "volume_max_hold_h"
        hours = info.data.get(longest)
        if hours is not None and v * 60 > hours * 3600:
            raise ValueError(f"{v} min is longer than {longest} ({hours} h)")
        return v

    @field_validator("burn_budget_usd")
    @classmethod
    def _burn_budget(cls, v: Decimal, info: ValidationInfo) -> Decimal:
        # A burn starts only with banked profit >= the threshold; a budget above it could spend
        # more than was banked.
        threshold = info.data.get("burn_threshold_usd")
        if threshold is not None and v > threshold:
            raise ValueError(f"{v} is above the banked profit a burn starts from (burn_threshold_usd = {threshold})")
        return v

    @property
    def account_key(self) -> str:
        """The account this run trades: one bot per account (``<venue_mode>-<venue>``)."""
        return f"{self.venue_mode}-{self.venue}"

    def rules(self, mode: str) -> ExitRules:
        """The exit table of ``mode``."""
        if mode == "profit":
            return ExitRules("profit", self.stop_loss_pct, self.take_profit_pct, self.max_hold_h * 3600,
                             self.min_hold_min * 60, self.cut_loser_after_h * 3600, self.cut_loser_confidence,
                             self.decision_interval_min * 60)
        if mode == "volume":
            return ExitRules("volume", self.volume_stop_loss_pct, self.volume_take_profit_pct,
                             self.volume_max_hold_h * 3600, self.volume_min_hold_min * 60, None,
                             self.cut_loser_confidence, self.volume_decision_interval_min * 60)
        raise ValueError(f"mode: {mode!r}; allowed: profit, volume")
