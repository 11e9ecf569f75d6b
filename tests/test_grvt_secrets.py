"""No API key, private key or session cookie in logs, exception messages or reprs -- even at DEBUG,
even on failure paths. grvt-pysdk itself logs the cookie and websockets logs handshake headers,
so this test would fail without perpflow's redaction."""

from __future__ import annotations

import asyncio
import traceback
from decimal import Decimal

import pytest

from core.errors import ConfigError, PerpflowError
from core.types import Side
from exchanges.grvt.adapter import GrvtVenue
from tests.grvt_kit import ACCOUNT, PRIVATE_KEY, collect, grvt_env, settings, subscribed, taker, wait_until
from tests.logkit import everything_logged


def spellings(secret: str) -> set[str]:
    body = secret[2:] if secret.startswith("0x") else secret
    return {secret, body, body.lower(), body.upper()}


def texts_of(exc: BaseException) -> str:
    return str(exc) + repr(exc) + "".join(traceback.format_exception(exc))


async def test_no_secret_in_logs_errors_or_reprs_across_a_full_session() -> None:
    errors: list[BaseException] = []
    cookies: list[str] = []
    with everything_logged() as cap:
        async with grvt_env() as (fake, venue):
            fills = venue.stream_fills()
            got: list = []
            task = asyncio.get_running_loop().create_task(collect(fills, got))
            await wait_until(lambda: subscribed(fake, "v1.fill"))
            await taker(venue, "s-1")
            fake.drop_websockets()  # reconnect: a second handshake with the cookie header
            fake.faults.rate_limited, fake.faults.retry_after_s = 1, 0.05
            await taker(venue, "s-2")
            await wait_until(lambda: len(got) >= 2, within=8)
            try:  # a refused order
                await venue.place_limit("ETH", Side.BUY, Decimal("1.001"), Decimal("0.01"), client_id="s-3")
            except PerpflowError as exc:
                errors.append(exc)
            cookies = list(fake._sessions)
            reprs = [repr(venue), str(venue), repr(venue.settings), repr(await venue.client())]
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await fills.aclose()
            # failure paths: a rejected login, a key that signs for someone else
            bad_login = GrvtVenue(settings(fake.base_url, api_key=ACCOUNT.api_key + "-revoked"))
            try:
                await bad_login.start()
            except PerpflowError as exc:
                errors.append(exc)
            wrong_signer = GrvtVenue(settings(fake.base_url, private_key="0x" + "17" * 32))
            try:
                await taker(wrong_signer, "s-4")
            except PerpflowError as exc:
                errors.append(exc)
            await wrong_signer.close()
    assert cookies and len(errors) == 3
    secrets = set().union(spellings(ACCOUNT.api_key), spellings(PRIVATE_KEY), *map(spellings, cookies),
                          spellings("17" * 32))
    logged = "\n".join(cap.lines)
    assert "Cookie: gravity=***" in logged  # websockets logged the handshake: redacted, not dropped
    for text in (logged, *map(texts_of, errors), *reprs):
        leaked = [s[:6] + "..." for s in secrets if s in text]
        assert not leaked, f"secret material leaked: {leaked}"


async def test_a_malformed_private_key_is_refused_without_echoing_it() -> None:
    async with grvt_env(start=False) as (fake, venue):
        bad = "0xnot-hex-" + "9" * 40
        venue.settings = settings(fake.base_url, private_key=bad)
        with pytest.raises(ConfigError) as info:
            await venue.start()
        assert info.value.field == "grvt.private_key"
        assert bad[2:12] not in texts_of(info.value)
        assert fake.requests["login"] == 0  # refused before any request
