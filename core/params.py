"""Parameter types for the bots' parameter models: plain, bounded numbers in every schema.

A bot's parameter model (``strategies/<bot>/config.py``) is the one declaration of its
parameters: the flow's signature, the deployment's schema, the UI run form and the CLI's options
are all derived from it. For ``Decimal`` pydantic emits ``number | string`` with the bounds on the
number branch only, so the server (and the UI run form) would accept ``"-1"`` as a string and the
run would only fail after it started. ``decimal(...)`` keeps ``Decimal`` in Python and publishes
``{"type": "number", <bounds>}``, so a bad value is refused when the run is created.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, WithJsonSchema


def _number(x: Decimal | int | float) -> int | float:
    d = Decimal(str(x))
    return int(d) if d == d.to_integral_value() else float(d)


def decimal(*, gt: Any = None, ge: Any = None, lt: Any = None, le: Any = None) -> Any:
    """A ``Decimal`` parameter with bounds, shown to schemas and forms as a plain number."""
    schema: dict[str, Any] = {"type": "number"}
    for key, value in (("exclusiveMinimum", gt), ("minimum", ge), ("exclusiveMaximum", lt), ("maximum", le)):
        if value is not None:
            schema[key] = _number(value)
    return Annotated[Decimal, Field(gt=gt, ge=ge, lt=lt, le=le), WithJsonSchema(schema)]


PositiveDecimal = decimal(gt=0)
"""A size or an amount: strictly above zero."""

Fraction = decimal(gt=0, le=1)
"""A fraction in (0, 1]."""

SpreadBps = decimal(ge=-100, le=100)
"""Basis points between -100 and 100."""
