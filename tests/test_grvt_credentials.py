"""GRVT credentials from settings or Prefect Secret blocks (``prefect-secret:<block>``)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from core.errors import ConfigError
from exchanges.credentials import resolve_secret
from exchanges.grvt.adapter import GrvtVenue
from exchanges.grvt.settings import GrvtSettings
from tests.grvt_kit import ACCOUNT, PRIVATE_KEY, grvt_env


async def test_plain_values_pass_through_and_missing_credentials_name_the_field() -> None:
    assert (await resolve_secret(SecretStr("abc"), "f")).get_secret_value() == "abc"  # type: ignore[union-attr]
    assert await resolve_secret(None, "f") is None
    with pytest.raises(ConfigError) as info:
        await GrvtVenue(GrvtSettings(api_key=SecretStr("k" * 12), trading_account_id="1")).start()
    assert info.value.field == "grvt.private_key"


async def test_credentials_from_prefect_secret_blocks(prefect_harness: None) -> None:
    """Against the session's temporary Prefect server (tests/conftest.py)."""
    from prefect.blocks.system import Secret

    await Secret(value=ACCOUNT.api_key).save("grvt-api-key", overwrite=True)
    await Secret(value=PRIVATE_KEY).save("grvt-private-key", overwrite=True)
    with pytest.raises(ConfigError) as info:
        await resolve_secret(SecretStr("prefect-secret:no-such-block"), "grvt.api_key")
    assert info.value.field == "grvt.api_key" and "no-such-block" in str(info.value)
    async with grvt_env(start=False) as (fake, venue):
        venue.settings = GrvtSettings(endpoint=fake.base_url, api_key=SecretStr("prefect-secret:grvt-api-key"),
                                      private_key=SecretStr("prefect-secret:grvt-private-key"),
                                      trading_account_id=ACCOUNT.sub_account_id)
        await venue.start()
        assert await venue.positions() == []
        assert fake.requests["login"] == 1  # the key from the block was accepted
