"""A run's PnL split into spread capture, inventory PnL, fees and funding: pure, no I/O.

The same definitions as the warehouse's ``pnl_split`` view (``warehouse/diagnostics.py``), over the
same events the strategy records (its fills and its book samples), so the figures a progress or
summary artifact shows are the ones SQL gives for the run:

- spread capture of a fill: ``side * (mid_before - price) * size``, where ``mid_before`` is the
  last book sample before the fill (else the venue's best bid/ask reported with the fill, else the
  fill price);
- inventory PnL: between consecutive events (ordered by time, fills before samples at the same
  time), the position held times the move of the mid;
- fees: minus the fees charged; funding: minus the funding paid.

``total`` is their sum, which telescopes to cash flows plus the position marked at the last mid.
Times are compared in whole microseconds, as the warehouse stores them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.types import ZERO, Fill


@dataclass(frozen=True, slots=True)
class Split:
    fills: int
    spread_capture: Decimal
    inventory_pnl: Decimal
    fees: Decimal
    funding: Decimal
    position: Decimal
    volume: Decimal

    @property
    def total(self) -> Decimal:
        return self.spread_capture + self.inventory_pnl + self.fees + self.funding

    @property
    def per_fill(self) -> Decimal:
        """Average PnL of a fill: spread capture and fees (what the notes called fill PnL)."""
        return (self.spread_capture + self.fees) / self.fills if self.fills else ZERO


@dataclass(slots=True)
class PnlTracker:
    initial_position: Decimal = ZERO
    _events: list[tuple[int, int, int, Decimal, Decimal, Decimal, Decimal]] = field(default_factory=list)
    _funding: list[tuple[int, Decimal]] = field(default_factory=list)
    _n: int = 0

    def mark(self, ts: float, bid: Decimal, ask: Decimal) -> None:
        """A book sample (recorded as ``book_sample``)."""
        self._n += 1
        self._events.append((round(ts * 1e6), 1, self._n, (bid + ask) / 2, ZERO, ZERO, ZERO))

    def fill(self, f: Fill) -> None:
        self._n += 1
        mid = (f.bid + f.ask) / 2 if f.bid is not None and f.ask is not None else None
        self._events.append((round(f.ts * 1e6), 0, self._n, mid if mid is not None else Decimal("NaN"), f.signed_size,
                             f.price, f.fee))

    def funding(self, payment: Decimal, ts: float = 0.0) -> None:
        """A funding payment (paid by us; negative = received)."""
        self._funding.append((round(ts * 1e6), payment))

    def split(self) -> Split:
        parts = self.split_hourly().values()
        pos = self.initial_position + sum((p.position for p in parts), ZERO)
        return Split(sum((p.fills for p in parts), 0), sum((p.spread_capture for p in parts), ZERO),
                     sum((p.inventory_pnl for p in parts), ZERO), sum((p.fees for p in parts), ZERO),
                     sum((p.funding for p in parts), ZERO), pos, sum((p.volume for p in parts), ZERO))

    def split_hourly(self) -> dict[int, Split]:
        """The split per UTC hour (epoch seconds of its start), as ``pnl_split_hourly``: a fill's
        parts in the hour of the fill, the inventory PnL of an interval in the hour it starts.
        ``position`` of an hour is the change of position within it."""
        acc: dict[int, list[Any]] = {}

        def bucket(ts_us: int) -> list[Any]:
            h = ts_us // 3_600_000_000 * 3600
            return acc.setdefault(h, [0, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO])

        pos = self.initial_position
        last_mid: Decimal | None = None
        prev: tuple[int, Decimal] | None = None
        for ts, kind, _n, mid, dq, price, fee in sorted(self._events, key=lambda e: e[:3]):
            if kind == 0:  # samples at the fill's own time sort after it: last_mid is strictly before
                mid = last_mid if last_mid is not None else (price if mid.is_nan() else mid)
            if prev is not None:
                bucket(prev[0])[2] += pos * (mid - prev[1])
            b = bucket(ts)
            if kind == 0:
                b[0] += 1
                b[1] += dq * (mid - price)
                b[3] -= fee
                b[5] += dq
                b[6] += abs(dq) * price
                pos += dq
            else:
                last_mid = mid
            prev = (ts, mid)
        for ts, payment in self._funding:
            bucket(ts)[4] -= payment
        return {h: Split(*v) for h, v in sorted(acc.items())}
