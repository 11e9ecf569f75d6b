"""How an entry is placed: maker first where the venue allows it, taker otherwise.

A post-only order at our own touch (the bid for a buy) pays the maker fee and earns the spread
instead of paying it; where the maker fee is not below the taker fee, the entry goes straight to
a taker order with a slippage cap.
After ``maker_timeout_s`` an unfilled maker entry is cancelled and either taken or dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.types import BBO, Instrument, Side


@dataclass(frozen=True, slots=True)
class EntryPlan:
    side: Side
    size: Decimal  # base units, on the venue's lot
    maker: bool
    price: Decimal | None  # the post-only price for a maker entry
    reason: str


def entry_size(instrument: Instrument, usd: Decimal, price: Decimal) -> Decimal:
    """USD notional to base units on the venue's lot (0 when below its minimums)."""
    size = instrument.round_size(usd / price)
    if size < instrument.min_size or size * price < instrument.min_notional:
        return Decimal(0)
    if instrument.max_order_size is not None:
        size = min(size, instrument.round_size(instrument.max_order_size))
    return size


def plan_entry(side: Side, usd: Decimal, bbo: BBO, instrument: Instrument, *, maker_first: bool) -> EntryPlan:
    size = entry_size(instrument, usd, bbo.opposite(side))
    if not maker_first:
        return EntryPlan(side, size, False, None, "maker_first off")
    if instrument.maker_fee >= instrument.taker_fee:
        return EntryPlan(side, size, False, None, "maker fee not below taker fee on this venue")
    price = instrument.round_price(bbo.best(side), side)
    return EntryPlan(side, size, True, price, f"post-only at the {'bid' if side is Side.BUY else 'ask'}")
