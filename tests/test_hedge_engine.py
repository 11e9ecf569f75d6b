"""The hedge strategy in the pure kernel: events in, intents out."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from core.reasons import Reason
from core.types import BBO, Fill, Liquidity, Order, OrderStatus, OrderType, Side
from exchanges.sim.profiles import load_profiles
from strategies.base import Cancel, Finish, Flatten, Limits, Lookup, PlaceLimit, PlaceMarket, Record
from strategies.guard import TradingState, gate
from strategies.hedge.strategy import HedgeStrategy
from strategies.kernel import Kernel
from tests.simkit import T0

PV, HV = "paradex", "grvt"


def bbo(venue: str, bid: str, ask: str, t: float = T0) -> BBO:
    return BBO(venue, "ETH", D(bid), D("5"), D(ask), D("5"), t)


def engine(cfg, run_id: str) -> Kernel:
    prof = load_profiles()
    return Kernel(HedgeStrategy(cfg), run_id, {PV: prof.venue(PV).instrument("ETH"),
                                               HV: prof.venue(HV).instrument("ETH")}, T0)


def make(**kw) -> tuple[Kernel, list]:
    from strategies.hedge.config import HedgeConfig

    cfg = HedgeConfig(ticker="ETH", size=D("0.05"), iterations=kw.pop("iterations", 1), **kw)
    e = engine(cfg, "run-abc")
    e.on_bbo(bbo(PV, "3000.00", "3000.10"), T0)
    e.on_bbo(bbo(HV, "3000.05", "3000.15"), T0)
    return e, e.start(T0, {PV: D(0), HV: D(0)})


def only(intents: list, kind: type) -> list:
    return [i for i in intents if isinstance(i, kind)]


def records(intents: list, kind: str) -> list:
    return [i.payload for i in intents if isinstance(i, Record) and i.kind == kind]


def order(it, status: OrderStatus, filled: str = "0", oid: str | None = None) -> Order:
    return Order(it.venue, oid or f"oid-{it.client_id}", it.client_id, "ETH", it.side,
                 OrderType.LIMIT if isinstance(it, PlaceLimit) else OrderType.MARKET,
                 getattr(it, "price", None), it.size, D(filled), None, status, ts=T0)


def fill(it, size: str, trade: str, price: str = "3000.00", oid: str | None = None) -> Fill:
    return Fill(it.venue, oid or f"oid-{it.client_id}", it.client_id, trade, "ETH", it.side, D(price), D(size),
                D(0), Liquidity.MAKER, T0)


def test_first_cycle_posts_one_primary_maker_order_priced_by_mode() -> None:
    _, intents = make(primary_mode="bbo_minus_1")
    [p] = only(intents, PlaceLimit)
    assert (p.venue, p.tag, p.side, p.price, p.size, p.post_only) == (PV, "primary", Side.BUY, D("2999.99"),
                                                                        D("0.05"), True)
    assert p.client_id


def test_every_partial_fill_is_hedged_at_once_and_deduplicated_by_trade_id() -> None:
    e, intents = make(hedge_mode="market")
    [p] = only(intents, PlaceLimit)
    e.on_order(order(p, OrderStatus.OPEN), T0)
    first = fill(p, "0.02", "t1")
    [h] = only(e.on_fill(first, T0 + 1), PlaceMarket)
    assert (h.venue, h.side, h.size) == (HV, Side.SELL, D("0.02"))
    assert e.on_fill(first, T0 + 1) == []  # the same trade again (a REST catch-up): nothing new
    # the venue's order update shows 0.03 more before its fill event arrives: hedge it now
    [h2] = only(e.on_order(order(p, OrderStatus.PARTIALLY_FILLED, "0.05"), T0 + 2), PlaceMarket)
    assert h2.size == D("0.03")
    assert not only(e.on_fill(fill(p, "0.03", "t2"), T0 + 3), PlaceMarket)  # already hedged


def test_a_cancel_answered_already_filled_is_a_fill() -> None:
    e, intents = make(hedge_mode="market")
    [p] = only(intents, PlaceLimit)
    e.on_order(order(p, OrderStatus.OPEN), T0)
    cancels = only(e.on_bbo(bbo(PV, "3001.00", "3001.10", T0 + 1), T0 + 1), Cancel)  # book moved away
    assert cancels == [Cancel(PV, p.client_id)]
    [h] = only(e.on_order(order(p, OrderStatus.FILLED, "0.05"), T0 + 1.1), PlaceMarket)
    assert h.size == D("0.05") and h.side is Side.SELL


def test_no_new_primary_order_while_a_hedge_is_in_flight() -> None:
    e, intents = make(hedge_mode="market", iterations=2)
    [p] = only(intents, PlaceLimit)
    e.on_order(order(p, OrderStatus.OPEN), T0)
    [h] = only(e.on_fill(fill(p, "0.05", "t1"), T0 + 1), PlaceMarket)
    out = e.on_order(order(p, OrderStatus.FILLED, "0.05"), T0 + 1)
    out += e.on_bbo(bbo(PV, "2990.00", "2990.10", T0 + 2), T0 + 2) + e.on_tick(T0 + 3)
    assert not [i for i in only(out, PlaceLimit) if i.tag == "primary"]  # hedge still open
    done = e.on_order(order(h, OrderStatus.FILLED, "0.05"), T0 + 4)
    done += e.on_fill(fill(h, "0.05", "h1", "3000.05"), T0 + 4)
    [cycle] = records(done, "cycle")
    assert cycle.kind == "open" and cycle.size == D("0.05") and cycle.hedge_price == D("3000.05")
    assert cycle.edge_bps == D("0.1667")  # bought 3000.00, sold 3000.05
    [nxt] = [i for i in only(done, PlaceLimit) if i.tag == "primary"]
    assert nxt.side is Side.SELL and nxt.reduce_only  # the close cycle


def test_residual_below_hedge_minimum_is_carried_until_it_adds_up() -> None:
    e, intents = make(hedge_mode="market")
    [p] = only(intents, PlaceLimit)
    e.on_order(order(p, OrderStatus.OPEN), T0)
    assert not only(e.on_fill(fill(p, "0.004", "t1"), T0 + 1), PlaceMarket)  # grvt ETH minimum is 0.01
    assert e.strategy.residual == D("-0.004")
    [h] = only(e.on_fill(fill(p, "0.007", "t2"), T0 + 2), PlaceMarket)
    assert h.size == D("0.01") and e.strategy.residual == D("-0.001")


def test_maker_hedge_turns_taker_after_the_timeout() -> None:
    e, intents = make(hedge_mode="bbo_minus_1", hedge_timeout=5.0)
    [p] = only(intents, PlaceLimit)
    e.on_order(order(p, OrderStatus.OPEN), T0)
    [h] = [i for i in only(e.on_fill(fill(p, "0.05", "t1"), T0 + 1), PlaceLimit) if i.tag == "hedge"]
    assert h.venue == HV and h.side is Side.SELL and h.price == D("3000.16") and h.post_only
    e.on_order(order(h, OrderStatus.OPEN), T0 + 1.1)
    assert not only(e.on_tick(T0 + 5.0), Cancel)
    assert only(e.on_tick(T0 + 6.1), Cancel) == [Cancel(HV, h.client_id)]
    [taker] = only(e.on_order(order(h, OrderStatus.CANCELLED, "0.02"), T0 + 6.2), PlaceMarket)
    assert taker.size == D("0.03")  # only the unfilled remainder


def test_maker_hedge_turns_taker_on_an_adverse_move() -> None:
    e, intents = make(hedge_mode="bbo_minus_1", hedge_timeout=60.0, adverse_move_bps=D(3))
    [p] = only(intents, PlaceLimit)
    e.on_order(order(p, OrderStatus.OPEN), T0)
    [h] = [i for i in only(e.on_fill(fill(p, "0.05", "t1"), T0 + 1), PlaceLimit) if i.tag == "hedge"]
    e.on_order(order(h, OrderStatus.OPEN), T0 + 1.1)
    assert not only(e.on_bbo(bbo(HV, "3000.00", "3000.10"), T0 + 2), Cancel)  # 0.8 bps: not yet
    assert only(e.on_bbo(bbo(HV, "2998.90", "2999.00"), T0 + 3), Cancel) == [Cancel(HV, h.client_id)]


def test_consecutive_hedge_failures_flatten_and_fail_without_looping() -> None:
    e, intents = make(hedge_mode="market", max_hedge_failures=3)
    [p] = only(intents, PlaceLimit)
    e.on_order(order(p, OrderStatus.OPEN), T0)
    [h] = only(e.on_fill(fill(p, "0.05", "t1"), T0 + 1), PlaceMarket)
    out: list = []
    for n in range(3):
        out = e.on_order(order(h, OrderStatus.CANCELLED, "0"), T0 + 2 + n)
        if n < 2:
            assert not only(out, PlaceMarket)  # cooling down before the retry
            [h] = only(e.on_tick(T0 + 2.5 + n), PlaceMarket)
            assert h.max_slippage_bps > D(10)  # each retry may slip further
    assert only(out, Flatten)
    assert e.guard.state is TradingState.REDUCING
    events = records(out, "risk")
    assert any(ev.reason is Reason.HEDGE_FAILURES and ev.state_to == "REDUCING" for ev in events)
    assert not only(e.on_tick(T0 + 10), PlaceMarket)  # flattening: the engine sends nothing else
    [fin] = only(e.on_flattened(T0 + 11, True, {PV: D(0), HV: D(0)}, "flat"), Finish)
    assert fin.status == "FAILED" and "HEDGE_FAILURES" in fin.reason


def test_one_glitchy_read_is_not_a_mismatch_but_a_confirmed_one_flattens() -> None:
    e, _ = make(hedge_mode="market")
    out = e.on_positions({PV: D("0.5"), HV: D(0)}, T0 + 15)  # a glitch
    assert not only(out, Flatten)
    assert [e.reason for e in records(out, "risk")] == [Reason.POSITION_MISMATCH]
    assert not only(e.on_positions({PV: D(0), HV: D(0)}, T0 + 30), Flatten)  # it went away
    e.on_positions({PV: D("0.3"), HV: D(0)}, T0 + 45)
    out = e.on_positions({PV: D("0.3"), HV: D(0)}, T0 + 60)  # the same again: real
    assert only(out, Flatten) and e.guard.state is TradingState.REDUCING


def test_unreadable_positions_stop_adding_risk_until_readable() -> None:
    e, intents = make(hedge_mode="market", iterations=3)
    [p] = only(intents, PlaceLimit)
    e.on_order(order(p, OrderStatus.OPEN), T0)
    for n in range(3):
        e.on_positions({PV: None, HV: D(0)}, T0 + n)
    assert e.guard.state is TradingState.REDUCING
    out = e.on_order(order(p, OrderStatus.CANCELLED), T0 + 5)  # the open order went away ...
    out += e.on_tick(T0 + 10)
    assert not [i for i in only(out, PlaceLimit) if i.tag == "primary"]  # ... and is not replaced
    out = e.on_positions({PV: D(0), HV: D(0)}, T0 + 20)
    assert e.guard.state is TradingState.ACTIVE
    assert [i for i in only(out, PlaceLimit) if i.tag == "primary"]


def test_a_timed_out_order_is_looked_up_never_resent() -> None:
    e, intents = make(hedge_mode="market")
    [p] = only(intents, PlaceLimit)
    assert e.on_timeout(p.client_id, T0 + 1) == []
    assert not only(e.on_tick(T0 + 1.2), PlaceLimit)
    assert only(e.on_tick(T0 + 1.6), Lookup) == [Lookup(PV, p.client_id)]
    out = e.on_lookup(p.client_id, None, T0 + 2)  # it never reached the venue
    out += e.on_tick(T0 + 3)
    [again] = [i for i in only(out, PlaceLimit) if i.tag == "primary"]
    assert again.client_id != p.client_id  # a new order with a new client id


def test_restart_flattens_an_unhedged_position_and_adopts_a_hedged_one() -> None:
    from strategies.hedge.config import HedgeConfig

    cfg = HedgeConfig(ticker="ETH", size=D("0.05"))
    e = engine(cfg, "run-r")
    e.on_bbo(bbo(PV, "3000.00", "3000.10"), T0)
    e.on_bbo(bbo(HV, "3000.05", "3000.15"), T0)
    out = e.start(T0, {PV: D("0.05"), HV: D(0)})
    assert only(out, Flatten) and any(e.reason is Reason.RESTART_RECONCILE for e in records(out, "risk"))
    e2 = engine(cfg, "run-s")
    e2.on_bbo(bbo(PV, "3000.00", "3000.10"), T0)
    e2.on_bbo(bbo(HV, "3000.05", "3000.15"), T0)
    [p] = only(e2.start(T0, {PV: D("0.05"), HV: D("-0.05")}), PlaceLimit)
    assert p.side is Side.SELL and p.reduce_only  # unwinding first


@pytest.mark.parametrize(("state", "tag", "sign", "reduce", "pos", "net", "denied"), [
    (TradingState.HALTED, "hedge", -1, True, "0.1", "0.1", Reason.STATE_HALTED),
    (TradingState.REDUCING, "primary", 1, False, "0", "0", Reason.STATE_REDUCING),
    (TradingState.REDUCING, "hedge", -1, False, "0", "0.1", None),  # reduces the net delta
    (TradingState.ACTIVE, "primary", 1, False, "0.2", "0", Reason.MAX_POSITION),
    (TradingState.ACTIVE, "primary", -1, True, "0.2", "0", None),
])
def test_risk_gate(state, tag, sign, reduce, pos, net, denied) -> None:
    # the gate no longer reads the tag: a hedge passes because it reduces the net exposure
    verdict = gate(state, sign, D("0.1"), reduce, D(pos), D(net), Limits(tolerance=D("0.001"), max_position=D("0.2")),
                   label=f"a {tag}")
    assert (verdict[0] if verdict else None) == denied


def test_a_stop_cancels_an_order_still_in_flight_and_names_it_in_its_record() -> None:
    # an order sent just before the user's cancel is acknowledged just after it: the stop's record says it
    # cancelled that order, so what the bot sent after the stop can be told from what it sent before
    e, intents = make()
    [p] = only(intents, PlaceLimit)  # sent, not yet acknowledged
    out = e.stop(T0 + 1, flatten=False)
    assert [(c.venue, c.client_id) for c in only(out, Cancel)] == [(PV, p.client_id)]
    [state] = [e for e in records(out, "risk") if e.state_to]
    assert state.reason is Reason.CANCELLED_BY_USER and f"cancelling {PV}:{p.client_id}" in state.detail
    assert not only(out, PlaceLimit) and not only(out, PlaceMarket)


def test_a_hedge_withdrawn_by_a_stop_is_not_a_hedge_failure() -> None:
    e, intents = make(hedge_mode="bbo_minus_1")
    [p] = only(intents, PlaceLimit)
    e.on_order(order(p, OrderStatus.OPEN), T0)
    [h] = [i for i in only(e.on_fill(fill(p, "0.05", "t1"), T0 + 1), PlaceLimit) if i.tag == "hedge"]
    e.on_order(order(h, OrderStatus.OPEN), T0 + 1.1)
    out = e.stop(T0 + 2, flatten=False)
    assert Cancel(HV, h.client_id) in only(out, Cancel)  # the stop withdraws the resting maker hedge
    out = e.on_order(order(h, OrderStatus.CANCELLED, "0"), T0 + 2.1)
    out += e.on_order(order(p, OrderStatus.FILLED, "0.05"), T0 + 2.2)  # the primary's cancel: already filled
    assert e.strategy.stats.hedge_failures == 0
    assert not [ev for ev in records(out, "risk") if ev.check == "hedge"]
    [fin] = only(out, Finish)
    assert fin.status == "CANCELLED"


def test_a_remainder_below_the_primary_minimum_notional_is_not_quoted() -> None:
    """A partial fill of 0.048 of 0.05 ETH leaves 0.002 (~6 USD), below Paradex's 10 USD minimum: the
    venue would refuse it, and the refusal used to end the run FAILED. The cycle ends at 0.048."""
    e, intents = make(hedge_mode="market")
    [p] = only(intents, PlaceLimit)
    e.on_order(order(p, OrderStatus.OPEN), T0)
    [h] = only(e.on_fill(fill(p, "0.048", "t1"), T0 + 1), PlaceMarket)
    assert h.size == D("0.04")  # GRVT's lot: 0.008 is carried
    out = e.on_bbo(bbo(PV, "3001.00", "3001.10", T0 + 2), T0 + 2)  # the book moved away: re-price
    out += e.on_order(order(p, OrderStatus.CANCELLED, "0.048"), T0 + 2.1)
    out += e.on_order(order(h, OrderStatus.FILLED, "0.04"), T0 + 3)
    out += e.on_fill(fill(h, "0.04", "h1", "3000.05"), T0 + 3)
    out += e.on_tick(T0 + 4) + e.on_bbo(bbo(PV, "3001.00", "3001.10", T0 + 5), T0 + 5)
    assert not [i for i in only(out, PlaceLimit) if i.tag == "primary" and i.size * D("3001") < 10]
    assert not only(out, Finish) or all(f.status != "FAILED" for f in only(out, Finish))
