"""What a round trip cost: fees plus the spread paid, measured against the mid.

The notes measured 0.25-0.35% of notional per round trip on the quick-trading agents and named it
as why they lost. Each leg's spread cost is how far its fill price was from the mid at that
moment, on the wrong side (a taker buy at the ask pays half the spread; a maker buy at the bid
earns it: negative cost). ``drag_pct`` is fees plus spread over the entry notional.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.types import Side


@dataclass(frozen=True, slots=True)
class Leg:
    side: Side
    price: Decimal  # volume-weighted fill price
    size: Decimal
    fee: Decimal  # quote currency, negative = rebate
    mid: Decimal  # mid when the leg filled
    maker: bool

    @property
    def spread_cost(self) -> Decimal:
        return (self.price - self.mid) * self.size * self.side.sign


@dataclass(frozen=True, slots=True)
class RoundTrip:
    entry: Leg
    exit: Leg

    @property
    def direction(self) -> str:
        return "LONG" if self.entry.side is Side.BUY else "SHORT"

    @property
    def notional(self) -> Decimal:
        return self.entry.price * self.entry.size

    @property
    def gross_pnl(self) -> Decimal:
        size = min(self.entry.size, self.exit.size)
        return (self.exit.price - self.entry.price) * size * self.entry.side.sign

    @property
    def fees(self) -> Decimal:
        return self.entry.fee + self.exit.fee

    @property
    def spread_cost(self) -> Decimal:
        return self.entry.spread_cost + self.exit.spread_cost

    @property
    def net_pnl(self) -> Decimal:
        return self.gross_pnl - self.fees

    @property
    def drag_pct(self) -> Decimal:
        """Fees + spread paid, in percent of the entry notional."""
        return (self.fees + self.spread_cost) / self.notional * 100 if self.notional else Decimal(0)
