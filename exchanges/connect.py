"""Open the venues a bot trades on: the simulator by default, real adapters with --venue-mode live.

Live adapters come from the venue registry (``exchanges.registry``). Their factories import the
adapter (and its SDK and crypto) only when called, so a simulator run never pays for them; each
venue's settings are its section of ``exchanges.settings.Settings`` (``.env`` /
``PERPFLOW_<VENUE>__*``; endpoints are overridable, which is how a run reaches the protocol fakes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from core.clock import Clock, RealClock, VirtualClock
from core.errors import ConfigError
from core.settings import Settings
from exchanges import registry
from exchanges.base import Venue
from exchanges.settings import venue_settings
from exchanges.sim.world import SimWorld

SIM_WARMUP_S = 900.0


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


def open_live(names: tuple[str, ...], settings: Settings | None = None) -> VenueSession:
    """Real venues (not yet started: the first call connects and signs in)."""
    clock = RealClock()
    venues = {}
    for n in names:
        spec = registry.get(n) if n in registry.names() else None
        if spec is None or spec.adapter is None:
            raise ConfigError("venue_mode", f"no live adapter for {n!r}; live venues: "
                                            f"{', '.join(registry.names(live=True)) or 'none installed'}")
        venues[n] = spec.adapter(venue_settings(settings, n), clock)
    return VenueSession(venues, clock, None, list(venues.values()))


def open_venues(mode: str, names: tuple[str, ...], symbols: tuple[str, ...], *, seed: int,
                settings: Settings | None = None, sim_clock: str = "virtual") -> VenueSession:
    if mode == "sim":
        return open_sim(names, symbols, seed=seed, clock=sim_clock)
    if mode == "live":
        return open_live(names, settings)
    raise ConfigError("venue_mode", f"{mode!r}; allowed: sim, live")
