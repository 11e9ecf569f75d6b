"""The agent in ``--venue-mode live`` against the Hibachi and Extended protocol fakes on loopback:
the live-adapter registry and each venue's adapter end to end (REST orders, account and book
streams), a decision that opens, the run-end rule that closes, the venue's own account flat, and
the round trip in the warehouse equal to the fills the fake made."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from exchanges.connect import open_venues
from exchanges.fakes.venues import FakeVenues
from strategies.agent.adviser import local_ask
from strategies.agent.params import AgentParams
from strategies.agent.session import AgentSession
from tests.livekit import journal_text, position, rows
from warehouse.journal import Journal
from warehouse.loader import load
from warehouse.paths import WarehousePaths


def long_sol(messages: list[dict[str, str]]) -> str:
    x = json.loads(messages[-1]["content"].split("\n", 1)[1])
    if "open_long" in x["allowed_actions"].get("SOL", []):
        return json.dumps({"action": "open_long", "symbol": "SOL", "size_usd": 300.0, "confidence": 0.9})
    return json.dumps({"action": "hold", "confidence": 0.5})


@pytest.mark.parametrize("venue", ["hibachi", "extended"])
async def test_a_live_agent_run_against_the_venues_fake_trades_closes_and_records_the_round_trip(
        venue: str, tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    # three real seconds: one decision at the start, a maker entry (taker after 0.5 s), then run_end
    params = AgentParams(venue=venue, venue_mode="live", symbols=("SOL",), mode="volume", days=3 / 86_400,
                         maker_timeout_s=0.5)
    journals: list[Journal] = []

    def journal(run_id: str) -> Journal:
        journals.append(Journal(run_id, paths.journal_dir))
        return journals[-1]

    async with FakeVenues((venue,), symbols=("SOL",)) as fakes:
        session = open_venues("live", (venue,), ("SOL",), seed=1, settings=fakes.settings())
        try:
            agent = AgentSession(params, f"agent-live-{venue}", session.venue(venue), session.clock, journal,
                                 local_ask(long_sol), adviser={"kind": "policy", "about": "a scripted test policy"})
            await agent.preflight()
            res = await agent.run()
        finally:
            await session.close()
            for j in journals:
                await j.close()
        flat = position(fakes, venue, "SOL")
        venue_fills = list(fakes.world.exchanges[venue].fill_log)
        secrets = [s.removeprefix("0x") for s in fakes.secrets()]
    assert res.status == "COMPLETED", res.reason
    assert flat == 0  # the venue's own account, not what the bot believes
    assert res.decisions[0]["verdict"] == "accepted" and res.decisions[0]["symbol"] == "SOL"
    assert [(t["symbol"], t["direction"], t["exit_rule"]) for t in res.trades] == [("SOL", "LONG", "run_end")]

    load(paths)
    run_id = f"agent-live-{venue}-sol"
    [(bot, status, venues)] = rows(paths, "SELECT bot, status, venues FROM runs WHERE run_id = ?", [run_id])
    assert (bot, status, venues) == ("agent", "COMPLETED", [venue])
    [(n, rule, fees)] = rows(paths, "SELECT count(*), any_value(exit_rule), sum(fees) FROM agent_trades "
                                    "WHERE run_id = ?", [run_id])
    assert (n, rule) == (1, "run_end")
    recorded = rows(paths, "SELECT side, price, size, fee FROM fills WHERE run_id = ?", [run_id])
    assert Counter(recorded) == Counter((f.side.value, f.price, f.size, f.fee) for f in venue_fills)
    assert fees == sum((f.fee for f in venue_fills), Decimal(0))  # the round trip's fees are the venue's
    text = journal_text(paths)
    assert not [s[:6] for s in secrets if s in text]  # no credential in the journal


@pytest.mark.parametrize("venue", ["hibachi", "extended"])
async def test_a_symbol_the_live_venue_does_not_list_is_refused_naming_the_field_before_any_order(
        venue: str) -> None:
    """Live, the venue says what it lists: XRP passes the parameters (it is not the simulator's
    list that decides) and the pre-trade check refuses it, naming ``symbols``; nothing is sent."""
    from core.clock import RealClock
    from core.records import MemoryRecorder
    from strategies.preflight import PreTradeError

    params = AgentParams(venue=venue, venue_mode="live", symbols=("SOL", "XRP"))
    async with FakeVenues((venue,), symbols=("SOL",)) as fakes:
        session = open_venues("live", (venue,), params.symbols, seed=1, settings=fakes.settings())
        try:
            agent = AgentSession(params, f"agent-xrp-{venue}", session.venue(venue), RealClock(),
                                 lambda _: MemoryRecorder(), local_ask(long_sol))
            with pytest.raises(PreTradeError) as refused:
                await agent.preflight()
        finally:
            await session.close()
        orders = list(fakes.world.exchanges[venue].fill_log), fakes.world.exchanges[venue].account.positions
    assert [(p.field, p.reason.value) for p in refused.value.problems] == [("symbols", "UNKNOWN_SYMBOL")]
    assert f"XRP not listed on {venue}" in str(refused.value)
    assert orders == ([], {}) and all(r.kernel is None for r in agent.runners.values())
