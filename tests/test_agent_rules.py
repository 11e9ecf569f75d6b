"""The agent's rules in code: parameters, allowed actions, decision validation, calibration,
exits, modes, round-trip costs and maker-first entries (pure logic, no I/O)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from core.types import BBO, Side
from exchanges.sim.profiles import load_profiles
from strategies.agent.allowed import Action, Held, allowed_actions
from strategies.agent.calibration import Calibration, bucket_of
from strategies.agent.costs import Leg, RoundTrip
from strategies.agent.decision import Accepted, Rejected, validate_decision
from strategies.agent.entry import plan_entry
from strategies.agent.exits import ExitRule, OpenTrade, exit_due
from strategies.agent.modes import BurnRefused, Modes
from strategies.agent.params import AgentParams

D = Decimal
H = 3600.0


def refusal(**kw: object) -> str:
    with pytest.raises(ValidationError) as exc:
        AgentParams(**kw)
    return str(exc.value)


# --- parameters ------------------------------------------------------------------------------

def test_defaults_are_the_notes_profit_table() -> None:
    p = AgentParams()
    r = p.rules("profit")
    assert (r.stop_loss_pct, r.take_profit_pct, r.max_hold_s, r.min_hold_s, r.cut_loser_after_s,
            r.cut_loser_confidence) == (4.0, 10.0, 48 * H, 3600, 4 * H, 0.7)
    v = p.rules("volume")
    assert (v.stop_loss_pct, v.take_profit_pct, v.max_hold_s, v.cut_loser_after_s) == (2.0, 4.0, 2 * H, None)


def test_unknown_symbol_on_the_venue_is_refused_naming_field_and_allowed() -> None:
    msg = refusal(venue="extended", symbols=["SOL", "DOGE"])
    assert "symbols" in msg and "DOGE not traded on extended" in msg and "allowed: BTC, ETH, SOL" in msg
    assert AgentParams(venue="hibachi", symbols="sol, eth").symbols == ("SOL", "ETH")


def test_bad_values_are_refused_naming_the_field() -> None:
    assert "take_profit_pct" in refusal(take_profit_pct=0)
    assert "take_profit_pct" in refusal(take_profit_pct=-3)
    assert "take_profit_pct" in refusal(take_profit_pct=12)  # profit mode's TP is 8-10%
    sl = refusal(stop_loss_pct=25, leverage=5)  # margin 20%: liquidated before the stop
    assert "stop_loss_pct" in sl and "margin" in sl
    assert "volume_stop_loss_pct" in refusal(volume_stop_loss_pct=11, leverage=10)
    assert "min_hold_min" in refusal(min_hold_min=600, max_hold_h=5)
    assert "volume_min_hold_min" in refusal(volume_min_hold_min=200)
    burn = refusal(burn_budget_usd=80, burn_threshold_usd=50)
    assert "burn_budget_usd" in burn and "banked profit" in burn
    assert "venue" in refusal(venue="paradex")
    assert "size_usd" in refusal(size_usd=2000, max_size_usd=1000)


# --- allowed actions ---------------------------------------------------------------------------

SYMS = ("SOL", "ETH", "BTC")


def allowed(**kw: object):  # type: ignore[no-untyped-def]
    base: dict[str, object] = {"held": {}, "min_hold_s": 3600, "max_open_positions": 1}
    base.update(kw)
    return allowed_actions(SYMS, **base)  # type: ignore[arg-type]


def test_flat_and_unrestricted_allows_both_sides_everywhere() -> None:
    a = allowed()
    assert all(a.by_symbol[s] == {Action.HOLD, Action.OPEN_LONG, Action.OPEN_SHORT} for s in SYMS)
    assert a.needs_llm


def test_blocked_combo_removes_that_side_only() -> None:
    a = allowed(blocked=["SOL_SHORT"])
    assert a.by_symbol["SOL"] == {Action.HOLD, Action.OPEN_LONG}
    assert Action.OPEN_SHORT in a.by_symbol["ETH"]
    assert any("blocked combo SOL_SHORT" in r for r in a.removed)


def test_blackout_allows_only_hold_and_close() -> None:
    a = allowed(blackout=True)
    assert all(a.by_symbol[s] == {Action.HOLD} for s in SYMS)
    assert not a.needs_llm  # only hold: no LLM call
    b = allowed(blackout=True, held={"ETH": Held("LONG", 2 * H)}, max_open_positions=2)
    assert b.by_symbol["ETH"] == {Action.HOLD, Action.CLOSE} and b.needs_llm
    assert b.by_symbol["SOL"] == {Action.HOLD}


def test_other_bot_same_direction_is_not_doubled() -> None:
    a = allowed(others={"SOL": ["long"]})
    assert a.by_symbol["SOL"] == {Action.HOLD, Action.OPEN_SHORT}
    assert any("another bot already holds SOL LONG" in r for r in a.removed)


def test_open_position_allows_only_hold_or_close_and_min_hold_removes_close() -> None:
    a = allowed(held={"SOL": Held("LONG", 2 * H)})
    assert a.by_symbol["SOL"] == {Action.HOLD, Action.CLOSE}
    assert a.by_symbol["ETH"] == {Action.HOLD}  # one position at a time by default
    young = allowed(held={"SOL": Held("LONG", 600)})
    assert young.by_symbol["SOL"] == {Action.HOLD} and not young.needs_llm


def test_guard_and_total_cap_remove_opens() -> None:
    assert not allowed(may_open=False).needs_llm
    assert not allowed(open_room_usd=5.0, min_entry_usd=10.0).needs_llm


# --- decisions ---------------------------------------------------------------------------------

def answer(**kw: object) -> str:
    body: dict[str, object] = {"action": "open_long", "symbol": "SOL", "size_usd": 400.0, "confidence": 0.7,
                               "stop_loss_pct": 4.0, "take_profit_pct": 10.0, "thesis": "trend"}
    body.update(kw)
    return json.dumps(body)


def check(raw: str, a=None) -> Accepted | Rejected:  # type: ignore[no-untyped-def]
    return validate_decision(raw, a or allowed(), max_size_usd=D(1000), default_size_usd=D(500),
                             min_size_usd=D(10))


def test_valid_answer_is_accepted_and_size_capped() -> None:
    v = check(answer())
    assert isinstance(v, Accepted) and v.symbol == "SOL" and v.size_usd == D("400") and not v.capped
    big = check(answer(size_usd=5000.0))
    assert isinstance(big, Accepted) and big.size_usd == D(1000) and big.capped
    fenced = check("Here you go:\n```json\n" + answer(symbol="eth") + "\n```")
    assert isinstance(fenced, Accepted) and fenced.symbol == "ETH"
    hold = check(json.dumps({"action": "hold", "confidence": 0.2}))
    assert isinstance(hold, Accepted) and hold.action is Action.HOLD


def test_symbol_not_allowed_is_refused_naming_it() -> None:
    v = check(answer(symbol="DOGE"))
    assert isinstance(v, Rejected) and not v.schema_error
    assert v.reason.startswith("symbol: 'DOGE' is not allowed; allowed: SOL, ETH, BTC")


def test_action_the_rules_removed_is_refused() -> None:
    v = check(answer(action="open_short"), allowed(blocked=["SOL_SHORT"]))
    assert isinstance(v, Rejected) and v.reason == "action: open_short is not allowed for SOL; allowed: hold, open_long"
    c = check(answer(action="close"))
    assert isinstance(c, Rejected) and "close is not allowed" in c.reason


def test_schema_is_strict() -> None:
    for raw, field in [(answer(confidence="0.8"), "confidence"), (answer(confidence=1.5), "confidence"),
                       (answer(action="buy"), "action"), (answer(extra=1), "extra"),
                       (answer(size_usd=-5.0), "size_usd"), (answer(symbol=None), "symbol"),
                       ("{not json", "answer")]:
        v = check(raw)
        assert isinstance(v, Rejected) and v.schema_error and v.reason.startswith(field), (raw, v)


@settings(max_examples=300, deadline=None)
@given(blocked=st.sets(st.sampled_from([f"{s}_{d}" for s in SYMS for d in ("LONG", "SHORT")])),
       blackout=st.booleans(), held=st.sampled_from([None, "SOL", "ETH"]), held_h=st.floats(0, 10),
       others=st.dictionaries(st.sampled_from(SYMS), st.lists(st.sampled_from(["LONG", "SHORT"]), max_size=2)),
       act=st.sampled_from(["open_long", "open_short", "close", "hold"]),
       sym=st.sampled_from(["SOL", "ETH", "BTC", "DOGE", "sol"]), size=st.floats(0, 1e6))
def test_an_accepted_answer_is_always_an_action_the_rules_allowed(blocked, blackout, held, held_h, others, act,
                                                                  sym, size) -> None:  # type: ignore[no-untyped-def]
    h = {held: Held("LONG", held_h * H)} if held else {}
    a = allowed(blocked=blocked, blackout=blackout, held=h, others=others)
    v = check(answer(action=act, symbol=sym, size_usd=size), a)
    if isinstance(v, Accepted) and v.action is not Action.HOLD:
        assert v.symbol is not None and v.action in a.by_symbol[v.symbol]
        if v.action.direction:
            assert f"{v.symbol}_{v.action.direction}" not in blocked and not blackout and not h
            assert v.action.direction not in others.get(v.symbol, [])
            assert D(10) <= v.size_usd <= D(1000)


# --- calibration -------------------------------------------------------------------------------

def test_calibration_replaces_stated_confidence_before_thresholds() -> None:
    cal = Calibration.of([(0.8, 0.9, 200, 88), (0.5, 0.6, 0, 0)])  # the notes: 0.8 -> 0.44
    c = cal.apply(0.8)
    assert 0.44 < c < 0.46  # 200 trades outweigh the 10-trade prior
    assert c < AgentParams().min_confidence  # a stated 0.8 no longer passes the 0.55 threshold
    assert cal.apply(0.55) == pytest.approx(0.55)  # an empty bucket keeps the stated value
    assert cal.apply(0.3) == 0.3  # no bucket
    assert Calibration.of([(0.9, 1.0, 4, 0)]).apply(1.0) == pytest.approx(10 / 14)
    assert bucket_of(0.8) == (0.8, 0.9) and bucket_of(1.0) == (0.9, 1.0) and bucket_of(0.1) == (0.0, 0.5)


# --- exits -------------------------------------------------------------------------------------

def trade(direction: str = "LONG", conf: float = 0.6, mode: str = "profit") -> OpenTrade:
    return OpenTrade("SOL", direction, D(100), 0.0, conf, AgentParams().rules(mode))


@pytest.mark.parametrize(("direction", "price", "held_h", "conf", "rule"), [
    ("LONG", "96", 0.1, 0.9, ExitRule.STOP_LOSS),  # the stop loss applies inside the min hold
    ("SHORT", "104", 0.1, 0.9, ExitRule.STOP_LOSS),
    ("LONG", "111", 0.5, 0.9, None),  # take profit waits for the min hold
    ("LONG", "110", 1.0, 0.9, ExitRule.TAKE_PROFIT),
    ("SHORT", "90", 1.5, 0.9, ExitRule.TAKE_PROFIT),
    ("LONG", "101", 48.0, 0.9, ExitRule.MAX_HOLD),
    ("LONG", "99", 4.0, 0.6, ExitRule.CUT_LOSER),
    ("LONG", "99", 3.9, 0.6, None),  # not yet 4 h
    ("LONG", "99", 5.0, 0.7, None),  # confident enough to keep
    ("LONG", "101", 5.0, 0.5, None),  # not a loser
])
def test_profit_mode_exit_rules(direction: str, price: str, held_h: float, conf: float,
                                rule: ExitRule | None) -> None:
    assert exit_due(trade(direction, conf), D(price), held_h * H) == rule


def test_volume_mode_exit_rules() -> None:
    t = trade(mode="volume", conf=0.1)
    assert exit_due(t, D("98"), 60) is ExitRule.STOP_LOSS
    assert exit_due(t, D("104"), 400) is ExitRule.TAKE_PROFIT
    assert exit_due(t, D("99"), 2 * H) is ExitRule.MAX_HOLD
    assert exit_due(t, D("99"), 1.9 * H) is None  # volume mode never cuts a loser early


# --- modes -------------------------------------------------------------------------------------

def test_burn_only_when_asked_and_banked_then_back_to_profit() -> None:
    m = Modes("profit", burn_threshold_usd=D(50), burn_budget_usd=D(20))
    m.start(0)
    with pytest.raises(BurnRefused, match="burn_threshold_usd"):
        m.request_burn(1)
    m.on_trade_closed(2, D(30), "profit")
    m.on_trade_closed(3, D(25), "profit")
    assert m.banked_usd == D(55)
    greedy = Modes("profit", burn_threshold_usd=D(50), burn_budget_usd=D(80), banked_usd=D(60))
    with pytest.raises(BurnRefused, match="burn_budget_usd: 80 is above the banked profit 60"):
        greedy.request_burn(4)
    assert greedy.mode == "profit" and not greedy.changes
    m.request_burn(4)
    assert m.mode == "volume" and m.burning
    assert m.may_open(D(5)) and m.on_trade_closed(5, D(-12), "volume") is None
    assert not m.may_open(D(9))  # 8 left: a 9 USD round trip would overspend
    back = m.on_trade_closed(6, D(-9), "volume")
    assert back is not None and back.mode_to == "profit" and m.mode == "profit"
    assert m.banked_usd == D(55) - D(21)
    assert [(c.mode_from, c.mode_to) for c in m.changes] == [("", "profit"), ("profit", "volume"),
                                                              ("volume", "profit")]


# --- costs and entries -------------------------------------------------------------------------

def test_round_trip_drag_counts_fees_and_spread() -> None:
    taker = RoundTrip(Leg(Side.BUY, D("100.05"), D(10), D("0.45"), D(100), False),
                      Leg(Side.SELL, D("101.95"), D(10), D("0.46"), D(102), False))
    assert taker.gross_pnl == D("19.0") and taker.net_pnl == D("18.09")
    assert taker.spread_cost == D("1.0") and taker.drag_pct == (D("0.91") + 1) / D("1000.5") * 100
    maker = RoundTrip(Leg(Side.SELL, D("100.05"), D(1), D(0), D(100), True),
                      Leg(Side.BUY, D("99.5"), D(1), D("0.04"), D("99.45"), False))
    assert maker.direction == "SHORT" and maker.entry.spread_cost == D("-0.05")


def test_entries_are_maker_first_where_the_venue_allows() -> None:
    inst = load_profiles().venue("hibachi").instrument("SOL")
    bbo = BBO("hibachi", "SOL", D("150.00"), D(10), D("150.03"), D(10), 0.0)
    p = plan_entry(Side.BUY, D(500), bbo, inst, maker_first=True)
    assert p.maker and p.price == D("150.00") and p.size == D("3.33")
    s = plan_entry(Side.SELL, D(500), bbo, inst, maker_first=True)
    assert s.maker and s.price == D("150.03")
    assert not plan_entry(Side.BUY, D(500), bbo, inst, maker_first=False).maker
    flat_fee = load_profiles().venue("hibachi").with_fees("0.0004", "0.0004").instrument("SOL")
    assert not plan_entry(Side.BUY, D(500), bbo, flat_fee, maker_first=True).maker
    assert plan_entry(Side.BUY, D(1), bbo, inst, maker_first=True).size == 0  # below min notional
