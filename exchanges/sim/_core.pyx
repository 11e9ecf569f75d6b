# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=False
"""The simulator's hot path, compiled: ``SimMarket`` (market.py), ``FairValue`` and ``ModelSource``
(flow.py), ``Arrivals`` and ``Sizes`` (models.py), line for line the pure-Python reference with C
types where the time goes.

Same classes, same names, same behaviour: every random draw comes from the same
``random.Random`` (``random()``, and Python's own ``gauss`` and ``expovariate`` formulas written
out with the same libm calls, ``gauss_next`` kept on the generator) or the same numpy blocks, in
the same order, and every float is computed with the same operations in the same order (built
with ``-ffp-contract=off``: no fused multiply-add), so a seed gives the same event sequence as the
reference, bit for bit (``tests/test_sim_core.py`` compares them). Python ints become C ``long``
only where they are ticks, lots and counters (far below 2**63); ``//`` and ``%`` keep Python's
semantics (``cdivision=False``).

Built at install (``make install`` -> ``exchanges/sim/build_core.py``); ``exchanges/sim/engine.py``
picks it, or the pure-Python reference when it is missing or stale. Edit the reference and this
file together.
"""

from libc.math cimport cos, exp, floor, log, pow, sin, sqrt, tanh

import math
from collections import deque

import numpy as np

from core.types import OrderStatus

from exchanges.sim.models import queue_advance

cdef extern from *:
    """
    #ifndef PERPFLOW_CORE_SHA
    #define PERPFLOW_CORE_SHA "unknown"
    #endif
    """
    const char* PERPFLOW_CORE_SHA

SOURCE_SHA = PERPFLOW_CORE_SHA.decode()  # sha256 of this file when it was built (engine.py checks it)

cdef double INF = math.inf
cdef double TWOPI = 2.0 * math.pi
cdef double SECONDS_PER_YEAR = 365 * 24 * 3600
cdef double GRID_S = 0.05
cdef Py_ssize_t BLOCK = 1 << 15
cdef double NOISE_HALF_LIFE_S = 5.0
cdef double SPREAD_HALF_LIFE_S = 20.0
_FILLED = OrderStatus.FILLED
_PARTIAL = OrderStatus.PARTIALLY_FILLED


cdef inline double _gauss(object rng, object rand) except? -1.0:
    """``rng.gauss(0.0, 1.0)`` of CPython 3.11, written out (``gauss_next`` lives on ``rng``)."""
    cdef double x2pi, g2rad, z
    zo = rng.gauss_next
    rng.gauss_next = None
    if zo is None:
        x2pi = <double>rand() * TWOPI
        g2rad = sqrt(-2.0 * log(1.0 - <double>rand()))
        z = cos(x2pi) * g2rad
        rng.gauss_next = sin(x2pi) * g2rad
    else:
        z = <double>zo
    return 0.0 + z * 1.0


# ==================================================================================================
# models.py
# ==================================================================================================
cdef class Arrivals:
    """``models.Arrivals``: Poisson, or an exponential-kernel Hawkes process (Dassios & Zhao)."""

    cdef public double alpha, beta, excess, last, mu
    cdef public object rng
    cdef object _rand

    def __init__(self, m, rng, double t0):
        cdef double branching = m.hawkes_branching if m.flow_model == "hawkes" else 0.0
        self.mu = m.trade_rate_per_s * (1 - branching)
        self.beta = 1 / m.hawkes_decay_s
        self.alpha = branching * self.beta
        self.excess = 0.0
        self.last = t0
        self.rng = rng
        self._rand = rng.random

    cpdef double next_after(self, double t) except? -1.0:
        cdef double excess, s2, s, d, s1
        excess = self.excess * exp(-self.beta * (t - self.last)) if self.excess else 0.0
        s2 = -log(1.0 - <double>self._rand()) / self.mu
        s = s2
        if excess > 1e-12:
            d = 1 + self.beta * log(1.0 - <double>self._rand()) / excess
            if d > 0:
                s1 = -log(d) / self.beta
                if s1 < s2:
                    s = s1
        self.excess = excess * exp(-self.beta * s) + self.alpha
        self.last = t + s
        return t + s

    cpdef excite(self, double t):
        if self.alpha:
            self.excess = self.excess * exp(-self.beta * (t - self.last)) + self.alpha
            self.last = t


