"""Flatten positions with reduce-only orders and verify flat - the emergency exit.

Never post-only through the book (venues reject an emergency close that would cross that way);
never an order that could flip a position. Reduce-only IOC first, with a growing slippage cap; on
a venue whose displayed book is mostly not executable (GRVT), IOCs are chunked to what it really
executes, and if takers still find nothing, a reduce-only limit order rests at the touch until the
market's own flow closes it. Flat is believed only after consecutive position reads agree.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from core.errors import OrderRejected, VenueError
from core.reasons import Reason
from core.types import ZERO, Order, Side
from exchanges.base import Venue
from strategies.runtime.retry import idempotent

log = logging.getLogger("perpflow.flatten")
READ_PAUSE = 0.3
TAKER_ATTEMPTS = 3
PASSIVE_WAIT = 15.0


@dataclass(frozen=True, slots=True)
class FlattenResult:
    ok: bool
    positions: dict[str, Decimal]
    detail: str
    orders: int


async def confirmed_position(venue: Venue, symbol: str, reads: int = 2, max_reads: int = 10) -> Decimal | None:
    """A position read that ``reads`` consecutive answers agree on (one glitchy read is not enough)."""
    last: Decimal | None = None
    streak = 0
    for _ in range(max_reads):
        try:
            size = (await venue.position(symbol)).size
        except VenueError as exc:
            log.warning("%s: position read failed (%s)", venue.name, exc.reason)
            streak = 0
            await asyncio.sleep(READ_PAUSE)
            continue
        streak = streak + 1 if last is not None and size == last else 1
        last = size
        if streak >= reads:
            return size
        await asyncio.sleep(READ_PAUSE)
    return None


class _Closer:
    """Sends the closing orders for one venue, escalating from IOC to a resting reduce-only order."""

    def __init__(self, venue: Venue, symbol: str, prefix: str, chunk: Decimal | None, slippage_bps: Decimal,
                 on_order: Callable[[Order], None] | None, counter: itertools.count) -> None:
        self.venue = venue
        self.symbol = symbol
        self.prefix = prefix
        self.chunk = chunk
        self.slippage = slippage_bps
        self.on_order = on_order
        self.counter = counter
        self.sent = 0
        self.takers = 0

    def _cid(self) -> str:
        return f"{self.prefix}-f{next(self.counter)}"

    def _record(self, order: Order) -> None:
        self.sent += 1
        if self.on_order is not None:
            self.on_order(order)

    async def close(self, pos: Decimal) -> None:
        side = Side.SELL if pos > 0 else Side.BUY
        try:
            ins = await idempotent(lambda: self.venue.instrument(self.symbol), f"{self.venue.name} instrument")
            if self.takers < TAKER_ATTEMPTS:
                self.takers += 1
                cap = self.chunk or ins.max_order_size
                qty = ins.round_size(min(abs(pos), cap) if cap else abs(pos)) or ins.lot
                self._record(await self.venue.place_market(
                    self.symbol, side, qty, client_id=self._cid(), reduce_only=True,
                    max_slippage_bps=self.slippage * self.takers))
                return
            bbo = await idempotent(lambda: self.venue.bbo(self.symbol), f"{self.venue.name} bbo")  # rest at the touch
            cid = self._cid()
            try:
                self._record(await self.venue.place_limit(self.symbol, side, bbo.best(side),
                                                          ins.round_size(abs(pos)) or ins.lot,
                                                          client_id=cid, post_only=False, reduce_only=True))
                await asyncio.sleep(PASSIVE_WAIT)
            finally:  # also when the answer was lost: the order may rest all the same
                await self._withdraw(cid)
        except OrderRejected as exc:
            if exc.reason is not Reason.REDUCE_ONLY_WOULD_INCREASE:  # a stale read: nothing to reduce
                log.warning("%s: flatten order refused: %s", self.venue.name, exc)
        except VenueError as exc:
            log.warning("%s: flatten order failed (%s); will re-read the position", self.venue.name, exc.reason)


    async def _withdraw(self, client_id: str) -> None:
        """Cancel the resting order by client id (idempotent, so retried); gone or never placed is fine."""
        try:
            order = await idempotent(lambda: self.venue.cancel(self.symbol, client_id=client_id),
                                     f"{self.venue.name} cancel {client_id}")
        except OrderRejected:  # unknown or already final: nothing rests
            return
        except VenueError as exc:
            log.warning("%s: could not cancel %s (%s); the closing cancel-all removes it", self.venue.name,
                        client_id, exc.reason)
            return
        self._record(order)


async def flatten(venues: list[Venue], symbol: str, *, client_prefix: str,
                  chunk: dict[str, Decimal | None] | None = None, slippage_bps: Decimal = Decimal(25),
                  attempts: int = 40, on_order: Callable[[Order], None] | None = None) -> FlattenResult:
    """Cancel open orders, then close every position on ``venues`` and confirm they are flat."""
    await _cancel_all(venues, symbol)
    counter = itertools.count(1)
    closers = {v.name: _Closer(v, symbol, client_prefix, (chunk or {}).get(v.name), slippage_bps, on_order, counter)
               for v in venues}
    positions: dict[str, Decimal | None] = {}
    for attempt in range(attempts + 1):
        reads = await asyncio.gather(*(confirmed_position(v, symbol) for v in venues))
        positions = {v.name: r for v, r in zip(venues, reads, strict=True)}
        sent = sum(c.sent for c in closers.values())
        if all(r == 0 for r in reads):
            await _cancel_all(venues, symbol)  # no closing order of ours may outlive the flatten
            return FlattenResult(True, {k: ZERO for k in positions}, "flat on " + ", ".join(positions), sent)
        if attempt == attempts:
            break
        await asyncio.gather(*(closers[v.name].close(r) for v, r in zip(venues, reads, strict=True) if r))
        await asyncio.sleep(READ_PAUSE)
    still = {k: ("unreadable" if v is None else str(v)) for k, v in positions.items() if v != 0}
    return FlattenResult(False, {k: v or ZERO for k, v in positions.items()},
                         f"still open after {attempts} attempts: {still}", sum(c.sent for c in closers.values()))


async def _cancel_all(venues: list[Venue], symbol: str) -> None:
    for v in venues:
        for _ in range(3):
            try:
                await v.cancel_all(symbol)
                break
            except VenueError as exc:
                log.warning("%s: cancel-all failed (%s); retrying", v.name, exc.reason)
                await asyncio.sleep(READ_PAUSE)
