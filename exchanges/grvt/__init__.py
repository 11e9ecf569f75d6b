"""GRVT: the hedge bot's hedge venue (EIP-712-signed orders over grvt-pysdk).

``adapter`` (the ``Venue``), ``client`` (the SDK's REST session, adapted), ``wire`` (payloads to
domain types), ``stream`` (the WebSocket on websockets 15), ``settings``, and the protocol fake
(``fake`` with ``fake_engine``, ``fake_codec`` and ``fake_stream``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import SecretStr

from exchanges.grvt.settings import GrvtSettings
from exchanges.spec import DemoFake, VenueSpec

if TYPE_CHECKING:
    from core.clock import Clock
    from exchanges.base import Venue
    from exchanges.sim.world import SimWorld


def _adapter(settings: GrvtSettings, clock: Clock) -> Venue:
    from exchanges.grvt.adapter import GrvtVenue

    GrvtVenue.check_settings(settings)
    return GrvtVenue(settings, clock=clock)


def _check(settings: GrvtSettings) -> None:
    from exchanges.grvt.adapter import GrvtVenue

    GrvtVenue.check_settings(settings)


def _fake(world: SimWorld, open_registration: bool) -> DemoFake:
    from exchanges.grvt.fake import FakeGrvt, demo_account

    account, private_key = demo_account()
    server = FakeGrvt(world, accounts=[account])
    return DemoFake(server, lambda: GrvtSettings(
        env="testnet", endpoint=server.base_url, ws_endpoint=server.ws_url, api_key=SecretStr(account.api_key),
        private_key=SecretStr(private_key), trading_account_id=account.sub_account_id), account)


SPEC = VenueSpec(
    name="grvt", label="GRVT", settings=GrvtSettings, symbol_format="{base}_USDT_Perp",
    roles=frozenset({"hedge"}), defaults=frozenset({"hedge"}), chunked_close=True,
    adapter=_adapter, check=_check, fake=_fake, fake_port=8740,
    fake_about="its REST RPCs and legacy WebSocket, on the simulator's GRVT market",
    account_label=lambda s: s.trading_account_id)

