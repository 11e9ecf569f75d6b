"""The seeded market model: one fair value per asset, and the order flow of each venue's book.

Time is event-driven: each venue's book moves only when something happens to it - a maker
re-pricing to the fair value, a size update, a taker's print - and the engine jumps from one
event to the next instead of stepping through quiet time.

- ``FairValue``: the asset's true price on a fine grid (``GRID_S``), drawn in blocks with numpy
  (a random walk at the asset's volatility, shaped by the world's ``Regime``: drift, mean
  reversion, jumps). A venue reads it at any instant, or ``lag`` seconds ago (lead/lag).
- ``ModelSource``: one venue's book. Makers re-price at ``quote_rate_per_s`` (and soon after a
  taker empties the best level) to the lagged fair value with the venue's basis and
  mean-reverting noise; the spread is a whole number of ticks (tick-constrained books sit at one
  tick most of the time). Between re-pricings the best price holds while sizes churn. Takers
  arrive by the profile's flow model (Hawkes: bursty), keep their side with
  ``sign_persistence``, lean toward where the fair value is going, draw sizes from the size
  model (heavy-tailed), and pick off a quote the fair value has moved through before makers
  re-price it: adverse selection for resting orders comes out of the model.

``FairValue`` and ``ModelSource`` here (with ``Arrivals`` and ``Sizes`` of ``models.py``) are the
readable reference; by default their compiled twins in ``_core.pyx`` run (``engine.py``), with the
same draws from the same generators in the same order and the same float operations, so a seed
gives the same event sequence either way (``tests/test_sim_core.py``). A change here is made there too.
"""

from __future__ import annotations

import hashlib
import math
import random
from math import exp, floor, log, sqrt, tanh

import numpy as np

from exchanges.sim.market import SimMarket
from exchanges.sim.models import Arrivals, Sizes
from exchanges.sim.profiles import AssetProfile, MarketProfile, Regime

SECONDS_PER_YEAR = 365 * 24 * 3600
GRID_S = 0.05  # resolution of the fair value path
BLOCK = 1 << 15  # grid points drawn at once (~27 simulated minutes)
NOISE_HALF_LIFE_S = 5.0
SPREAD_HALF_LIFE_S = 20.0
INF = math.inf


