"""The kernel's parts on their own: the order table, the ledger over N venues, the guard."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from core.reasons import Reason
from core.types import Fill, Liquidity, Order, OrderStatus, OrderType, Side
from strategies.base import Limits
from strategies.guard import DailyPnl, Guard, Reconciler, TradingState, Verdict, gate
from strategies.ledger import Ledger
from strategies.orders import OrderState, OrderTable

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp()


def fill(venue: str, cid: str, trade: str, size: str, side: Side = Side.BUY, price: str = "100", fee: str = "0",
         oid: str = "o1") -> Fill:
    return Fill(venue, oid, cid, trade, "SOL", side, D(price), D(size), D(fee), Liquidity.MAKER, T0)


def update(venue: str, cid: str, status: OrderStatus, filled: str, size: str = "0.05", oid: str = "o1") -> Order:
    return Order(venue, oid, cid, "SOL", Side.BUY, OrderType.LIMIT, D("100"), D(size), D(filled), None, status)


# --- order table ---------------------------------------------------------------------------------
def test_exposure_counts_once_per_order_whichever_source_shows_it_first() -> None:
    table = OrderTable()
    t = table.track("a", "entry", "c1", Side.BUY, D("0.05"), D("100"), False, T0)
    assert table.on_update(t, update("a", "c1", OrderStatus.PARTIALLY_FILLED, "0.03")) == D("0.03")
    assert t.state is OrderState.LIVE and t.order_id == "o1"
    f1 = fill("a", "c1", "t1", "0.02")
    assert table.first_fill(f1) and table.on_fill(t, f1) == 0  # already shown by the update
    assert not table.first_fill(f1)  # the same trade again (a REST catch-up) is not new
    f2 = fill("a", "c1", "t2", "0.03")
    assert table.first_fill(f2) and table.on_fill(t, f2) == D("0.02")  # 0.05 by fills now
    assert t.accounted == D("0.05") and t.open_qty == 0


def test_a_cancel_answered_already_filled_shows_the_fill() -> None:
    table = OrderTable()
    t = table.track("a", "entry", "c1", Side.BUY, D("0.05"), D("100"), False, T0)
    assert table.cancelling(t, T0 + 1) and t.state is OrderState.CANCELLING
    assert table.on_update(t, update("a", "c1", OrderStatus.FILLED, "0.05")) == D("0.05")


def test_a_timed_out_order_is_looked_up_after_a_wait_and_client_ids_are_never_reused() -> None:
    table = OrderTable()
    t = table.track("a", "entry", "c1", Side.BUY, D("0.05"), D("100"), False, T0)
    table.timed_out("c1", T0 + 1)
    assert t.state is OrderState.UNKNOWN and t.live
    assert table.due_lookups(T0 + 1.2) == []
    assert table.due_lookups(T0 + 1.6) == [t]
    assert table.due_lookups(T0 + 1.7) == []  # its clock restarted
    with pytest.raises(ValueError, match="c1 was already used"):
        table.track("a", "entry", "c1", Side.BUY, D("0.05"), D("100"), False, T0 + 2)


def test_open_orders_by_venue_and_tag_and_what_they_could_still_fill() -> None:
    table = OrderTable()
    a = table.track("a", "grid-1", "c1", Side.BUY, D("1"), D("99"), False, T0)
    table.track("a", "grid-2", "c2", Side.SELL, D("2"), D("101"), False, T0)
    table.track("b", "grid-1", "c3", Side.BUY, D("3"), D("99"), False, T0)
    assert [t.client_id for t in table.open("a")] == ["c1", "c2"]
    assert [t.client_id for t in table.open(tag="grid-1")] == ["c1", "c3"]
    assert table.open_qty("a", Side.BUY) == D("1") and table.open_qty("a", Side.SELL) == D("2")
    table.retire(a, "CANCELLED")
    assert [t.client_id for t in table.open("a")] == ["c2"] and a.open_qty == 0
    assert table.get("c1") is a and a.state is OrderState.DONE


# --- ledger --------------------------------------------------------------------------------------
def test_ledger_over_three_venues_positions_from_exposure_money_from_fills() -> None:
    led = Ledger(["a", "b", "c"])
    led.move("a", D("0.1"), T0)
    led.move("b", D("-0.05"), T0 + 1)
    led.move("c", D("-0.05"), T0 + 2)
    led.move("zz", D("5"), T0 + 3)  # not a venue of the run
    assert led.net == 0 and led.max_abs_net == D("0.1")
    assert [n for _, n in led.net_samples] == [D("0.1"), D("0.05"), D(0)]
    led.account(fill("a", "c1", "t1", "0.1", Side.BUY, "100", "0.01"))
    led.account(fill("b", "c2", "t2", "0.05", Side.SELL, "101", "0.02"))
    assert led.cash == {"a": D("-10.01"), "b": D("5.03"), "c": D(0)}
    assert led.volume["a"] == D("10.0") and led.fees["b"] == D("0.02")
    # held: a +0.1, b -0.05, c -0.05, worth 10 - 5 - 5 at 100; cash -10.01 + 5.03
    assert led.pnl({"a": D("100"), "b": D("100"), "c": D("100")}) == D("-4.98")
    assert led.pnl({"a": D("101"), "b": D("100"), "c": D("100")}) == D("-4.88")
    led.reset({"a": D(0), "b": D(0), "c": D(0)}, T0 + 4)
    assert led.net == 0 and led.net_samples[-1] == (T0 + 4, D(0))


# --- guard ---------------------------------------------------------------------------------------
LIMITS = Limits(tolerance=D("0.001"), max_position=D("0.2"))


@pytest.mark.parametrize(("state", "sign", "reduce", "pos", "net", "denied"), [
    (TradingState.HALTED, -1, True, "0.1", "0.1", Reason.STATE_HALTED),
    (TradingState.REDUCING, 1, False, "0", "0", Reason.STATE_REDUCING),
    (TradingState.REDUCING, -1, False, "0", "0.1", None),  # reduces the net exposure
    (TradingState.ACTIVE, 1, False, "0.2", "0", Reason.MAX_POSITION),
    (TradingState.ACTIVE, -1, True, "0.2", "0", None),
    (TradingState.ACTIVE, -1, False, "-0.2", "0.1", None),  # beyond the venue limit, but a hedge
])
def test_gate_judges_orders_by_their_effect_not_their_name(state, sign, reduce, pos, net, denied) -> None:
    verdict = gate(state, sign, D("0.1"), reduce, D(pos), D(net), LIMITS)
    assert (verdict[0] if verdict else None) == denied


def test_gate_counts_what_open_orders_on_the_same_side_could_still_fill() -> None:
    assert gate(TradingState.ACTIVE, 1, D("0.1"), False, D("0.05"), D("0.05"), LIMITS) is None
    denied = gate(TradingState.ACTIVE, 1, D("0.1"), False, D("0.05"), D("0.05"), LIMITS, pending=D("0.1"))
    assert denied == (Reason.MAX_POSITION, "the position would reach 0.25 with 0.1 open (limit 0.2)")


def test_gate_enforces_a_strategys_order_size_and_open_order_limits() -> None:
    limits = Limits(tolerance=D("0.001"), max_order_size=D("1"), max_open_orders=4)
    assert gate(TradingState.ACTIVE, 1, D("1.5"), False, D(0), D(0), limits)[0] is Reason.SIZE_ABOVE_MAX
    assert gate(TradingState.ACTIVE, 1, D("1"), False, D(0), D(0), limits, open_orders=4) is not None
    assert gate(TradingState.ACTIVE, 1, D("1"), False, D(0), D(0), limits, open_orders=3) is None


def test_state_machine_recovers_only_from_recoverable_reasons_and_a_halt_is_final() -> None:
    g = Guard("r", LIMITS, T0)
    assert g.move(TradingState.REDUCING, Reason.POSITION_UNKNOWN, T0)
    assert g.move(TradingState.ACTIVE, Reason.POSITION_UNKNOWN, T0 + 1)
    assert g.move(TradingState.REDUCING, Reason.HEDGE_FAILURES, T0 + 2)
    assert not g.move(TradingState.ACTIVE, Reason.HEDGE_FAILURES, T0 + 3)
    assert g.move(TradingState.HALTED, Reason.HEDGE_FAILURES, T0 + 4)
    assert not g.move(TradingState.REDUCING, Reason.POSITION_UNKNOWN, T0 + 5)
    events = g.drain()
    assert [(e.state_from, e.state_to) for e in events] == [("ACTIVE", "REDUCING"), ("REDUCING", "ACTIVE"),
                                                            ("ACTIVE", "REDUCING"), ("REDUCING", "HALTED")]
    assert g.drain() == []


def test_daily_pnl_counts_fees_and_resets_at_utc_midnight() -> None:
    t = datetime(2026, 3, 1, 23, 59, tzinfo=UTC).timestamp()
    d = DailyPnl(t)
    d.on_fill(Fill("paradex", "o", "c", "t1", "SOL", Side.BUY, D(100), D(1), D("0.5"), Liquidity.TAKER, t))
    assert d.pnl({"paradex": D(99)}) == D("-1.5")  # 1 USD lost on the price, 0.5 in fees
    assert not d.roll(t + 30, {"paradex": D(99)})
    assert d.roll(t + 61, {"paradex": D(99)})  # a new UTC day
    assert d.pnl({"paradex": D(99)}) == 0
    assert d.pnl({"paradex": D(101)}) == D(2)  # the open position counts from the day's start


def test_daily_loss_breach_is_measured_against_the_strategys_limit() -> None:
    g = Guard("r", Limits(tolerance=D("0.001"), daily_loss=D("1")), T0)
    g.daily.on_fill(Fill("a", "o", "c", "t1", "SOL", Side.BUY, D(100), D(1), D("0.2"), Liquidity.TAKER, T0))
    assert g.loss_breach({"a": D("99.5")}) is None  # -0.7
    assert g.loss_breach({"a": D("99")}) == D("-1.2")
    assert Guard("r", Limits(tolerance=D(1)), T0).loss_breach({"a": D(0)}) is None  # no limit: never


def test_reconciliation_is_debounced_one_glitch_is_suspect_a_repeat_is_confirmed() -> None:
    r = Reconciler(D("0.001"), confirmations=2)
    assert r.observe("a", D(0), D("0.5")) is Verdict.SUSPECT
    assert r.observe("a", D(0), D(0)) is Verdict.OK  # it went away
    assert r.observe("a", D(0), D("0.3")) is Verdict.SUSPECT
    assert r.observe("a", D(0), D("0.4")) is Verdict.SUSPECT  # a different value starts over
    assert r.observe("a", D(0), D("0.4")) is Verdict.CONFIRMED
