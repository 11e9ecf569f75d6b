"""A simulated margin account: cash, signed positions with average entry, fees and funding."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from core.types import ZERO


@dataclass(slots=True)
class SimAccount:
    cash: Decimal
    positions: dict[str, Decimal] = field(default_factory=dict)
    entries: dict[str, Decimal] = field(default_factory=dict)
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO

    def apply_fill(self, symbol: str, signed_size: Decimal, price: Decimal, fee: Decimal) -> None:
        pos = self.positions.get(symbol, ZERO)
        entry = self.entries.get(symbol, price)
        new = pos + signed_size
        if pos == 0 or (pos > 0) == (signed_size > 0):  # opening or adding
            entry = (entry * abs(pos) + price * abs(signed_size)) / abs(new)
        else:  # reducing, closing or flipping
            closed = min(abs(signed_size), abs(pos))
            pnl = (price - entry) * closed * (1 if pos > 0 else -1)
            self.realized += pnl
            self.cash += pnl
            if new != 0 and (new > 0) != (pos > 0):
                entry = price
        self.positions[symbol] = new
        if new == 0:
            self.entries.pop(symbol, None)
        else:
            self.entries[symbol] = entry
        self.cash -= fee
        self.fees += fee

    def apply_funding(self, symbol: str, mark: Decimal, rate: Decimal) -> Decimal:
        """Longs pay shorts when the rate is positive. Returns the payment (negative = received)."""
        payment = self.positions.get(symbol, ZERO) * mark * rate
        self.cash -= payment
        self.funding += payment
        return payment

    def unrealized(self, marks: dict[str, Decimal]) -> Decimal:
        return sum(((marks[s] - self.entries[s]) * p for s, p in self.positions.items() if p and s in marks),
                   ZERO)
