"""``SimWorld``: the seeded market every simulated venue shares, and the loop that moves it.

One fair value per asset drives every venue's book (with per-venue basis, noise and lag), so a
hedge between two simulated venues sees realistic, correlated but imperfect prices. Everything
random is drawn from generators seeded by ``(seed, venue, symbol, purpose)``: the same seed and
the same client behaviour give the same run, ids included.

Time is event-driven: markets jump from one event to the next (a re-pricing, a size update, a
print), never stepping through quiet time. ``warmup`` seconds of market are simulated before the
clock's present, so recent trades exist when a bot first looks. A driver task wakes at the next
market event while anyone listens to a stream; every request also catches the world up to its
arrival time first. ``step`` is only the granularity of recordings.

The books and model sources come from ``hotpath.py``: compiled (``exchanges.sim._hotpath``, built
from that file at install) when it is built, else the same file run as Python;
``SimWorld(engine="python")`` or ``PERPFLOW_SIM_ENGINE=python`` picks pure Python (``engine.py``).
Either gives the same run for a seed.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from core.clock import Clock, VirtualClock
from core.errors import ConfigError
from exchanges.sim import engine as engines
from exchanges.sim.exchange import SimExchange
from exchanges.sim.faults import Faults
from exchanges.sim.flow import FairValue, ModelSource, seed_int
from exchanges.sim.market import SimMarket
from exchanges.sim.profiles import SimProfiles, VenueProfile, load_profiles
from exchanges.sim.replay import (
    Replay,
    ReplayFair,
    ReplaySource,
    load_replays,
    read_header,
    replay_instrument_profile,
)
from exchanges.sim.venue import SimVenue

DEFAULT_STEP = 0.1
IDLE_STEP = 5.0
CHUNK_S = 60.0  # venues advance side by side in chunks of at most this much market time


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def build_market(profile: VenueProfile, symbol: str, mid: float, rng: random.Random,
                 engine: str | None = None) -> SimMarket:
    """``engine``: "compiled" or "python" (None: the default, see ``engine.py``)."""
    market_cls = engines.classes(engine)[0]
    m = profile.market(symbol)
    tick, lot = float(m.tick), float(m.lot)
    gap = max(1, round(mid * m.level_gap_bps / 10_000 / tick))
    depth = [max(1, round(m.top_size * m.depth_growth**k / lot)) for k in range(m.levels)]
    return market_cls(levels=m.levels, gap_ticks=gap, depth_lots=depth,
                     rand=rng.random, queue_real=m.queue_real_fraction,
                     proportional_queue=m.queue_model == "proportional")


class SimWorld:
    def __init__(self, *, venues: Iterable[str] = ("paradex", "grvt"), symbols: Iterable[str] = ("SOL",),
                 seed: int = 7, clock: Clock | None = None, step: float = DEFAULT_STEP,
                 profiles: SimProfiles | None = None, faults: Mapping[str, Faults] | None = None,
                 fee_overrides: Mapping[str, tuple[str, str]] | None = None,
                 replay: Path | None = None, replays: Mapping[str, Path | Replay] | None = None,
                 warmup: float = 0.0, regime: str = "base", engine: str | None = None) -> None:
        """``replays``: venue -> recorded file (or a loaded ``Replay``) that drives that venue's book
        instead of the model; ``replay``: one file, for the venue its header names. A replayed
        world starts its virtual clock at the file's start (given a clock, it must be inside the
        file), and every other venue of the asset follows the file's mid. ``engine``: "compiled" or
        "python", the same run either way (None: compiled when built; see ``engine.py``)."""
        self.engine = engine or engines.default_engine()
        _, fair_cls, source_cls = engines.classes(self.engine)
        self.seed = seed
        self.step = step
        self.profiles = profiles or load_profiles()
        self.symbols = tuple(symbols)
        self.replays = self._load_replays(replay, replays)
        if self.replays and clock is None:
            clock = VirtualClock(start=max(rp.start for rp in self.replays.values()))
        self.clock: Clock = clock or VirtualClock()
        now = self.clock.now()
        self.t = now - warmup  # a venue has a past: trades and books before we arrive
        for rp in self.replays.values():
            if not rp.start <= now <= rp.end:
                raise ConfigError("replay", f"{rp.path} covers {_iso(rp.start)} to {_iso(rp.end)}, but the clock is at "
                                            f"{_iso(now)}; start the clock at the file's start")
            self.t = max(self.t, rp.start)
        self.replay_end = max((rp.end for rp in self.replays.values()), default=math.inf)
        self.regime = self.profiles.regime(regime)
        self.exchanges: dict[str, SimExchange] = {}
        for name in venues:
            vp = self.profiles.venue(name)
            if fee_overrides and name in fee_overrides:
                vp = vp.with_fees(*fee_overrides[name])
            for s in self.symbols:
                vp.market(s)
            if name in self.replays:
                vp = replay_instrument_profile(vp, self.replays[name])
            self.exchanges[name] = SimExchange(vp, seed, self.t, (faults or {}).get(name))
            self.exchanges[name].clock = self.clock
        unknown = set(self.replays) - set(self.exchanges)
        if unknown:
            raise ConfigError("replay", f"{', '.join(sorted(unknown))} is replayed but not in this simulation; "
                                        f"venues: {', '.join(self.exchanges)}")
        self.fair: dict[str, FairValue | ReplayFair] = {}
        for s in self.symbols:
            ref = next((v for v, rp in self.replays.items() if rp.symbol == s), None)
            if ref is None:
                self.fair[s] = fair_cls(self.profiles.asset(s), self.regime, seed_int(seed, "fair", s), self.t)
            else:
                mp = self.exchanges[ref].profile.market(s)
                self.fair[s] = ReplayFair(self.replays[ref], mp.basis_bps, mp.lag_ms)
        for name, ex in self.exchanges.items():
            for s in self.symbols:
                rng = random.Random(f"{seed}/{name}/{s}/flow")
                mp = ex.profile.market(s)
                market = build_market(ex.profile, s, self.fair[s].at(self.t), rng, self.engine)
                rp = self.replays.get(name)
                source: ModelSource | ReplaySource
                if rp is not None and rp.symbol == s:
                    source = ReplaySource(market, rp, self.t)
                else:
                    source = source_cls(market, mp, self.fair[s], tick=float(mp.tick), lot=float(mp.lot), rng=rng,
                                         t0=self.t)
                ex.add_market(s, market, source)
        self._clients: dict[str, SimVenue] = {}
        self._driver: asyncio.Handle | None = None  # the driver's next step, a timer on ``_driver_loop``
        self._driver_loop: asyncio.AbstractEventLoop | None = None
        self._driver_error: BaseException | None = None
        self._advance(self.t)
        if now > self.t:
            self.run_for(now - self.t)

    def _load_replays(self, replay: Path | None, replays: Mapping[str, Path | Replay] | None) -> dict[str, Replay]:
        files: dict[str, Path] = {}
        loaded: dict[str, Replay] = {}
        for venue, src in (replays or {}).items():
            if isinstance(src, Replay):
                loaded[venue] = src
            else:
                files[venue] = Path(src)
        if replay is not None:
            files[str(read_header(Path(replay), self.profiles)["venue"])] = Path(replay)
        loaded.update(load_replays(files, self.symbols, self.profiles))
        return loaded

    @property
    def replay_ended(self) -> bool:
        """Every replayed file has been played to its end (the books now hold their last state)."""
        return self.t >= self.replay_end

    # --- time --------------------------------------------------------------------------------
    def _advance(self, end: float) -> None:
        t = self.t
        if end <= t + CHUNK_S:  # the driver's usual step: one chunk
            for fv in self.fair.values():
                fv.now = end
            for ex in self.exchanges.values():
                ex.advance(end)
            self.t = end
            return
        while True:
            t = min(end, t + CHUNK_S)
            for fv in self.fair.values():
                fv.now = t
            for ex in self.exchanges.values():
                ex.advance(t)
            if t >= end:
                break
        self.t = end

    def sync(self) -> None:
        """Advance every market to the clock's present."""
        now = self.clock.now()
        if now > self.t:
            self._advance(now)

    def run_for(self, seconds: float) -> None:
        """Advance without a clock (benchmarks, recordings): ``seconds`` of market time."""
        self._advance(self.t + seconds)

    def next_deadline(self) -> float:
        """When the earliest pending market event must be on its way to listeners: its time plus its
        venue's feed latency. Events processed up to then still publish at event time + latency,
        exactly as if processed the instant they happened, so the driver wakes once per batch."""
        n = math.inf
        for ex in self.exchanges.values():
            d = ex.next_visible() + ex.feed_latency
            if d < n:
                n = d
        return n

    def _drive(self) -> None:
        """One step of the driver: catch up, then come back at the next deadline (a plain timer
        callback, not a task sleeping: one loop turn per wake-up instead of two, and no future)."""
        self._driver = None
        try:
            now = self.clock.now()  # sync(), inline
            if now > self.t:
                self._advance(now)
            n, listening = math.inf, False  # next_deadline, and whether anyone listens, in one pass
            for ex in self.exchanges.values():
                if ex.subs:
                    listening = True
                d = ex.next_visible() + ex.feed_latency
                if d < n:
                    n = d
            wait = min(n - self.clock.now(), IDLE_STEP) if listening else IDLE_STEP
        except Exception as exc:  # the driver stops; ``stop`` raises it, ``ensure_running`` starts anew
            self._driver_error = exc
            return
        loop = self._driver_loop
        assert loop is not None
        # call_later's own sum (loop time + delay), without its call
        self._driver = loop.call_at(loop.time() + wait, self._drive) if wait > 0 else loop.call_soon(self._drive)

    def ensure_running(self) -> None:
        """Start the driver on the current loop (idempotent; a new loop gets a new driver)."""
        loop = asyncio.get_running_loop()
        if self._driver is None or self._driver_loop is not loop:
            if self._driver is not None:
                self._driver.cancel()
            self._driver_loop = loop
            self._driver_error = None
            self._driver = loop.call_soon(self._drive)

    async def stop(self) -> None:
        if self._driver is not None:
            self._driver.cancel()
            self._driver = None
            await asyncio.sleep(0)
        error, self._driver_error = self._driver_error, None
        if error is not None:
            raise error

    # --- venues ------------------------------------------------------------------------------
    def venue(self, name: str) -> SimVenue:
        if name not in self._clients:
            if name not in self.exchanges:
                raise ConfigError("venue", f"{name!r} is not in this simulation; "
                                           f"allowed: {', '.join(self.exchanges)}")
            self._clients[name] = SimVenue(self, self.exchanges[name])
        return self._clients[name]

    @property
    def events(self) -> int:
        return sum(ex.events for ex in self.exchanges.values())

    def fair_price(self, symbol: str) -> Decimal:
        return Decimal(str(round(self.fair[symbol].price, 8)))
