"""``python -m exchanges.grvt.fake``: a fake GRVT for offline strategy work, and its .env lines."""

from __future__ import annotations

import asyncio
import json

import pytest

from core.types import OrderStatus
from exchanges.grvt.adapter import GrvtVenue
from exchanges.grvt.fake import serve
from exchanges.settings import Settings
from tests.grvt_kit import taker, wait_until


async def test_serve_prints_settings_that_a_venue_can_trade_with(capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    task = asyncio.get_running_loop().create_task(serve(0, symbols=("ETH",)))
    out = ""

    def printed() -> bool:
        nonlocal out
        out += capsys.readouterr().out
        return out.rstrip().endswith("}")

    await wait_until(printed, what="the fake's banner")
    for name, value in json.loads(out[out.index("{"):]).items():
        monkeypatch.setenv(name, value)  # what a user puts in .env
    venue = GrvtVenue(Settings().grvt)
    try:
        assert (await taker(venue, "offline-1")).status is OrderStatus.FILLED
    finally:
        await venue.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
