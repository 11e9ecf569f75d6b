"""Hibachi's wire quirks: the signed binary order payload, ECDSA (as the SDK's eth_keys signs) and
HMAC signatures, nonces standing in for client ids, maker/taker read from the fee, the orderbook
update rules, second + nanosecond timestamps, and the error shapes."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

import pytest

from core.errors import OrderRejected, RateLimited, VenueError
from core.reasons import Reason
from core.types import Liquidity, Side
from exchanges.hibachi import wire
from exchanges.hibachi.fake import demo_account

ETH = wire.Contract(2, "ETH/USDT-P", underlying_decimals=9, settlement_decimals=6)


def test_the_order_payload_is_the_documented_big_endian_layout() -> None:
    nonce = 1_714_701_600_000_000
    payload = wire.order_payload(ETH, nonce, Side.BUY, Decimal("0.01"), Decimal("2345.01"), Decimal("0.00045"))
    price = int(Decimal("2345.01") * 2**32 / 1000)  # p * 2^32 * 10^(6 - 9), truncated
    assert payload == (nonce.to_bytes(8, "big") + (2).to_bytes(4, "big") + (10_000_000).to_bytes(8, "big")
                       + (1).to_bytes(4, "big") + price.to_bytes(8, "big") + (45_000).to_bytes(8, "big"))
    market = wire.order_payload(ETH, nonce, Side.SELL, Decimal("0.01"), None, Decimal("0.00045"))
    assert len(payload) == 40 and len(market) == 32 and market[20:24] == (0).to_bytes(4, "big")  # no price; ASK is 0
    assert wire.id_payload(578_721_673_790_138_368) == (578_721_673_790_138_368).to_bytes(8, "big")
    with pytest.raises(OrderRejected):
        wire.order_payload(ETH, 2**64, Side.BUY, Decimal(1), None, Decimal(0))  # beyond 64 bits


def test_ecdsa_signatures_match_the_sdks_eth_keys_and_verify_by_recovery() -> None:
    from eth_keys import keys

    account = demo_account("wire ecdsa")
    payload = wire.order_payload(ETH, 7, Side.BUY, Decimal("1.5"), Decimal("3000.5"), Decimal("0.0005"))
    sig = wire.Signer(account.private_key).sign(payload)
    theirs = keys.PrivateKey(bytes.fromhex(account.private_key[2:])).sign_msg_hash(hashlib.sha256(payload).digest())
    assert sig == (theirs.r.to_bytes(32, "big") + theirs.s.to_bytes(32, "big") + bytes([theirs.v])).hex()
    assert wire.verify(payload, sig, public_key=account.public_key)
    assert not wire.verify(payload[:-1] + b"\x01", sig, public_key=account.public_key)  # another fee cap
    assert not wire.verify(payload, sig, public_key=demo_account("someone else").public_key)
    assert not wire.verify(payload, "zz", public_key=account.public_key)


def test_hmac_accounts_sign_with_hmac_sha256_hex() -> None:
    account = demo_account("wire hmac", hmac_key=True)
    assert account.hmac and len(account.private_key) == 44 and account.public_key is None
    payload = wire.id_payload(42)
    sig = wire.Signer(account.private_key).sign(payload)
    assert sig == hmac.new(account.private_key.encode(), payload, hashlib.sha256).hexdigest()
    assert wire.verify(payload, sig, hmac_secret=account.private_key)
    assert not wire.verify(wire.id_payload(43), sig, hmac_secret=account.private_key)


@pytest.mark.parametrize(("key", "problem"), [
    ("0x1234", "0x followed by 64 hex digits"), ("0x" + "g" * 64, "64 hex digits"), ("0x" + "0" * 64, "zero"),
    ("short", "at least 16 characters"), ("has a space in the secret", "no spaces")])
def test_malformed_keys_are_named_without_quoting_them(key: str, problem: str) -> None:
    said = wire.check_key(key)
    assert said is not None and problem in said and key not in said


def test_nonces_stand_in_for_client_ids_stably() -> None:
    n = wire.nonce_of("agent-run-1-open-3")
    assert n == wire.nonce_of("agent-run-1-open-3") and 0 <= n < 2**63
    assert len({wire.nonce_of(f"c-{i}") for i in range(20_000)}) == 20_000


def test_maker_or_taker_is_read_from_the_fee() -> None:
    maker, taker = Decimal("0"), Decimal("0.00045")
    assert wire.liquidity(Decimal(0), Decimal(100), maker, taker) is Liquidity.MAKER
    assert wire.liquidity(Decimal("0.045"), Decimal(100), maker, taker) is Liquidity.TAKER
    assert wire.liquidity(Decimal("-0.004"), Decimal(100), Decimal("-0.00004"), Decimal("0.00031")) is Liquidity.MAKER
    assert wire.liquidity(Decimal("0.0301"), Decimal(100), Decimal("-0.00004"), Decimal("0.00031")) is Liquidity.TAKER
    assert wire.liquidity(Decimal("0.02"), Decimal(100), Decimal("0.0002"), Decimal("0.0002")) is Liquidity.TAKER
    row = {"id": 9, "side": "Sell", "bidOrderId": 1, "askOrderId": 2, "price": "100", "quantity": "2",
           "fee": "0", "symbol": "SOL/USDT-P", "timestamp": 1_752_543_391, "timestampNsPartial": 250_000_000}
    f = wire.fill(row, {"2": "my-order"}, (maker, taker))
    assert (f.order_id, f.client_id, f.side, f.liquidity, f.ts) == ("2", "my-order", Side.SELL, Liquidity.MAKER,
                                                                      1_752_543_391.25)


def test_orderbook_updates_follow_the_documented_rules() -> None:
    state: dict[str, dict[Decimal, Decimal]] = {}

    def levels(*pairs: tuple[str, str]) -> list[dict[str, str]]:
        return [{"price": p, "quantity": q} for p, q in pairs]

    wire.apply_book_update(state, {"messageType": "Snapshot",
                                   "bid": {"levels": levels(("99", "1"), ("98", "2"), ("97", "3"))},
                                   "ask": {"levels": levels(("101", "1"), ("102", "2"))}})
    wire.apply_book_update(state, {"messageType": "Update",
                                   "bid": {"startPrice": "99.5", "endPrice": "98", "levels": levels(("99.5", "4"),
                                                                                                    ("99", "0"))},
                                   "ask": None})
    assert state["bid"] == {Decimal("99.5"): Decimal(4), Decimal(98): Decimal(2)}  # 97 fell outside, 99 removed
    assert state["ask"] == {}  # a null side empties
    assert wire.book_of("SOL", state, 5, 0.0) is None  # one side empty: no book
    b = wire.book("SOL", {"bid": {"levels": levels(("98", "2"), ("99", "1"))}, "ask": None}, 10, 1.0)
    assert [lv.price for lv in b.bids] == [Decimal(99), Decimal(98)] and b.asks == ()


def test_errors_read_code_message_and_status() -> None:
    nf = wire.error(404, {"errorCode": 3, "message": "Not found: order ID 33", "status": "failed"}, "GET /trade/order")
    assert isinstance(nf, OrderRejected) and nf.reason is Reason.UNKNOWN_ORDER
    sig = wire.error(400, {"errorCode": 2, "message": "Invalid signature: Failed to verify signature"}, "POST")
    assert type(sig) is VenueError and sig.reason is Reason.AUTH
    po = wire.error(400, {"errorCode": 1, "message": "Post only order would cross the book"}, "POST")
    assert isinstance(po, OrderRejected) and po.reason is Reason.POST_ONLY_WOULD_CROSS
    rl = wire.error(429, {"name": "orders", "count": 11, "limit": 10}, "POST", retry_after=2.0)
    assert isinstance(rl, RateLimited) and rl.retry_after == 2.0