cdef class Sizes:
    """``models.Sizes``: others' market order sizes in lots."""

    cdef public double body_sd, mu, tail_alpha, tail_prob, tail_start
    cdef public long max
    cdef public object rng
    cdef object _rand

    def __init__(self, m, double lot, rng):
        self.mu = math.log(m.trade_size_median / lot)
        self.body_sd = m.trade_size_sigma
        self.max = max(1, int(m.trade_size_max / lot))
        heavy = m.size_model == "pareto_mix"
        self.tail_prob = m.size_tail_prob if heavy else 0.0
        self.tail_alpha = m.size_tail_alpha
        self.tail_start = math.exp(self.mu + 1.2816 * self.body_sd)
        self.rng = rng
        self._rand = rng.random

    cpdef long draw(self) except -1:
        cdef double x
        if self.tail_prob and <double>self._rand() < self.tail_prob:
            x = pow(1.0 - <double>self._rand(), -1 / self.tail_alpha)
            x = self.tail_start * x
        else:
            x = exp(self.mu + self.body_sd * _gauss(self.rng, self._rand))
        # int(x), clamped to [1, max], without converting a huge float to a C integer
        if x < 1:
            return 1
        if x >= <double>(self.max + 1):
            return self.max
        return <long>x


# ==================================================================================================
# market.py
# ==================================================================================================
cdef class SimMarket:
    """``market.SimMarket``: one venue's L2 book for one asset, our resting orders queued inside."""

    cdef public long levels, gap, best_bid, best_ask, events, n_prints
    cdef public bint proportional_queue
    cdef public list depth_lots, maker_fills
    cdef public double queue_real
    cdef public dict bids, asks, own_bids, own_asks
    cdef public object prints
    cdef object _rand
    cdef long bid_top, ask_top
    cdef bint has_bid_top, has_ask_top
    cdef long depth0

    def __init__(self, *, levels, gap_ticks, depth_lots, rand, queue_real=1.0, proportional_queue=False):
        self.levels = levels
        self.proportional_queue = proportional_queue
        self.gap = max(1, gap_ticks)
        self.depth_lots = list(depth_lots)
        self.depth0 = self.depth_lots[0]
        self._rand = rand
        self.queue_real = queue_real
        self.bids = {}
        self.asks = {}
        self.best_bid = 0
        self.best_ask = 0
        self.has_bid_top = False
        self.has_ask_top = False
        self.own_bids = {}
        self.own_asks = {}
        self.events = 0
        self.prints = deque(maxlen=2000)
        self.n_prints = 0
        self.maker_fills = []

    @property
    def _bid_top(self):
        return self.bid_top if self.has_bid_top else None

    @property
    def _ask_top(self):
        return self.ask_top if self.has_ask_top else None

    # --- book shape --------------------------------------------------------------------------
    cdef inline long _lots(self, long k) except -1:
        cdef long x = <long>((<long>self.depth_lots[k]) * (0.55 + 0.9 * <double>self._rand()))
        return x if x > 0 else 1

    def _draw(self, long k):
        return self._lots(k if k < self.levels else self.levels - 1)

    cpdef set_quotes(self, long bid, long ask, double t):
        if ask <= bid:
            ask = bid + 1
        if bid != self.best_bid or not self.bids:
            self._recenter(self.bids, self.own_bids, bid, self.best_bid, -1)
            self.best_bid = bid
        if ask != self.best_ask or not self.asks:
            self._recenter(self.asks, self.own_asks, ask, self.best_ask, 1)
            self.best_ask = ask
        self.cross_check(t)

    def adopt_book(self, double t):
        if self.bids:
            self.best_bid = max(self.bids)
        if self.asks:
            self.best_ask = min(self.asks)
        self.cross_check(t)

    cpdef cross_check(self, double t):
        if self.own_bids and max(self.own_bids) >= self.best_ask:
            self._trade_through(self.own_bids, -1, t)
        if self.own_asks and min(self.own_asks) <= self.best_bid:
            self._trade_through(self.own_asks, 1, t)

    cdef inline void _pull_own(self, dict own, object key):
        if own and key in own:
            for o in <list>own[key]:
                o.ahead = 0

    cdef _recenter(self, dict side, dict own, long best, long old, long direction):
        cdef long gap = self.gap, ev = 0, p, top, anchor = 0, step, shift, k0, k1, k, levels, end, x
        cdef bint has_anchor
        cdef list depth
        if side and (best - old) * direction > 0:
            if old and abs(best - old) <= 64:
                p = old
                while p != best:
                    key = p
                    if key in side:
                        del side[key]
                        ev += 1
                        self._pull_own(own, key)
                    p += direction
            else:
                for key in [q for q in side if (<long>q - best) * direction < 0]:
                    del side[key]
                    ev += 1
                    self._pull_own(own, key)
        if old and old != best and old % gap and old in side:
            key = old
            del side[key]
            ev += 1
            self._pull_own(own, key)
        if best not in side:
            x = <long>(self.depth0 * (0.55 + 0.9 * <double>self._rand()))
            side[best] = x if x > 0 else 1
            ev += 1
        if direction < 0:
            top = ((best - 1) // gap) * gap
            anchor, has_anchor = self.bid_top, self.has_bid_top
            self.bid_top, self.has_bid_top = top, True
        else:
            top = (best // gap + 1) * gap
            anchor, has_anchor = self.ask_top, self.has_ask_top
            self.ask_top, self.has_ask_top = top, True
        if not has_anchor or top != anchor:
            step = gap * direction
            levels = self.levels
            depth = self.depth_lots
            shift = (top - anchor) // step if has_anchor else levels
            if 0 < shift < levels - 1:
                k0, k1 = levels - shift, levels
            elif 0 < -shift < levels - 1:
                k0, k1 = 1, 1 - shift
            else:
                k0, k1 = 1, levels
            p = top + step * (k0 - 1)
            for k in range(k0, k1):
                if p not in side:
                    x = <long>((<long>depth[k]) * (0.55 + 0.9 * <double>self._rand()))
                    side[p] = x if x > 0 else 1
                    ev += 1
                p += step
            if len(side) > levels:
                end = top + step * (levels - 1)
                if has_anchor and 0 < (anchor - top) * direction <= 64 * gap:
                    p = end
                    while (anchor + step * levels - p) * direction > 0:
                        key = p
                        if key in side:
                            del side[key]
                            ev += 1
                        p += step
                    if len(side) > levels:
                        for key in [q for q in side if (<long>q - end) * direction >= 0]:
                            del side[key]
                            ev += 1
                else:
                    for key in [q for q in side if (<long>q - end) * direction >= 0]:
                        del side[key]
                        ev += 1
        self.events += ev

    cpdef update_level(self, long direction, long price, long lots):
        cdef dict side, own
        cdef long old
        if direction < 0:
            side, own = self.bids, self.own_bids
        else:
            side, own = self.asks, self.own_asks
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

    def refresh_level(self, long direction, bint top, double u):
        cdef long best, p, k
        cdef bint has
        if direction < 0:
            best, has, anchor = self.best_bid, self.has_bid_top, self.bid_top
        else:
            best, has, anchor = self.best_ask, self.has_ask_top, self.ask_top
        if top or not has or self.levels < 2:
            p, k = best, 0
        else:
            k = 1 + <long>(u * (self.levels - 1))
            p = anchor + direction * self.gap * (k - 1)
        if p:
            self.update_level(direction, p, self._draw(k))

    # --- trades ------------------------------------------------------------------------------
    cpdef long flow_trade(self, double t, long taker_sign, long lots, object limit=None) except -1:
        cdef dict side, own
        cdef long best, shown, left, remaining, ev, p, taken, x, others, need, lim = 0
        cdef double qr
        cdef bint has_limit = limit is not None
        if has_limit:
            lim = limit
        if taker_sign > 0:
            side, own = self.asks, self.own_asks
        else:
            side, own = self.bids, self.own_bids
        if not own:
            best = self.best_ask if taker_sign > 0 else self.best_bid
            shown = side.get(best, 0)
            if shown and (not has_limit or (best - lim) * taker_sign <= 0):
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
        for po in prices:
            p = po
            if has_limit and (p - lim) * taker_sign > 0:
                break
            shown = side.get(po, 0)
            others = self._real(shown)
            taken = 0
            orders = own.get(po)
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
                    x = min(remaining, <long>(o.size - o.filled))
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
                    side[po] = left
                elif po in side:
                    del side[po]
                self._print((t, p, taken, taker_sign))
                ev += 2
            if remaining == 0:
                break
        self._refresh_best()
        self.events += ev
        return lots - remaining

    def replay_print(self, double t, long price, long signed_lots):
        cdef long sign = 1 if signed_lots > 0 else -1
        cdef long lots = signed_lots * sign
        cdef long remaining, consumed, need, x
        self.prints.append((t, price, lots, sign))
        self.n_prints += 1
        self.events += 1
        own = self.own_asks if sign > 0 else self.own_bids
        if not own:
            return
        for p in [p for p in own if (p - price) * sign < 0]:
            for o in list(own[p]):
                if o.arrival <= t and o.size > o.filled:
                    self._fill_own(o, p, o.size - o.filled, t)
        orders = own.get(price)
        if not orders:
            return
        remaining = lots
        consumed = 0
        for o in list(orders):
            if o.arrival > t:
                continue
            need = o.ahead - consumed
            if need > 0:
                x = min(remaining, need)
                consumed += x
                remaining -= x
            x = min(remaining, <long>(o.size - o.filled))
            if x > 0:
                remaining -= x
                self._fill_own(o, price, x, t)
            if remaining == 0:
                break
        for o in orders:
            o.ahead = o.ahead - consumed if o.ahead > consumed else 0

    def take(self, long taker_sign, long max_lots, limit, double t):
        side = self.asks if taker_sign > 0 else self.bids
        prices = sorted(side, reverse=taker_sign < 0)
        cdef long remaining = max_lots, x, shown, left
        out = []
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

    cpdef long _real(self, long shown) except -1:
        cdef long x
        if self.queue_real >= 1 or shown == 0:
            return shown
        x = <long>(shown * self.queue_real)
        return x if x > 1 else 1

    cpdef long _shown(self, long real) except -1:
        return real if self.queue_real >= 1 else <long>(real / self.queue_real)

    cpdef _print(self, tuple p):
        self.prints.append(p)
        self.n_prints += 1

    cpdef _refresh_best(self):
        if self.bids and self.best_bid not in self.bids:
            self.best_bid = max(self.bids)
        if self.asks and self.best_ask not in self.asks:
            self.best_ask = min(self.asks)

    cdef _trade_through(self, dict own, long direction, double t):
        # bids (direction -1): crossed when p >= best_ask; asks: when p <= best_bid
        if direction < 0:
            crossed = [p for p in own if p >= self.best_ask]
        else:
            crossed = [p for p in own if p <= self.best_bid]
        for p in crossed:
            for o in list(own[p]):
                if o.arrival <= t and o.size > o.filled:
                    self._print((t, p, o.size - o.filled, -o.sign))
                    self._fill_own(o, p, o.size - o.filled, t)
                    self.events += 1

    # --- our resting orders ------------------------------------------------------------------
    cpdef _fill_own(self, o, price, lots, double t):
        o.filled += lots
        o.notional += price * lots
        o.updated = t
        o.status = _FILLED if o.filled >= o.size else _PARTIAL
        if o.status is _FILLED:
            self.unrest(o)
        self.maker_fills.append((o, price, lots, t))

    cpdef rest(self, o):
        assert o.price is not None
        if o.sign > 0:
            side, own = self.bids, self.own_bids
        else:
            side, own = self.asks, self.own_asks
        o.ahead = int(side.get(o.price, 0) * self.queue_real)
        own.setdefault(o.price, []).append(o)

    cpdef unrest(self, o):
        own = self.own_bids if o.sign > 0 else self.own_asks
        lst = own.get(o.price)
        if lst and o in lst:
            lst.remove(o)
            if not lst:
                del own[o.price]

    # --- what others see ---------------------------------------------------------------------
    cpdef tuple top(self):
        cdef long bid = self.best_bid, ask = self.best_ask, ob, oa
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
    def _own_lots(orders):
        return sum(o.size - o.filled for o in orders) if orders else 0

    def levels_view(self, depth):
        def merged(side, own, reverse):
            prices = sorted(side.keys() | own.keys(), reverse=reverse)[:depth]
            return [(p, side.get(p, 0) + SimMarket._own_lots(own.get(p))) for p in prices]
        return merged(self.bids, self.own_bids, True), merged(self.asks, self.own_asks, False)


# ==================================================================================================
# flow.py
# ==================================================================================================
cdef class FairValue:
    """``flow.FairValue``: the true price of an asset as a function of time, from ``t0`` on."""

    cdef public double t0, now
    cdef double _inv, _sigma, _drift, _phi, _jump_p, _jump, _anchor, _last
    cdef Py_ssize_t _start
    cdef object _gen
    cdef object _cur_arr, _prev_arr
    cdef double[::1] _cur, _prev
    cdef bint _has_prev

    def __init__(self, asset, regime, seed, double t0):
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
        self._start = 0
        self._set_cur(self._block())
        self._has_prev = False
        self.now = t0

    cdef _set_cur(self, arr):
        self._cur_arr = arr
        self._cur = arr

    def _block(self):
        cdef double x, a, phi
        cdef Py_ssize_t i
        cdef double[::1] st, out
        g = self._gen
        steps = self._sigma * g.standard_normal(BLOCK) + self._drift
        if self._jump_p:
            hits = g.random(BLOCK) < self._jump_p
            steps += np.where(hits, g.laplace(0.0, self._jump, BLOCK), 0.0)
        if self._phi < 1.0:
            x, a, phi = self._last - self._anchor, self._anchor, self._phi
            logs = np.empty(BLOCK)
            st = np.ascontiguousarray(steps, dtype=np.float64)
            out = logs
            for i in range(BLOCK):
                x = phi * x + st[i]
                out[i] = a + x
        else:
            logs = self._last + np.cumsum(steps)
        self._last = float(logs[BLOCK - 1])
        return np.ascontiguousarray(np.exp(logs), dtype=np.float64)

    cdef double c_at(self, double t) except? -1.0:
        cdef Py_ssize_t j = <Py_ssize_t>((t - self.t0) * self._inv) - self._start
        if j < BLOCK:
            if j >= 0:
                return self._cur[j]
            if self._has_prev and j >= -BLOCK:
                return self._prev[BLOCK + j]
            return self._prev[0] if self._has_prev else self._cur[0]
        while j >= BLOCK:
            self._prev_arr, self._prev, self._has_prev = self._cur_arr, self._cur, True
            self._set_cur(self._block())
            self._start += BLOCK
            j -= BLOCK
        return self._cur[j]

    def at(self, double t):
        return self.c_at(t)

    @property
    def price(self):
        return self.c_at(self.now)


cdef class ModelSource:
    """``flow.ModelSource``: drives one ``SimMarket`` from the fair value and the venue's flow
    profile, event by event."""

    cdef public SimMarket market
    cdef public object p, fair, rng
    cdef public double tick, lag, noise, spread_log, mid, t_quote, t_churn, t_trade, t_refill, next_t
    cdef public long sign
    cdef public Arrivals arrivals
    cdef public Sizes sizes
    cdef FairValue _fv
    cdef double _theta, _theta_s, _t_ou, _basis, _noise_bps, _spread_sd, _informed, _persist, _skew
    cdef double _spread_ticks, _quote_rate, _churn_rate, _refill_rate, _top_share
    cdef object _rand, _gen, _depth
    cdef double[::1] _z
    cdef Py_ssize_t _zi, _zn
    # the current churn block: times (with an INF sentinel at n), bid side?, level, lots
    cdef object _ct_arr, _cb_arr, _ck_arr, _cq_arr
    cdef double[::1] _ct
    cdef unsigned char[::1] _cb
    cdef long long[::1] _ck, _cq
    cdef Py_ssize_t _ci, _cn, _top_i

    def __init__(self, SimMarket market, profile, fair, *, double tick, double lot, rng, double t0):
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
        self._spread_ticks = self.mid * p.spread_bps / 10_000 / tick
        self.sign = 1
        self._quote_rate = p.quote_rate_per_s
        self._churn_rate = p.book_updates_per_s
        self._refill_rate = 1000 / p.refill_ms
        self._top_share = p.top_churn_share
        self.t_quote = t0
        self._gen = np.random.default_rng(rng.getrandbits(64))
        self._depth = np.array(market.depth_lots, dtype=float)
        self._z = np.empty(0)
        self._zi = self._zn = 0
        self._ct_arr = np.array([INF])
        self._ct = self._ct_arr
        self._ci = 0
        self._cn = 0
        self._top_i = -1
        if self._churn_rate > 0:
            self._churn_block(t0)
        self.t_churn = self._ct[0]
        self.t_trade = self.arrivals.next_after(t0) if p.trade_rate_per_s > 0 else INF
        self.t_refill = INF
        self.next_t = t0

    cdef inline double _fair_at(self, double t) except? -1.0:
        if self._fv is not None:
            return self._fv.c_at(t)
        return self.fair.at(t)

    # --- the event loop ------------------------------------------------------------------------
    cpdef advance(self, double t, object hook=None):
        cdef double et, lim, tt, tc, tq, tr, n
        cdef bint churn
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
                self.t_quote = et - log(1.0 - <double>self._rand()) / self._quote_rate
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
    def next_visible_t(self):
        cdef SimMarket m = self.market
        cdef double n = self.t_trade, tc
        cdef Py_ssize_t i, top, end
        if self.t_quote < n:
            n = self.t_quote
        if self.t_refill < n:
            n = self.t_refill
        if not m.has_bid_top or m.best_bid not in m.bids or m.best_ask not in m.asks:
            return self.next_t if self.next_t < n else n
        i = self._ci
        top = self._top_i
        if top < i:
            top = i
            end = self._cn  # len(ck)
            while top < end and self._ck[top] != 0:
                top += 1
            self._top_i = top
        tc = self._ct[top] if top < self._cn + 1 else self._ct[self._cn - 1]
        return tc if tc < n else n

    # --- makers --------------------------------------------------------------------------------
    cdef _requote(self, double t, bint informed):
        cdef SimMarket m = self.market
        cdef double dt = t - self._t_ou, d, mid, s
        cdef Py_ssize_t i
        cdef long si, bid, ask
        if dt > 0:
            self._t_ou = t
            i = self._zi
            if i + 2 > self._zn:
                self._z = self._gen.standard_normal(4096)
                self._zn = 4096
                i = 0
            self._zi = i + 2
            d = exp(-self._theta * dt)
            self.noise = self.noise * d + self._noise_bps * sqrt(1 - d * d) * self._z[i]
            d = exp(-self._theta_s * dt)
            self.spread_log = self.spread_log * d + self._spread_sd * sqrt(1 - d * d) * self._z[i + 1]
        mid = self._fair_at(t - self.lag) * (1 + (self._basis + self.noise) / 10_000)
        self.mid = mid
        s = self._spread_ticks * exp(self.spread_log)
        si = 1 if s < 1.5 else <long>(s + 0.5)
        bid = <long>floor(mid / self.tick - si / 2.0 + 0.5)
        ask = bid + si
        if informed and self._informed and m.best_bid and m.best_ask:
            if bid >= m.best_ask and <double>self._rand() < self._informed:
                m.flow_trade(t, 1, self.sizes.draw(), bid)
                self.arrivals.excite(t)
                self.sign = 1
            elif ask <= m.best_bid and <double>self._rand() < self._informed:
                m.flow_trade(t, -1, self.sizes.draw(), ask)
                self.arrivals.excite(t)
                self.sign = -1
        if bid != m.best_bid or ask != m.best_ask or bid not in m.bids or ask not in m.asks:
            m.set_quotes(bid, ask, t)

    # --- size churn: drawn in numpy blocks, applied in one tight loop between other events ------
    cdef _churn_block(self, double t):
        g = self._gen
        n = 2048
        levels = self.market.levels
        times = t + np.cumsum(g.exponential(1 / self._churn_rate, n))
        top = g.random(n) < self._top_share
        k = np.where(top, 0, 1 + (g.random(n) * max(1, levels - 1)).astype(np.int64))
        k = np.minimum(k, levels - 1)
        lots = np.maximum(1, (self._depth[k] * (0.55 + 0.9 * g.random(n))).astype(np.int64))
        self._ct_arr = np.append(times, INF)
        self._ct = self._ct_arr
        self._cb_arr = (g.random(n) < 0.5).view(np.uint8)
        self._cb = self._cb_arr
        self._ck_arr = np.ascontiguousarray(k, dtype=np.int64)
        self._ck = self._ck_arr
        self._cq_arr = np.ascontiguousarray(lots, dtype=np.int64)
        self._cq = self._cq_arr
        self._cn = n
        self._ci = 0
        self._top_i = -1

    cdef _churn_run(self, double lim, object hook):
        cdef SimMarket m = self.market
        cdef dict bids = m.bids, asks = m.asks
        cdef long gap = m.gap, ev = 0, p, k
        cdef Py_ssize_t i = self._ci, n = self._cn
        cdef double tc = self._ct[i]
        cdef bint has_hook = hook is not None
        while tc <= lim:
            k = self._ck[i]
            if self._cb[i]:
                p = m.best_bid if k == 0 or not m.has_bid_top else m.bid_top - gap * (k - 1)
                if p:
                    if m.own_bids and p in m.own_bids:
                        m.update_level(-1, p, self._cq[i])
                    else:
                        bids[p] = self._cq[i]
                        ev += 1
            else:
                p = m.best_ask if k == 0 or not m.has_ask_top else m.ask_top + gap * (k - 1)
                if p:
                    if m.own_asks and p in m.own_asks:
                        m.update_level(1, p, self._cq[i])
                    else:
                        asks[p] = self._cq[i]
                        ev += 1
            if has_hook and (k == 0 or m.best_bid not in bids or m.best_ask not in asks):
                m.events += ev
                ev = 0
                hook(tc)
            i += 1
            if i == n:
                m.events += ev
                ev = 0
                self._churn_block(tc)
                i = 0
                n = self._cn
            tc = self._ct[i]
        m.events += ev
        self._ci = i
        self.t_churn = tc

    # --- takers --------------------------------------------------------------------------------
    cdef _trade(self, double t):
        cdef SimMarket m = self.market
        cdef double half, lean
        cdef long bid, ask
        if not (self._persist and <double>self._rand() < self._persist):
            half = (m.best_ask - m.best_bid) * self.tick / 2
            if half == 0:
                half = self.tick
            lean = self._skew * tanh((self._fair_at(t) - self.mid) / half)
            self.sign = 1 if <double>self._rand() < 0.5 + lean else -1
        bid, ask = m.best_bid, m.best_ask
        m.flow_trade(t, self.sign, self.sizes.draw())
        if (m.best_bid != bid or m.best_ask != ask) and self.t_refill == INF:
            self.t_refill = t + -log(1.0 - <double>self._rand()) / self._refill_rate
            if self.t_refill < self.next_t:
                self.next_t = self.t_refill
