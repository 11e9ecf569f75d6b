"""Extended (X10): an LLM agents' venue, over the official SDK (x10-python-trading-starknet).

``adapter`` (the ``Venue``: the SDK's REST modules and Stark-signed orders with an explicit expiry and
taker-fee cap), ``wire`` (client ids, expiry, the SDK's models <-> domain), ``stream`` (the SDK's
stream client on websockets 15), ``settings``, and the protocol fake (``fake``, on the simulator's
Extended market). What the SDK and Extended's docs say, and what the adapter does about it:
``README.md`` here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import SecretStr

from exchanges.extended.settings import ExtendedSettings
from exchanges.spec import DemoFake, VenueSpec

if TYPE_CHECKING:
    from core.clock import Clock
    from exchanges.base import Venue
    from exchanges.sim.world import SimWorld


def _adapter(settings: ExtendedSettings, clock: Clock) -> Venue:
    from exchanges.extended.adapter import ExtendedVenue

    ExtendedVenue.check_settings(settings)
    return ExtendedVenue(settings, clock=clock)


def _check(settings: ExtendedSettings) -> None:
    from exchanges.extended.adapter import ExtendedVenue

    ExtendedVenue.check_settings(settings)


def _fake(world: SimWorld, open_registration: bool) -> DemoFake:
    from exchanges.extended.fake import FakeExtended, demo_account

    account = demo_account()
    server = FakeExtended(world, accounts=(account,))
    return DemoFake(server, lambda: ExtendedSettings(
        endpoint=server.base_url, ws_endpoint=server.ws_url, api_key=SecretStr(account.api_key),
        stark_private_key=SecretStr(account.private_key), stark_public_key=account.public_key,
        vault_id=str(account.vault)), account)


SPEC = VenueSpec(name="extended", label="Extended", settings=ExtendedSettings, symbol_format="{base}-USD",
                 roles=frozenset({"agent"}), adapter=_adapter, check=_check, fake=_fake, fake_port=8770,
                 fake_about="its REST API and streams, on the simulator's Extended market (Stark signatures checked)",
                 account_label=lambda s: s.vault_id)
