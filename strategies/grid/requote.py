"""When a resting quote must be replaced: the "cancel fast" rules, pure.

A quote that rests while the market moves is the one that gets filled at a stale price. So in
``fixed`` mode a quote is replaced as soon as any of these holds:

- ``through``: mid moved, since the quote was placed, by more than the quote's distance to mid at
  that time (the market has moved as far as the quote was from it: never rest through that);
- ``book_moved``: mid moved more than ``requote_tolerance_bps``;
- ``age``: the quote is older than ``max_order_age_s``;
- ``target``: the plan now wants another price (beyond the tolerance) or size at this level, e.g.
  after a fill moved the reservation price;
- ``withdrawn``: the plan wants nothing at this level (limit reached, side paused).

The ``naive`` grid of the notes re-quotes on a timer only (``naive_requote_s``) and when a level
is withdrawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.types import Side
from strategies.grid.params import GridParams
from strategies.grid.quoting import BPS, QuoteTarget


@dataclass(frozen=True, slots=True)
class LiveQuote:
    """A quote as placed: what the rules compare against."""

    side: Side
    level: int
    price: Decimal
    size: Decimal  # what is left
    placed_ts: float
    mid_at_place: Decimal


def requote_reason(p: GridParams, live: LiveQuote, target: QuoteTarget | None, mid: Decimal,
                   now: float) -> str | None:
    """Why ``live`` must be replaced now, or None to leave it resting."""
    if target is None:
        return "withdrawn"
    age = now - live.placed_ts
    if p.mode == "naive":
        return "age" if age >= p.naive_requote_s else None
    moved = abs(mid - live.mid_at_place)
    if moved > abs(live.mid_at_place - live.price):
        return "through"
    if moved / live.mid_at_place * BPS > p.requote_tolerance_bps:
        return "book_moved"
    if age >= p.max_order_age_s:
        return "age"
    if abs(target.price - live.price) / mid * BPS > p.requote_tolerance_bps or target.size != live.size:
        return "target"
    return None
