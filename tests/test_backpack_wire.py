"""Backpack's wire quirks: the signing string of its docs, ED25519 signatures the fake checks,
uint32 client ids, both-sides-ascending depth."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx

from exchanges.backpack import wire
from exchanges.backpack.fake import demo_account
from tests.conformance_kit import harness


def test_the_signing_string_is_the_documented_one() -> None:
    assert wire.signing_string("orderCancel", {"symbol": "BTC_USDT", "orderId": 28}, 1614550000000) == \
        "instruction=orderCancel&orderId=28&symbol=BTC_USDT&timestamp=1614550000000&window=5000"
    assert wire.signing_string("orderExecute", {"postOnly": True, "reduceOnly": None, "clientId": 7}, 1, 60000) == \
        "instruction=orderExecute&clientId=7&postOnly=true&timestamp=1&window=60000"  # None is left out


def test_signatures_verify_with_the_public_key_only() -> None:
    account = demo_account("wire test")
    message = wire.signing_string("accountQuery", {}, 1700000000000)
    sig = wire.sign(account.seed, message)
    assert wire.verify(account.api_key, message, sig)
    assert not wire.verify(account.api_key, message.replace("1700000000000", "1700000000001"), sig)
    assert not wire.verify(demo_account("another").api_key, message, sig)


def test_client_ids_are_stable_uint32() -> None:
    n = wire.client_number("hedge-run-1-open-3")
    assert n == wire.client_number("hedge-run-1-open-3") and 0 <= n < 2**31
    assert len({wire.client_number(f"c-{i}") for i in range(10_000)}) > 9_990


def test_depth_lists_both_sides_ascending_and_is_read_best_first() -> None:
    b = wire.book("SOL", {"bids": [["99.8", "1"], ["99.9", "2"]], "asks": [["100.1", "3"], ["100.2", "4"]],
                          "timestamp": 1_700_000_000_000_000}, 10)
    assert [lv.price for lv in b.bids] == [Decimal("99.9"), Decimal("99.8")] and b.asks[0].price == Decimal("100.1")


async def test_the_fake_refuses_a_tampered_or_stale_request() -> None:
    async with harness("backpack") as h:
        venue = h.venue
        headers = venue._headers("positionQuery", {})  # type: ignore[attr-defined]
        async with httpx.AsyncClient(base_url=h.controls.base_url) as client:
            ok = await client.get("/api/v1/position", headers=headers)
            assert ok.status_code == 200
            tampered = await client.get("/api/v1/position", params={"symbol": "SOL_USDC_PERP"}, headers=headers)
            assert tampered.status_code == 401 and tampered.json()["code"] == "INVALID_SIGNATURE"
            stale = dict(headers, **{"X-Timestamp": str(int(time.time() * 1000) - 60_000)})
            assert (await client.get("/api/v1/position", headers=stale)).status_code == 401
            unsigned = await client.get("/api/v1/position")
            assert unsigned.status_code == 401 and unsigned.json()["code"] == "UNAUTHORIZED"
