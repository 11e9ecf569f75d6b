"""Numbers on the wire, read and written the same way by every codec of our own.

A venue's number arrives as text or JSON number: it must be a finite decimal, or the answer is a
``BadResponse`` naming the field (never a float, never NaN reaching an order). Numbers we send are
plain decimal notation without an exponent or trailing zeros (``0.1``, not ``1E-1`` or ``0.10``),
which every venue's parser and signature scheme accepts.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from core.errors import BadResponse


def venue_decimal(value: Any, what: str, venue: str) -> Decimal:
    try:
        out = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise BadResponse(f"{what}: {value!r} is not a decimal", venue) from None
    if not out.is_finite():
        raise BadResponse(f"{what}: {value!r} is not finite", venue)
    return out


def plain_text(value: Decimal) -> str:
    return f"{value.normalize():f}" if value else "0"
