"""An order signed by the adapter verifies against the account's public key with implementations
that share no code with paradex-py: the message hash is rebuilt from the fields the venue received
(fast-stark-crypto's Pedersen, keccak from eth-utils) and the ECDSA signature checked in pure
Python and in Rust."""

from __future__ import annotations

import random
from decimal import Decimal
from types import MethodType, SimpleNamespace

import fast_stark_crypto
from paradex_py.account.starknet import Account as StarknetAccount
from paradex_py.account.subkey_account import SubkeyAccount
from paradex_py.common.order import Order as SdkOrder
from paradex_py.common.order import OrderSide, OrderType
from starknet_py.common import int_from_bytes

from core.types import Side
from exchanges.paradex.adapter import FastSubkeyAccount
from exchanges.paradex.fake_venue import CHAIN_ID, WireOrder, parse_signature
from exchanges.paradex.signing import message_hash
from tests.paradex_kit import ADDRESS, KEY, resting_price, session
from tests.stark import py_verify, typed_message_hash


def order_hash(o: WireOrder, **override: object) -> int:
    fields = {"timestamp": o.signature_timestamp, "market": o.market, "side": "1" if o.side is Side.BUY else "2",
              "orderType": o.type, "size": int(o.size.scaleb(8)), "price": int(o.price.scaleb(8)) if o.price else 0}
    fields.update(override)
    return typed_message_hash(int_from_bytes(CHAIN_ID.encode()), int(ADDRESS, 16), "Order",
                              [(k, v) for k, v in fields.items()])  # type: ignore[misc]


async def test_order_signatures_verify_independently_and_bind_every_field() -> None:
    public_key = fast_stark_crypto.get_public_key(KEY)
    async with session() as (fake, venue):
        limit = await venue.place_limit("SOL", Side.BUY, await resting_price(venue, Side.BUY), Decimal("1.25"),
                                        client_id="sig-limit", post_only=True)
        ioc = await venue.place_market("SOL", Side.SELL, Decimal("0.1"), client_id="sig-ioc",
                                       max_slippage_bps=Decimal(20))
        for placed in (limit, ioc):
            wire = fake.engine.orders[placed.order_id]
            r, s = parse_signature(wire.signature)
            msg_hash = order_hash(wire)
            assert py_verify(public_key, msg_hash, r, s)
            assert fast_stark_crypto.verify(public_key, msg_hash, r, s)
            # the signature covers price, size, side and the timestamp: change one and it fails
            for change in ({"price": int(wire.price.scaleb(8)) + 1}, {"size": int(wire.size.scaleb(8)) * 2},  # type: ignore[union-attr]
                           {"side": "2" if wire.side is Side.BUY else "1"},
                           {"timestamp": wire.signature_timestamp + 1}):
                assert not fast_stark_crypto.verify(public_key, order_hash(wire, **change), r, s)
            assert wire.recv_window == venue.recv_window_ms  # an explicit validity window on every order


def _orders() -> list[SdkOrder]:
    """Orders of every kind the adapter signs: limit, post-only, IOC, market, reduce-only, both sides,
    prices and sizes at the edges of 8 decimals."""
    out = []
    for i, (market, side, kind, size, price) in enumerate([
            ("SOL-USD-PERP", OrderSide.Buy, OrderType.Limit, "1.25", "150.123"),
            ("ETH-USD-PERP", OrderSide.Sell, OrderType.Limit, "0.0001", "3012.45"),
            ("BTC-USD-PERP", OrderSide.Buy, OrderType.Market, "0.00001", "0"),
            ("SOL-USD-PERP", OrderSide.Sell, OrderType.Limit, "10000", "0.00000001"),
            ("ETH-USD-PERP", OrderSide.Buy, OrderType.Limit, "123.45678901", "99999.99999999")]):
        o = SdkOrder(market=market, order_type=kind, order_side=side, size=Decimal(size),
                     limit_price=Decimal(price), client_id=f"eq-{i}", instruction="IOC" if i % 2 else "POST_ONLY",
                     reduce_only=i == 3, recv_window=10_000)
        out.append(o)
    modified = SdkOrder(market="SOL-USD-PERP", order_type=OrderType.Limit, order_side=OrderSide.Buy,
                        size=Decimal("2"), limit_price=Decimal("149.5"), client_id="eq-mod", order_id="9876")
    return [*out, modified]


