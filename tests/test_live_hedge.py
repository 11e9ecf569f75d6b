"""The hedge bot in ``--venue-mode live`` against the Paradex and GRVT protocol fakes on loopback:
the live-adapter registry, both adapters and both SDKs end to end, on one shared simulated market."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from pathlib import Path

from exchanges.fakes.venues import FakeVenues
from exchanges.grvt.adapter import GrvtVenue
from exchanges.paradex.adapter import ParadexVenue
from strategies.hedge.config import HedgeConfig
from tests.livekit import journal_text, position, rows, run_bot
from warehouse.loader import load
from warehouse.paths import WarehousePaths


async def test_a_live_hedge_run_against_both_fakes_ends_flat_with_its_cycles_in_the_warehouse(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    cfg = HedgeConfig(ticker="SOL", size=Decimal("0.1"), iterations=2, primary_mode="bbo", hedge_mode="market",
                      venue_mode="live")
    async with FakeVenues(symbols=("SOL",)) as fakes:
        assert fakes.server("paradex") is not None and fakes.server("grvt") is not None
        # one market: both venues price off one fair value
        assert fakes.server("paradex").world is fakes.server("grvt").world
        result = await run_bot(fakes, cfg, "live-hedge-1", paths)
        assert result.status == "COMPLETED", result.reason
        assert position(fakes, "paradex", "SOL") == 0 and position(fakes, "grvt", "SOL") == 0
        venue_fills = {v: list(fakes.world.exchanges[v].fill_log) for v in ("paradex", "grvt")}
        requests = list(fakes.server("paradex").requests)
        grvt_creates = fakes.server("grvt").requests["create_order"]
        secrets = [s.removeprefix('0x') for s in fakes.secrets()]
    assert any(r.startswith("POST /v1/orders") for r in requests) and grvt_creates >= 2  # through the SDKs
    assert [c.kind for c in result.cycles] == ["open", "close"] * 2
    assert all(c.status in ("ok", "recovered") and c.hedge_price is not None for c in result.cycles)
    assert sum(f.size for f in venue_fills["paradex"]) == sum(f.size for f in venue_fills["grvt"]) == Decimal("0.4")

    load(paths)
    [(status, venues)] = rows(paths, "SELECT status, venues FROM runs WHERE run_id = 'live-hedge-1'")
    assert status == "COMPLETED" and venues == ["paradex", "grvt"]
    cycles = rows(paths, "SELECT kind, size, edge_bps FROM cycles WHERE run_id = 'live-hedge-1' ORDER BY cycle_no")
    assert [(k, s) for k, s, _ in cycles] == [("open", Decimal("0.1")), ("close", Decimal("0.1"))] * 2
    assert [e for _, _, e in cycles] == [c.edge_bps for c in result.cycles]
    recorded = rows(paths, "SELECT venue, price, size FROM fills WHERE run_id = 'live-hedge-1'")
    assert Counter(recorded) == Counter((f.venue, f.price, f.size) for fs in venue_fills.values() for f in fs)
    text = journal_text(paths)
    assert not [s[:6] for s in secrets if s in text]  # no credential in the journal


def test_live_adapters_are_registered_and_refuse_missing_credentials_by_name() -> None:
    import pytest

    from core.errors import ConfigError
    from exchanges import registry
    from exchanges.connect import open_venues
    from exchanges.grvt.settings import GrvtSettings
    from exchanges.paradex.settings import ParadexSettings
    from exchanges.settings import Settings

    assert set(registry.names(live=True)) >= {"paradex", "grvt"}
    full = Settings(paradex=ParadexSettings(l2_private_key="0x1", l2_address="0x2"),  # type: ignore[arg-type]
                    grvt=GrvtSettings(api_key="k" * 8, private_key="0x" + "1" * 64,  # type: ignore[arg-type]
                                      trading_account_id="1"))
    session = open_venues("live", ("paradex", "grvt"), ("SOL",), seed=1, settings=full)
    assert isinstance(session.venue("paradex"), ParadexVenue) and isinstance(session.venue("grvt"), GrvtVenue)
    assert not session.clock.virtual
    for settings, field in ((Settings(paradex=ParadexSettings(l2_address="0x2")), "paradex.l2_private_key"),
                            (Settings(paradex=ParadexSettings(l2_private_key="0x1")),  # type: ignore[arg-type]
                             "paradex.l2_address"),
                            (Settings(grvt=GrvtSettings(api_key="k" * 8)), "grvt.private_key")):  # type: ignore[arg-type]
        venue = field.split(".")[0]
        with pytest.raises(ConfigError) as err:
            open_venues("live", (venue,), ("SOL",), seed=1, settings=settings)
        assert err.value.field == field
    with pytest.raises(ConfigError, match=r"backpack\.api_key: is required"):
        open_venues("live", ("backpack",), ("SOL",), seed=1, settings=full)
    with pytest.raises(ConfigError, match=f"live venues: {', '.join(registry.names(live=True))}"):
        open_venues("live", ("kraken",), ("SOL",), seed=1, settings=full)
    with pytest.raises(ConfigError, match=r"hibachi\.api_key: is required"):
        open_venues("live", ("hibachi",), ("SOL",), seed=1, settings=full)


def test_a_simulator_run_never_imports_a_venue_sdk() -> None:
    import subprocess
    import sys

    code = ("import sys; from exchanges.connect import open_venues; import cli.app; "
            "s = open_venues('sim', ('paradex', 'grvt'), ('SOL',), seed=1); "
            "print(sorted(m for m in ('paradex_py', 'pysdk', 'starknet_py', 'eth_account') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_live_venues_survive_the_flows_clock_run_phases() -> None:
    """The hedge flow runs pre-trade checks, the bot and closing each through ``Clock.run``: three
    event loops. Connections made on a finished loop are dead; the adapters reconnect."""
    from core.types import Side
    from exchanges.connect import open_venues
    from tests.livekit import FakesInThread

    threaded = FakesInThread(symbols=("SOL",), warmup=60)
    with threaded as fakes:
        session = open_venues("live", ("paradex", "grvt"), ("SOL",), seed=1, settings=fakes.settings())
        p, g = session.venue("paradex"), session.venue("grvt")

        async def checks() -> list[Decimal]:
            return [(await v.bbo("SOL")).mid for v in (p, g)]

        async def trade() -> list[Decimal]:
            quotes = [await asyncio.wait_for(anext(v.stream_bbo("SOL")), 20) for v in (p, g)]  # new WebSockets
            await g.place_market("SOL", Side.BUY, Decimal("0.1"), client_id="phase-2", max_slippage_bps=Decimal(50))
            await p.place_market("SOL", Side.SELL, Decimal("0.1"), client_id="phase-2", max_slippage_bps=Decimal(50))
            return [q.mid for q in quotes] + [(await v.position("SOL")).size for v in (p, g)]

        mids = session.clock.run(checks)
        *streamed, p_pos, g_pos = session.clock.run(trade)
        session.clock.run(session.close)
        assert (p_pos, g_pos) == (Decimal("-0.1"), Decimal("0.1"))
        assert all(abs(a - b) / a < Decimal("0.01") for a, b in zip(mids, streamed, strict=True))
