"""``perpflow fake-venue grvt``: a fake GRVT for offline strategy work, and the .env lines that let
the real adapter trade on it."""

from __future__ import annotations

import asyncio

import pytest

from cli.venues import serve_fakes
from core.types import OrderStatus
from exchanges.grvt.adapter import GrvtVenue
from exchanges.settings import Settings
from tests.grvt_kit import taker, wait_until


async def test_the_printed_settings_are_enough_to_trade(capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    task = asyncio.get_running_loop().create_task(serve_fakes(("grvt",), "127.0.0.1", {"grvt": 0}, 7, ("ETH",), None))
    out = ""

    def printed() -> bool:
        nonlocal out
        out += capsys.readouterr().out
        return "Ctrl-C" in out

    await wait_until(printed, what="the fake's banner")
    for line in out.splitlines():
        if line.startswith("  PERPFLOW_"):
            name, value = line.strip().split("=", 1)
            monkeypatch.setenv(name, value)  # what a user puts in .env
    venue = GrvtVenue(Settings(_env_file=None).grvt)  # type: ignore[attr-defined, call-arg]
    try:
        assert (await taker(venue, "offline-1")).status is OrderStatus.FILLED
    finally:
        await venue.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
