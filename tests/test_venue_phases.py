"""Every live adapter across a flow's ``Clock.run`` phases: a flow runs its phases (pre-trade checks,
the bot, closing the venues) each on a new event loop. Each adapter reconnects on each loop, and the
HTTP session of a finished loop is never left open (aiohttp logs "Unclosed client session" at ERROR
when one is: a refused run on GRVT used to end with it)."""

from __future__ import annotations

import asyncio
import gc
import logging
import math
from decimal import Decimal

import pytest

from core.types import Side
from exchanges import registry

SYMBOL = "SOL"


@pytest.mark.parametrize("venue_name", registry.names(live=True))
def test_the_adapter_survives_the_flows_clock_run_phases_and_leaves_no_session_open(
        venue_name: str, caplog: pytest.LogCaptureFixture) -> None:
    from exchanges.connect import open_venues
    from tests.livekit import FakesInThread

    caplog.set_level(logging.ERROR, logger="asyncio")
    with FakesInThread(venues=(venue_name,), symbols=(SYMBOL,), warmup=60) as fakes:
        session = open_venues("live", (venue_name,), (SYMBOL,), seed=1, settings=fakes.settings())
        venue = session.venue(venue_name)

        async def trade() -> tuple[Decimal, Decimal]:
            ins = await venue.instrument(SYMBOL)
            ask = (await asyncio.wait_for(anext(venue.stream_bbo(SYMBOL)), 20)).ask
            # above any minimum notional (Backpack's markets publish none, the simulator's profile has one)
            lots = math.ceil(max(ins.min_notional, Decimal(20)) * Decimal("1.2") / ask / ins.lot)
            size = max(ins.min_size, lots * ins.lot)
            await venue.place_market(SYMBOL, Side.BUY, size, client_id="phase-2", max_slippage_bps=Decimal(50))
            for _ in range(50):  # some venues settle the position a moment after the order's answer
                if (await venue.position(SYMBOL)).size == size:
                    break
                await asyncio.sleep(0.1)
            return (await venue.position(SYMBOL)).size, size

        mid = session.clock.run(lambda: venue.bbo(SYMBOL))  # phase 1: the pre-trade read
        held, size = session.clock.run(trade)  # phase 2: a new loop, the adapter reconnects
        session.clock.run(session.close)  # phase 3: closing on yet another loop
        gc.collect()
    assert mid.bid < mid.ask and held == size
    assert not [r.getMessage() for r in caplog.records if "Unclosed" in r.getMessage()]
