"""Paradex: the hedge bot's primary venue (Starknet-signed orders over paradex-py).

``adapter`` (the ``Venue``), ``wire`` (REST/WS payloads to domain types), ``stream`` (the JSON-RPC
WebSocket feed), ``settings``, and the protocol fake (``fake`` serving ``fake_venue``'s engine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

from exchanges.paradex.settings import ParadexSettings
from exchanges.spec import DemoFake, VenueSpec

if TYPE_CHECKING:
    from core.clock import Clock
    from exchanges.base import Venue
    from exchanges.sim.world import SimWorld


def _adapter(settings: ParadexSettings, clock: Clock) -> Venue:
    from exchanges.paradex.adapter import ParadexVenue

    ParadexVenue.check_settings(settings)
    return ParadexVenue(settings, clock=clock)


def _check(settings: ParadexSettings) -> None:
    from exchanges.paradex.adapter import ParadexVenue

    ParadexVenue.check_settings(settings)


def _fake(world: SimWorld, open_registration: bool) -> DemoFake:
    from exchanges.paradex.fake import FakeParadex, demo_account

    account = demo_account()
    server = FakeParadex(world, open_registration=open_registration,
                         accounts={account.address: account.public_key})
    return DemoFake(server, lambda: server.settings(l2_private_key=SecretStr(hex(account.private_key)),
                                                    l2_address=hex(account.address)),
                    account, "the fake Paradex also signs in any other Starknet key" if open_registration else "")


def _ws_endpoint(endpoint: str) -> str:
    """Paradex serves its WebSocket at the REST path on a ws:// URL."""
    parts = urlsplit(endpoint)
    return urlunsplit(("wss" if parts.scheme == "https" else "ws", parts.netloc, parts.path, "", ""))


SPEC = VenueSpec(
    name="paradex", label="Paradex", settings=ParadexSettings, symbol_format="{base}-USD-PERP",
    roles=frozenset({"primary", "grid"}), defaults=frozenset({"primary", "grid"}),
    adapter=_adapter, check=_check, fake=_fake, fake_port=8765,
    fake_about="REST /v1 and the JSON-RPC WebSocket, on the simulator's Paradex market",
    account_label=lambda s: s.l2_address or s.l1_address, ws_endpoint=_ws_endpoint)