def test_fast_typed_data_hashes_and_signatures_are_identical_to_starknet_py() -> None:
    from paradex_py.account.utils import message_signature, typed_data_to_message_hash
    from paradex_py.message.order import build_modify_order_message, build_order_message

    address = int(ADDRESS, 16)
    chain = int_from_bytes(CHAIN_ID.encode())
    messages = [build_modify_order_message(chain, o) if o.id else build_order_message(chain, o) for o in _orders()]
    auth = {"domain": {"name": "Paradex", "chainId": hex(chain), "version": "1"}, "primaryType": "Request",
            "types": {"StarkNetDomain": [{"name": "name", "type": "felt"}, {"name": "chainId", "type": "felt"},
                                         {"name": "version", "type": "felt"}],
                      "Request": [{"name": "method", "type": "felt"}, {"name": "path", "type": "felt"},
                                  {"name": "body", "type": "felt"}, {"name": "timestamp", "type": "felt"},
                                  {"name": "expiration", "type": "felt"}]},
            "message": {"method": "POST", "path": "/v1/auth", "body": "", "timestamp": 1700000000,
                        "expiration": 1700086400}}
    for typed in [*messages, auth]:
        expected = typed_data_to_message_hash(typed, address)
        assert message_hash(typed, address) == expected, typed["primaryType"]
        assert message_signature(msg_hash=expected, priv_key=KEY) == message_signature(
            msg_hash=message_hash(typed, address), priv_key=KEY)  # type: ignore[arg-type]
    # through paradex-py's own sign_order: the adapter's account class signs exactly as the SDK's does
    sdk, fast = SubkeyAccount.__new__(SubkeyAccount), FastSubkeyAccount.__new__(FastSubkeyAccount)
    for account in (sdk, fast):
        starknet = SimpleNamespace(address=address, signer=SimpleNamespace(private_key=KEY))
        starknet.sign_message = MethodType(StarknetAccount.sign_message, starknet)
        account.starknet, account.l2_chain_id = starknet, chain
    for o in _orders():
        assert fast.sign_order(o) == sdk.sign_order(o)
    # typed data it does not handle (a non-felt member, revision 1) goes to starknet-py
    assert message_hash({**auth, "types": {**auth["types"], "Request": [{"name": "x", "type": "string"}]}},
                        address) is None
    assert message_hash({**auth, "domain": {**auth["domain"], "revision": "1"}}, address) is None


def _random_orders(rng: random.Random, n: int) -> list[SdkOrder]:
    """Every market kind, side, instruction, reduce-only, prices and sizes of up to 8 decimals,
    modifications, any signature time and validity window."""
    out = []
    for i in range(n):
        kind = rng.choice([OrderType.Limit, OrderType.Market])
        out.append(SdkOrder(
            market=rng.choice(["SOL-USD-PERP", "ETH-USD-PERP", "BTC-USD-PERP", "kBONK-USD-PERP"]), order_type=kind,
            order_side=rng.choice([OrderSide.Buy, OrderSide.Sell]),
            size=Decimal(rng.randint(1, 10**12)).scaleb(-rng.randint(0, 8)),
            limit_price=Decimal(0) if kind is OrderType.Market
            else Decimal(rng.randint(1, 10**13)).scaleb(-rng.randint(0, 8)),
            client_id=f"rnd-{i}", instruction=rng.choice(["GTC", "POST_ONLY", "IOC"]), reduce_only=rng.random() < 0.3,
            recv_window=rng.choice([None, 10, 10_000, 60_000]),
            order_id=str(rng.randint(1, 10**12)) if rng.random() < 0.2 else None,
            signature_timestamp=rng.randint(1_600_000_000_000, 1_900_000_000_000)))
    return out


def test_fast_hashes_and_signatures_equal_the_sdks_over_many_random_orders_keys_and_accounts() -> None:
    """Random orders over random keys, accounts and chains: the message hash equals starknet-py's
    (200 orders; the signature is a function of the hash and the key, the same ``message_signature``
    both ways), and paradex-py's own ``sign_order`` equals the adapter's fast account's (40 orders,
    end to end)."""
    from paradex_py.account.utils import typed_data_to_message_hash
    from paradex_py.message.order import build_modify_order_message, build_order_message

    rng = random.Random(20261203)

    def accounts(key: int, address: int, chain: int) -> tuple[SubkeyAccount, FastSubkeyAccount]:
        sdk, fast = SubkeyAccount.__new__(SubkeyAccount), FastSubkeyAccount.__new__(FastSubkeyAccount)
        for account in (sdk, fast):
            starknet = SimpleNamespace(address=address, signer=SimpleNamespace(private_key=key))
            starknet.sign_message = MethodType(StarknetAccount.sign_message, starknet)
            account.starknet, account.l2_chain_id = starknet, chain
        return sdk, fast

    felt = 2**251  # keys and addresses are felts
    pairs = [accounts(KEY, int(ADDRESS, 16), int_from_bytes(CHAIN_ID.encode()))] + [
        accounts(rng.randrange(1, felt // 16), rng.randrange(1, felt), int_from_bytes(chain.encode()))
        for chain in ("PRIVATE_SN_POTC_SEPOLIA", "PRIVATE_SN_PARACLEAR_MAINNET", "SN_SEPOLIA")]
    for i, o in enumerate(_random_orders(rng, 200)):
        _, fast = rng.choice(pairs)
        chain, address = fast.l2_chain_id, fast.starknet.address
        typed = build_modify_order_message(chain, o) if o.id else build_order_message(chain, o)
        assert message_hash(typed, address) == typed_data_to_message_hash(typed, address), (i, o)
    for i, o in enumerate(_random_orders(rng, 40)):
        sdk, fast = rng.choice(pairs)
        assert fast.sign_order(o) == sdk.sign_order(o), (i, o)
