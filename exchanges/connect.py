"""Open the venues a bot trades on: the simulator by default, real adapters with --venue-mode live.

Live adapters are looked up in ``LIVE_ADAPTERS``. Their factories import the adapter (and its SDK:
paradex-py, grvt-pysdk, Starknet and Ethereum crypto) only when called, so a simulator run never
pays for them; settings come from ``core.settings`` (``.env`` / ``PERPFLOW_PARADEX__*``,
``PERPFLOW_GRVT__*``; endpoints are overridable, which is how a run reaches the protocol fakes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.clock import Clock, RealClock, VirtualClock
from core.errors import ConfigError
from core.settings import Settings
from exchanges.base import Venue
from exchanges.sim.world import SimWorld

SIM_WARMUP_S = 900.0


def _paradex(settings: Settings, clock: Clock) -> Venue:
    from exchanges.paradex import ParadexVenue

    ParadexVenue.check_settings(settings.paradex)
    return ParadexVenue(settings.paradex, clock=clock)


def _grvt(settings: Settings, clock: Clock) -> Venue:
    from exchanges.grvt import GrvtVenue

    GrvtVenue.check_settings(settings.grvt)
    return GrvtVenue(settings.grvt, clock=clock)


# name -> factory(settings, clock) of a live adapter; a factory refuses missing credentials (ConfigError
# naming the field) before anything connects.
LIVE_ADAPTERS: dict[str, Callable[[Settings, Clock], Venue]] = {"paradex": _paradex, "grvt": _grvt}


@dataclass
class VenueSession:
    venues: dict[str, Venue]
    clock: Clock
    world: SimWorld | None = None
    _closers: list[Venue] = field(default_factory=list)

    def venue(self, name: str) -> Venue:
        return self.venues[name]

    async def close(self) -> None:
        for v in self._closers:
            await v.close()
        if self.world is not None:
            await self.world.stop()


def open_sim(names: tuple[str, ...], symbols: tuple[str, ...], *, seed: int, clock: str = "virtual",
             warmup: float = SIM_WARMUP_S, start: float | None = None) -> VenueSession:
    """Simulated venues sharing one seeded market (virtual clock: accelerated; real: paper).

    Virtual time starts now unless ``start`` says otherwise, so a simulated run's
    rows sit where an analyst expects them; the seed alone fixes the market's path.
    """
    clk: Clock = VirtualClock(time.time() if start is None else start) if clock == "virtual" else RealClock()
    world = SimWorld(venues=names, symbols=symbols, seed=seed, clock=clk, warmup=warmup)
    return VenueSession({n: world.venue(n) for n in names}, clk, world)


def open_live(names: tuple[str, ...], settings: Settings) -> VenueSession:
    """Real venues (not yet started: the first call connects and signs in)."""
    clock = RealClock()
    venues = {}
    for n in names:
        factory = LIVE_ADAPTERS.get(n)
        if factory is None:
            raise ConfigError("venue_mode", f"no live adapter for {n!r}; live venues: "
                                            f"{', '.join(sorted(LIVE_ADAPTERS)) or 'none installed'}")
        venues[n] = factory(settings, clock)
    return VenueSession(venues, clock, None, list(venues.values()))


def open_venues(mode: str, names: tuple[str, ...], symbols: tuple[str, ...], *, seed: int,
                settings: Settings | None = None, sim_clock: str = "virtual") -> VenueSession:
    if mode == "sim":
        return open_sim(names, symbols, seed=seed, clock=sim_clock)
    if mode == "live":
        return open_live(names, settings or Settings())
    raise ConfigError("venue_mode", f"{mode!r}; allowed: sim, live")
