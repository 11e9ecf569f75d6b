"""Backpack: the DN alternate bot's primary venue (ED25519-signed REST and WebSocket).

``adapter`` (the ``Venue``, over aiohttp and websockets), ``wire`` (signing, client ids, JSON <->
domain, both ways), ``stream`` (one WebSocket subscription), ``settings``, and the protocol fake
(``fake``, on the simulator's Backpack market). What the venue's published docs say, and what the
adapter does about it: ``README.md`` here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import SecretStr

from exchanges.backpack.settings import BackpackSettings
from exchanges.spec import DemoFake, VenueSpec

if TYPE_CHECKING:
    from core.clock import Clock
    from exchanges.base import Venue
    from exchanges.sim.world import SimWorld


def _adapter(settings: BackpackSettings, clock: Clock) -> Venue:
    from exchanges.backpack.adapter import BackpackVenue

    BackpackVenue.check_settings(settings)
    return BackpackVenue(settings, clock=clock)


def _check(settings: BackpackSettings) -> None:
    from exchanges.backpack.adapter import BackpackVenue

    BackpackVenue.check_settings(settings)


def _fake(world: SimWorld, open_registration: bool) -> DemoFake:
    from exchanges.backpack.fake import FakeBackpack, demo_account

    account = demo_account()
    server = FakeBackpack(world, api_keys=(account.api_key,))
    return DemoFake(server, lambda: BackpackSettings(endpoint=server.base_url, ws_endpoint=server.ws_url,
                                                     api_key=account.api_key, api_secret=SecretStr(account.seed)),
                    account)


SPEC = VenueSpec(
    name="backpack", label="Backpack", settings=BackpackSettings, symbol_format="{base}_USDC_PERP",
    roles=frozenset({"primary"}), adapter=_adapter, check=_check, fake=_fake, fake_port=8790,
    fake_about="its REST API and WebSocket streams, on the simulator's Backpack market",
    account_label=lambda s: s.api_key)
