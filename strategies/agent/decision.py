"""The LLM's answer: a strict schema, then a check against the actions the rules allowed.

The schema is what the model must return (``Decision``, pydantic strict: no coercion, no extra
keys). ``validate_decision`` turns a raw answer into either an ``Accepted`` decision or a
``Rejected`` one with the reason, naming the field: a symbol or action the rules did not allow is
refused, so an LLM answer never places an order the rules did not allow. The size is capped, not
refused. The model's own stop-loss/take-profit figures are recorded for analysis; the exits that
run are the mode's rules, never the model's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from strategies.agent.allowed import OPENS, Action, Allowed

THESIS_MAX = 600


class Decision(BaseModel):
    """One decision, exactly as the LLM must answer it (JSON)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    action: Literal["open_long", "open_short", "close", "hold"]
    symbol: str | None = Field(None, min_length=1, max_length=20, description="required unless action is hold")
    size_usd: float = Field(0.0, ge=0, le=1e9, description="entry notional in USD (opens only; capped)")
    confidence: float = Field(ge=0, le=1)
    stop_loss_pct: float = Field(0.0, ge=0, le=100)
    take_profit_pct: float = Field(0.0, ge=0, le=1000)
    thesis: str = Field("", max_length=THESIS_MAX)

    @model_validator(mode="after")
    def _symbol_needed(self) -> Decision:
        if self.action != "hold" and not self.symbol:
            raise ValueError(f"symbol: required for action {self.action}")
        return self

    @property
    def act(self) -> Action:
        return Action(self.action)


def decision_json_schema() -> dict[str, object]:
    """The JSON schema sent with the prompt (``response_format`` json_schema where supported)."""
    return Decision.model_json_schema()


@dataclass(frozen=True, slots=True)
class Accepted:
    decision: Decision
    symbol: str | None  # upper-cased
    size_usd: Decimal  # after the cap (0 for hold/close)
    capped: bool

    @property
    def action(self) -> Action:
        return self.decision.act


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str  # names the field: "symbol: 'DOGE' is not allowed; allowed: SOL, ETH"
    raw: str
    schema_error: bool  # the answer was not the schema (worth one repair retry)


Verdict = Accepted | Rejected


def parse_decision(raw: str) -> Decision | Rejected:
    """Parse the model's text as a ``Decision`` (tolerating a fenced JSON block)."""
    text = _unfence(raw)
    try:
        return Decision.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        msg = first["msg"]
        if first["type"] == "json_invalid":
            return Rejected(f"answer: not JSON ({msg})", raw, True)
        if not first["loc"]:  # a whole-model check: its message already names the field
            return Rejected(msg.removeprefix("Value error, "), raw, True)
        return Rejected(f"{where}: {msg}", raw, True)


def validate_decision(raw: str, allowed: Allowed, *, max_size_usd: Decimal, default_size_usd: Decimal,
                      min_size_usd: Decimal = Decimal(0)) -> Verdict:
    """The model's answer checked against the schema, then against what the rules allowed."""
    parsed = parse_decision(raw)
    if isinstance(parsed, Rejected):
        return parsed
    return check_allowed(parsed, allowed, raw=raw, max_size_usd=max_size_usd, default_size_usd=default_size_usd,
                         min_size_usd=min_size_usd)


def check_allowed(d: Decision, allowed: Allowed, *, raw: str, max_size_usd: Decimal, default_size_usd: Decimal,
                  min_size_usd: Decimal = Decimal(0)) -> Verdict:
    """A schema-valid decision against the allowed actions: the rules have the last word."""
    act = d.act
    if act is Action.HOLD:
        return Accepted(d, d.symbol.upper() if d.symbol else None, Decimal(0), False)
    symbol = (d.symbol or "").upper()
    if symbol not in allowed.by_symbol:
        return Rejected(f"symbol: {d.symbol!r} is not allowed; allowed: {', '.join(allowed.by_symbol)}", raw, False)
    if not allowed.allows(symbol, act):
        ok = ", ".join(sorted(str(a) for a in allowed.by_symbol[symbol]))
        return Rejected(f"action: {act} is not allowed for {symbol}; allowed: {ok}", raw, False)
    if act not in OPENS:
        return Accepted(d, symbol, Decimal(0), False)
    size = Decimal(str(d.size_usd)) if d.size_usd > 0 else default_size_usd
    capped = size > max_size_usd
    size = min(size, max_size_usd)
    if size < min_size_usd:
        return Rejected(f"size_usd: {size} is below the smallest entry ({min_size_usd})", raw, False)
    return Accepted(d, symbol, size, capped)


def _unfence(raw: str) -> str:
    """Models often wrap JSON in ``` fences or add a sentence: keep the outermost object."""
    text = raw.strip()
    if text.startswith("{") and text.endswith("}"):
        return text
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidate = text[start:end + 1]
        try:
            json.loads(candidate)
            return candidate
        except ValueError:
            return text
    return text
