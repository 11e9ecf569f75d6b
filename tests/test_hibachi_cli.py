"""Hibachi from the command line: ``fake-venue hibachi`` prints settings that are enough to trade;
``venues check`` reads the account and ``positions close`` flattens it with reduce-only orders
through the adapter against the fake; no output line carries a secret."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from cli.venues import serve_fakes
from core.types import OrderStatus, Side
from exchanges.credentials import spellings
from exchanges.hibachi.adapter import HibachiVenue
from exchanges.settings import Settings
from tests.livekit import FakesInThread, position

runner = CliRunner()


async def test_the_printed_settings_are_enough_to_trade(capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    task = asyncio.get_running_loop().create_task(serve_fakes(("hibachi",), "127.0.0.1", {"hibachi": 0}, 7,
                                                              ("SOL",), None))
    out = ""
    for _ in range(600):
        out += capsys.readouterr().out
        if "Ctrl-C" in out:
            break
        await asyncio.sleep(0.05)
    assert "fake Hibachi on http://127.0.0.1:" in out
    for line in out.splitlines():
        if line.startswith("  PERPFLOW_"):
            name, value = line.strip().split("=", 1)
            monkeypatch.setenv(name, value)  # what a user puts in .env
    venue = HibachiVenue(Settings(_env_file=None).hibachi)  # type: ignore[attr-defined, call-arg]
    try:
        o = await venue.place_market("SOL", Side.BUY, Decimal("0.5"), client_id="offline-1",
                                     max_slippage_bps=Decimal(50))
        assert o.status is OrderStatus.FILLED and o.filled == Decimal("0.5")
    finally:
        await venue.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_check_and_close_on_the_hibachi_fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("PERPFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    threaded = FakesInThread(venues=("hibachi",), symbols=("SOL",))
    with threaded as fakes:
        for name, value in fakes.env().items():
            monkeypatch.setenv(name, value)

        async def open_position() -> str:
            venue = HibachiVenue(fakes.settings().hibachi)  # type: ignore[attr-defined]
            try:
                await venue.place_market("SOL", Side.SELL, Decimal("0.7"), client_id="cli-open",
                                         max_slippage_bps=Decimal(50))
                ask = (await venue.bbo("SOL")).ask
                rest = await venue.place_limit("SOL", Side.SELL, (ask * Decimal("1.05")).quantize(Decimal("0.001")),
                                               Decimal("0.2"), client_id="cli-rest", post_only=True)
                return rest.order_id
            finally:
                await venue.close()

        resting = threaded.call(open_position)
        assert position(fakes, "hibachi", "SOL") == Decimal("-0.7")
        check = runner.invoke(app, ["venues", "check", "--venue", "hibachi", "--venue-mode", "live",
                                    "--symbols", "SOL"], terminal_width=200)
        assert check.exit_code == 0, check.output
        assert "hibachi (live " in check.output and fakes.server("hibachi").base_url in check.output
        assert "positions (1)" in check.output and "open orders (1)" in check.output and resting in check.output
        close = runner.invoke(app, ["positions", "close", "--venue", "hibachi", "--symbol", "SOL", "--venue-mode",
                                    "live"], terminal_width=200)
        assert close.exit_code == 0, close.output
        assert "flat: SOL on hibachi is 0" in close.output
        assert position(fakes, "hibachi", "SOL") == 0
        ex = fakes.world.exchanges["hibachi"]
        closing = [o for o in ex.orders.values() if o.reduce_only]
        assert closing and all(o.side is Side.BUY for o in closing) and not ex.open  # the rest was cancelled first
        secrets = {s for secret in fakes.secrets() for s in spellings(secret)}
        text = check.output + close.output
        assert secrets and not [s[:6] for s in secrets if s in text]
