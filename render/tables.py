"""Plain-text and Markdown tables, shared by the CLI and Prefect artifacts."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any


def fmt(value: Any, places: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{places}f}"
    if isinstance(value, Decimal):
        return f"{value:,.{places}f}" if value == value.to_integral_value() or abs(value) < 10**9 else str(value)
    return str(value)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], places: int = 4) -> str:
    cells = [[fmt(c, places) for c in r] for r in rows]
    numeric = [all(isinstance(r[i], int | float | Decimal) for r in rows) for i in range(len(headers))]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.rjust(w) if n else h.ljust(w) for h, w, n in zip(headers, widths, numeric, strict=True))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(r, widths, numeric, strict=True))
            for r in cells]
    return "\n".join([line, sep, *body])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], places: int = 4) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(fmt(c, places) for c in r) + " |" for r in rows]
    return "\n".join(out)
