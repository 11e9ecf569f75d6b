"""Which cycle comes next: open up to ``build_to`` times (bounded by max position), then close
until flat; ``iterations`` open cycles and as many close cycles in all."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.types import Side


@dataclass(frozen=True, slots=True)
class NextCycle:
    kind: str  # open | close
    side: Side  # the primary order's side
    size: Decimal
    iteration: int


class CyclePlan:
    def __init__(self, iterations: int, build_to: int, size: Decimal, position_limit: Decimal, direction: str) -> None:
        self.iterations = iterations
        self.build_to = build_to
        self.size = size
        self.limit = position_limit
        self.direction = direction
        self.opens = 0
        self.closes = 0
        self.unwound = 0  # close cycles spent unwinding a position found at start (not counted)
        self._batch = 0
        self._batch_opens = 0
        self._closing = False
        self._unwinding = False

    def _open_side(self) -> Side:
        if self.direction == "long":
            return Side.BUY
        if self.direction == "short":
            return Side.SELL
        return Side.BUY if self._batch % 2 == 0 else Side.SELL

    def next(self, position: Decimal) -> NextCycle | None:
        """The next cycle given the primary venue's position; None when the plan is done."""
        if position != 0 and (self._closing or self.opens >= self.iterations):
            side = Side.SELL if position > 0 else Side.BUY
            return NextCycle("close", side, min(self.size, abs(position)), self.closes + 1)
        if self._closing:  # flat again: a new build-up starts
            self._closing = False
            if self._unwinding:
                self._unwinding = False
            else:
                self._batch += 1
            self._batch_opens = 0
        if self.opens >= self.iterations:
            return None
        if self._batch_opens >= self.build_to or abs(position) + self.size > self.limit:
            if position == 0:
                return None  # cannot open even once within the limit
            self._closing = True
            return self.next(position)
        return NextCycle("open", self._open_side(), self.size, self.opens + 1)

    def done(self, kind: str, filled: Decimal) -> None:
        """Count a finished cycle that moved the position."""
        if filled <= 0:
            return
        if kind == "open":
            self.opens += 1
            self._batch_opens += 1
        elif self._unwinding:
            self.unwound += 1
        else:
            self.closes += 1

    def adopt(self, position: Decimal) -> None:
        """A restart found a hedged position: unwind it with close cycles before the plan's own."""
        if position != 0:
            self._closing = True
            self._unwinding = True

    @property
    def total_cycles(self) -> int:
        return 2 * self.iterations

    @property
    def cycles_done(self) -> int:
        return self.opens + self.closes