def seed_int(*parts: object) -> int:
    """A stable 64-bit seed from named parts (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "big")


class FairValue:
    """The true price of an asset as a function of time, from ``t0`` on."""

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
        self._cur: list[float] = self._block()
        self._prev: list[float] | None = None
        self.now = t0

    def _block(self) -> list[float]:
        g = self._gen
        steps = self._sigma * g.standard_normal(BLOCK) + self._drift
        if self._jump_p:
            hits = g.random(BLOCK) < self._jump_p
            steps += np.where(hits, g.laplace(0.0, self._jump, BLOCK), 0.0)
        if self._phi < 1.0:  # AR(1) around the anchor; a plain loop keeps it exact
            x, a, phi = self._last - self._anchor, self._anchor, self._phi
            out = np.empty(BLOCK)
            for i, e in enumerate(steps.tolist()):
                x = phi * x + e
                out[i] = a + x
            logs = out
        else:
            logs = self._last + np.cumsum(steps)
        self._last = float(logs[-1])
        return np.exp(logs).tolist()

    def at(self, t: float) -> float:
        j = int((t - self.t0) * self._inv) - self._start
        if j < BLOCK:
            if j >= 0:
                return self._cur[j]
            if self._prev is not None and j >= -BLOCK:
                return self._prev[j]
            return (self._prev or self._cur)[0]
        while j >= BLOCK:
            self._prev, self._cur = self._cur, self._block()
            self._start += BLOCK
            j -= BLOCK
        return self._cur[j]

    @property
    def price(self) -> float:
        return self.at(self.now)


class ModelSource:
    """Drives one ``SimMarket`` from the fair value and the venue's flow profile, event by event."""

    def __init__(self, market: SimMarket, profile: MarketProfile, fair: FairValue, *, tick: float, lot: float,
                 rng: random.Random, t0: float) -> None:
        self.market = market
        self.p = p = profile
        self.fair = fair
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
        self.mid = fair.at(t0)
        self._spread_ticks = self.mid * p.spread_bps / 10_000 / tick  # typical spread, in ticks
        self.sign = 1
        self._quote_rate = p.quote_rate_per_s
        self._churn_rate = p.book_updates_per_s
        self.t_quote = t0
        self._gen = np.random.default_rng(rng.getrandbits(64))
        self._depth = np.array(market.depth_lots, dtype=float)
        self._z: list[float] = []  # standard normals, drawn in blocks
        self._zi = 0
        self._ct: list[float] = [INF]
        self._ck: list[int] = []
        self._ci = 0
        self._top_i = -1
        if self._churn_rate > 0:
            self._churn_block(t0)
        self.t_churn = self._ct[0]
        self.t_trade = self.arrivals.next_after(t0) if p.trade_rate_per_s > 0 else INF
        self.t_refill = INF
        self.next_t = t0

    # --- the event loop ------------------------------------------------------------------------
    def advance(self, t: float, hook: object = None) -> None:
        """Apply every event up to ``t``; ``hook(event_time)`` after each (fills, publishing)."""
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
                hook(et)  # type: ignore[operator]

    @property
    def next_visible_t(self) -> float:
        """When the next event that can change the top of the book (or fill a resting order) happens.

        Size updates of deeper levels change neither while the best level stands, so a listener
        need not be woken for them; they are applied with the next visible event."""
        m = self.market
        n = self.t_trade
        if self.t_quote < n:
            n = self.t_quote
        if self.t_refill < n:
            n = self.t_refill
        if m._bid_top is None or m.best_bid not in m.bids or m.best_ask not in m.asks:
            return self.next_t if self.next_t < n else n
        ck, i = self._ck, self._ci
        top = self._top_i
        if top < i:  # find the next size update of a best level
            top = i
            end = len(ck)
            while top < end and ck[top] != 0:
                top += 1
            self._top_i = top
        tc = self._ct[top] if top < len(self._ct) else self._ct[-2]
        return tc if tc < n else n

    # --- makers --------------------------------------------------------------------------------
    def _requote(self, t: float, informed: bool) -> None:
        m = self.market
        dt = t - self._t_ou
        if dt > 0:
            self._t_ou = t
            i = self._zi
            z = self._z
            if i + 2 > len(z):
                self._z = z = self._gen.standard_normal(4096).tolist()
                i = 0
            self._zi = i + 2
            d = exp(-self._theta * dt)
            self.noise = self.noise * d + self._noise_bps * sqrt(1 - d * d) * z[i]
            d = exp(-self._theta_s * dt)
            self.spread_log = self.spread_log * d + self._spread_sd * sqrt(1 - d * d) * z[i + 1]
        mid = self.fair.at(t - self.lag) * (1 + (self._basis + self.noise) / 10_000)
        self.mid = mid
        s = self._spread_ticks * exp(self.spread_log)
        s = 1 if s < 1.5 else int(s + 0.5)
        bid = floor(mid / self.tick - s / 2 + 0.5)
        ask = bid + s
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
    def _churn_block(self, t: float) -> None:
        g = self._gen
        n = 2048
        levels = self.market.levels
        times = t + np.cumsum(g.exponential(1 / self._churn_rate, n))
        top = g.random(n) < self.p.top_churn_share
        k = np.where(top, 0, 1 + (g.random(n) * max(1, levels - 1)).astype(np.int64))
        k = np.minimum(k, levels - 1)
        lots = np.maximum(1, (self._depth[k] * (0.55 + 0.9 * g.random(n))).astype(np.int64))
        self._ct = [*times.tolist(), INF]  # the sentinel ends the run; a new block replaces it
        self._cbid = (g.random(n) < 0.5).tolist()
        self._ck = k.tolist()
        self._cq = lots.tolist()
        self._ci = 0
        self._top_i = -1

    def _churn_run(self, lim: float, hook: object) -> None:
        """Apply every size update up to ``lim`` (no other event of this market happens before it)."""
        m = self.market
        ct, cb, ck, cq = self._ct, self._cbid, self._ck, self._cq
        i = self._ci
        n = len(ct) - 1
        bids, asks, gap = m.bids, m.asks, m.gap
        ev = 0
        tc = ct[i]
        while tc <= lim:
            k = ck[i]
            if cb[i]:
                p = m.best_bid if k == 0 or m._bid_top is None else m._bid_top - gap * (k - 1)
                if p:
                    if m.own_bids and p in m.own_bids:
                        m.update_level(-1, p, cq[i])
                    else:
                        bids[p] = cq[i]
                        ev += 1
            else:
                p = m.best_ask if k == 0 or m._ask_top is None else m._ask_top + gap * (k - 1)
                if p:
                    if m.own_asks and p in m.own_asks:
                        m.update_level(1, p, cq[i])
                    else:
                        asks[p] = cq[i]
                        ev += 1
            if hook is not None and (k == 0 or bids.get(m.best_bid) is None or asks.get(m.best_ask) is None):
                m.events += ev  # a deeper level's size is seen by no one while the best levels stand
                ev = 0
                hook(tc)  # type: ignore[operator]
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
    def _trade(self, t: float) -> None:
        rand = self._rand
        m = self.market
        if not (self._persist and rand() < self._persist):
            half = (m.best_ask - m.best_bid) * self.tick / 2 or self.tick
            lean = self._skew * tanh((self.fair.at(t) - self.mid) / half)
            self.sign = 1 if rand() < 0.5 + lean else -1
        bid, ask = m.best_bid, m.best_ask
        m.flow_trade(t, self.sign, self.sizes.draw())
        if (m.best_bid != bid or m.best_ask != ask) and self.t_refill == INF:
            self.t_refill = t + self.rng.expovariate(1000 / self.p.refill_ms)
            if self.t_refill < self.next_t:
                self.next_t = self.t_refill


class StaticSource:
    """A market that holds still: its book changes only when a scenario or test changes it."""

    next_t = INF
    next_visible_t = INF

    def advance(self, t: float, hook: object = None) -> None:
        return None
