"""Typer parsers for numeric options: plain decimal notation only (``core.decimals``).

Click's own ``int`` and ``float`` read ``1_0`` as 10 and ``1e1`` as 10.0; these parsers refuse them
with click's usual one-line "Invalid value for '--size': ..." and exit code 2, before any order.
"""

from __future__ import annotations

from typing import Any

import typer

from core.decimals import plain_decimal, plain_float, plain_int


def _strict(parse: Any) -> Any:
    def parser(value: Any) -> Any:
        try:
            return parse(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    parser.__name__ = parse.__name__
    return parser


decimal_arg: Any = _strict(plain_decimal)
"""``parser=decimal_arg`` on a ``Decimal`` option."""
int_arg: Any = _strict(plain_int)
"""``parser=int_arg`` on an ``int`` option."""
float_arg: Any = _strict(plain_float)
"""``parser=float_arg`` on a ``float`` option (seconds)."""

__all__ = ["decimal_arg", "float_arg", "int_arg"]
