"""GRVT order signatures (EIP-712, made by grvt-pysdk) and explicit order expiry."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from eth_account import Account
from pysdk.grvt_ccxt_env import GrvtEnv
from pysdk.grvt_ccxt_utils import get_grvt_order, get_order_payload

from core.errors import ConfigError
from core.types import OrderStatus
from exchanges.grvt.adapter import GrvtVenue
from exchanges.grvt.fake_codec import CHAIN_IDS, recover_signer
from exchanges.grvt.settings import GrvtSettings
from tests.grvt_kit import PRIVATE_KEY, collect, grvt_env, resting, subscribed, wait_until

INSTRUMENTS = {"ETH_USDT_Perp": {"instrument": "ETH_USDT_Perp", "instrument_hash": "0x030401", "base_decimals": 9}}


def _signed() -> dict:
    order = get_grvt_order(sub_account_id="1001", symbol="ETH_USDT_Perp", order_type="limit", side="sell",
                           amount="0.25", limit_price="3012.5", order_duration_secs=60,
                           params={"client_order_id": str(2**63 + 1), "post_only": True})
    return get_order_payload(order, private_key=PRIVATE_KEY, env=GrvtEnv.TESTNET, instruments=INSTRUMENTS)["order"]


def test_sdk_signature_recovers_to_the_signer_address() -> None:
    order = _signed()
    signer = Account.from_key(PRIVATE_KEY).address
    assert order["signature"]["signer"] == signer
    assert recover_signer(order, INSTRUMENTS, CHAIN_IDS["testnet"]) == signer


@pytest.mark.parametrize(("path", "value"), [
    (("legs", 0, "size"), "0.26"), (("legs", 0, "limit_price"), "3012.6"), (("legs", 0, "is_buying_asset"), True),
    (("post_only",), False), (("time_in_force",), "IMMEDIATE_OR_CANCEL"), (("sub_account_id",), "1002"),
])
def test_any_signed_field_changed_breaks_the_signature(path: tuple, value: object) -> None:
    order = _signed()
    target = order
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert recover_signer(order, INSTRUMENTS, CHAIN_IDS["testnet"]) != Account.from_key(PRIVATE_KEY).address


def test_another_chain_recovers_someone_else() -> None:
    assert recover_signer(_signed(), INSTRUMENTS, CHAIN_IDS["prod"]) != Account.from_key(PRIVATE_KEY).address


async def test_every_order_carries_the_configured_expiry() -> None:
    async with grvt_env(order_ttl_s=120) as (fake, venue):
        t0 = time.time()
        order = await resting(venue, "ttl-120")
        expiration = int(fake.engine.orders[order.order_id].request["signature"]["expiration"]) / 1e9
        assert t0 + 119 <= expiration <= time.time() + 121
        sent = fake.engine.orders[order.order_id].request
        assert recover_signer(sent, fake.engine.instruments, CHAIN_IDS["testnet"]) == Account.from_key(
            PRIVATE_KEY).address


async def test_an_expired_order_shows_as_expired_not_gone() -> None:
    async with grvt_env(order_ttl_s=1) as (fake, venue):
        orders = venue.stream_orders()
        seen: list = []
        task = asyncio.get_running_loop().create_task(collect(orders, seen))
        await wait_until(lambda: subscribed(fake, "v1.order"))
        order = await resting(venue, "short-lived")
        await wait_until(lambda: any(o.status is OrderStatus.EXPIRED for o in seen), within=5, what="EXPIRED")
        after = await venue.order("ETH", order_id=order.order_id)
        assert after is not None and after.status is OrderStatus.EXPIRED
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize("ttl", [0, 31 * 24 * 3600])
def test_order_ttl_outside_grvt_limits_is_refused_at_construction(ttl: float) -> None:
    with pytest.raises(ConfigError, match="order_ttl_s"):
        GrvtVenue(GrvtSettings(), order_ttl_s=ttl)


def test_price_rounding_does_not_alter_a_tick_price() -> None:
    order = _signed()
    assert Decimal(order["legs"][0]["limit_price"]) == Decimal("3012.5")
