"""The order table: every order a run sent, and what the venue has proved about it.

Rules every bot needs and none should re-implement:
- an order is tracked from the moment it is asked for, before the venue answers, so exposure it
  may create is never invisible;
- a request that timed out leaves the order UNKNOWN: it is looked up by client id, never resent;
- fill events are deduplicated by (venue, order id, trade id), so a fill seen on a stream and again
  in a REST catch-up counts once;
- exposure counts once per order: the larger of what order updates and fill events have shown
  (a cancel answered "already filled" shows it as an order update);
- an order is final once the venue says so (or it never reached the venue): it then leaves the
  open set and nothing about it changes exposure again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from core.types import ZERO, Fill, Order, Side

LOOKUP_AFTER = 0.5  # seconds an UNKNOWN order waits before it is looked up (x4 while cancelling)


class OrderState(StrEnum):
    SENDING = "SENDING"  # asked for, no answer yet
    LIVE = "LIVE"  # acknowledged by the venue
    CANCELLING = "CANCELLING"  # a cancel was sent
    UNKNOWN = "UNKNOWN"  # a request timed out: fate unknown until looked up
    DONE = "DONE"  # final (or never reached the venue)


@dataclass(slots=True, eq=False)
class TrackedOrder:
    """An order this run sent, as far as the kernel knows.

    ``meta`` is the strategy's own notes about the order (a cycle number, a reference price);
    everything else is the kernel's.
    """

    venue: str
    tag: str
    client_id: str
    side: Side
    size: Decimal
    price: Decimal | None  # None: IOC market order
    reduce_only: bool
    placed_at: float
    order_id: str | None = None
    state: OrderState = OrderState.SENDING
    accounted: Decimal = ZERO  # exposure counted so far (order updates or fills)
    fill_qty: Decimal = ZERO  # from fill events only
    last_check: float = 0.0
    outcome: str | None = None  # strategies.base.Outcome once DONE
    withdrawn: bool = False  # the kernel cancelled it to stop or flatten the run (not the strategy's doing)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        return self.state is not OrderState.DONE

    @property
    def open_qty(self) -> Decimal:
        return self.size - self.accounted if self.live else ZERO

    @property
    def is_market(self) -> bool:
        return self.price is None


class OrderTable:
    def __init__(self) -> None:
        self.orders: dict[str, TrackedOrder] = {}
        self._open: dict[str, TrackedOrder] = {}  # the orders still in flight (a subset of ``orders``)
        self._by_oid: dict[tuple[str, str], TrackedOrder] = {}
        self._seen: set[tuple[str, str, str]] = set()

    # --- lookups ---------------------------------------------------------------------------------
    def get(self, client_id: str) -> TrackedOrder | None:
        return self.orders.get(client_id)

    def find(self, venue: str, client_id: str, order_id: str | None) -> TrackedOrder | None:
        t = self.orders.get(client_id)
        if t is None and order_id:
            t = self._by_oid.get((venue, order_id))
        return t

    def open(self, venue: str | None = None, tag: str | None = None) -> list[TrackedOrder]:
        if not self._open:  # the usual answer, asked several times per market event
            return []
        if venue is None:  # by tag only: how a strategy asks, on every BBO and tick
            if tag is None:
                return list(self._open.values())
            return [t for t in self._open.values() if t.tag == tag]
        return [t for t in self._open.values() if t.venue == venue and (tag is None or t.tag == tag)]

    def open_qty(self, venue: str, side: Side) -> Decimal:
        """What the venue's open orders of ``side`` could still fill without the run knowing yet."""
        return sum((t.open_qty for t in self._open.values() if t.venue == venue and t.side is side), ZERO)

    # --- changes ---------------------------------------------------------------------------------
    def track(self, venue: str, tag: str, client_id: str, side: Side, size: Decimal, price: Decimal | None,
              reduce_only: bool, now: float) -> TrackedOrder:
        if client_id in self.orders:
            raise ValueError(f"client id {client_id} was already used in this run")
        t = TrackedOrder(venue, tag, client_id, side, size, price, reduce_only, now, last_check=now)
        self.orders[client_id] = t
        self._open[client_id] = t
        return t

    def retire(self, t: TrackedOrder, outcome: str) -> None:
        """The order is final (or never reached the venue): it no longer counts as in flight."""
        t.state = OrderState.DONE
        t.outcome = outcome
        self._open.pop(t.client_id, None)

    def cancelling(self, t: TrackedOrder, now: float) -> bool:
        """A cancel is on its way; False when the order is already final."""
        if not t.live:
            return False
        t.state = OrderState.CANCELLING
        t.last_check = now
        return True

    def timed_out(self, client_id: str, now: float) -> None:
        t = self.orders.get(client_id)
        if t is not None and t.live:
            t.state = OrderState.UNKNOWN
            t.last_check = now

    def first_fill(self, fill: Fill) -> bool:
        """True the first time this trade is seen (by venue, order id and trade id)."""
        if fill.key in self._seen:
            return False
        self._seen.add(fill.key)
        return True

    def on_fill(self, t: TrackedOrder, fill: Fill) -> Decimal:
        """A new fill event of ``t``: returns the exposure it newly shows."""
        t.fill_qty += fill.size
        return self._account(t, t.fill_qty)

    def on_update(self, t: TrackedOrder, order: Order) -> Decimal:
        """An order state from the venue: returns the exposure it newly shows (the order is
        retired by the caller once it has told the strategy about that exposure)."""
        if t.order_id is None and order.order_id:
            t.order_id = order.order_id
            self._by_oid[(t.venue, order.order_id)] = t
        if not order.status.is_final and t.state in (OrderState.SENDING, OrderState.UNKNOWN):
            t.state = OrderState.LIVE
        return self._account(t, order.filled)

    @staticmethod
    def _account(t: TrackedOrder, shown: Decimal) -> Decimal:
        if shown > t.accounted:
            qty = shown - t.accounted
            t.accounted = shown
            return qty
        return ZERO

    def due_lookups(self, now: float) -> list[TrackedOrder]:
        """UNKNOWN orders (and cancels without an answer) whose wait is over; their clocks restart."""
        due = []
        for t in self._open.values():
            wait = LOOKUP_AFTER * (4 if t.state is OrderState.CANCELLING else 1)
            if t.state in (OrderState.UNKNOWN, OrderState.CANCELLING) and now - t.last_check >= wait:
                t.last_check = now
                due.append(t)
        return due
