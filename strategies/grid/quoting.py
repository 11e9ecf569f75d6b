"""Where the grid quotes and how much: pure arithmetic, no I/O.

With ``q = position / max_position`` clamped to [-1, 1] and ``v = sigma * sqrt(horizon)`` (the
volatility over the quoting horizon, in bps), the ``fixed`` grid follows the Avellaneda-Stoikov /
GLFT form:

- reservation price ``r = mid * (1 - q * (skew_bps + gamma * v^2) / 10^4)``: below mid when long,
  above when short, further away the more volatile the market;
- half-spread ``h = half_spread_bps + vol_spread_mult * v``; level ``i`` sits ``h + i * spacing``
  from ``r`` on each side;
- sizes: the side that adds to the position quotes ``size * (1 - |q|)`` per level, never more than
  the room left under the limit, and nothing at the limit; the side that reduces quotes ``size``;
- a side paused by the momentum filter keeps only what reduces the position.

The ``naive`` grid is the product notes' original: a fixed spread, a skew that moves the quotes
*toward* adding (``r = mid * (1 + q * skew_bps / 10^4)``) and an adding side of
``size * (1 + |q|)`` (still capped by the room under the limit).

Prices are rounded to the tick away from the market (bids down, asks up) and kept passive: a bid
at most one tick under the best ask, an ask at least one tick over the best bid (post-only would
reject anything else), each deeper level at least one tick behind the one before it. Sizes round
down to the lot; a level below the venue's minimum size or notional is dropped.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from core.types import ZERO, Instrument, Side
from strategies.grid.params import GridParams

BPS = Decimal(10_000)
ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class QuoteTarget:
    side: Side
    level: int  # 0 = closest to the reservation price
    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class QuotePlan:
    """What the grid wants resting now, with the numbers that produced it (recorded for diagnosis)."""

    mid: Decimal
    q: Decimal
    reservation: Decimal
    half_spread_bps: Decimal
    vol_bps: float  # sigma * sqrt(horizon)
    quotes: tuple[QuoteTarget, ...]

    def side(self, side: Side) -> tuple[QuoteTarget, ...]:
        return tuple(t for t in self.quotes if t.side is side)

    def size(self, side: Side) -> Decimal:
        return sum((t.size for t in self.quotes if t.side is side), ZERO)


def inventory_ratio(position: Decimal, max_position: Decimal) -> Decimal:
    """``q``: the position as a fraction of the limit, clamped to [-1, 1]."""
    q = position / max_position
    return max(-ONE, min(ONE, q))


def _dec(x: float) -> Decimal:
    return Decimal(repr(round(x, 10)))


def reservation_offset_bps(p: GridParams, q: Decimal, vol_bps: float) -> Decimal:
    """Signed offset of the reservation price from mid, bps (negative = below mid)."""
    if p.mode == "naive":
        return q * p.skew_bps
    return -q * (p.skew_bps + _dec(p.risk_aversion * vol_bps * vol_bps))


def half_spread_bps(p: GridParams, vol_bps: float) -> Decimal:
    if p.mode == "naive":
        return p.half_spread_bps
    return p.half_spread_bps + _dec(p.vol_spread_mult * vol_bps)


def level_sizes(p: GridParams, ins: Instrument, side: Side, position: Decimal, q: Decimal,
                paused: bool, price: Decimal) -> list[Decimal]:
    """Sizes of the ``p.levels`` quotes on ``side`` (0 where a level is withdrawn)."""
    adds = side.sign * position >= 0  # this side makes |position| larger (or opens one)
    room = p.max_position - abs(position) if adds else ZERO
    reducible = ZERO if adds else abs(position)  # what this side can take off before it adds
    if adds:
        per = p.size * (ONE + abs(q)) if p.mode == "naive" else p.size * (ONE - abs(q))
        budget = max(ZERO, room) if not paused else ZERO
    else:
        per = p.size
        # A reducing side may also add beyond flat, up to the limit, unless paused.
        budget = reducible + (p.max_position if not paused else ZERO)
    out = []
    for _ in range(p.levels):
        s = ins.round_size(min(per, budget))
        if s <= 0 or s < ins.min_size or s * price < ins.min_notional:
            s = ZERO
        budget -= s
        out.append(s)
    return out


def plan_quotes(p: GridParams, ins: Instrument, *, bid: Decimal, ask: Decimal, position: Decimal,
                vol_bps_per_sqrt_s: float, paused: Collection[Side] = ()) -> QuotePlan:
    """The grid's target quotes for the book ``bid``/``ask`` and the current ``position``.

    ``paused``: sides the momentum filter holds back (they keep only what reduces the position).
    """
    mid = (bid + ask) / 2
    q = inventory_ratio(position, p.max_position)
    vol = vol_bps_per_sqrt_s * math.sqrt(p.vol_horizon_s)
    r = mid * (ONE + reservation_offset_bps(p, q, vol) / BPS)
    h = half_spread_bps(p, vol)
    quotes: list[QuoteTarget] = []
    for side in (Side.BUY, Side.SELL):
        sizes = level_sizes(p, ins, side, position, q, side in paused, mid)
        prev: Decimal | None = None
        for i, size in enumerate(sizes):
            dist = (h + i * p.spacing_bps) / BPS
            raw = r * (ONE - dist) if side is Side.BUY else r * (ONE + dist)
            price = ins.round_price(raw, side)
            if side is Side.BUY:
                price = min(price, ask - ins.tick)
                if prev is not None:
                    price = min(price, prev - ins.tick)
            else:
                price = max(price, bid + ins.tick)
                if prev is not None:
                    price = max(price, prev + ins.tick)
            prev = price
            if size > 0 and price > 0:
                quotes.append(QuoteTarget(side, i, price, size))
    return QuotePlan(mid, q, r, h, vol, tuple(quotes))
