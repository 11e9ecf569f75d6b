"""Flatten positions with reduce-only IOC orders and verify flat - the emergency exit.

Never post-only through the book (an emergency close that way is rejected, VENUES.md "Known
traps"); never a plain order that could flip a position. On a venue whose displayed book is
mostly not executable (GRVT), orders are chunked to what it really executes. Flat is believed
only after consecutive position reads agree.
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

log = logging.getLogger("perpflow.flatten")
READ_PAUSE = 0.3


@dataclass(frozen=True, slots=True)
class FlattenResult:
    ok: bool
    positions: dict[str, Decimal]
    detail: str
    orders: int


async def confirmed_position(venue: Venue, symbol: str, reads: int = 2, max_reads: int = 6) -> Decimal | None:
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


async def flatten(venues: list[Venue], symbol: str, *, client_prefix: str,
                  chunk: dict[str, Decimal | None] | None = None, slippage_bps: Decimal = Decimal(25),
                  attempts: int = 6, on_order: Callable[[Order], None] | None = None) -> FlattenResult:
    """Cancel open orders, then close every position on ``venues`` and confirm they are flat."""
    counter = itertools.count(1)
    sent = 0
    for v in venues:
        for _ in range(3):
            try:
                await v.cancel_all(symbol)
                break
            except VenueError as exc:
                log.warning("%s: cancel-all failed (%s); retrying", v.name, exc.reason)
                await asyncio.sleep(READ_PAUSE)

    async def close_one(v: Venue, pos: Decimal, attempt: int) -> None:
        nonlocal sent
        ins = await v.instrument(symbol)
        cap = (chunk or {}).get(v.name) or ins.max_order_size
        qty = ins.round_size(min(abs(pos), cap) if cap else abs(pos))
        if qty <= 0:
            qty = ins.lot
        side = Side.SELL if pos > 0 else Side.BUY
        cid = f"{client_prefix}-f{next(counter)}"
        try:
            order = await v.place_market(symbol, side, qty, client_id=cid, reduce_only=True,
                                         max_slippage_bps=slippage_bps * (attempt + 1))
            sent += 1
            if on_order is not None:
                on_order(order)
        except OrderRejected as exc:
            if exc.reason is not Reason.REDUCE_ONLY_WOULD_INCREASE:  # a stale read: nothing to reduce
                log.warning("%s: flatten order refused: %s", v.name, exc)
        except VenueError as exc:
            log.warning("%s: flatten order failed (%s); will re-read the position", v.name, exc.reason)

    positions: dict[str, Decimal | None] = {}
    for attempt in range(attempts + 1):
        reads = await asyncio.gather(*(confirmed_position(v, symbol) for v in venues))
        positions = {v.name: r for v, r in zip(venues, reads, strict=True)}
        if all(r == 0 for r in reads):
            return FlattenResult(True, {k: ZERO for k in positions}, "flat on " + ", ".join(positions), sent)
        if attempt == attempts:
            break
        await asyncio.gather(*(close_one(v, r, attempt) for v, r in zip(venues, reads, strict=True) if r))
        await asyncio.sleep(READ_PAUSE)
    still = {k: ("unreadable" if v is None else str(v)) for k, v in positions.items() if v != 0}
    return FlattenResult(False, {k: v or ZERO for k, v in positions.items()},
                         f"still open after {attempts} attempts: {still}", sent)
