"""Paradex credentials from a Prefect Secret block (``prefect-secret:<block-name>`` in settings),
saved to and loaded from a real Prefect API (the test harness's temporary server)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from pydantic import SecretStr

from core.errors import ConfigError
from core.types import OrderStatus, Side
from exchanges.credentials import resolve_secret
from tests.paradex_kit import KEY, resting_price, session

BLOCK = "perpflow-test-paradex-l2"


@pytest.fixture(scope="module")
def prefect_api(request: pytest.FixtureRequest) -> Iterator[None]:
    """The shared ``prefect_harness`` fixture when tests/conftest.py has one, else our own harness."""
    try:
        request.getfixturevalue("prefect_harness")
    except pytest.FixtureLookupError:
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=120):
            yield
        return
    yield


async def test_a_prefect_secret_reference_signs_in_and_trades(prefect_api: None) -> None:
    from prefect.blocks.system import Secret

    await Secret(value=hex(KEY)).asave(BLOCK, overwrite=True)
    resolved = await resolve_secret(SecretStr(f"prefect-secret:{BLOCK}"), "paradex.l2_private_key")
    assert resolved is not None and resolved.get_secret_value() == hex(KEY)

    async with session(key=f"prefect-secret:{BLOCK}") as (_fake, venue):  # the settings hold only the reference
        o = await venue.place_limit("SOL", Side.BUY, await resting_price(venue, Side.BUY), Decimal("1"),
                                    client_id="from-prefect", post_only=True)
        assert o.status is OrderStatus.OPEN


async def test_a_missing_block_names_the_block_not_the_secret(prefect_api: None) -> None:
    with pytest.raises(ConfigError) as err:
        await resolve_secret(SecretStr("prefect-secret:no-such-block"), "paradex.l2_private_key")
    assert err.value.field == "paradex.l2_private_key" and "no-such-block" in str(err.value)
