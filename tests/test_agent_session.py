"""The agent on the kernel: runners per symbol share one desk on the simulator; a decision is a
signal that becomes a maker-first entry, exits are the rules', the run ends with every trade
closed by a named rule and the guard's limits in force."""

from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace

from core.clock import VirtualClock
from core.records import MemoryRecorder
from exchanges.sim.world import SimWorld
from strategies.agent.adviser import local_ask
from strategies.agent.params import AgentParams
from strategies.agent.session import AgentSession, SessionResult


def run_session(params: AgentParams, policy, seed: int = 4) -> tuple[AgentSession, SessionResult]:  # type: ignore[no-untyped-def]
    clock = VirtualClock()
    world = SimWorld(venues=(params.venue,), symbols=params.symbols, seed=seed, clock=clock, warmup=600)
    session = AgentSession(params, "agent-t1", world.venue(params.venue), clock, lambda _: MemoryRecorder(),
                           local_ask(policy))

    async def main() -> SessionResult:
        try:
            await session.preflight()
            return await session.run()
        finally:
            await world.stop()

    return session, clock.run(main)


def test_a_decision_trades_through_the_kernel_and_the_rules_close_it() -> None:
    asked: list[dict] = []

    def policy(messages: list[dict[str, str]]) -> str:
        x = json.loads(messages[-1]["content"].split("\n", 1)[1])
        asked.append(x)
        if "open_long" in x["allowed_actions"].get("SOL", []):
            return json.dumps({"action": "open_long", "symbol": "SOL", "size_usd": 300.0, "confidence": 0.9})
        return json.dumps({"action": "hold", "confidence": 0.5})

    params = AgentParams(venue="hibachi", symbols=("SOL", "ETH"), mode="volume", days=0.04, maker_timeout_s=60)
    _, res = run_session(params, policy)
    assert res.status == "COMPLETED", {s: o.reason for s, o in res.outcomes.items()}
    assert {o.reason for o in res.outcomes.values()} == {"run complete; flat"}
    assert res.decisions and all(d["ts"] >= asked[0]["decision_time"] for d in res.decisions)
    first = res.decisions[0]
    assert first["verdict"] == "accepted" and first["symbol"] == "SOL" and first["llm_called"]
    assert res.trades, "the SOL entry filled and was closed"
    t = res.trades[0]
    assert t["symbol"] == "SOL" and t["direction"] == "LONG" and t["mode"] == "volume"
    assert t["exit_rule"] in {"max_hold", "stop_loss", "take_profit", "run_end"}
    assert Decimal(str(t["notional"])) <= Decimal(300) * Decimal("1.01")
    assert all(o.positions == {"hibachi": 0} for o in res.outcomes.values())  # ends flat
    sol = res.outcomes["SOL"]
    assert sol.fees["hibachi"] == Decimal(str(t["fees"]))  # the trade's fees are the fills' fees
    assert [m["mode_to"] for m in res.mode_changes] == ["volume"]
    # every market view the adviser saw was from before its decision time
    for x in asked:
        assert all(m["ts"] <= x["decision_time"] for m in x["markets"])


def test_a_size_the_venue_cannot_take_is_refused_before_any_order() -> None:
    from tasks.botrun import pre_trade_validation

    params = AgentParams(venue="extended", symbols=("BTC",), size_usd=5, max_size_usd=5, max_total_usd=5)
    clock = VirtualClock()
    world = SimWorld(venues=("extended",), symbols=("BTC",), seed=1, clock=clock)
    session = AgentSession(params, "agent-t2", world.venue("extended"), clock, lambda _: MemoryRecorder(),
                           local_ask(lambda m: "{}"))

    out = pre_trade_validation.fn(SimpleNamespace(clock=clock), session)  # the task needs the session's clock only
    assert "refused" in out and "max_size_usd: 5 USD is below the smallest BTC order on extended" in out["refused"]
    assert all(r.kernel is None for r in session.runners.values())  # no runner started: nothing was sent


def test_funding_charged_on_an_open_trade_is_in_its_pnl_and_in_the_runs_records() -> None:
    """The simulator settles funding on open positions (Extended: hourly); the session hands each
    settlement to its symbol's runner: the open trade's PnL carries it, the run records it."""
    def policy(messages: list[dict[str, str]]) -> str:
        x = json.loads(messages[-1]["content"].split("\n", 1)[1])
        if "open_long" in x["allowed_actions"].get("SOL", []):
            return json.dumps({"action": "open_long", "symbol": "SOL", "size_usd": 400.0, "confidence": 0.9})
        return json.dumps({"action": "hold", "confidence": 0.5})

    params = AgentParams(venue="extended", symbols=("SOL",), mode="volume", days=0.15, maker_timeout_s=60)
    session, res = run_session(params, policy, seed=6)
    assert res.status == "COMPLETED", res.reason
    records = [r for rec in session.recorders.values() for r in rec.funding_records]  # type: ignore[attr-defined]
    assert records, "no settlement fell on an open trade"
    assert all(r.run_id == "agent-t1-sol" and r.venue == "extended" and r.position > 0 for r in records)
    paid = sum((Decimal(str(t["funding_paid"])) for t in res.trades), Decimal(0))
    assert paid > 0  # a long pays a positive rate
    assert abs(paid - sum((r.payment for r in records), Decimal(0))) < Decimal("0.000001")
    for t in res.trades:  # net PnL = gross - fees - funding
        net = Decimal(str(t["gross_pnl"])) - Decimal(str(t["fees"])) - Decimal(str(t["funding_paid"]))
        assert abs(Decimal(str(t["pnl"])) - net) < Decimal("0.000002")


def test_the_live_view_shows_open_positions_with_their_pnl_and_the_last_decision_and_why() -> None:
    """What the progress artifact shows while the agent trades: each open position (side, size,
    entry, open PnL, hours held) and the last decision with its reason."""
    from tasks.agent_bot import agent_view

    def policy(messages: list[dict[str, str]]) -> str:
        x = json.loads(messages[-1]["content"].split("\n", 1)[1])
        if "open_long" in x["allowed_actions"].get("SOL", []):
            return json.dumps({"action": "open_long", "symbol": "SOL", "size_usd": 300.0, "confidence": 0.9,
                               "thesis": "scripted long"})
        return json.dumps({"action": "hold", "confidence": 0.5, "thesis": "let it run"})

    params = AgentParams(venue="hibachi", symbols=("SOL", "ETH"), mode="volume", days=0.03, maker_timeout_s=60)
    clock = VirtualClock()
    world = SimWorld(venues=("hibachi",), symbols=params.symbols, seed=4, clock=clock, warmup=600)
    session = AgentSession(params, "agent-view", world.venue("hibachi"), clock, lambda _: MemoryRecorder(),
                           local_ask(policy))
    views: list[tuple[list[dict], str]] = []
    session.on_decision = lambda rec: views.append((session.desk.positions_view(clock.now()), agent_view(session)))

    async def main() -> SessionResult:
        try:
            await session.preflight()
            return await session.run()
        finally:
            await world.stop()

    res = clock.run(main)
    assert res.status == "COMPLETED", res.reason
    held = [(positions, text) for positions, text in views if positions]
    assert held, "a decision came while the SOL long was open"
    positions, text = held[0]
    [p] = positions
    assert p["symbol"] == "SOL" and p["direction"] == "LONG"
    assert f"| SOL | LONG | {p['size']} | {p['entry_price']} | {p['open_pnl_usd']:.2f} |" in text
    assert "Last decision: **" in text and "let it run" in text  # the hold, and why
    assert "flat" in views[0][1]  # before the entry filled: nothing open
