"""Each matching rule of the simulator, on a book the test controls."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from core.errors import OrderRejected
from core.reasons import Reason
from core.types import Liquidity, OrderStatus, Side
from tests.simkit import T0, lots, set_book, settle, static_exchange, ticks


@pytest.fixture
def sol():
    ex, m = static_exchange("paradex", "SOL")
    set_book(ex, "SOL", bids=[("100.000", "5"), ("99.990", "10")], asks=[("100.010", "5"), ("100.020", "10")])
    return ex, m


def test_post_only_that_would_cross_is_rejected_and_nothing_rests(sol) -> None:
    ex, _ = sol
    with pytest.raises(OrderRejected) as err:
        ex.place_limit("SOL", Side.BUY, D("100.010"), D("1"), "c1", post_only=True, reduce_only=False, t=T0)
    assert err.value.reason is Reason.POST_ONLY_WOULD_CROSS
    assert ex.open_orders("SOL") == []
    # one tick less does not cross and rests
    o = ex.place_limit("SOL", Side.BUY, D("100.009"), D("1"), "c2", post_only=True, reduce_only=False, t=T0)
    assert o.status is OrderStatus.OPEN


def test_queue_position_size_ahead_is_consumed_before_us(sol) -> None:
    ex, m = sol
    o = ex.place_limit("SOL", Side.BUY, D("100.000"), D("1"), "c1", post_only=True, reduce_only=False, t=T0)
    resting = ex.find(o.order_id, None)
    assert resting.ahead == lots(ex, "SOL", "5")  # the displayed 5 SOL were there first
    m.flow_trade(T0 + 1, -1, lots(ex, "SOL", "3"))  # someone sells 3: all of it goes to those ahead
    settle(ex, T0 + 1)
    assert ex.fills_since(T0, None) == []
    assert resting.ahead == lots(ex, "SOL", "2")
    m.flow_trade(T0 + 2, -1, lots(ex, "SOL", "2.4"))  # 2 more ahead, then 0.4 to us: a partial fill
    settle(ex, T0 + 2)
    [fill] = ex.fills_since(T0, None)
    assert fill.size == D("0.4") and fill.liquidity is Liquidity.MAKER and fill.price == D("100.000")
    assert ex.find(o.order_id, None).status is OrderStatus.PARTIALLY_FILLED


def test_cancellations_ahead_move_us_up_the_queue(sol) -> None:
    ex, m = sol
    o = ex.place_limit("SOL", Side.BUY, D("100.000"), D("1"), "c1", post_only=True, reduce_only=False, t=T0)
    m.update_level(-1, ticks(ex, "SOL", "100.000"), lots(ex, "SOL", "1"))  # 4 SOL ahead cancelled
    assert ex.find(o.order_id, None).ahead == lots(ex, "SOL", "1")
    m.flow_trade(T0 + 1, -1, lots(ex, "SOL", "2"))
    settle(ex, T0 + 1)
    assert sum(f.size for f in ex.fills_since(T0, None)) == D("1")


def test_an_order_arriving_after_a_trade_is_not_filled_by_it(sol) -> None:
    ex, m = sol
    ex.place_limit("SOL", Side.BUY, D("100.005"), D("1"), "late", post_only=True, reduce_only=False, t=T0 + 5)
    m.flow_trade(T0 + 4, -1, lots(ex, "SOL", "1"))  # printed before our order reached the venue
    settle(ex, T0 + 5)
    assert ex.fills_since(T0, None) == []


def test_one_displayed_lot_cannot_fill_two_orders(sol) -> None:
    ex, _ = sol
    a = ex.place_market("SOL", Side.BUY, D("5"), "m1", D("50"), reduce_only=False, t=T0)
    b = ex.place_market("SOL", Side.BUY, D("5"), "m2", D("50"), reduce_only=False, t=T0)
    assert a.avg_price == D("100.010")
    assert b.avg_price == D("100.020")  # the 5 SOL at 100.010 are gone
    assert ex.book("SOL", 5, T0).asks[0].price == D("100.020")


def test_market_order_walks_the_book_and_stops_at_the_slippage_cap(sol) -> None:
    ex, _ = sol
    # cap 1.5 bps from 100.010 = 100.025: 100.010 and 100.020 are reachable, nothing beyond.
    set_book(ex, "SOL", bids=[("100.000", "5")], asks=[("100.010", "2"), ("100.020", "3"), ("100.050", "100")])
    o = ex.place_market("SOL", Side.BUY, D("10"), "m1", D("1.5"), reduce_only=False, t=T0)
    assert o.filled == D("5")
    assert o.status is OrderStatus.CANCELLED and o.reject_reason == Reason.SLIPPAGE_EXCEEDED
    prices = [f.price for f in ex.fills_since(T0, None)]
    assert prices == [D("100.010"), D("100.020")]
    assert all(f.liquidity is Liquidity.TAKER for f in ex.fills_since(T0, None))


def test_crossing_limit_takes_then_rests_the_remainder(sol) -> None:
    ex, _ = sol
    o = ex.place_limit("SOL", Side.BUY, D("100.010"), D("8"), "c1", post_only=False, reduce_only=False, t=T0)
    assert o.filled == D("5") and o.status is OrderStatus.PARTIALLY_FILLED
    assert ex.bbo("SOL", T0).bid == D("100.010")  # our 3 SOL remainder is now the best bid


def test_reduce_only_never_opens_or_flips(sol) -> None:
    ex, _ = sol
    with pytest.raises(OrderRejected) as err:
        ex.place_market("SOL", Side.SELL, D("1"), "r0", D("50"), reduce_only=True, t=T0)
    assert err.value.reason is Reason.REDUCE_ONLY_WOULD_INCREASE
    ex.place_market("SOL", Side.BUY, D("2"), "b1", D("50"), reduce_only=False, t=T0)
    o = ex.place_market("SOL", Side.SELL, D("3"), "r1", D("50"), reduce_only=True, t=T0)
    assert o.filled == D("2")  # clipped to the position
    assert ex.account.positions["SOL"] == 0


def test_size_limits_tick_and_step_are_enforced(sol) -> None:
    ex, _ = sol
    cases = [
        (D("100.000"), D("10001"), Reason.SIZE_ABOVE_MAX),  # Paradex SOL max 10,000
        (D("100.000"), D("0.05"), Reason.BELOW_MIN_NOTIONAL),  # 5 USD < 10 USD
        (D("100.0005"), D("1"), Reason.OFF_TICK),
        (D("100.000"), D("1.005"), Reason.OFF_LOT),
    ]
    for i, (price, size, reason) in enumerate(cases):
        with pytest.raises(OrderRejected) as err:
            ex.place_limit("SOL", Side.BUY, price, size, f"x{i}", post_only=True, reduce_only=False, t=T0)
        assert err.value.reason is reason, (price, size)


def test_client_ids_are_unique_per_venue(sol) -> None:
    ex, _ = sol
    ex.place_limit("SOL", Side.BUY, D("99.000"), D("1"), "same", post_only=True, reduce_only=False, t=T0)
    with pytest.raises(OrderRejected) as err:
        ex.place_limit("SOL", Side.BUY, D("99.000"), D("1"), "same", post_only=True, reduce_only=False, t=T0)
    assert err.value.reason is Reason.DUPLICATE_CLIENT_ID


def test_fees_are_charged_on_notional_by_liquidity(sol) -> None:
    ex, m = sol
    ex.place_market("SOL", Side.BUY, D("2"), "t1", D("50"), reduce_only=False, t=T0)
    [taker] = ex.fills_since(T0, None)
    assert taker.fee == D("2") * D("100.010") * D("0.00045")
    ex.place_limit("SOL", Side.SELL, D("100.030"), D("1"), "mk", post_only=True, reduce_only=False, t=T0)
    m.flow_trade(T0 + 1, 1, lots(ex, "SOL", "20"))
    settle(ex, T0 + 1)
    maker = [f for f in ex.fills_since(T0, None) if f.liquidity is Liquidity.MAKER]
    assert maker and maker[0].fee == D("100.030") * D("1") * D("0.00003")


def test_negative_maker_fee_is_a_rebate() -> None:
    ex, m = static_exchange("grvt", "ETH", fees=("-0.00003", "0.00019"))
    set_book(ex, "ETH", bids=[("2999.00", "5")], asks=[("3001.00", "5")])
    cash0 = ex.account.cash
    ex.place_limit("ETH", Side.BUY, D("3000.00"), D("1.00"), "mk", post_only=True, reduce_only=False, t=T0)
    m.flow_trade(T0 + 1, -1, lots(ex, "ETH", "1"))
    settle(ex, T0 + 1)
    [fill] = ex.fills_since(T0, None)
    assert fill.fee == D("-0.09") and ex.account.cash == cash0 + D("0.09")


def test_market_moving_through_a_resting_order_fills_it_at_its_price(sol) -> None:
    ex, m = sol
    ex.place_limit("SOL", Side.BUY, D("100.000"), D("1"), "c1", post_only=True, reduce_only=False, t=T0)
    m.set_quotes(ticks(ex, "SOL", "99.950"), ticks(ex, "SOL", "99.990"), T0 + 1)  # price fell through us
    settle(ex, T0 + 1)
    [fill] = ex.fills_since(T0, None)
    assert fill.price == D("100.000") and fill.ask == D("99.990")  # filled above the new ask: adverse


def test_insufficient_margin_is_refused() -> None:
    ex, _ = static_exchange("paradex", "SOL", equity="100")
    set_book(ex, "SOL", bids=[("100.000", "50")], asks=[("100.010", "50")])
    with pytest.raises(OrderRejected) as err:
        ex.place_limit("SOL", Side.BUY, D("99.000"), D("20"), "big", post_only=True, reduce_only=False, t=T0)
    assert err.value.reason is Reason.INSUFFICIENT_MARGIN


def test_cancel_after_fill_reports_the_fill(sol) -> None:
    ex, m = sol
    o = ex.place_limit("SOL", Side.SELL, D("100.010"), D("1"), "c1", post_only=True, reduce_only=False, t=T0)
    m.flow_trade(T0 + 1, 1, lots(ex, "SOL", "10"))
    settle(ex, T0 + 1)
    late = ex.cancel("SOL", o.order_id, None, T0 + 2)
    assert late.status is OrderStatus.FILLED and late.filled == D("1")


def test_phantom_depth_only_real_liquidity_queues_ahead() -> None:
    """GRVT displays far more than trades: a maker order queues behind the real part only."""
    ex, m = static_exchange("grvt", "ETH")  # queue_real_fraction 0.002
    set_book(ex, "ETH", bids=[("3000.00", "100")], asks=[("3000.50", "100")])
    o = ex.place_limit("ETH", Side.BUY, D("3000.00"), D("0.10"), "mk", post_only=True, reduce_only=False, t=T0)
    assert ex.find(o.order_id, None).ahead == lots(ex, "ETH", "0.2")  # of 100 displayed
    m.flow_trade(T0 + 1, -1, lots(ex, "ETH", "0.25"))
    settle(ex, T0 + 1)
    [fill] = ex.fills_since(T0, None)
    assert fill.size == D("0.05")
    assert ex.book("ETH", 1, T0 + 1).bids[0].size < D("100")  # the displayed level shrank too
