"""The cross-bot review's prompt and the schema its answer must satisfy.

The template is a versioned file beside this module (``review_v1.txt``: a system part and a user
part separated by a line ``---``, placeholders ``$name``); its SHA-256 is stored with every review,
so a review can always be traced to the exact words that produced it.

``ReviewAnswer`` is strict (unknown fields refused, every field bounded). ``check_bounds`` adds
what a schema cannot know: recommendations expire within ``MAX_HOURS``, name known bots and
symbols, and a parameter change stays inside the bot's own hard limits (the bounds of its
parameter model) and within ``MAX_STEP`` of its current value; a few parameters may only tighten.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from string import Template
from typing import Annotated, Any, Literal, get_args

from annotated_types import Ge, Gt, Le, Lt
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

HERE = Path(__file__).resolve().parent
PROMPT_VERSION = "review-v1"
MAX_HOURS = 72.0  # no recommendation lasts longer; the next review (every 6 h) can renew it
MAX_STEP = 0.5  # a parameter moves by at most half of its current value per review
MAX_RECOMMENDATIONS = 10


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Rationale = Annotated[str, Field(min_length=3, max_length=1000)]
Confidence = Annotated[float, Field(ge=0, le=1)]
Symbol = Annotated[str, Field(pattern=r"^[A-Z0-9]{1,12}$")]
BotName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]


class BlockCombo(_Strict):
    action: Literal["block_combo"]
    symbol: Symbol
    direction: Literal["long", "short"]
    bots: list[BotName] | None = None  # None: every bot
    until: AwareDatetime
    rationale: Rationale
    confidence: Confidence


class UnblockCombo(_Strict):
    action: Literal["unblock_combo"]
    symbol: Symbol
    direction: Literal["long", "short"]
    bots: list[BotName] | None = None
    until: AwareDatetime
    rationale: Rationale
    confidence: Confidence


class BlackoutWindow(_Strict):
    action: Literal["blackout"]
    start_hour_utc: int = Field(ge=0, le=23)
    end_hour_utc: int = Field(ge=1, le=24)
    until: AwareDatetime
    rationale: Rationale
    confidence: Confidence


class SetParameter(_Strict):
    action: Literal["set_parameter"]
    bot: BotName
    param: Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")]
    value: float
    until: AwareDatetime
    rationale: Rationale
    confidence: Confidence


Recommendation = Annotated[BlockCombo | UnblockCombo | BlackoutWindow | SetParameter, Field(discriminator="action")]


class ReviewAnswer(_Strict):
    summary: Annotated[str, Field(min_length=3, max_length=2000)]
    recommendations: list[Recommendation] = Field(default_factory=list, max_length=MAX_RECOMMENDATIONS)


# --- the bots' adjustable parameters and their hard limits ---------------------------------------------
@dataclass(frozen=True, slots=True)
class ParamLimit:
    lo: float | None  # inclusive unless lo_open
    hi: float | None
    lo_open: bool = False
    hi_open: bool = False
    tighten_only: bool = False  # may only move toward less risk (down)

    def describe(self) -> str:
        lo = "-inf" if self.lo is None else f"{self.lo:g}"
        hi = "inf" if self.hi is None else f"{self.hi:g}"
        text = f"{'(' if self.lo_open else '['}{lo}, {hi}{')' if self.hi_open else ']'}"
        return text + (", may only decrease" if self.tighten_only else "")

    def breach(self, value: float) -> str | None:
        if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
            return f"below the hard limit {self.describe()}"
        if self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi)):
            return f"above the hard limit {self.describe()}"
        return None


def limits_of(model: type[BaseModel], names: tuple[str, ...], tighten: tuple[str, ...] = ()) -> dict[str, ParamLimit]:
    """Hard limits read from a bot's parameter model (its Field bounds), so they cannot drift apart."""
    out = {}
    for name in names:
        lo = hi = None
        lo_open = hi_open = False
        info = model.model_fields[name]
        for m in [*info.metadata, *_nested_metadata(info.annotation)]:
            if isinstance(m, Ge):
                lo = float(m.ge)  # type: ignore[arg-type]
            elif isinstance(m, Gt):
                lo, lo_open = float(m.gt), True  # type: ignore[arg-type]
            elif isinstance(m, Le):
                hi = float(m.le)  # type: ignore[arg-type]
            elif isinstance(m, Lt):
                hi, hi_open = float(m.lt), True  # type: ignore[arg-type]
        out[name] = ParamLimit(lo, hi, lo_open, hi_open, name in tighten)
    return out


def _nested_metadata(annotation: Any) -> list[Any]:
    """Constraints inside ``Annotated[...]`` types, also under ``X | None`` (pydantic keeps them there)."""
    out: list[Any] = []
    for m in getattr(annotation, "__metadata__", ()):
        out += [*getattr(m, "metadata", []), m]
    for arg in get_args(annotation):
        if arg is not type(None) and not isinstance(arg, str | int | float):
            out += _nested_metadata(arg)
    return out


