"""One venue's L2 book for one asset, with our resting orders queued inside it.

Hot path of the simulator: prices are integer ticks and sizes integer lots. "Others" is the
displayed liquidity of everyone else (a dict per side, price -> lots); our resting orders sit in
FIFO lists per price with ``ahead`` = others' lots queued before them. A market source (the
seeded model in ``flow.py`` or a replay in ``replay.py``) moves the book and sends trades; this
class applies them and counts every level change and trade print as one book event.

Matching rules implemented here:
- queue position: an order joining a level has the level's displayed size ahead of it; trades
  at that price consume what is ahead first, cancellations ahead shrink it;
- per-level liquidity consumption: our taker orders eat displayed lots, so one displayed lot
  cannot fill two orders;
- trade-through: when the market moves through a resting order it fills at its own price.

This module is the readable reference. What runs by default is its compiled twin, ``SimMarket`` in
``_core.pyx`` (Cython, built at install; ``engine.py`` picks it): the same methods line for line
with C types on the hot paths, and the same event sequence for a seed, bit for bit
(``tests/test_sim_core.py``). A change here is made there too; that test fails until it is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from core.types import OrderStatus
from exchanges.sim.models import queue_advance
from exchanges.sim.orders import SimOrder

# (ts, price_tick, lots, taker_sign)
Print = tuple[float, int, int, int]
# (order, price_tick, lots, ts)
MakerFill = tuple[SimOrder, int, int, float]


class SimMarket:
    def __init__(self, *, levels: int, gap_ticks: int, depth_lots: list[int],
                 rand: Callable[[], float], queue_real: float = 1.0, proportional_queue: bool = False) -> None:
        """``rand``: the uniform draws of others' level sizes (a level ``k`` deep shows
        ``depth_lots[k] x (0.55 + 0.9 u)`` lots, at least one)."""
        self.levels = levels
        self.proportional_queue = proportional_queue
        self.gap = max(1, gap_ticks)
        self.depth_lots = depth_lots
        self._rand = rand
        self.queue_real = queue_real
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.best_bid = 0
        self.best_ask = 0
        self._bid_top = None  # grid anchor last used, to skip re-checking unchanged grids
        self._ask_top = None
        self.own_bids: dict[int, list[SimOrder]] = {}
        self.own_asks: dict[int, list[SimOrder]] = {}
        self.events = 0
        self.prints: deque[Print] = deque(maxlen=2000)
        self.n_prints = 0  # total ever printed, so a recorder can tell what is new
        self.maker_fills: list[MakerFill] = []

    # --- book shape --------------------------------------------------------------------------
    def _draw(self, k: int) -> int:
        base = self.depth_lots[k if k < self.levels else self.levels - 1]
        x = int(base * (0.55 + 0.9 * self._rand()))
        return x if x > 0 else 1

    def set_quotes(self, bid: int, ask: int, t: float) -> None:
        """Move others' best bid/ask to these ticks, keeping deeper levels on a fixed grid."""
        if ask <= bid:
            ask = bid + 1
        if bid != self.best_bid or not self.bids:
            self._recenter(self.bids, self.own_bids, bid, self.best_bid, -1)
            self.best_bid = bid
        if ask != self.best_ask or not self.asks:
            self._recenter(self.asks, self.own_asks, ask, self.best_ask, 1)
            self.best_ask = ask
        self.cross_check(t)

    def adopt_book(self, t: float) -> None:
        """After others' levels were set directly (a replayed snapshot): take its best prices."""
        if self.bids:
            self.best_bid = max(self.bids)
        if self.asks:
            self.best_ask = min(self.asks)
        self.cross_check(t)

    def cross_check(self, t: float) -> None:
        """Fill our resting orders that the market has moved through."""
        if self.own_bids and max(self.own_bids) >= self.best_ask:
            self._trade_through(self.own_bids, lambda p: p >= self.best_ask, t)
        if self.own_asks and min(self.own_asks) <= self.best_bid:
            self._trade_through(self.own_asks, lambda p: p <= self.best_bid, t)

    def _recenter(self, side: dict[int, int], own: dict[int, list[SimOrder]], best: int, old: int,
                  direction: int) -> None:
        """``direction`` is -1 for bids (deeper = lower prices), +1 for asks.

        The hot path of every maker re-pricing: plain loops over the few prices that change, no
        intermediate lists unless the book jumped far."""
        gap = self.gap
        ev = 0
        # Levels now better than the new best were pulled (price moved away from them).
        if side and (best - old) * direction > 0:
            if old and abs(best - old) <= 64:
                for p in range(old, best, direction):
                    if p in side:
                        del side[p]
                        ev += 1
                        if own and p in own:
                            for o in own[p]:
                                o.ahead = 0
            else:
                for p in [p for p in side if (p - best) * direction < 0]:
                    del side[p]
                    ev += 1
                    if own and p in own:
                        for o in own[p]:
                            o.ahead = 0
        # The old top maker re-quotes at the new best unless its level sits on the grid.
        if old and old != best and old % gap and old in side:
            del side[old]
            ev += 1
            if own and old in own:
                for o in own[old]:
                    o.ahead = 0
        if best not in side:
            x = int(self.depth_lots[0] * (0.55 + 0.9 * self._rand()))
            side[best] = x if x > 0 else 1
            ev += 1
        if direction < 0:
            top = ((best - 1) // gap) * gap
            anchor = self._bid_top
            self._bid_top = top
        else:
            top = (best // gap + 1) * gap
            anchor = self._ask_top
            self._ask_top = top
        if top != anchor:
            step = gap * direction
            levels = self.levels
            depth = self.depth_lots
            rand = self._rand
            shift = (top - anchor) // step if anchor is not None else levels
            if 0 < shift < levels - 1:  # the grid slid outwards: only the deepest levels are new
                k0, k1 = levels - shift, levels
            elif 0 < -shift < levels - 1:  # the grid slid inwards: only the levels next to the best
                k0, k1 = 1, 1 - shift
            else:
                k0, k1 = 1, levels
            p = top + step * (k0 - 1)
            for k in range(k0, k1):
                if p not in side:
                    x = int(depth[k] * (0.55 + 0.9 * rand()))
                    side[p] = x if x > 0 else 1
                    ev += 1
                p += step
            if len(side) > levels:
                end = top + step * (levels - 1)
                if anchor is not None and 0 < (anchor - top) * direction <= 64 * gap:
                    for p in range(end, anchor + step * levels, step):
                        if p in side:
                            del side[p]
                            ev += 1
                    if len(side) > levels:  # off-grid leftovers: the slow way
                        for p in [p for p in side if (p - end) * direction >= 0]:
                            del side[p]
                            ev += 1
                else:
                    for p in [p for p in side if (p - end) * direction >= 0]:
                        del side[p]
                        ev += 1
        self.events += ev

    def update_level(self, direction: int, price: int, lots: int) -> None:
        """Others changed their displayed size at ``price`` (0 removes the level)."""
        side, own = (self.bids, self.own_bids) if direction < 0 else (self.asks, self.own_asks)
        old = side.get(price, 0)
        if lots > 0:
            side[price] = lots
        elif old:
            del side[price]
        else:
            return
        self.events += 1
        orders = own.get(price)
        if orders:
            real = self._real(lots)
            for o in orders:
                o.ahead = queue_advance(self.proportional_queue, o.ahead, self._real(old), real)

    def refresh_level(self, direction: int, top: bool, u: float) -> None:
        """One size update (the background L2 churn): the best level, or a deeper one at random."""
        if direction < 0:
            best, anchor = self.best_bid, self._bid_top
        else:
            best, anchor = self.best_ask, self._ask_top
        if top or anchor is None or self.levels < 2:
            p, k = best, 0
        else:
            k = 1 + int(u * (self.levels - 1))
            p = anchor + direction * self.gap * (k - 1)
        if p:
            self.update_level(direction, p, self._draw(k))

    # --- trades ------------------------------------------------------------------------------
    def flow_trade(self, t: float, taker_sign: int, lots: int, limit: int | None = None) -> int:
        """Someone else's market order: walks the opposite side, our queued orders included.

        Returns the lots executed. ``limit`` bounds the prices it may reach (a replayed print).
        """
        side, own = (self.asks, self.own_asks) if taker_sign > 0 else (self.bids, self.own_bids)
        if not own:  # fast path: a print that the best level absorbs, none of ours in the way
            best = self.best_ask if taker_sign > 0 else self.best_bid
            shown = side.get(best, 0)
            if shown and (limit is None or (best - limit) * taker_sign <= 0):
                qr = self.queue_real
                if qr >= 1:
                    if lots < shown:
                        side[best] = shown - lots
                        self.prints.append((t, best, lots, taker_sign))
                        self.n_prints += 1
                        self.events += 2
                        return lots
                elif lots < self._real(shown):
                    left = shown - self._shown(lots)
                    if left > 0:
                        side[best] = left
                        self.prints.append((t, best, lots, taker_sign))
                        self.n_prints += 1
                        self.events += 2
                        return lots
        prices = sorted(side.keys() | own.keys()) if own else sorted(side)
        if taker_sign < 0:
            prices.reverse()
        remaining = lots
        ev = 0
        for p in prices:
            if limit is not None and (p - limit) * taker_sign > 0:
                break
            shown = side.get(p, 0)
            others = self._real(shown)
            taken = 0
            orders = own.get(p)
            if orders:
                for o in list(orders):
                    if o.arrival > t:
                        continue
                    need = o.ahead - taken
                    if need > 0:
                        x = min(remaining, need, others - taken)
                        taken += x
                        remaining -= x
                        if remaining == 0:
                            break
                    x = min(remaining, o.size - o.filled)
                    if x > 0:
                        remaining -= x
                        self._fill_own(o, p, x, t)
                        self._print((t, p, x, taker_sign))
                        ev += 1
                    if remaining == 0:
                        break
            if remaining and others > taken:
                x = min(remaining, others - taken)
                taken += x
                remaining -= x
            if taken:
                if orders:
                    for o in orders:
                        o.ahead = o.ahead - taken if o.ahead > taken else 0
                left = shown - self._shown(taken)
                if left > 0:
                    side[p] = left
                elif p in side:
                    del side[p]
                self._print((t, p, taken, taker_sign))
                ev += 2
            if remaining == 0:
                break
        self._refresh_best()
        self.events += ev
        return lots - remaining

    def replay_print(self, t: float, price: int, signed_lots: int) -> None:
        """A recorded print: moves queues and fills our orders, never the displayed depth (the
        file's depth already contains it; see ``replay.py``)."""
        sign = 1 if signed_lots > 0 else -1
        lots = signed_lots * sign
        self.prints.append((t, price, lots, sign))
        self.n_prints += 1
        self.events += 1
        own = self.own_asks if sign > 0 else self.own_bids
        if not own:
            return
        for p in [p for p in own if (p - price) * sign < 0]:  # the taker went through these
            for o in list(own[p]):
                if o.arrival <= t and o.size > o.filled:
                    self._fill_own(o, p, o.size - o.filled, t)
        orders = own.get(price)
        if not orders:
            return
        remaining = lots
        consumed = 0  # others' lots ahead of us that this print took
        for o in list(orders):
            if o.arrival > t:
                continue
            need = o.ahead - consumed
            if need > 0:
                x = min(remaining, need)
                consumed += x
                remaining -= x
            x = min(remaining, o.size - o.filled)
            if x > 0:
                remaining -= x
                self._fill_own(o, price, x, t)
            if remaining == 0:
                break
        for o in orders:
            o.ahead = o.ahead - consumed if o.ahead > consumed else 0

    def take(self, taker_sign: int, max_lots: int, limit: int | None, t: float) -> list[tuple[int, int]]:
        """Our own taker order: eat others' displayed lots up to ``limit``; [(price, lots)]."""
        side = self.asks if taker_sign > 0 else self.bids
        prices = sorted(side, reverse=taker_sign < 0)
        remaining = max_lots
        out: list[tuple[int, int]] = []
        for p in prices:
            if remaining == 0 or (limit is not None and (p - limit) * taker_sign > 0):
                break
            shown = side[p]
            x = min(remaining, self._real(shown))
            remaining -= x
            left = shown - self._shown(x)
            if left > 0:
                side[p] = left
            else:
                del side[p]
            out.append((p, x))
            self._print((t, p, x, taker_sign))
            self.events += 2
        if out:
            self._refresh_best()
        return out

    def _real(self, shown: int) -> int:
        """Lots of a displayed level that really trade (all of them on honest books)."""
        if self.queue_real >= 1 or shown == 0:
            return shown
        return max(1, int(shown * self.queue_real))

    def _shown(self, real: int) -> int:
        return real if self.queue_real >= 1 else int(real / self.queue_real)

    def _print(self, p: Print) -> None:
        self.prints.append(p)
        self.n_prints += 1

    def _refresh_best(self) -> None:
        if self.bids and self.best_bid not in self.bids:
            self.best_bid = max(self.bids)
        if self.asks and self.best_ask not in self.asks:
            self.best_ask = min(self.asks)

    def _trade_through(self, own: dict[int, list[SimOrder]], crossed: Callable[[int], bool], t: float) -> None:
        for p in [p for p in own if crossed(p)]:
            for o in list(own[p]):
                if o.arrival <= t and o.size > o.filled:
                    self._print((t, p, o.size - o.filled, -o.sign))
                    self._fill_own(o, p, o.size - o.filled, t)
                    self.events += 1

    # --- our resting orders ------------------------------------------------------------------
    def _fill_own(self, o: SimOrder, price: int, lots: int, t: float) -> None:
        o.filled += lots
        o.notional += price * lots
        o.updated = t
        o.status = OrderStatus.FILLED if o.filled >= o.size else OrderStatus.PARTIALLY_FILLED
        if o.status is OrderStatus.FILLED:
            self.unrest(o)
        self.maker_fills.append((o, price, lots, t))

    def rest(self, o: SimOrder) -> None:
        assert o.price is not None
        side, own = (self.bids, self.own_bids) if o.sign > 0 else (self.asks, self.own_asks)
        o.ahead = int(side.get(o.price, 0) * self.queue_real)
        own.setdefault(o.price, []).append(o)

    def unrest(self, o: SimOrder) -> None:
        own = self.own_bids if o.sign > 0 else self.own_asks
        lst = own.get(o.price)  # type: ignore[arg-type]
        if lst and o in lst:
            lst.remove(o)
            if not lst:
                del own[o.price]  # type: ignore[arg-type]

    # --- what others see ---------------------------------------------------------------------
    def top(self) -> tuple[int, int, int, int]:
        """(bid, bid_lots, ask, ask_lots) with our resting orders included, as a venue shows it."""
        bid, ask = self.best_bid, self.best_ask
        if self.own_bids:
            ob = max(self.own_bids)
            if ob > bid:
                bid = ob
        if self.own_asks:
            oa = min(self.own_asks)
            if oa < ask:
                ask = oa
        bid_lots = self.bids.get(bid, 0) + self._own_lots(self.own_bids.get(bid))
        ask_lots = self.asks.get(ask, 0) + self._own_lots(self.own_asks.get(ask))
        return bid, bid_lots, ask, ask_lots

    @staticmethod
    def _own_lots(orders: list[SimOrder] | None) -> int:
        return sum(o.size - o.filled for o in orders) if orders else 0

    def levels_view(self, depth: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        def merged(side: dict[int, int], own: dict[int, list[SimOrder]], reverse: bool) -> list[tuple[int, int]]:
            prices = sorted(side.keys() | own.keys(), reverse=reverse)[:depth]
            return [(p, side.get(p, 0) + self._own_lots(own.get(p))) for p in prices]
        return merged(self.bids, self.own_bids, True), merged(self.asks, self.own_asks, False)
