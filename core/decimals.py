"""Strict decimal numbers: the one parser for sizes, prices, limits and tolerances.

Python's ``Decimal`` reads many forms a trader would call a typo: ``1e1`` (10), ``1_0`` (10),
``NaN``, ``Infinity``, `` 0.1 `` and non-ASCII digits. Pydantic accepts most of them too, and
``int`` fields take ``1_0`` as 10. A size typed as ``1_0`` or ``1e1`` would send ten times the
intended order. So every number a trader gives (CLI option, flow parameter, UI form, setting) goes
through ``parse_decimal``: ASCII digits with an optional sign and one optional decimal point, and
nothing else. Numbers that arrive already typed (JSON numbers from the UI form or a deployment's
parameters) are accepted when finite: their text form is gone by then.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator

from core.errors import ConfigError

_PLAIN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_PLAIN_INT = re.compile(r"[+-]?[0-9]+")
MAX_DIGITS = 40  # longer inputs are refused rather than parsed (no 10**6-digit strings)

PLAIN_HINT = "plain decimal notation like 0.1 or 25 (no exponent, underscores, spaces, NaN or infinity)"


def plain_decimal(value: Any) -> Decimal:
    """``value`` as a finite ``Decimal``; strings must be plain decimal notation. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number in {PLAIN_HINT}; got {value!r}")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"must be a finite number; got {value}")
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"must be a finite number; got {value}")
        return Decimal(repr(value))  # the shortest text that round-trips: 0.1 -> Decimal('0.1')
    if isinstance(value, str):
        if len(value) > MAX_DIGITS or not _PLAIN.fullmatch(value):
            raise ValueError(f"must be in {PLAIN_HINT}; got {value[:MAX_DIGITS]!r}")
        try:
            return Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
            raise ValueError(f"must be in {PLAIN_HINT}; got {value!r}") from None
    raise ValueError(f"must be a number in {PLAIN_HINT}; got {type(value).__name__}")


def plain_int(value: Any) -> int:
    """``value`` as an ``int``; strings must be plain digits (``1_0`` and ``1e1`` are refused)."""
    if isinstance(value, bool):
        raise ValueError(f"must be a whole number; got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and len(value) <= MAX_DIGITS and _PLAIN_INT.fullmatch(value):
        return int(value)
    shown = value[:MAX_DIGITS] if isinstance(value, str) else value
    raise ValueError(f"must be a whole number in plain digits like 10; got {shown!r}")


def parse_decimal(field: str, value: Any) -> Decimal:
    """``plain_decimal`` for callers outside pydantic: a ``ConfigError`` naming ``field``."""
    try:
        return plain_decimal(value)
    except ValueError as exc:
        raise ConfigError(field, str(exc)) from None


PLAIN_DECIMAL = BeforeValidator(plain_decimal)
"""The check as a marker, after the bounds: ``Annotated[Decimal, Field(gt=0), PLAIN_DECIMAL] | None`` keeps
the bounds in the JSON schema (``Annotated[PlainDecimal, Field(gt=0)]`` would hide them)."""

PlainDecimal = Annotated[Decimal, PLAIN_DECIMAL]
"""A ``Decimal`` field that accepts only plain decimal notation (pydantic models, flow parameters, settings)."""

PlainInt = Annotated[int, BeforeValidator(plain_int)]
"""An ``int`` field that refuses ``1_0``, ``1e1`` and fractional values."""


def plain_float(value: Any) -> float:
    """A float (seconds, say) read with ``plain_decimal``'s rules: ``1e1`` is refused, not read as 10."""
    return float(plain_decimal(value))


PlainFloat = Annotated[float, BeforeValidator(plain_float)]
"""A ``float`` field (timeouts in seconds) that accepts only plain decimal notation."""
