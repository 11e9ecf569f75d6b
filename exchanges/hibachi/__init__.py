"""Hibachi: an LLM agents' venue (signed REST and WebSockets; a thin client of our own, the
official SDK needs Python >= 3.13).

``adapter`` (the ``Venue``, over aiohttp and websockets), ``wire`` (signing, number encoding, JSON
<-> domain, both ways), ``stream`` (the market and account WebSocket feeds), ``settings``, and the
protocol fake (``fake``, on the simulator's Hibachi market). What the venue's published docs and
SDK say, and what the adapter does about it: ``README.md`` here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import SecretStr

from exchanges.hibachi.settings import HibachiSettings
from exchanges.spec import DemoFake, VenueSpec

if TYPE_CHECKING:
    from core.clock import Clock
    from exchanges.base import Venue
    from exchanges.sim.world import SimWorld


def _adapter(settings: HibachiSettings, clock: Clock) -> Venue:
    from exchanges.hibachi.adapter import HibachiVenue

    HibachiVenue.check_settings(settings)
    return HibachiVenue(settings, clock=clock)


def _check(settings: HibachiSettings) -> None:
    from exchanges.hibachi.adapter import HibachiVenue

    HibachiVenue.check_settings(settings)


def _fake(world: SimWorld, open_registration: bool) -> DemoFake:
    from exchanges.hibachi.fake import FakeHibachi, demo_account

    account = demo_account()
    server = FakeHibachi(world, accounts=(account,))
    return DemoFake(server, lambda: HibachiSettings(
        endpoint=server.base_url, data_endpoint=server.base_url, ws_endpoint=server.ws_url,
        api_key=SecretStr(account.api_key), private_key=SecretStr(account.private_key),
        account_id=str(account.account_id)), account)


SPEC = VenueSpec(
    name="hibachi", label="Hibachi", settings=HibachiSettings, symbol_format="{base}/USDT-P",
    roles=frozenset({"agent"}), defaults=frozenset({"agent"}), adapter=_adapter, check=_check, fake=_fake,
    fake_port=8795, fake_about="its REST API and WebSockets, on the simulator's Hibachi market",
    account_label=lambda s: s.account_id)
