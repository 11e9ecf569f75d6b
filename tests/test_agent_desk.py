"""The agent desk and the adviser: a decision is checked again on arrival, entries are maker
first with a taker fallback, exits name their rule, every round trip records fees and spread,
burns change modes on record; and the adviser skips, repairs once, or abstains."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from core.types import BBO, Side
from exchanges.sim.profiles import load_profiles
from strategies.agent.adviser import advise, local_ask
from strategies.agent.allowed import Action
from strategies.agent.calibration import Calibration
from strategies.agent.decision import Accepted, Decision
from strategies.agent.desk import CancelEntry, Desk, Enter, Exit, Note, Outlook, Signal
from strategies.agent.params import AgentParams

D = Decimal
T0 = 1_767_571_200.0  # 2026-01-05 00:00 UTC
H = 3600.0


def desk(**kw: object) -> Desk:
    p = AgentParams(venue="hibachi", symbols=("SOL", "ETH"), **kw)  # type: ignore[arg-type]
    vp = load_profiles().venue("hibachi")
    return Desk(p, {s: vp.instrument(s) for s in p.symbols}, run_id="r1", client_prefix="a", now=T0)


def bbo(symbol: str, bid: str, ask: str, ts: float) -> BBO:
    return BBO("hibachi", symbol, D(bid), D(10), D(ask), D(10), ts)


def signal(action: str = "open_long", symbol: str = "SOL", conf: float = 0.8, outlook: Outlook | None = None,
           size: Decimal = Decimal("450.09")) -> Signal:
    d = Decision(action=action, symbol=symbol, size_usd=float(size), confidence=conf)
    return Signal("d1", T0, Accepted(d, symbol, size if action.startswith("open") else D(0), False),
                  outlook or Outlook())


def test_maker_entry_falls_back_to_taker_then_stop_loss_exit_records_the_round_trip() -> None:
    dk = desk()
    dk.on_bbo(bbo("SOL", "150.000", "150.030", T0), T0)
    acts = dk.on_signal(signal(), T0)
    enter = next(a for a in acts if isinstance(a, Enter))
    assert enter.price == D("150.000") and enter.side is Side.BUY and enter.size == D("3.00")
    assert dk.on_bbo(bbo("SOL", "150.100", "150.130", T0 + 60), T0 + 60) == []
    cancel = dk.on_bbo(bbo("SOL", "150.100", "150.130", T0 + 121), T0 + 121)
    assert cancel == [CancelEntry("SOL", enter.client_id)]
    taker = dk.on_order_done(enter.client_id, "SOL", T0 + 122)
    assert len(taker) == 1 and isinstance(taker[0], Enter) and taker[0].price is None and taker[0].size == D("3")
    dk.on_fill(taker[0].client_id, "SOL", D("150.130"), D(3), D("0.2027"), maker=False, mid=D("150.115"),
               now=T0 + 122)
    dk.on_order_done(taker[0].client_id, "SOL", T0 + 122)
    assert dk.positions_view(T0 + 122)[0]["direction"] == "LONG"
    # ten minutes in: a 4% fall fires the stop loss inside the min hold
    out = dk.on_bbo(bbo("SOL", "144.000", "144.030", T0 + 722), T0 + 722)
    assert len(out) == 1 and isinstance(out[0], Exit) and out[0].rule == "stop_loss" and out[0].size == D(3)
    notes = dk.on_fill(out[0].client_id, "SOL", D("144.000"), D(3), D("0.1944"), maker=False, mid=D("144.015"),
                       now=T0 + 723)
    row = next(n.payload for n in notes if isinstance(n, Note) and n.kind == "agent_trade")
    assert row["exit_rule"] == "stop_loss" and row["mode"] == "profit" and not row["entry_maker"]
    assert row["gross_pnl"] == D("-18.390") and row["fees"] == D("0.3971")
    assert row["spread_cost"] == D("0.090")  # half the spread paid on each leg
    assert row["pnl"] == D("-18.7871") and row["hold_s"] == 601 and not row["win"]
    assert dk.trades == {}


def test_a_decision_is_checked_again_when_it_arrives() -> None:
    dk = desk()
    dk.on_bbo(bbo("SOL", "150.000", "150.030", T0), T0)
    dk.on_bbo(bbo("ETH", "3000.00", "3000.50", T0), T0)
    first = dk.on_signal(signal(), T0)
    assert any(isinstance(a, Enter) for a in first)
    late = dk.on_signal(signal(symbol="ETH", size=D(300)), T0 + 1)  # one position at a time
    assert late == [Note("signal_refused", {"decision_id": "d1",
                                            "reason": "action: open_long is not allowed for ETH; allowed: hold"})]
    blocked = desk()
    blocked.on_bbo(bbo("SOL", "150.000", "150.030", T0), T0)
    out = blocked.on_signal(signal(outlook=Outlook(blocked=frozenset({"SOL_LONG"}))), T0)
    assert out[0].payload["reason"].startswith("action: open_long is not allowed for SOL")  # type: ignore[union-attr]


def test_calibrated_confidence_gates_the_entry() -> None:
    dk = desk()
    dk.on_bbo(bbo("SOL", "150.000", "150.030", T0), T0)
    cal = Calibration.of([(0.8, 0.9, 100, 44)])  # 0.8 has been worth 0.44
    out = dk.on_signal(signal(conf=0.8, outlook=Outlook(calibration=cal)), T0)
    assert len(out) == 1 and "calibrated 0.47 (stated 0.80) is below min_confidence 0.55" in out[0].payload["reason"]


def test_take_profit_waits_for_min_hold_and_burn_changes_mode_on_record() -> None:
    dk = desk(burn=True, burn_threshold_usd=D(20), burn_budget_usd=D(10), maker_first=False)
    dk.on_bbo(bbo("SOL", "150.000", "150.030", T0), T0)
    enter = dk.on_signal(signal(), T0)[0]
    assert isinstance(enter, Enter) and enter.price is None
    dk.on_fill(enter.client_id, "SOL", D("150.030"), D(3), D(0), maker=False, mid=D("150.015"), now=T0)
    dk.on_order_done(enter.client_id, "SOL", T0)
    assert dk.on_bbo(bbo("SOL", "170.000", "170.030", T0 + 1800), T0 + 1800) == []  # +13% but held 30 min
    out = dk.on_bbo(bbo("SOL", "170.000", "170.030", T0 + H), T0 + H)
    assert isinstance(out[0], Exit) and out[0].rule == "take_profit" and out[0].side is Side.SELL
    dk.on_fill(out[0].client_id, "SOL", D("170.000"), D(3), D(0), maker=False, mid=D("170.015"), now=T0 + H)
    assert dk.modes.banked_usd > 20 and dk.mode == "profit"
    burn = dk.on_signal(signal(action="hold", symbol="SOL", size=D(0)), T0 + 2 * H)
    assert [n.payload["mode_to"] for n in burn if isinstance(n, Note)] == ["volume"]
    assert dk.mode == "volume" and dk.decision_interval_s == 15 * 60


def test_adviser_skips_when_only_hold_repairs_once_then_abstains() -> None:
    dk = desk()
    dk.on_bbo(bbo("SOL", "150.000", "150.030", T0), T0)
    blackout = Outlook(blackout=True)
    calls: list[int] = []

    def policy(messages: list[dict[str, str]]) -> str:
        calls.append(len(messages))
        return json.dumps({"action": "open_short", "symbol": "SOL", "size_usd": 100.0, "confidence": 0.9})

    kw = dict(decision_id="x", now=T0, venue="hibachi", mode="profit", inputs={}, inputs_digest="d",
              prompt_hash="p", messages=[{"role": "user", "content": "x\n{}"}], max_size_usd=D(1000),
              default_size_usd=D(500))
    skipped = advise(allowed=dk.allowed(T0, blackout), outlook=blackout, ask=local_ask(policy), **kw)  # type: ignore[arg-type]
    assert skipped.signal is None and not skipped.record["llm_called"] and calls == []
    no_short = Outlook(blocked=frozenset({"SOL_SHORT", "ETH_SHORT"}))
    abstain = advise(allowed=dk.allowed(T0, no_short), outlook=no_short, ask=local_ask(policy), **kw)  # type: ignore[arg-type]
    assert abstain.signal is None and abstain.record["verdict"] == "abstain" and abstain.record["repaired"]
    assert calls == [1, 3]  # asked once, then once more with the rejected answer and the reason
    assert "action: open_short is not allowed for SOL" in abstain.record["reason"]
    ok = advise(allowed=dk.allowed(T0, Outlook()), outlook=Outlook(), ask=local_ask(policy), **kw)  # type: ignore[arg-type]
    assert ok.signal is not None and ok.signal.accepted.action is Action.OPEN_SHORT
    assert ok.record["verdict"] == "accepted" and ok.record["calibrated_confidence"] == 0.9


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.tuples(
    st.sampled_from(["open_long", "open_short", "close", "hold"]), st.sampled_from(["SOL", "ETH"]),
    st.floats(0.3, 1.0), st.floats(-0.06, 0.06), st.floats(0, 3 * H),
    st.sets(st.sampled_from(["SOL_LONG", "SOL_SHORT", "ETH_LONG", "ETH_SHORT"])), st.booleans()),
    min_size=1, max_size=30))
def test_whatever_is_decided_the_desk_only_trades_what_the_rules_allowed(steps) -> None:  # type: ignore[no-untyped-def]
    dk = desk(maker_first=False, max_open_positions=1)
    mids = {"SOL": D(150), "ETH": D(3000)}
    now = T0
    for s in mids:
        dk.on_bbo(bbo(s, str(mids[s]), str(mids[s] + 1), now), now)

    def run(acts: list, now: float) -> None:  # type: ignore[type-arg]
        for a in acts:
            if isinstance(a, Enter | Exit):
                b = dk.bbos[a.symbol]
                price = b.ask if a.side is Side.BUY else b.bid
                run(dk.on_fill(a.client_id, a.symbol, price, a.size, D(0), maker=False, mid=b.mid, now=now), now)
                run(dk.on_order_done(a.client_id, a.symbol, now, filled=a.size), now)
            if isinstance(a, Enter):
                entered.append((a, now))
            if isinstance(a, Note) and a.kind == "agent_trade":
                closed.append(a.payload)

    entered: list = []  # type: ignore[type-arg]
    closed: list = []  # type: ignore[type-arg]
    for action, symbol, conf, move, dt, blocked, blackout in steps:
        now += dt
        mids[symbol] = (mids[symbol] * D(str(1 + move))).quantize(D("0.01"))
        run(dk.on_bbo(bbo(symbol, str(mids[symbol]), str(mids[symbol] + 1), now), now), now)
        outlook = Outlook(blocked=frozenset(blocked), blackout=blackout)
        held_before = dict(dk.trades)
        d = Decision(action=action, symbol=symbol, size_usd=5000.0, confidence=conf)
        n = len(entered)
        run(dk.on_signal(Signal("d", now, Accepted(d, symbol, D(1000), True), outlook), now), now)
        for a, _ in entered[n:]:  # an entry happened: the rules allowed it at that moment
            direction = "LONG" if a.side is Side.BUY else "SHORT"
            assert f"{a.symbol}_{direction}" not in blocked and not blackout and not held_before
            assert conf >= 0.55 and a.size * mids[a.symbol] <= D(1000) * D("1.01")
        assert len(dk.trades) <= 1
    for t in closed:
        assert t["exit_rule"] in {"stop_loss", "take_profit", "max_hold", "cut_loser", "adviser_close"}
        if t["exit_rule"] not in ("stop_loss",):
            assert t["hold_s"] >= 3600  # nothing but the stop loss closes inside the min hold


def test_a_burn_never_opens_a_trade_its_budget_could_not_pay() -> None:
    dk = desk(burn=True, burn_threshold_usd=D(30), burn_budget_usd=D(30), maker_first=False,
              max_size_usd=D(1000), size_usd=D(500))
    dk.modes.on_trade_closed(T0, D(40), "profit")  # banked 40 >= threshold 30
    dk.on_bbo(bbo("SOL", "150.000", "150.030", T0), T0)
    out = dk.on_signal(signal(action="hold", size=D(0)), T0)
    assert dk.mode == "volume" and isinstance(out[0], Note)
    assert dk.worst_trade_usd() == D("23.5")  # 1000 USD x (2% stop + 0.35% drag)
    assert dk.may_open(T0)  # 30 left
    dk.modes.on_trade_closed(T0 + 60, D(-10), "volume")  # 20 left: less than the worst trade
    assert not dk.may_open(T0 + 60)
    assert not dk.allowed(T0 + 60, Outlook()).needs_llm  # nothing to ask: opens are not allowed
