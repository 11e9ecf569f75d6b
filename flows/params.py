"""Decimal flow parameters that a deployment's schema shows as plain, bounded numbers.

Prefect derives a deployment's parameter schema from the flow signature. For ``Decimal`` pydantic
emits ``number | string`` with the bounds on the number branch only, so the server (and the UI
run form) would accept ``"-1"`` as a string and the run would only fail after it started. These
aliases keep ``Decimal`` in Python and publish ``{"type": "number", <bounds>}`` to the schema, so a
bad value is refused when the run is created. Their bounds mirror ``HedgeConfig``'s fields
(tests/test_prefect_params.py checks they agree).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, WithJsonSchema

from exchanges.fees import FEE_RATES_PATTERN

PositiveDecimal = Annotated[Decimal, Field(gt=0), WithJsonSchema({"type": "number", "exclusiveMinimum": 0})]
"""A size or an amount: strictly above zero."""

Fraction = Annotated[Decimal, Field(gt=0, le=1),
                     WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": 1})]
"""A fraction in (0, 1]."""

SpreadBps = Annotated[Decimal, Field(ge=-100, le=100),
                      WithJsonSchema({"type": "number", "minimum": -100, "maximum": 100})]
"""Basis points between -100 and 100."""

FeeBps = Annotated[str, Field(pattern=FEE_RATES_PATTERN, examples=["0.3/4.5", "-0.3/1.9"])]
"""An account's fee rates, "maker/taker" in basis points, plain decimals (a negative maker: a rebate)."""
