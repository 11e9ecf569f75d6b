# cython: language_level=3, cdivision=False
"""The simulator's hot path, one source for both engines: ``SimMarket`` (the book, ``market.py``
explains it), ``FairValue`` and ``ModelSource`` (the model, ``flow.py``), ``Arrivals`` and ``Sizes``
(the taker flow's models, ``models.py``).

This file is plain Python and is what the pure-Python engine runs. ``build_core.py`` compiles the
same file with Cython in pure-Python mode into ``exchanges.sim._hotpath`` (the compiled engine):
the types are written here as Cython reads them and Python ignores them - ``@cython.cclass``
classes whose attributes are declared with ``cython.declare``, ``@cython.cfunc`` / ``@cython.ccall``
methods, ``x: cython.long`` locals (never evaluated by Python), ``libc.math`` through
``cython.cimports`` (Python's ``math`` when not compiled: the same libm calls). Ticks, lots and
counters are C ``long`` (far below 2**63); ``//`` and ``%`` keep Python's semantics
(``cdivision=False``); every float is computed with the same operations in the same order (built
with ``-ffp-contract=off``: no fused multiply-add) and every random draw comes from the same
generators in the same order, so both engines give the same event sequence for a seed, bit for bit
(``tests/test_sim_core.py``). ``engine.py`` picks the engine.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import cython
import numpy as np
from cython.cimports.libc.math import cos, exp, floor, log, sin, sqrt, tanh

from core.types import OrderStatus

if TYPE_CHECKING:
    import random

    from exchanges.sim.orders import SimOrder
    from exchanges.sim.profiles import AssetProfile, MarketProfile, Regime

# (ts, price_tick, lots, taker_sign)
Print = tuple[float, int, int, int]
# (order, price_tick, lots, ts)
MakerFill = tuple["SimOrder", int, int, float]

SECONDS_PER_YEAR = 365 * 24 * 3600
GRID_S = 0.05  # resolution of the fair value path
BLOCK = cython.declare(cython.Py_ssize_t, 1 << 15)  # grid points drawn at once (~27 simulated minutes)
NOISE_HALF_LIFE_S = 5.0
SPREAD_HALF_LIFE_S = 20.0
INF = cython.declare(cython.double, math.inf)
NO_TOP = cython.declare(cython.long, -(1 << 62))  # no grid anchor yet (never a real price tick)
TWOPI = cython.declare(cython.double, 2.0 * math.pi)


def queue_advance(proportional: bool, ahead: int, old: int, new: int) -> int:
    """Lots still ahead of us after others' displayed size at our price went ``old`` -> ``new``."""
    if new >= old:
        return ahead  # joiners queue behind us
    if proportional and old > 0:
        ahead -= round((old - new) * ahead / old)
    return ahead if ahead < new else new


@cython.cfunc
def _gauss(rng: random.Random, rand: Callable[[], float]) -> cython.double:
    """``rng.gauss(0.0, 1.0)``, computed as CPython 3.11's ``random.gauss`` does (the same draws, the
    same libm calls, the spare normal kept in ``rng.gauss_next``), without a Python call when compiled."""
    spare = rng.gauss_next
    rng.gauss_next = None
    z: cython.double
    if spare is None:
        x2pi: cython.double = rand() * TWOPI
        g2rad: cython.double = sqrt(-2.0 * log(1.0 - rand()))
        z = cos(x2pi) * g2rad
        rng.gauss_next = sin(x2pi) * g2rad
    else:
        z = spare
    return 0.0 + z * 1.0


