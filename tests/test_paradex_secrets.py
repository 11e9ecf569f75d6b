"""The L2 key and the JWT never reach a log line, an error or a repr — with every logger at DEBUG,
over a full session (auth, orders, a stream that reconnects) and when authentication fails."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal

import pytest
from pydantic import SecretStr

from core.errors import ConfigError, VenueError
from core.reasons import Reason
from core.types import Side
from exchanges.credentials import SecretRedactor, resolve_secret
from tests.logkit import LogCapture, everything_logged
from tests.paradex_kit import KEY, resting_price, session, until

LOUD = ("websockets", "websockets.client", "httpx", "httpcore", "paradex_py", "aiohttp", "asyncio", "perpflow")


@pytest.fixture
def all_logs() -> Iterator[LogCapture]:
    with everything_logged(LOUD) as capture:
        yield capture


def key_spellings(key: int) -> list[str]:
    return [hex(key), hex(key)[2:], f"{key:064x}", str(key), hex(key)[2:].upper()]


def assert_clean(text: str, tokens: list[str]) -> None:
    for secret in key_spellings(KEY):
        assert secret not in text, "the L2 private key leaked"
    for token in tokens:
        assert token not in text, "a JWT leaked"
        assert token.rsplit(".", 1)[-1] not in text, "a JWT's signature part leaked"


async def test_a_full_session_logs_no_key_and_no_jwt(all_logs: LogCapture) -> None:
    errors: list[str] = []
    async with session() as (fake, venue):
        price = await resting_price(venue, Side.BUY)
        fills = venue.stream_fills()
        task = asyncio.create_task(anext(fills))
        await until(lambda: "fills.ALL" in fake.subscriptions())
        await venue.place_limit("SOL", Side.BUY, price, Decimal("1"), client_id="s-1", post_only=True)
        await venue.place_market("SOL", Side.BUY, Decimal("0.1"), client_id="s-2", max_slippage_bps=Decimal(20))
        await asyncio.wait_for(task, 5)
        await fake.drop_ws()  # reconnect: a new handshake and auth frame
        await venue.place_market("SOL", Side.SELL, Decimal("0.1"), client_id="s-3", max_slippage_bps=Decimal(20))
        await asyncio.wait_for(anext(fills), 5)
        await venue.reauth()  # a second JWT
        fake.faults.server_error(route="POST /v1/orders")
        fake.faults.server_error(count=None, route="GET /v1/orders/by_client_id")
        try:
            await venue.place_limit("SOL", Side.BUY, price, Decimal("1"), client_id="s-4", post_only=True)
        except VenueError as exc:
            errors += [str(exc), repr(exc)]
        await venue.cancel_all()
        await fills.aclose()  # type: ignore[attr-defined]
        tokens = list(fake.engine.issued)
        reprs = [repr(venue), str(venue.settings), repr(venue.settings)]
    assert len(tokens) >= 2 and errors
    # the websockets handshake and auth frame were logged, and redacted: this test can see a leak
    assert "Authorization: Bearer [REDACTED]" in all_logs.text
    assert_clean(all_logs.text + "\n".join(errors + reprs), tokens)


async def test_a_refused_login_leaks_nothing(all_logs: LogCapture) -> None:
    async with session(start=False) as (fake, venue):
        fake.register_account("0x5a1c0d3e9b2f4a7c", 0x2BAD)  # the venue knows another key for the account
        with pytest.raises(VenueError) as err:
            await venue.start()
        assert err.value.reason is Reason.AUTH and "POST /auth" in err.value.detail
        text = "\n".join([str(err.value), repr(err.value), repr(venue), all_logs.text])
        assert_clean(text, fake.engine.issued)
        assert fake.engine.issued == []


async def test_a_malformed_key_is_a_config_error_that_does_not_echo_it() -> None:
    bad = "0xZZ" + hex(KEY)[4:]
    async with session(start=False, key=bad) as (_fake, venue):
        with pytest.raises(ConfigError) as err:
            await venue.start()
        assert err.value.field == "paradex.l2_private_key"
        assert bad not in str(err.value) and hex(KEY)[4:] not in str(err.value)


async def test_plain_settings_values_are_used_as_they_are() -> None:
    assert await resolve_secret(None, "f") is None
    assert (await resolve_secret(SecretStr("0xabc"), "f")).get_secret_value() == "0xabc"  # type: ignore[union-attr]
    with pytest.raises(ConfigError) as err:
        await resolve_secret(SecretStr("prefect-secret:  "), "paradex.l2_private_key")
    assert err.value.field == "paradex.l2_private_key"


def test_the_redactor_removes_keys_jwts_and_bearer_values() -> None:
    r = SecretRedactor()
    r.add(KEY)
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIweDEifQ.c2lnbmF0dXJlLXBhcnQ"
    elided = '> TEXT \'{"id": 1, "method": "auth", "params": {"bearer": "eyJhbGciOi...mF0dXJlLXBhcnQ"}}\''
    for line in (f"key={KEY}", f"key={hex(KEY)}", f"> Authorization: Bearer {jwt}", f"token {jwt} end", elided):
        out = r.redact(line)
        assert str(KEY) not in out and hex(KEY)[2:] not in out and "c2lnbmF0dXJlLXBhcnQ" not in out
        assert "[REDACTED]" in out
    assert r.redact("nothing secret here") == "nothing secret here"
