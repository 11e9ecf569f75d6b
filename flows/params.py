"""Decimal flow parameters that a deployment's schema shows as plain, bounded numbers.

Prefect derives a deployment's parameter schema from the flow signature. For ``Decimal`` pydantic
emits ``number | string`` with the bounds on the number branch only, so the server (and the UI
run form) would accept ``"-1"`` as a string and the run would only fail after it started. These
aliases keep ``Decimal`` in Python and publish ``{"type": "number", <bounds>}`` to the schema, so a
bad value is refused when the run is created. Their bounds mirror ``HedgeConfig``'s fields
(tests/test_prefect_params.py checks they agree).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, WithJsonSchema

from core.decimals import PlainDecimal, plain_float, plain_int
from exchanges.fees import FEE_RATES_PATTERN

PositiveDecimal = Annotated[PlainDecimal, Field(gt=0), WithJsonSchema({"type": "number", "exclusiveMinimum": 0})]
"""A size or an amount: strictly above zero."""

Fraction = Annotated[PlainDecimal, Field(gt=0, le=1),
                     WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": 1})]
"""A fraction in (0, 1]."""

SpreadBps = Annotated[PlainDecimal, Field(ge=-100, le=100),
                      WithJsonSchema({"type": "number", "minimum": -100, "maximum": 100})]
"""Basis points between -100 and 100."""

BasisBps = Annotated[PlainDecimal, Field(gt=0, le=10_000),
                     WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": 10_000})]
"""A cross-venue basis tolerance in bps: above zero, at most 100 %."""

Count = BeforeValidator(plain_int)
"""``Annotated[int, Field(...), Count]``: a whole number in plain digits (``1_0`` is refused, not read as 10).
A marker after the ``Field``: in another order Prefect's schema shows the bounds as ``gt``/``le``, which
the server's JSON-schema check ignores."""

Seconds = BeforeValidator(plain_float)
"""``Annotated[float, Field(...), Seconds]``: a duration in seconds, in plain decimal notation."""

FeeBps = Annotated[str, Field(pattern=FEE_RATES_PATTERN, examples=["0.3/4.5", "-0.3/1.9"])]
"""An account's fee rates, "maker/taker" in basis points, plain decimals (a negative maker: a rebate)."""
