"""``perpflow venues check`` and ``perpflow positions close``: against both protocol fakes (the real
adapters and SDKs over loopback), on the simulator, and their errors. No secret is ever printed."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from cli.venues import serve_fakes
from core.types import Side
from exchanges import registry
from exchanges.fakes.venues import FakeVenues
from exchanges.grvt.adapter import GrvtVenue
from exchanges.paradex.adapter import ParadexVenue
from tests.livekit import FakesInThread, position

runner = CliRunner()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No PERPFLOW_* settings from the outside and no .env: each test says what it configures."""
    import os

    for name in list(os.environ):
        if name.startswith("PERPFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def unboxed(text: str) -> str:
    """Typer's rich boxes and line wrapping removed: words separated by single spaces."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def secrets_of(fakes: FakeVenues) -> list[str]:
    secrets = [s.removeprefix("0x") for s in fakes.secrets()]
    return secrets + [str(int(s, 16)) for s in secrets if all(c in "0123456789abcdefABCDEF" for c in s)]


def assert_no_secret(text: str, fakes: FakeVenues) -> None:
    assert not [s[:6] + "..." for s in secrets_of(fakes) if s in text or s.lower() in text.lower()]


def test_check_and_close_on_both_fakes(clean_env: pytest.MonkeyPatch) -> None:
    threaded = FakesInThread(symbols=("SOL", "ETH"))
    with threaded as fakes:
        assert fakes.server("paradex") is not None and fakes.server("grvt") is not None
        for name, value in fakes.env().items():  # credentials from settings; paradex's endpoint from --endpoint
            if not name.startswith("PERPFLOW_PARADEX__") or "ENDPOINT" not in name:
                clean_env.setenv(name, value)

        async def open_positions() -> str:
            settings = fakes.settings()
            p, g = ParadexVenue(settings.paradex), GrvtVenue(settings.grvt)
            try:
                await p.place_market("SOL", Side.BUY, Decimal("0.5"), client_id="cli-open-p",
                                     max_slippage_bps=Decimal(50))
                bid = (await p.bbo("SOL")).bid
                rest = await p.place_limit("SOL", Side.BUY, (bid * Decimal("0.95")).quantize(Decimal("0.001")),
                                           Decimal("0.2"), client_id="cli-rest", post_only=True)
                await g.place_market("SOL", Side.SELL, Decimal("0.3"), client_id="cli-open-g",
                                     max_slippage_bps=Decimal(50))
                return rest.order_id
            finally:
                await p.close()
                await g.close()

        resting_id = threaded.call(open_positions)
        assert position(fakes, "paradex", "SOL") == Decimal("0.5") and position(fakes, "grvt", "SOL") == Decimal("-0.3")

        check = runner.invoke(app, ["venues", "check", "--venue", "paradex", "--endpoint",
                                    fakes.server("paradex").base_url,
                                    "--symbols", "SOL,ETH,DOGE"], terminal_width=200)
        assert check.exit_code == 0, check.output
        out = check.output
        paradex = fakes.server("paradex")
        assert f"live testnet, {paradex.base_url}, account {hex(fakes.account('paradex').address)}" in out
        assert "positions (1)" in out and "open orders (1)" in out and "cli-rest" in out and resting_id in out
        quotes = out[out.index("best bid/offer"):].splitlines()
        assert [q.split()[0] for q in quotes[3:]] == ["SOL", "ETH", "DOGE"] and "UNKNOWN_SYMBOL" in quotes[-1]
        balance = out[out.index("balance"):out.index("positions")].splitlines()
        assert balance[3].split()[0] == "USDC" and Decimal(balance[3].split()[2].replace(",", "")) > 0

        closed = [runner.invoke(app, ["positions", "close", "--venue", "paradex", "--symbol", "SOL", "--endpoint",
                                      fakes.server("paradex").base_url], terminal_width=200),
                  runner.invoke(app, ["positions", "close", "--venue", "grvt", "--symbol", "sol", "--venue-mode",
                                      "live"], terminal_width=200)]
        for result in closed:
            assert result.exit_code == 0, result.output
            assert "flat: SOL on" in result.output and "confirmed by consecutive position reads" in result.output
        assert position(fakes, "paradex", "SOL") == 0 and position(fakes, "grvt", "SOL") == 0
        for venue in ("paradex", "grvt"):
            ex = fakes.world.exchanges[venue]
            closing = [o for o in ex.orders.values() if o.reduce_only]
            assert closing and all(o.client_id for o in closing)
            opened = [o for o in ex.orders.values() if not o.reduce_only]
            assert len(opened) == (2 if venue == "paradex" else 1)  # nothing but reduce-only orders was sent
            assert not ex.open  # the resting order was cancelled first
        assert "IOC chunks of at most" in closed[1].output  # grvt: what it really executes, not the displayed book
        for text in (check.output, *(r.output for r in closed)):
            assert_no_secret(text, fakes)

        clean_env.setenv("PERPFLOW_GRVT__API_KEY", fakes.account("grvt").api_key + "-revoked")
        refused = runner.invoke(app, ["venues", "check", "--venue", "grvt", "--venue-mode", "live"])
        assert refused.exit_code == 1 and "AUTH" in refused.output and "login rejected" in refused.output
        assert_no_secret(refused.output, fakes)


def test_check_and_a_rehearsed_close_on_the_simulator(clean_env: pytest.MonkeyPatch) -> None:
    check = runner.invoke(app, ["venues", "check", "--venue", "grvt", "--symbols", "ETH"], terminal_width=200)
    assert check.exit_code == 0, check.output
    assert check.output.startswith("grvt (simulator, seed 7)") and "positions (0)" in check.output
    close = runner.invoke(app, ["positions", "close", "--venue", "paradex", "--symbol", "SOL", "--sim-position",
                                "-1.5"], terminal_width=200)
    assert close.exit_code == 0, close.output
    assert "rehearsal: opened SELL 1.50" in close.output and "position before: -1.50" in close.output
    assert "flat: SOL on paradex is 0" in close.output
    orders = close.output[close.output.index("symbol"):close.output.index("flat:")].strip().splitlines()[2:]
    assert orders and all(" BUY " in o and " yes " in o for o in orders)  # reduce-only buys closed the short


@pytest.mark.parametrize(("args", "expect"), [
    (["venues", "check", "--venue", "kraken"],
     "'kraken' is not one of 'backpack', 'extended', 'grvt', 'hibachi', 'paradex'"),
    (["venues", "check", "--venue", "paradex", "--venue-mode", "paper"], "'paper' is not one of 'sim', 'live'"),
    (["venues", "check", "--venue", "grvt", "--venue-mode", "sim", "--endpoint", "http://127.0.0.1:1"],
     "--endpoint: targets a live venue"),
    (["positions", "close", "--venue", "grvt", "--symbol", "ETH", "--venue-mode", "live", "--sim-position", "1"],
     "--sim-position: rehearses on the simulator only"),
    (["positions", "close", "--venue", "grvt", "--symbol", "ETH", "--slippage-bps", "0"],
     "--slippage-bps: 0 is outside 0 < bps <= 1000"),
    (["positions", "close", "--venue", "paradex", "--symbol", "SOL", "--venue-mode", "live"],
     "paradex.l2_private_key: is required to trade on Paradex (setting PERPFLOW_PARADEX__L2_PRIVATE_KEY"),
    (["venues", "check", "--venue", "grvt", "--endpoint", "http://127.0.0.1:1"],
     "grvt.api_key: is required to trade on GRVT"),
])
def test_errors_name_the_field_and_the_allowed_values(clean_env: pytest.MonkeyPatch, args: list[str],
                                                      expect: str) -> None:
    result = runner.invoke(app, args, terminal_width=200)
    assert result.exit_code == 2, result.output
    assert expect in unboxed(result.output), result.output


def test_help_explains_modes_and_safety() -> None:
    check = unboxed(runner.invoke(app, ["venues", "check", "--help"]).output)
    close = unboxed(runner.invoke(app, ["positions", "close", "--help"]).output)
    for text in (check, close):
        assert "the embedded simulator (the default)" in text and "Giving --endpoint implies live" in text
    assert "read-only" in check and "reduce-only" in close and "confirm it is flat" in close


async def test_fake_venue_all_prints_what_points_perpflow_at_every_fake(capsys: pytest.CaptureFixture[str]) -> None:
    task = asyncio.get_running_loop().create_task(serve_fakes(None, "127.0.0.1", {}, 7, ("SOL",), None))
    out = ""
    for _ in range(600):
        out += capsys.readouterr().out
        if "Ctrl-C" in out:
            break
        await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    env = dict(line.strip().split("=", 1) for line in out.splitlines() if line.startswith("  PERPFLOW_"))
    assert set(env) == set(FakeVenues(symbols=("SOL",), warmup=0).env())
    assert {f"PERPFLOW_{n.upper()}__ENDPOINT" for n in registry.names(fake=True)} <= set(env)
    assert env["PERPFLOW_PARADEX__ENDPOINT"].endswith("/v1") and env["PERPFLOW_GRVT__WS_ENDPOINT"].endswith("/ws")
    assert all(f"fake {registry.get(n).label} on http://127.0.0.1:" in out for n in registry.names(fake=True))


def test_check_all_on_the_simulator_reads_every_venue(clean_env: pytest.MonkeyPatch) -> None:
    result = runner.invoke(app, ["venues", "check", "--all", "--symbols", "SOL"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for name in registry.names():
        assert f"{name} (simulator, seed 7)" in result.output
    both = runner.invoke(app, ["venues", "check", "--all", "--venue", "grvt"], terminal_width=200)
    assert both.exit_code == 2 and "give one venue" in both.output


def test_check_all_live_reads_every_fake_and_names_what_it_could_not_read(clean_env: pytest.MonkeyPatch) -> None:
    with FakesInThread(symbols=("SOL",)) as fakes:
        for name, value in fakes.env().items():
            clean_env.setenv(name, value)
        result = runner.invoke(app, ["venues", "check", "--all", "--venue-mode", "live", "--symbols", "SOL"],
                               terminal_width=200)
        assert result.exit_code == 0, result.output
        for name in registry.names(live=True):
            assert f"{name} (live " in result.output and fakes.server(name).base_url in result.output
        assert_no_secret(result.output, fakes)
        clean_env.delenv("PERPFLOW_GRVT__API_KEY")
        partial = runner.invoke(app, ["venues", "check", "--all", "--venue-mode", "live", "--symbols", "SOL"],
                                terminal_width=200)
        assert partial.exit_code == 1
        assert f"paradex (live testnet, {fakes.server('paradex').base_url}" in partial.output  # still read
        assert "grvt: error: grvt.api_key: is required" in partial.output and "PERPFLOW_GRVT__API_KEY" in partial.output
        assert "could not be read: grvt" in partial.output
