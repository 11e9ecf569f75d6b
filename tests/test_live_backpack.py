"""The DN alternate pair, live: the hedge bot with Backpack as the primary and GRVT as the hedge,
both through their live adapters against their protocol fakes on one shared simulated market."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.reasons import Reason
from exchanges.connect import open_venues
from exchanges.fakes.venues import FakeVenues
from strategies.hedge.bot import HedgeBot
from strategies.hedge.config import HedgeConfig
from strategies.preflight import PreTradeError
from tests.livekit import position, run_bot
from warehouse.journal import Journal
from warehouse.paths import WarehousePaths

PAIR = dict(primary="backpack", hedge="grvt", ticker="ETH", venue_mode="live")


async def test_backpack_hedged_on_grvt_live_ends_flat(tmp_path: Path) -> None:
    cfg = HedgeConfig(**PAIR, size=Decimal("0.2"), iterations=1, primary_mode="bbo", hedge_mode="market")
    async with FakeVenues(("backpack", "grvt"), symbols=("ETH",)) as fakes:
        result = await run_bot(fakes, cfg, "live-backpack-1", WarehousePaths(tmp_path))
        assert result.status == "COMPLETED", result.reason
        assert position(fakes, "backpack", "ETH") == 0 and position(fakes, "grvt", "ETH") == 0
        fills = {v: list(fakes.world.exchanges[v].fill_log) for v in ("backpack", "grvt")}
        assert fakes.server("backpack").sent("place") >= 2  # through the adapter's signed REST
    assert [c.kind for c in result.cycles] == ["open", "close"]
    assert sum(f.size for f in fills["backpack"]) == sum(f.size for f in fills["grvt"]) == Decimal("0.4")


async def test_half_an_eth_is_refused_before_any_order(tmp_path: Path) -> None:
    cfg = HedgeConfig(**PAIR, size=Decimal("0.5"), iterations=1)
    async with FakeVenues(("backpack", "grvt"), symbols=("ETH",)) as fakes:
        session = open_venues("live", (cfg.primary, cfg.hedge), (cfg.ticker,), seed=cfg.seed,
                              settings=fakes.settings())
        journal = Journal("live-backpack-refused", WarehousePaths(tmp_path).journal_dir)
        try:
            runner = HedgeBot(cfg, "live-backpack-refused", session.venue("backpack"), session.venue("grvt"),
                                 journal, session.clock)
            with pytest.raises(PreTradeError) as err:
                await runner.preflight()
        finally:
            await session.close()
            await journal.close()
        assert fakes.server("backpack").sent("place") == 0 and fakes.server("grvt").sent("place") == 0
        assert not fakes.world.exchanges["backpack"].orders and not fakes.world.exchanges["grvt"].orders
    assert any(p.reason is Reason.EXECUTABLE_SIZE for p in err.value.problems), str(err.value)
    assert "no order was sent" in str(err.value)


def test_backpack_survives_the_flows_clock_run_phases() -> None:
    """Pre-trade checks, the bot and closing each run on their own event loop: the adapter's HTTP
    client and streams of a finished loop are dropped and made again."""
    import asyncio

    from core.types import Side
    from tests.livekit import FakesInThread

    with FakesInThread(venues=("backpack",), symbols=("ETH",), warmup=60) as fakes:
        session = open_venues("live", ("backpack",), ("ETH",), seed=1, settings=fakes.settings())
        venue = session.venue("backpack")

        async def checks() -> Decimal:
            return (await venue.bbo("ETH")).mid

        async def trade() -> tuple[Decimal, Decimal]:
            quote = await asyncio.wait_for(anext(venue.stream_bbo("ETH")), 20)
            await venue.place_market("ETH", Side.BUY, Decimal("0.1"), client_id="phase-2",
                                     max_slippage_bps=Decimal(50))
            return quote.mid, (await venue.position("ETH")).size

        mid = session.clock.run(checks)
        streamed, size = session.clock.run(trade)
        session.clock.run(session.close)
        assert size == Decimal("0.1") and abs(mid - streamed) / mid < Decimal("0.01")


def test_positions_close_flattens_a_backpack_position_through_the_cli(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    import os

    from typer.testing import CliRunner

    from cli.app import app
    from core.types import Side
    from tests.livekit import FakesInThread

    for name in list(os.environ):
        if name.startswith("PERPFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    with FakesInThread(venues=("backpack",), symbols=("ETH",), warmup=60) as fakes:
        for name, value in fakes.env().items():
            monkeypatch.setenv(name, value)
        session = open_venues("live", ("backpack",), ("ETH",), seed=1, settings=fakes.settings())
        venue = session.venue("backpack")

        async def open_position() -> None:
            await venue.place_market("ETH", Side.SELL, Decimal("0.3"), client_id="cli-open",
                                     max_slippage_bps=Decimal(50))
            await venue.close()

        session.clock.run(open_position)
        assert position(fakes, "backpack", "ETH") == Decimal("-0.3")
        out = CliRunner().invoke(app, ["positions", "close", "--venue", "backpack", "--symbol", "ETH",
                                       "--venue-mode", "live"], terminal_width=200)
        assert out.exit_code == 0, out.output
        assert "flat: ETH on backpack is 0" in out.output and position(fakes, "backpack", "ETH") == 0
        assert not [s for s in fakes.secrets() if s in out.output]


def test_the_cli_command_runs_the_pair_flat_and_refuses_half_an_eth_before_any_order(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, prefect_harness: None) -> None:
    """``perpflow hedge --primary backpack --hedge grvt --ticker ETH --size 0.2 --venue-mode live``
    as typed (a Prefect flow run), against both fakes: flat at the end; at 0.5, refused before any
    order."""
    import os

    from typer.testing import CliRunner

    from cli.app import app
    from core.settings import get_settings
    from tests.livekit import FakesInThread

    for name in list(os.environ):
        if name.startswith("PERPFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PERPFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    command = ["hedge", "--primary", "backpack", "--hedge", "grvt", "--ticker", "ETH", "--venue-mode", "live",
               "--iter", "1", "--primary-mode", "market", "--hedge-mode", "market", "--lock-timeout", "5"]
    with FakesInThread(venues=("backpack", "grvt"), symbols=("ETH",)) as fakes:
        for name, value in fakes.env().items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        try:
            refused = CliRunner().invoke(app, [*command, "--size", "0.5"], terminal_width=200)
            assert refused.exit_code == 1, refused.output
            assert "no order was sent" in refused.output and "Traceback" not in refused.output
            assert fakes.server("backpack").sent("place") == 0 and fakes.server("grvt").sent("place") == 0
            assert not fakes.world.exchanges["backpack"].orders and not fakes.world.exchanges["grvt"].orders
            ran = CliRunner().invoke(app, [*command, "--size", "0.2"], terminal_width=200)
            assert ran.exit_code == 0, ran.output
            assert position(fakes, "backpack", "ETH") == 0 and position(fakes, "grvt", "ETH") == 0
            fills = {v: sum(f.size for f in fakes.world.exchanges[v].fill_log) for v in ("backpack", "grvt")}
            assert fills == {"backpack": Decimal("0.4"), "grvt": Decimal("0.4")}  # open and close, hedged
            assert not [s for s in fakes.secrets() if s in refused.output + ran.output]
        finally:
            get_settings.cache_clear()