def adjustable() -> dict[str, dict[str, ParamLimit]]:
    """Per bot, the parameters a review may change and their hard limits (a new bot adds its own here).
    Sizes and loss limits may only tighten: a review never adds risk."""
    from strategies.agent.params import AgentParams
    from strategies.grid.params import GridParams
    from strategies.hedge.config import HedgeConfig

    return {
        "hedge": limits_of(HedgeConfig, ("min_spread_bps", "hedge_timeout", "reprice_bps", "adverse_move_bps",
                                         "stale_after", "daily_loss_limit"), tighten=("daily_loss_limit",)),
        "grid": limits_of(GridParams, ("half_spread_bps", "spacing_bps", "skew_bps", "momentum_enter_z",
                                       "max_order_age_s", "max_position", "daily_loss_limit"),
                          tighten=("max_position", "daily_loss_limit")),
        "agent": limits_of(AgentParams, ("min_confidence", "stop_loss_pct", "take_profit_pct", "max_hold_h",
                                         "size_usd", "max_open_positions", "daily_loss_limit_usd"),
                           tighten=("size_usd", "max_open_positions", "daily_loss_limit_usd")),
    }


# --- bounds beyond the schema ------------------------------------------------------------------------------
@dataclass(slots=True)
class Bounds:
    now: datetime
    bots: set[str]
    symbols: set[str]
    current: dict[str, dict[str, float]] = field(default_factory=dict)  # bot -> param -> value now
    limits: dict[str, dict[str, ParamLimit]] = field(default_factory=adjustable)

    def describe(self) -> dict[str, Any]:
        return {"max_hours": MAX_HOURS, "max_step_fraction": MAX_STEP, "bots": sorted(self.bots),
                "symbols": sorted(self.symbols),
                "parameters": {bot: {p: {"limits": lim.describe(), "current": self.current.get(bot, {}).get(p)}
                                     for p, lim in params.items()} for bot, params in self.limits.items()}}


def check_bounds(answer: ReviewAnswer, b: Bounds) -> None:
    """Raise ``ValueError`` naming every recommendation that breaks a bound."""
    problems = []
    latest = b.now + timedelta(hours=MAX_HOURS)
    for i, r in enumerate(answer.recommendations):
        where = f"recommendations[{i}] ({r.action})"
        if not b.now < r.until <= latest:
            problems.append(f"{where}: until {r.until.isoformat()} must be after now ({b.now.isoformat()}) and "
                            f"within {MAX_HOURS:g} h")
        if isinstance(r, BlockCombo | UnblockCombo):
            if r.symbol not in b.symbols:
                problems.append(f"{where}: symbol {r.symbol} is not traded; allowed: {', '.join(sorted(b.symbols))}")
            unknown = sorted(set(r.bots or []) - b.bots)
            if unknown:
                problems.append(f"{where}: unknown bot(s) {', '.join(unknown)}; allowed: {', '.join(sorted(b.bots))}")
        elif isinstance(r, BlackoutWindow):
            if r.end_hour_utc <= r.start_hour_utc:
                problems.append(f"{where}: end_hour_utc {r.end_hour_utc} must be after start_hour_utc "
                                f"{r.start_hour_utc}")
            elif r.end_hour_utc - r.start_hour_utc > 12:
                problems.append(f"{where}: a blackout of {r.end_hour_utc - r.start_hour_utc} h is longer than 12 h")
        elif isinstance(r, SetParameter):
            problems += _param_problems(where, r, b)
    if problems:
        raise ValueError("; ".join(problems))


def _param_problems(where: str, r: SetParameter, b: Bounds) -> list[str]:
    params = b.limits.get(r.bot)
    if params is None:
        return [f"{where}: bot {r.bot!r} has no adjustable parameters; allowed bots: {', '.join(sorted(b.limits))}"]
    limit = params.get(r.param)
    if limit is None:
        return [f"{where}: {r.bot}.{r.param} is not adjustable; allowed: {', '.join(sorted(params))}"]
    out = []
    if (breach := limit.breach(r.value)) is not None:
        out.append(f"{where}: {r.bot}.{r.param} = {r.value:g} is {breach}")
    current = b.current.get(r.bot, {}).get(r.param)
    if current is not None:
        if limit.tighten_only and r.value > current:
            out.append(f"{where}: {r.bot}.{r.param} may only decrease (now {current:g}, asked {r.value:g})")
        step = abs(current) * MAX_STEP
        if abs(r.value - current) > step + 1e-12:
            out.append(f"{where}: {r.bot}.{r.param} moves from {current:g} to {r.value:g}, more than "
                       f"{MAX_STEP:.0%} of its current value")
    return out


# --- the template ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Prompt:
    version: str
    text: str

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def messages(self, **values: Any) -> list[dict[str, str]]:
        system, user = self.text.split("\n---\n", 1)
        subs = {k: v if isinstance(v, str) else json.dumps(v, indent=1, default=_json_default)
                for k, v in values.items()}
        return [{"role": "system", "content": Template(system).substitute(subs).strip()},
                {"role": "user", "content": Template(user).substitute(subs).strip()}]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def load_prompt(version: str = PROMPT_VERSION) -> Prompt:
    name = version.replace("review-", "review_")
    path = HERE / f"{name}.txt"
    if not path.exists():
        known = sorted(p.stem.replace("review_", "review-") for p in HERE.glob("review_v*.txt"))
        raise ValueError(f"prompt version {version!r} does not exist; allowed: {', '.join(known)}")
    return Prompt(version, path.read_text())
