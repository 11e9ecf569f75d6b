"""The protocol fakes for offline work: any set of venues, on one simulated market.

Every fake shares one ``SimWorld`` (one fair value per asset; each venue's book around it with its
own basis, noise and lag), so a hedge between two fakes sees correlated but imperfect prices, as it
would live. ``env()`` and ``settings()`` give the ``PERPFLOW_*`` values that point perpflow's live
adapters at the fakes, with deterministic demo accounts (throwaway keys that only these fakes
know). Which venues have a fake, and how each is built, comes from the venue registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.clock import RealClock
from core.errors import ConfigError
from core.settings import Settings as CoreSettings
from exchanges import registry
from exchanges.connect import SIM_WARMUP_S
from exchanges.settings import Settings
from exchanges.sim.world import SimWorld
from exchanges.spec import DemoFake


def fake_names() -> tuple[str, ...]:
    """Every venue with a protocol fake."""
    return registry.names(fake=True)


class FakeVenues:
    """Fakes of ``venues`` (default: every venue with one) on loopback, backed by one shared
    ``SimWorld`` on the real clock.

    ``open_registration``: fakes that can, also sign in accounts they were not told about.
    """

    def __init__(self, venues: Iterable[str] | None = None, *, symbols: Iterable[str] = ("SOL", "ETH", "BTC"),
                 seed: int = 7, warmup: float = SIM_WARMUP_S, open_registration: bool = False,
                 world: SimWorld | None = None) -> None:
        names = tuple(dict.fromkeys(v.lower() for v in (fake_names() if venues is None else venues)))
        if not names:
            raise ConfigError("venues", f"none; allowed: {', '.join(fake_names())}")
        specs = [registry.get(n, field="venues", fake=True) for n in names]
        # warmup: a market with a past, whose recent trades the pre-trade checks read
        self.world = world or SimWorld(venues=names, symbols=tuple(symbols), seed=seed, clock=RealClock(),
                                       warmup=warmup)
        self.fakes: dict[str, DemoFake] = {s.name: s.fake(self.world, open_registration)  # type: ignore[misc]
                                           for s in specs}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.fakes)

    def server(self, venue: str) -> Any:
        """The running fake of ``venue`` (its base_url, ws_url, fault knobs, ...)."""
        return self.fakes[venue].server

    def account(self, venue: str) -> Any:
        """``venue``'s demo account (the venue's own object)."""
        return self.fakes[venue].account

    async def start(self, host: str = "127.0.0.1", *, ports: dict[str, int] | None = None) -> None:
        """Listen on ``host`` (``ports``: venue -> port; default any free port)."""
        try:
            for name, fake in self.fakes.items():
                await fake.server.start(host, (ports or {}).get(name, 0))
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        for fake in reversed(self.fakes.values()):
            await fake.server.stop()
        await self.world.stop()

    async def __aenter__(self) -> FakeVenues:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def env(self) -> dict[str, str]:
        """The ``.env`` lines (environment variables) that point perpflow at the running fakes."""
        out: dict[str, str] = {}
        for name, fake in self.fakes.items():
            out |= registry.get(name).env_lines(fake.settings())
        return out

    def secrets(self) -> list[str]:
        """Every demo secret (keys, API keys), as tests grep logs and tables for them."""
        return [v for name, fake in self.fakes.items() for v in registry.get(name).secrets(fake.settings())]

    def notes(self) -> list[str]:
        return [f.note for f in self.fakes.values() if f.note]

    def settings(self, **overrides: object) -> CoreSettings:
        """``Settings`` for live mode against the running fakes (``overrides``: other fields)."""
        fields: dict[str, object] = {"venue_mode": "live"}
        fields |= {name: fake.settings() for name, fake in self.fakes.items()}
        return Settings(**(fields | overrides))  # type: ignore[arg-type]
