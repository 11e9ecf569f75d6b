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


def _random_orders(n: int) -> list:
    """Orders of every shape the adapter sends: both sides, every time in force, post-only and
    reduce-only, sizes and prices from 1e-9 to large, client ids up to 2**64 - 1, several instruments."""
    import random

    rng = random.Random(12)
    out = []
    for _ in range(n):
        symbol = rng.choice(list(RANDOM_INSTRUMENTS))
        decimals = RANDOM_INSTRUMENTS[symbol]["base_decimals"]
        size = Decimal(rng.randint(1, 10**10)).scaleb(-rng.randint(1, decimals))  # in uint64 once scaled
        price = Decimal(rng.randint(1, 10**12)).scaleb(-rng.randint(2, 9))
        tif = rng.choice(["GOOD_TILL_TIME", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL", "ALL_OR_NONE"])
        out.append(get_grvt_order(
            sub_account_id=str(rng.randint(1, 2**64 - 1)), symbol=symbol, order_type=rng.choice(["limit", "market"]),
            side=rng.choice(["buy", "sell"]), amount=size, limit_price=price,
            order_duration_secs=rng.choice([0, 1, 60, 86400, 30 * 86400]),
            params={"client_order_id": str(rng.randint(0, 2**64 - 1)), "time_in_force": tif,
                    "post_only": rng.random() < 0.5, "reduce_only": rng.random() < 0.5}))
    return out


RANDOM_INSTRUMENTS = {"ETH_USDT_Perp": {"instrument_hash": "0x030401", "base_decimals": 9},
                      "BTC_USDT_Perp": {"instrument_hash": "0x030301", "base_decimals": 9},
                      "SOL_USDT_Perp": {"instrument_hash": "0x030501", "base_decimals": 6}}


@pytest.mark.parametrize("env", [GrvtEnv.TESTNET, GrvtEnv.PROD])
def test_the_fast_signer_makes_the_sdks_payload_and_signature_bit_for_bit(env: GrvtEnv) -> None:
    import copy

    from exchanges.grvt.signing import OrderSigner, order_digest

    signer = OrderSigner(PRIVATE_KEY, env)
    for order in _random_orders(300):
        order_digest(order, env, RANDOM_INSTRUMENTS)  # the fast path takes it (no fall-back to the SDK)
        theirs = copy.deepcopy(order)
        expected = get_order_payload(theirs, private_key=PRIVATE_KEY, env=env, instruments=RANDOM_INSTRUMENTS)
        assert signer.payload(order, RANDOM_INSTRUMENTS) == expected
        assert order.signature == theirs.signature  # the order object is stamped the same way too


def test_the_fast_signer_hands_what_it_does_not_encode_to_the_sdk() -> None:
    from exchanges.grvt.signing import OrderSigner, OutOfShape, order_digest

    signer = OrderSigner(PRIVATE_KEY, GrvtEnv.TESTNET)
    [order] = _random_orders(1)
    order.sub_account_id = str(2**64)  # beyond uint64: the SDK's encoder refuses it, and so does the fast path
    with pytest.raises(OutOfShape):
        order_digest(order, GrvtEnv.TESTNET, RANDOM_INSTRUMENTS)
    with pytest.raises(Exception, match=r"Cannot be encoded in 64 bits"):
        signer.payload(order, RANDOM_INSTRUMENTS)
    [order] = _random_orders(1)
    # decimal text with a space: eth-account's int() takes it, the fast encoder does not -> the SDK signs
    odd = {sym: {**ins, "instrument_hash": f" {int(ins['instrument_hash'], 16)}"}
           for sym, ins in RANDOM_INSTRUMENTS.items()}
    with pytest.raises(OutOfShape):
        order_digest(order, GrvtEnv.TESTNET, odd)
    assert signer.payload(order, odd) == get_order_payload(order, private_key=PRIVATE_KEY, env=GrvtEnv.TESTNET,
                                                           instruments=odd)


def test_the_fast_digest_signature_is_eth_accounts_over_many_digests() -> None:
    import random

    from exchanges.grvt.signing import OrderSigner

    signer, account, rng = OrderSigner(PRIVATE_KEY, GrvtEnv.TESTNET), Account.from_key(PRIVATE_KEY), random.Random(5)
    assert signer.address == account.address
    for _ in range(300):
        digest = rng.randbytes(32)
        theirs = account.unsafe_sign_hash(digest)
        assert signer.sign_digest(digest) == (theirs.r, theirs.s, theirs.v)
