"""The protocol fakes for offline work: Paradex, GRVT or both, on one simulated market.

With both, ``FakeParadex`` and ``FakeGrvt`` share one ``SimWorld`` (one fair value per asset; each
venue's book around it with its own basis, noise and lag), so a hedge between them sees
correlated but imperfect prices, as it would live. ``env()`` and ``settings()`` give the
``PERPFLOW_*`` values that point perpflow's live adapters at the fakes, with deterministic demo
accounts (throwaway keys that only these fakes know).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import SecretStr

from core.clock import RealClock
from core.errors import ConfigError
from core.settings import GrvtSettings, ParadexSettings, Settings
from exchanges.connect import SIM_WARMUP_S
from exchanges.fakes.grvt import FakeGrvt
from exchanges.fakes.grvt import demo_account as grvt_demo_account
from exchanges.fakes.paradex import FakeParadex
from exchanges.fakes.paradex import demo_account as paradex_demo_account
from exchanges.sim.world import SimWorld

FAKES = ("paradex", "grvt")


class FakeVenues:
    """Fakes of ``venues`` on loopback, backed by one shared ``SimWorld`` on the real clock.

    ``open_registration``: the fake Paradex also signs in any other Starknet key (a new account).
    """

    def __init__(self, venues: Iterable[str] = FAKES, *, symbols: Iterable[str] = ("SOL", "ETH", "BTC"),
                 seed: int = 7, warmup: float = SIM_WARMUP_S, open_registration: bool = False,
                 world: SimWorld | None = None) -> None:
        names = tuple(venues)
        unknown = [v for v in names if v not in FAKES]
        if unknown or not names:
            raise ConfigError("venues", f"{', '.join(unknown) or 'none'}; allowed: {', '.join(FAKES)}")
        # warmup: a market with a past, whose recent trades the pre-trade checks read
        self.world = world or SimWorld(venues=names, symbols=tuple(symbols), seed=seed, clock=RealClock(),
                                       warmup=warmup)
        self.paradex: FakeParadex | None = None
        self.grvt: FakeGrvt | None = None
        self.paradex_account = paradex_demo_account()
        self.grvt_account, self.grvt_private_key = grvt_demo_account()
        if "paradex" in names:
            self.paradex = FakeParadex(self.world, open_registration=open_registration,
                                       accounts={self.paradex_account.address: self.paradex_account.public_key})
        if "grvt" in names:
            self.grvt = FakeGrvt(self.world, accounts=[self.grvt_account])

    async def start(self, host: str = "127.0.0.1", *, paradex_port: int = 0, grvt_port: int = 0) -> None:
        try:
            if self.paradex is not None:
                await self.paradex.start(host, paradex_port)
            if self.grvt is not None:
                await self.grvt.start(host, grvt_port)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if self.grvt is not None:
            await self.grvt.stop()
        if self.paradex is not None:
            await self.paradex.stop()
        await self.world.stop()

    async def __aenter__(self) -> FakeVenues:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def env(self) -> dict[str, str]:
        """The ``.env`` lines (environment variables) that point perpflow at the running fakes."""
        out: dict[str, str] = {}
        if self.paradex is not None:
            out |= {"PERPFLOW_PARADEX__ENV": "testnet",
                    "PERPFLOW_PARADEX__ENDPOINT": self.paradex.base_url,
                    "PERPFLOW_PARADEX__WS_ENDPOINT": self.paradex.ws_url,
                    "PERPFLOW_PARADEX__L2_PRIVATE_KEY": hex(self.paradex_account.private_key),
                    "PERPFLOW_PARADEX__L2_ADDRESS": hex(self.paradex_account.address)}
        if self.grvt is not None:
            out |= {"PERPFLOW_GRVT__ENV": "testnet",
                    "PERPFLOW_GRVT__ENDPOINT": self.grvt.base_url,
                    "PERPFLOW_GRVT__WS_ENDPOINT": self.grvt.ws_url,
                    "PERPFLOW_GRVT__API_KEY": self.grvt_account.api_key,
                    "PERPFLOW_GRVT__PRIVATE_KEY": self.grvt_private_key,
                    "PERPFLOW_GRVT__TRADING_ACCOUNT_ID": self.grvt_account.sub_account_id}
        return out

    def settings(self, **overrides: object) -> Settings:
        """``Settings`` for live mode against the running fakes (``overrides``: other fields)."""
        fields: dict[str, object] = {"venue_mode": "live"}
        if self.paradex is not None:
            fields["paradex"] = ParadexSettings(
                env="testnet", endpoint=self.paradex.base_url, ws_endpoint=self.paradex.ws_url,
                l2_private_key=SecretStr(hex(self.paradex_account.private_key)),
                l2_address=hex(self.paradex_account.address))
        if self.grvt is not None:
            fields["grvt"] = GrvtSettings(
                env="testnet", endpoint=self.grvt.base_url, ws_endpoint=self.grvt.ws_url,
                api_key=SecretStr(self.grvt_account.api_key), private_key=SecretStr(self.grvt_private_key),
                trading_account_id=self.grvt_account.sub_account_id)
        return Settings(**(fields | overrides))  # type: ignore[arg-type]
