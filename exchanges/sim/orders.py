"""The simulator's mutable order record (integer ticks and lots inside the engine)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.types import Order, OrderStatus, OrderType, Side


@dataclass(slots=True, eq=False)
class SimOrder:
    venue: str
    order_id: str
    client_id: str
    symbol: str
    side: Side
    sign: int  # +1 buy, -1 sell
    type: OrderType
    price: int | None  # ticks; None for market
    size: int  # lots
    post_only: bool
    reduce_only: bool
    arrival: float  # when the engine received it
    filled: int = 0
    notional: int = 0  # sum of price_ticks * lots filled, for the average price
    ahead: int = 0  # others' lots queued before us at our price
    status: OrderStatus = OrderStatus.OPEN
    reject_reason: str | None = None
    updated: float = 0.0

    @property
    def remaining(self) -> int:
        return self.size - self.filled

    def snapshot(self, tick: Decimal, lot: Decimal) -> Order:
        avg = Decimal(self.notional) * tick / self.filled if self.filled else None
        return Order(
            venue=self.venue, order_id=self.order_id, client_id=self.client_id, symbol=self.symbol,
            side=self.side, type=self.type,
            price=None if self.price is None else self.price * tick,
            size=self.size * lot, filled=self.filled * lot, avg_price=avg, status=self.status,
            post_only=self.post_only, reduce_only=self.reduce_only, ts=self.updated,
            reject_reason=self.reject_reason,
        )
