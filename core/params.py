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

from pydantic import BeforeValidator, Field, WithJsonSchema

from core.decimals import PLAIN_DECIMAL, plain_float, plain_int


def _number(x: Decimal | int | float) -> int | float:
    d = Decimal(str(x))
    return int(d) if d == d.to_integral_value() else float(d)


def decimal(*, gt: Any = None, ge: Any = None, lt: Any = None, le: Any = None) -> Any:
    """A ``Decimal`` parameter with bounds, shown to schemas and forms as a plain number; text must be
    plain decimal notation (``core.decimals``: ``1e-1`` or ``1_0`` is refused, not read as a number)."""
    schema: dict[str, Any] = {"type": "number"}
    for key, value in (("exclusiveMinimum", gt), ("minimum", ge), ("exclusiveMaximum", lt), ("maximum", le)):
        if value is not None:
            schema[key] = _number(value)
    return Annotated[Decimal, Field(gt=gt, ge=ge, lt=lt, le=le), PLAIN_DECIMAL, WithJsonSchema(schema)]


PositiveDecimal = decimal(gt=0)
"""A size or an amount: strictly above zero."""

Fraction = decimal(gt=0, le=1)
"""A fraction in (0, 1]."""

SpreadBps = decimal(ge=-100, le=100)
"""Basis points between -100 and 100."""

Count = BeforeValidator(plain_int)
"""``Annotated[int, Field(...), Count]``: a whole number in plain digits (``1_0`` is refused, not read as 10).
A marker after the ``Field``: in another order Prefect's schema shows the bounds as ``gt``/``le``, which
the server's JSON-schema check ignores."""

Seconds = BeforeValidator(plain_float)
"""``Annotated[float, Field(...), Seconds]``: a duration in seconds, in plain decimal notation."""


def integer(*, ge: int | None = None, le: int | None = None) -> Any:
    """A whole-number parameter with bounds, in plain digits."""
    return Annotated[int, Field(ge=ge, le=le), Count]


def seconds(*, gt: float | None = None, ge: float | None = None, le: float | None = None) -> Any:
    """A duration in seconds with bounds, in plain decimal notation."""
    return Annotated[float, Field(gt=gt, ge=ge, le=le), Seconds]


REPLAY_HELP = ("VENUE=FILE items: a recorded market file drives that simulated venue; the run starts at the "
               "file's start and completes when it ends")


def replay_problem(items: tuple[str, ...], traded: tuple[str, ...], venue_mode: object,
                   sim_clock: object) -> str | None:
    """Why ``--replay`` items cannot drive this run, or None. Every bot with a ``replay`` field
    checks its items here, so the refusals read the same whichever bot is given a file (the files
    themselves are read and checked before the flow starts and when the venues open)."""
    seen: set[str] = set()
    for item in items:
        venue, sep, file = str(item).partition("=")
        venue = venue.strip()
        if not sep or not file.strip():
            return f"{item!r} is not VENUE=FILE (e.g. grvt=data/grvt-ETH.jsonl.gz)"
        if venue not in traded:
            return f"replay venue {venue!r} is not traded; allowed: {', '.join(traded)}"
        if venue in seen:
            return f"{venue!r} is replayed twice"
        seen.add(venue)
    if items and (venue_mode != "sim" or sim_clock != "virtual"):
        return "replay needs venue_mode sim and sim_clock virtual (a recorded market runs in its own time)"
    return None