def _doubles(a: np.ndarray) -> array:
    """A numpy block as an ``array.array`` of doubles (the same values)."""
    out = array("d")
    out.frombytes(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    return out


def _longs(a: np.ndarray) -> array:
    """A numpy block of integers as an ``array.array`` of 64-bit integers."""
    out = array("q")
    out.frombytes(np.ascontiguousarray(a, dtype=np.int64).tobytes())
    return out


# ==================================================================================================
# the book (market.py)
# ==================================================================================================
@cython.cclass
class SimMarket:
    """One venue's L2 book for one asset, with our resting orders queued inside it (``market.py``)."""

    levels = cython.declare(cython.long, visibility="public")
    gap = cython.declare(cython.long, visibility="public")
    best_bid = cython.declare(cython.long, visibility="public")
    best_ask = cython.declare(cython.long, visibility="public")
    events = cython.declare(cython.long, visibility="public")
    n_prints = cython.declare(cython.long, visibility="public")
    proportional_queue = cython.declare(cython.bint, visibility="public")
    queue_real = cython.declare(cython.double, visibility="public")
    depth_lots = cython.declare(list, visibility="public")
    maker_fills = cython.declare(list, visibility="public")
    bids = cython.declare(dict, visibility="public")
    asks = cython.declare(dict, visibility="public")
    own_bids = cython.declare(dict, visibility="public")
    own_asks = cython.declare(dict, visibility="public")
    prints = cython.declare(object, visibility="public")
    bid_top = cython.declare(cython.long)  # grid anchor last used, to skip re-checking unchanged grids
    ask_top = cython.declare(cython.long)
    _rand = cython.declare(object)

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
        self.bids = {}
        self.asks = {}
        self.best_bid = 0
        self.best_ask = 0
        self.bid_top = NO_TOP
        self.ask_top = NO_TOP
        self.own_bids = {}
        self.own_asks = {}
        self.events = 0
        self.prints = deque(maxlen=2000)
        self.n_prints = 0  # total ever printed, so a recorder can tell what is new
        self.maker_fills = []

    @property
    def _bid_top(self) -> int | None:
        """The bids' grid anchor last used (None before the first quotes)."""
        return None if self.bid_top == NO_TOP else self.bid_top

    @property
    def _ask_top(self) -> int | None:
        return None if self.ask_top == NO_TOP else self.ask_top

    # --- book shape --------------------------------------------------------------------------
    @cython.ccall
    def _draw(self, k: cython.long) -> cython.long:
        base: cython.long = self.depth_lots[k if k < self.levels else self.levels - 1]
        x: cython.long = int(base * (0.55 + 0.9 * self._rand()))
        return x if x > 0 else 1

    @cython.ccall
    def set_quotes(self, bid: cython.long, ask: cython.long, t: float) -> None:
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

    @cython.ccall
    def cross_check(self, t: float) -> None:
        """Fill our resting orders that the market has moved through."""
        if self.own_bids and max(self.own_bids) >= self.best_ask:
            self._trade_through(self.own_bids, -1, t)
        if self.own_asks and min(self.own_asks) <= self.best_bid:
            self._trade_through(self.own_asks, 1, t)

    @cython.cfunc
    def _recenter(self, side: dict, own: dict, best: cython.long, old: cython.long, direction: cython.long) -> None:
        """``direction`` is -1 for bids (deeper = lower prices), +1 for asks.

        The hot path of every maker re-pricing: plain loops over the few prices that change, no
        intermediate lists unless the book jumped far."""
        gap: cython.long = self.gap
        ev: cython.long = 0
        p: cython.long
        top: cython.long
        step: cython.long
        shift: cython.long
        k: cython.long
        k0: cython.long
        k1: cython.long
        levels: cython.long
        end: cython.long
        x: cython.long
        # Levels now better than the new best were pulled (price moved away from them).
        if side and (best - old) * direction > 0:
            if old and abs(best - old) <= 64:
                p = old
                while p != best:  # range(old, best, direction), as a C loop when compiled
                    if p in side:
                        del side[p]
                        ev += 1
                        if own and p in own:
                            for o in own[p]:
                                o.ahead = 0
                    p += direction
            else:
                for p in [q for q in side if (q - best) * direction < 0]:
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
            anchor: cython.long = self.bid_top
            self.bid_top = top
        else:
            top = (best // gap + 1) * gap
            anchor = self.ask_top
            self.ask_top = top
        if top != anchor:
            step = gap * direction
            levels = self.levels
            depth: list = self.depth_lots
            rand = self._rand
            shift = (top - anchor) // step if anchor != NO_TOP else levels
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
                if anchor != NO_TOP and 0 < (anchor - top) * direction <= 64 * gap:
                    p = end
                    while (anchor + step * levels - p) * direction > 0:  # range(end, anchor + step * levels, step)
                        if p in side:
                            del side[p]
                            ev += 1
                        p += step
                    if len(side) > levels:  # off-grid leftovers: the slow way
                        for p in [q for q in side if (q - end) * direction >= 0]:
                            del side[p]
                            ev += 1
                else:
                    for p in [q for q in side if (q - end) * direction >= 0]:
                        del side[p]
                        ev += 1
        self.events += ev

    @cython.ccall
    def update_level(self, direction: cython.long, price: cython.long, lots: cython.long) -> None:
        """Others changed their displayed size at ``price`` (0 removes the level)."""
        side: dict
        own: dict
        side, own = (self.bids, self.own_bids) if direction < 0 else (self.asks, self.own_asks)
        old: cython.long = side.get(price, 0)
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

    def refresh_level(self, direction: cython.long, top: bool, u: float) -> None:
        """One size update (the background L2 churn): the best level, or a deeper one at random."""
        p: cython.long
        k: cython.long
        best: cython.long
        anchor: cython.long
        if direction < 0:
            best, anchor = self.best_bid, self.bid_top
        else:
            best, anchor = self.best_ask, self.ask_top
        if top or anchor == NO_TOP or self.levels < 2:
            p, k = best, 0
        else:
            k = 1 + int(u * (self.levels - 1))
            p = anchor + direction * self.gap * (k - 1)
        if p:
            self.update_level(direction, p, self._draw(k))

    # --- trades ------------------------------------------------------------------------------
    @cython.ccall
    def flow_trade(self, t: float, taker_sign: cython.long, lots: cython.long, limit: object = None) -> cython.long:
        """Someone else's market order: walks the opposite side, our queued orders included.

        Returns the lots executed. ``limit`` (a tick, or None) bounds the prices it may reach (a replayed print).
        """
        side: dict
        own: dict
        best: cython.long
        shown: cython.long
        left: cython.long
        remaining: cython.long
        ev: cython.long
        p: cython.long
        taken: cython.long
        others: cython.long
        need: cython.long
        x: cython.long
        side, own = (self.asks, self.own_asks) if taker_sign > 0 else (self.bids, self.own_bids)
        if not own:  # fast path: a print that the best level absorbs, none of ours in the way
            best = self.best_ask if taker_sign > 0 else self.best_bid
            shown = side.get(best, 0)
            if shown and (limit is None or (best - limit) * taker_sign <= 0):
                qr: cython.double = self.queue_real
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
        prices: list = sorted(side.keys() | own.keys()) if own else sorted(side)
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

    def replay_print(self, t: float, price: cython.long, signed_lots: cython.long) -> None:
        """A recorded print: moves queues and fills our orders, never the displayed depth (the
        file's depth already contains it; see ``replay.py``)."""
        sign: cython.long = 1 if signed_lots > 0 else -1
        lots: cython.long = signed_lots * sign
        remaining: cython.long
        consumed: cython.long
        need: cython.long
        x: cython.long
        self.prints.append((t, price, lots, sign))
        self.n_prints += 1
        self.events += 1
        own = self.own_asks if sign > 0 else self.own_bids
        if not own:
            return
        for p in [q for q in own if (q - price) * sign < 0]:  # the taker went through these
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

    def take(self, taker_sign: cython.long, max_lots: cython.long, limit: int | None,
             t: float) -> list[tuple[int, int]]:
        """Our own taker order: eat others' displayed lots up to ``limit``; [(price, lots)]."""
        side = self.asks if taker_sign > 0 else self.bids
        prices = sorted(side, reverse=taker_sign < 0)
        remaining: cython.long = max_lots
        shown: cython.long
        x: cython.long
        left: cython.long
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

    @cython.ccall
    def _real(self, shown: cython.long) -> cython.long:
        """Lots of a displayed level that really trade (all of them on honest books)."""
        if self.queue_real >= 1 or shown == 0:
            return shown
        return max(1, int(shown * self.queue_real))

    @cython.ccall
    def _shown(self, real: cython.long) -> cython.long:
        return real if self.queue_real >= 1 else int(real / self.queue_real)

    @cython.ccall
    def _print(self, p: tuple) -> None:
        self.prints.append(p)
        self.n_prints += 1

    @cython.ccall
    def _refresh_best(self) -> None:
        if self.bids and self.best_bid not in self.bids:
            self.best_bid = max(self.bids)
        if self.asks and self.best_ask not in self.asks:
            self.best_ask = min(self.asks)

    @cython.cfunc
    def _trade_through(self, own: dict, direction: cython.long, t: float) -> None:
        """Fill our orders the market went through: bids (``direction`` -1) at or above the best ask,
        asks at or below the best bid."""
        bid: cython.long = self.best_bid
        ask: cython.long = self.best_ask
        crossed = [p for p in own if (p >= ask if direction < 0 else p <= bid)]
        for p in crossed:
            for o in list(own[p]):
                if o.arrival <= t and o.size > o.filled:
                    self._print((t, p, o.size - o.filled, -o.sign))
                    self._fill_own(o, p, o.size - o.filled, t)
                    self.events += 1

    # --- our resting orders ------------------------------------------------------------------
    @cython.ccall
    def _fill_own(self, o: SimOrder, price: int, lots: int, t: float) -> None:
        o.filled += lots
        o.notional += price * lots
        o.updated = t
        o.status = OrderStatus.FILLED if o.filled >= o.size else OrderStatus.PARTIALLY_FILLED
        if o.status is OrderStatus.FILLED:
            self.unrest(o)
        self.maker_fills.append((o, price, lots, t))

    @cython.ccall
    def rest(self, o: SimOrder) -> None:
        assert o.price is not None
        side, own = (self.bids, self.own_bids) if o.sign > 0 else (self.asks, self.own_asks)
        o.ahead = int(side.get(o.price, 0) * self.queue_real)
        own.setdefault(o.price, []).append(o)

    @cython.ccall
    def unrest(self, o: SimOrder) -> None:
        own = self.own_bids if o.sign > 0 else self.own_asks
        lst = own.get(o.price)
        if lst and o in lst:
            lst.remove(o)
            if not lst:
                del own[o.price]

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
        bid_lots = self.bids.get(bid, 0) + _own_lots(self.own_bids.get(bid))
        ask_lots = self.asks.get(ask, 0) + _own_lots(self.own_asks.get(ask))
        return bid, bid_lots, ask, ask_lots

    def levels_view(self, depth: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        def merged(side: dict[int, int], own: dict[int, list[SimOrder]], reverse: bool) -> list[tuple[int, int]]:
            prices = sorted(side.keys() | own.keys(), reverse=reverse)[:depth]
            return [(p, side.get(p, 0) + _own_lots(own.get(p))) for p in prices]
        return merged(self.bids, self.own_bids, True), merged(self.asks, self.own_asks, False)


def _own_lots(orders: list[SimOrder] | None) -> int:
    return sum(o.size - o.filled for o in orders) if orders else 0


# ==================================================================================================
# the taker flow's models (models.py)
# ==================================================================================================
@cython.cclass
class Arrivals:
    """Next arrival time of others' market orders: Poisson, or an exponential-kernel Hawkes
    process (exact simulation, Dassios & Zhao 2013) with the same long-run mean rate."""

    alpha = cython.declare(cython.double, visibility="public")
    beta = cython.declare(cython.double, visibility="public")
    excess = cython.declare(cython.double, visibility="public")
    last = cython.declare(cython.double, visibility="public")
    mu = cython.declare(cython.double, visibility="public")
    rng = cython.declare(object, visibility="public")
    _rand = cython.declare(object)

    def __init__(self, m: MarketProfile, rng: random.Random, t0: float) -> None:
        branching = m.hawkes_branching if m.flow_model == "hawkes" else 0.0
        self.mu = m.trade_rate_per_s * (1 - branching)  # baseline (immigrant) rate
        self.beta = 1 / m.hawkes_decay_s
        self.alpha = branching * self.beta  # jump of the rate per trade (branching = alpha / beta)
        self.excess = 0.0  # rate above the baseline, as of ``last``
        self.last = t0
        self.rng = rng
        self._rand = rng.random

    @cython.ccall
    def next_after(self, t: float) -> float:
        """The next arrival after ``t`` (the previous arrival or any later time)."""
        rand = self._rand
        excess: cython.double = self.excess * exp(-self.beta * (t - self.last)) if self.excess else 0.0
        s2: cython.double = -log(1.0 - rand()) / self.mu
        s: cython.double = s2
        if excess > 1e-12:
            d: cython.double = 1 + self.beta * log(1.0 - rand()) / excess
            if d > 0:
                s1: cython.double = -log(d) / self.beta
                if s1 < s2:
                    s = s1
        self.excess = excess * exp(-self.beta * s) + self.alpha
        self.last = t + s
        return t + s

    @cython.ccall
    def excite(self, t: float) -> None:
        """An arrival not drawn here (an informed sweep) excites the flow like any other."""
        if self.alpha:
            self.excess = self.excess * exp(-self.beta * (t - self.last)) + self.alpha
            self.last = t


@cython.cclass
class Sizes:
    """Others' market order sizes in lots."""

    body_sd = cython.declare(cython.double, visibility="public")
    mu = cython.declare(cython.double, visibility="public")
    tail_alpha = cython.declare(cython.double, visibility="public")
    tail_prob = cython.declare(cython.double, visibility="public")
    tail_start = cython.declare(cython.double, visibility="public")
    max = cython.declare(cython.long, visibility="public")
    rng = cython.declare(object, visibility="public")
    _rand = cython.declare(object)

    def __init__(self, m: MarketProfile, lot: float, rng: random.Random) -> None:
        self.mu = math.log(m.trade_size_median / lot)
        self.body_sd = m.trade_size_sigma
        self.max = max(1, int(m.trade_size_max / lot))
        heavy = m.size_model == "pareto_mix"
        self.tail_prob = m.size_tail_prob if heavy else 0.0
        self.tail_alpha = m.size_tail_alpha
        self.tail_start = math.exp(self.mu + 1.2816 * self.body_sd)  # the body's 90th percentile
        self.rng = rng
        self._rand = rng.random

    @cython.ccall
    def draw(self) -> cython.long:
        rand = self._rand
        x: cython.double
        if self.tail_prob and rand() < self.tail_prob:
            x = self.tail_start * (1.0 - rand()) ** (-1 / self.tail_alpha)
        else:
            x = exp(self.mu + self.body_sd * _gauss(self.rng, rand))
        n = int(x)  # a Python int: a tail draw can exceed a C long before it is clamped
        return 1 if n < 1 else (self.max if n > self.max else n)


# ==================================================================================================
# the model (flow.py)
# ==================================================================================================
@cython.cclass
class FairValue:
    """The true price of an asset as a function of time, from ``t0`` on."""

    t0 = cython.declare(cython.double, visibility="public")
    now = cython.declare(cython.double, visibility="public")
    _inv = cython.declare(cython.double)
    _sigma = cython.declare(cython.double)
    _drift = cython.declare(cython.double)
    _phi = cython.declare(cython.double)
    _jump_p = cython.declare(cython.double)
    _jump = cython.declare(cython.double)
    _anchor = cython.declare(cython.double)
    _last = cython.declare(cython.double)
    _start = cython.declare(cython.Py_ssize_t)
    _gen = cython.declare(object)
    _cur = cython.declare(cython.double[::1])  # the path's block from _start on, and the block before (or None)
    _prev = cython.declare(cython.double[::1])

    def __init__(self, asset: AssetProfile, regime: Regime, seed: int, t0: float) -> None:
        self.t0 = t0
        self._inv = 1 / GRID_S
        self._gen = np.random.default_rng(seed)
        self._sigma = asset.vol_annual * regime.vol_scale * math.sqrt(GRID_S / SECONDS_PER_YEAR)
        self._drift = regime.drift_annual * GRID_S / SECONDS_PER_YEAR
        self._phi = (math.exp(-math.log(2) / regime.reversion_half_life_s * GRID_S)
                     if regime.reversion_half_life_s > 0 else 1.0)
        self._jump_p = regime.jump_rate_per_h * GRID_S / 3600
        self._jump = regime.jump_bps / 10_000
        self._anchor = self._last = math.log(asset.price)
        self._start = 0  # grid index of _cur[0]
        self._cur = self._block()
        self._prev = None
        self.now = t0

    def _block(self) -> array:
        g = self._gen
        steps = self._sigma * g.standard_normal(BLOCK) + self._drift
        if self._jump_p:
            hits = g.random(BLOCK) < self._jump_p
            steps += np.where(hits, g.laplace(0.0, self._jump, BLOCK), 0.0)
        if self._phi < 1.0:  # AR(1) around the anchor; a plain loop keeps it exact
            x: cython.double = self._last - self._anchor
            a: cython.double = self._anchor
            phi: cython.double = self._phi
            e: cython.double
            i: cython.Py_ssize_t
            out = np.empty(BLOCK)
            for i, e in enumerate(steps.tolist()):
                x = phi * x + e
                out[i] = a + x
            logs = out
        else:
            logs = self._last + np.cumsum(steps)
        self._last = float(logs[-1])
        return _doubles(np.exp(logs))

    @cython.ccall
    def at(self, t: float) -> float:
        j: cython.Py_ssize_t = cython.cast(cython.Py_ssize_t, (t - self.t0) * self._inv) - self._start  # int()
        if j < BLOCK:
            if j >= 0:
                return self._cur[j]
            if self._prev is not None and j >= -BLOCK:
                return self._prev[j]
            return self._prev[0] if self._prev is not None else self._cur[0]
        while j >= BLOCK:
            self._prev, self._cur = self._cur, self._block()
            self._start += BLOCK
            j -= BLOCK
        return self._cur[j]

    @property
    def price(self) -> float:
        return self.at(self.now)


@cython.cclass
class ModelSource:
    """Drives one ``SimMarket`` from the fair value and the venue's flow profile, event by event."""

    market = cython.declare(SimMarket, visibility="public")
    p = cython.declare(object, visibility="public")
    fair = cython.declare(object, visibility="public")
    rng = cython.declare(object, visibility="public")
    arrivals = cython.declare(Arrivals, visibility="public")
    sizes = cython.declare(Sizes, visibility="public")
    tick = cython.declare(cython.double, visibility="public")
    lag = cython.declare(cython.double, visibility="public")
    noise = cython.declare(cython.double, visibility="public")
    spread_log = cython.declare(cython.double, visibility="public")
    mid = cython.declare(cython.double, visibility="public")
    sign = cython.declare(cython.long, visibility="public")
    t_quote = cython.declare(cython.double, visibility="public")
    t_churn = cython.declare(cython.double, visibility="public")
    t_trade = cython.declare(cython.double, visibility="public")
    t_refill = cython.declare(cython.double, visibility="public")
    next_t = cython.declare(cython.double, visibility="public")
    _fv = cython.declare(FairValue)  # ``fair`` when it is a FairValue (a direct call), else None
    _theta = cython.declare(cython.double)
    _theta_s = cython.declare(cython.double)
    _t_ou = cython.declare(cython.double)
    _basis = cython.declare(cython.double)
    _noise_bps = cython.declare(cython.double)
    _spread_sd = cython.declare(cython.double)
    _informed = cython.declare(cython.double)
    _persist = cython.declare(cython.double)
    _skew = cython.declare(cython.double)
    _spread_ticks = cython.declare(cython.double)
    _quote_rate = cython.declare(cython.double)
    _churn_rate = cython.declare(cython.double)
    _refill_rate = cython.declare(cython.double)
    _rand = cython.declare(object)
    _gen = cython.declare(object)
    _depth = cython.declare(object)
    # blocks of draws are array.array (Python floats and ints when indexed, C arrays when compiled)
    _z = cython.declare(cython.double[::1])
    _zi = cython.declare(cython.Py_ssize_t)
    # the current block of size updates: times (an INF sentinel last), bid side?, level, lots
    _ct = cython.declare(cython.double[::1])
    _cbid = cython.declare(cython.uchar[::1])
    _ck = cython.declare(cython.longlong[::1])
    _cq = cython.declare(cython.longlong[::1])
    _ci = cython.declare(cython.Py_ssize_t)
    _top_i = cython.declare(cython.Py_ssize_t)

    def __init__(self, market: SimMarket, profile: MarketProfile, fair: object, *, tick: float, lot: float,
                 rng: random.Random, t0: float) -> None:
        """``fair``: a ``FairValue``, or anything with its ``at(t)`` (``replay.ReplayFair``)."""
        self.market = market
        self.p = p = profile
        self.fair = fair
        self._fv = fair if isinstance(fair, FairValue) else None
        self.tick = tick
        self.rng = rng
        self.lag = p.lag_ms / 1000
        self._theta = math.log(2) / NOISE_HALF_LIFE_S
        self._theta_s = math.log(2) / SPREAD_HALF_LIFE_S
        self.noise = 0.0
        self.spread_log = 0.0
        self._t_ou = t0
        self._basis = p.basis_bps
        self._noise_bps = p.noise_bps
        self._spread_sd = p.spread_log_sd
        self._informed = p.informed_prob
        self._persist = p.sign_persistence
        self._skew = p.informed_skew
        self._rand = rng.random
        self.arrivals = Arrivals(p, rng, t0)
        self.sizes = Sizes(p, lot, rng)
        self.mid = self._fair_at(t0)
        self._spread_ticks = self.mid * p.spread_bps / 10_000 / tick  # typical spread, in ticks
        self.sign = 1
        self._quote_rate = p.quote_rate_per_s
        self._churn_rate = p.book_updates_per_s
        self._refill_rate = 1000 / p.refill_ms
        self.t_quote = t0
        self._gen = np.random.default_rng(rng.getrandbits(64))
        self._depth = np.array(market.depth_lots, dtype=float)
        self._z = array("d")  # standard normals, drawn in blocks
        self._zi = 0
        self._ct = array("d", [INF])
        self._ck = array("q")
        self._ci = 0
        self._top_i = -1
        if self._churn_rate > 0:
            self._churn_block(t0)
        self.t_churn = self._ct[0]
        self.t_trade = self.arrivals.next_after(t0) if p.trade_rate_per_s > 0 else INF
        self.t_refill = INF
        self.next_t = t0

    @cython.cfunc
    def _fair_at(self, t: float) -> float:
        if self._fv is not None:
            return self._fv.at(t)
        return self.fair.at(t)

    # --- the event loop ------------------------------------------------------------------------
    @cython.ccall
    def advance(self, t: float, hook: object = None) -> None:
        """Apply every event up to ``t``; ``hook(event_time)`` after each (fills, publishing)."""
        et: cython.double
        lim: cython.double
        tt: cython.double
        tc: cython.double
        tq: cython.double
        tr: cython.double
        n: cython.double
        churn: cython.bint
        while self.next_t <= t:
            et = self.next_t
            churn = et == self.t_churn
            if churn:
                lim = self.t_trade
                if self.t_quote < lim:
                    lim = self.t_quote
                if self.t_refill < lim:
                    lim = self.t_refill
                self._churn_run(t if t < lim else lim, hook)
            elif et == self.t_trade:
                self._trade(et)
                self.t_trade = self.arrivals.next_after(et)
            elif et == self.t_quote:
                self._requote(et, True)
                self.t_quote = et - log(1.0 - self._rand()) / self._quote_rate  # rng.expovariate, inlined
            else:
                self._requote(et, False)
                self.t_refill = INF
            tt, tc, tq, tr = self.t_trade, self.t_churn, self.t_quote, self.t_refill
            n = tt if tt < tc else tc
            if tq < n:
                n = tq
            self.next_t = tr if tr < n else n
            if hook is not None and not churn:
                hook(et)

    @property
    def next_visible_t(self) -> float:
        """When the next event that can change the top of the book (or fill a resting order) happens.

        Size updates of deeper levels change neither while the best level stands, so a listener
        need not be woken for them; they are applied with the next visible event."""
        m: SimMarket = self.market
        n: cython.double = self.t_trade
        tc: cython.double
        i: cython.Py_ssize_t
        top: cython.Py_ssize_t
        end: cython.Py_ssize_t
        if self.t_quote < n:
            n = self.t_quote
        if self.t_refill < n:
            n = self.t_refill
        if m.bid_top == NO_TOP or m.best_bid not in m.bids or m.best_ask not in m.asks:
            return self.next_t if self.next_t < n else n
        ck: cython.longlong[::1] = self._ck
        i = self._ci
        top = self._top_i
        if top < i:  # find the next size update of a best level
            top = i
            end = len(ck)
            while top < end and ck[top] != 0:
                top += 1
            self._top_i = top
        tc = self._ct[top] if top < len(self._ct) else self._ct[len(self._ct) - 2]
        return tc if tc < n else n

    # --- makers --------------------------------------------------------------------------------
    @cython.cfunc
    def _requote(self, t: float, informed: cython.bint) -> None:
        m: SimMarket = self.market
        dt: cython.double = t - self._t_ou
        d: cython.double
        i: cython.Py_ssize_t
        if dt > 0:
            self._t_ou = t
            i = self._zi
            if i + 2 > len(self._z):
                self._z = _doubles(self._gen.standard_normal(4096))
                i = 0
            z: cython.double[::1] = self._z
            self._zi = i + 2
            d = exp(-self._theta * dt)
            self.noise = self.noise * d + self._noise_bps * sqrt(1 - d * d) * z[i]
            d = exp(-self._theta_s * dt)
            self.spread_log = self.spread_log * d + self._spread_sd * sqrt(1 - d * d) * z[i + 1]
        mid: cython.double = self._fair_at(t - self.lag) * (1 + (self._basis + self.noise) / 10_000)
        self.mid = mid
        s: cython.double = self._spread_ticks * exp(self.spread_log)
        ticks: cython.long = 1 if s < 1.5 else cython.cast(cython.long, s + 0.5)  # int(), as below
        bid: cython.long = cython.cast(cython.long, floor(mid / self.tick - ticks / 2 + 0.5))
        ask: cython.long = bid + ticks
        if informed and self._informed and m.best_bid and m.best_ask:
            rng = self.rng
            # The fair value moved through a quote makers have not re-priced yet: a taker who saw it
            # first picks the stale side off (the resting orders there, ours included, fill adversely).
            if bid >= m.best_ask and rng.random() < self._informed:
                m.flow_trade(t, 1, self.sizes.draw(), limit=bid)
                self.arrivals.excite(t)
                self.sign = 1
            elif ask <= m.best_bid and rng.random() < self._informed:
                m.flow_trade(t, -1, self.sizes.draw(), limit=ask)
                self.arrivals.excite(t)
                self.sign = -1
        if bid != m.best_bid or ask != m.best_ask or bid not in m.bids or ask not in m.asks:
            m.set_quotes(bid, ask, t)

    # --- size churn: drawn in numpy blocks, applied in one tight loop between other events ------
    @cython.cfunc
    def _churn_block(self, t: float) -> None:
        g = self._gen
        n = 2048
        levels = self.market.levels
        times = t + np.cumsum(g.exponential(1 / self._churn_rate, n))
        top = g.random(n) < self.p.top_churn_share
        k = np.where(top, 0, 1 + (g.random(n) * max(1, levels - 1)).astype(np.int64))
        k = np.minimum(k, levels - 1)
        lots = np.maximum(1, (self._depth[k] * (0.55 + 0.9 * g.random(n))).astype(np.int64))
        self._ct = _doubles(np.append(times, INF))  # the sentinel ends the run; a new block replaces it
        self._cbid = array("B", (g.random(n) < 0.5).view(np.uint8).tobytes())
        self._ck = _longs(k)
        self._cq = _longs(lots)
        self._ci = 0
        self._top_i = -1

    @cython.cfunc
    @cython.boundscheck(False)  # i < n: every block has n entries (and the sentinel time)
    @cython.wraparound(False)
    def _churn_run(self, lim: float, hook: object) -> None:
        """Apply every size update up to ``lim`` (no other event of this market happens before it)."""
        m: SimMarket = self.market
        ct: cython.double[::1] = self._ct
        cb: cython.uchar[::1] = self._cbid
        ck: cython.longlong[::1] = self._ck
        cq: cython.longlong[::1] = self._cq
        i: cython.Py_ssize_t = self._ci
        n: cython.Py_ssize_t = len(ct) - 1
        bids: dict = m.bids
        asks: dict = m.asks
        gap: cython.long = m.gap
        ev: cython.long = 0
        k: cython.long
        p: cython.long
        tc: cython.double = ct[i]
        while tc <= lim:
            k = ck[i]
            if cb[i]:
                p = m.best_bid if k == 0 or m.bid_top == NO_TOP else m.bid_top - gap * (k - 1)
                if p:
                    if m.own_bids and p in m.own_bids:
                        m.update_level(-1, p, cq[i])
                    else:
                        bids[p] = cq[i]
                        ev += 1
            else:
                p = m.best_ask if k == 0 or m.ask_top == NO_TOP else m.ask_top + gap * (k - 1)
                if p:
                    if m.own_asks and p in m.own_asks:
                        m.update_level(1, p, cq[i])
                    else:
                        asks[p] = cq[i]
                        ev += 1
            if hook is not None and (k == 0 or bids.get(m.best_bid) is None or asks.get(m.best_ask) is None):
                m.events += ev  # a deeper level's size is seen by no one while the best levels stand
                ev = 0
                hook(tc)
            i += 1
            if i == n:
                m.events += ev
                ev = 0
                self._churn_block(tc)
                ct, cb, ck, cq = self._ct, self._cbid, self._ck, self._cq
                i = 0
                n = len(ct) - 1
            tc = ct[i]
        m.events += ev
        self._ci = i
        self.t_churn = tc

    # --- takers --------------------------------------------------------------------------------
    @cython.cfunc
    def _trade(self, t: float) -> None:
        rand = self._rand
        m: SimMarket = self.market
        half: cython.double
        lean: cython.double
        if not (self._persist and rand() < self._persist):
            half = (m.best_ask - m.best_bid) * self.tick / 2 or self.tick
            lean = self._skew * tanh((self._fair_at(t) - self.mid) / half)
            self.sign = 1 if rand() < 0.5 + lean else -1
        bid: cython.long = m.best_bid
        ask: cython.long = m.best_ask
        m.flow_trade(t, self.sign, self.sizes.draw())
        if (m.best_bid != bid or m.best_ask != ask) and self.t_refill == INF:
            self.t_refill = t + -log(1.0 - rand()) / self._refill_rate  # rng.expovariate, inlined
            if self.t_refill < self.next_t:
                self.next_t = self.t_refill


# sha256 of this file and _hotpath.pxd when compiled (build_core.py passes it in; declared in _hotpath.pxd),
# "" when it runs as Python: engine.py uses the compiled module only when built from the current source
SOURCE_SHA: str = PERPFLOW_CORE_SHA.decode() if cython.compiled else ""  # noqa: F821
