"""An account's fee rates as the trader states them: ``"maker/taker"`` in basis points.

Why a setting and a parameter: fees are most of a hedge bot's cost, and a venue charges each
account by its own tier (GRVT's levels, Paradex's volume tiers, a market-maker programme), so the
simulator must trade at the trader's rates, not a profile's default. ``PERPFLOW_<VENUE>__FEES``
sets them per venue account; a bot parameter overrides them for one simulated run. Live adapters
never use either: they read the account's real rates from the venue (fee or account endpoint).

Only plain decimal notation is accepted (``-0.3/1.9``): no exponents, no NaN or infinity, no
thousands separators; a negative maker rate is a rebate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, field_validator

from core.errors import ConfigError

BPS = Decimal(10_000)
_PLAIN = r"[+-]?\d{1,4}(?:\.\d{1,6})?"
_RATES = re.compile(rf"\s*({_PLAIN})\s*/\s*({_PLAIN})\s*")
FEE_RATES_PATTERN = rf"^\s*{_PLAIN}\s*/\s*{_PLAIN}\s*$"  # the same shape, for a parameter schema
MAX_BPS = Decimal(100)  # 1%: no venue charges more; a larger value is a typo (a fraction given as bps?)


@dataclass(frozen=True, slots=True)
class FeeRates:
    """Maker and taker rates as fractions of notional (negative: a rebate)."""

    maker: Decimal
    taker: Decimal

    def bps(self) -> str:
        """``maker/taker`` in bps, as a trader writes them."""
        return f"{_bps_text(self.maker)}/{_bps_text(self.taker)}"


def _bps_text(rate: Decimal) -> str:
    text = f"{(rate * BPS).normalize():f}"
    return "0" if text in ("-0", "0") else text


def parse_fee_rates(text: str, field: str) -> FeeRates:
    """``"maker/taker"`` in bps; a malformed value is a ``ConfigError`` naming ``field``."""
    m = _RATES.fullmatch(text or "")
    if m is None:
        raise ConfigError(field, f"{text!r}: give maker/taker in basis points in plain decimals, e.g. "
                                 "-0.3/1.9 (a negative maker rate is a rebate)")
    maker, taker = Decimal(m.group(1)), Decimal(m.group(2))
    for name, value in (("maker", maker), ("taker", taker)):
        if abs(value) > MAX_BPS:
            raise ConfigError(field, f"{name} rate {value} bps is outside -{MAX_BPS}..{MAX_BPS} bps")
    if taker < 0:
        raise ConfigError(field, f"taker rate {taker} bps is negative; only a maker rate can be a rebate")
    return FeeRates(maker / BPS, taker / BPS)


class FeeSettings(BaseModel):
    """The account's fee rates for the simulator (``PERPFLOW_<VENUE>__FEES=maker/taker`` in bps)."""

    fees: str | None = None

    @field_validator("fees")
    @classmethod
    def _rates(cls, v: str | None) -> str | None:
        if v is not None:
            parse_fee_rates(v, "fees")
        return v

    def fee_rates(self) -> FeeRates | None:
        return None if self.fees is None else parse_fee_rates(self.fees, "fees")
