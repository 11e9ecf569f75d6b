"""Open the venues a bot trades on: the simulator by default, real adapters with --venue-mode live.

Live adapters come from the venue registry (``exchanges.registry``). Their factories import the
adapter (and its SDK and crypto) only when called, so a simulator run never pays for them; each
venue's settings are its section of ``exchanges.settings.Settings`` (``.env`` /
``PERPFLOW_<VENUE>__*``; endpoints are overridable, which is how a run reaches the protocol fakes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from core.clock import Clock, RealClock, VirtualClock
from core.errors import ConfigError
from core.settings import Settings
from exchanges import registry
from exchanges.base import Venue
from exchanges.fees import FeeRates
from exchanges.settings import venue_settings
from exchanges.sim.replay import load_replays
from exchanges.sim.world import SimWorld

SIM_WARMUP_S = 900.0
REPLAY_LEAD_S = 60.0  # a bot joins a replayed market this far into the file (never past a quarter of it)


@dataclass
class VenueSession:
    venues: dict[str, Venue]
    clock: Clock
    world: SimWorld | None = None
    _closers: list[Venue] = field(default_factory=list)

    def venue(self, name: str) -> Venue:
        return self.venues[name]

    @property
    def data_end(self) -> Callable[[], Awaitable[str]] | None:
        """When the session's market data can run out (replayed files): a coroutine function that
        returns, with a message, the moment it has; None for model and live markets."""
        world = self.world
        if world is None or not world.replays:
            return None

        async def wait() -> str:
            await asyncio.sleep(max(0.0, world.replay_end - self.clock.now()) + 1e-6)
            world.sync()
            files = ", ".join(f"{v}={rp.path.name}" for v, rp in world.replays.items())
            return (f"replayed market ended ({files}) at "
                    f"{datetime.fromtimestamp(world.replay_end, UTC).isoformat(timespec='seconds')}")
        return wait

    async def close(self) -> None:
        for v in self._closers:
            await v.close()
        if self.world is not None:
            await self.world.stop()


def open_sim(names: tuple[str, ...], symbols: tuple[str, ...], *, seed: int, clock: str = "virtual",
             warmup: float = SIM_WARMUP_S, start: float | None = None,
             fees: Mapping[str, FeeRates] | None = None,
             replay: Mapping[str, Path] | None = None, regime: str = "base") -> VenueSession:
    """Simulated venues sharing one seeded market (virtual clock: accelerated; real: paper).

    Virtual time starts now unless ``start`` says otherwise, so a simulated run's
    rows sit where an analyst expects them; the seed alone fixes the market's path. ``fees``:
    the accounts' maker/taker rates per venue (default: each venue profile's).
    ``replay`` (venue -> recorded file) drives those venues from the files: each is validated
    whole before anything trades, time starts at the files' start, and the bot arrives
    ``REPLAY_LEAD_S`` into them (so it sees their recent prints, as on a live venue).
    """
    overrides = {v: (str(r.maker), str(r.taker)) for v, r in (fees or {}).items()}
    replays = load_replays(dict(replay), symbols) if replay else {}
    if replays:
        if clock != "virtual":
            raise ConfigError("sim_clock", "a replayed market runs on the virtual clock; allowed: virtual")
        begin = max(rp.start for rp in replays.values())
        span = min(rp.end for rp in replays.values()) - begin
        clk: Clock = VirtualClock(begin + max(0.0, min(REPLAY_LEAD_S, span / 4)))
        world = SimWorld(venues=names, symbols=symbols, seed=seed, clock=clk, replays=replays, warmup=warmup,
                         fee_overrides=overrides, regime=regime)
        return VenueSession({n: world.venue(n) for n in names}, clk, world)
    clk = VirtualClock(time.time() if start is None else start) if clock == "virtual" else RealClock()
    world = SimWorld(venues=names, symbols=symbols, seed=seed, clock=clk, warmup=warmup, fee_overrides=overrides,
                     regime=regime)
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


def sim_fees(names: tuple[str, ...], settings: Settings | None,
             given: Mapping[str, FeeRates] | None = None) -> dict[str, FeeRates]:
    """The fee rates a simulated run charges each venue's account: ``given`` (a bot parameter),
    else the venue's ``fees`` setting, else (absent here) the venue profile's."""
    out = dict(given or {})
    for n in names:
        if n not in out and n in registry.names():
            rates = getattr(venue_settings(settings, n), "fee_rates", lambda: None)()
            if rates is not None:
                out[n] = rates
    return out


def open_venues(mode: str, names: tuple[str, ...], symbols: tuple[str, ...], *, seed: int,
                settings: Settings | None = None, sim_clock: str = "virtual",
                fees: Mapping[str, FeeRates] | None = None,
                replay: Mapping[str, Path] | None = None, regime: str = "base") -> VenueSession:
    """The run's venues. ``fees`` (simulator only): per-venue account rates; live adapters read
    the account's real rates from the venue. ``replay``: recorded files driving simulated venues."""
    if mode == "sim":
        return open_sim(names, symbols, seed=seed, clock=sim_clock, fees=sim_fees(names, settings, fees),
                        replay=replay, regime=regime)
    if fees:
        raise ConfigError("fees", "a live run trades at the account's own rates, read from the venue; "
                                  "fee rates are for the simulator")
    if replay:
        raise ConfigError("replay", "recorded markets replace simulated venues only; use venue_mode sim")
    if mode == "live":
        return open_live(names, settings)
    raise ConfigError("venue_mode", f"{mode!r}; allowed: sim, live")
