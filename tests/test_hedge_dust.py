"""A partial fill that leaves the primary with a position below the venue's minimum order value.

Seen in a simulated day: a 0.1 SOL open cycle filled 0.06 on Paradex, the rest (0.04 SOL, ~6 USD)
could not be quoted (min order value 10 USD) and 0.06 is below GRVT's 0.1 SOL minimum, so it stayed
unhedged; the close cycle could not be quoted either, and the bot recorded an empty "ok" close
cycle every quarter second for a day, then could not flatten. Paradex allows a reduce-only order
below the minimum when it matches the offsetting position; the bot now uses that, and where a venue
has no such exception it stops (flatten) instead of cycling.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from core.errors import OrderRejected
from core.reasons import Reason
from core.types import BBO, Fill, Liquidity, Order, OrderStatus, OrderType, Side
from exchanges.sim.profiles import load_profiles
from strategies.base import Flatten, PlaceLimit, Record
from strategies.hedge.config import HedgeConfig
from strategies.hedge.strategy import HedgeStrategy
from strategies.kernel import Kernel
from tests.simkit import T0, set_book, static_exchange

PV, HV = "paradex", "grvt"


def bbo(venue: str, bid: str, ask: str, t: float = T0) -> BBO:
    return BBO(venue, "SOL", D(bid), D("50"), D(ask), D("50"), t)


def kernel(*, exempt: bool = True) -> tuple[Kernel, list]:
    prof = load_profiles()
    primary = prof.venue(PV).instrument("SOL")
    assert primary.closes_below_min_notional  # the shipped Paradex profile carries the venue's rule
    if not exempt:
        primary = replace(primary, closes_below_min_notional=False)
    cfg = HedgeConfig(ticker="SOL", size=D("0.1"), iterations=3, hedge_mode="market")
    k = Kernel(HedgeStrategy(cfg), "run-dust", {PV: primary, HV: prof.venue(HV).instrument("SOL")}, T0)
    k.on_bbo(bbo(PV, "150.000", "150.010"), T0)
    k.on_bbo(bbo(HV, "150.00", "150.02"), T0)
    return k, k.start(T0, {PV: D(0), HV: D(0)})


def order(it: PlaceLimit, status: OrderStatus, filled: str) -> Order:
    return Order(it.venue, f"oid-{it.client_id}", it.client_id, "SOL", it.side, OrderType.LIMIT, it.price, it.size,
                 D(filled), None, status, ts=T0)


def fill(it: PlaceLimit, size: str, trade: str) -> Fill:
    return Fill(it.venue, f"oid-{it.client_id}", it.client_id, trade, "SOL", it.side, it.price, D(size), D(0),
                Liquidity.MAKER, T0)


def partial_open(k: Kernel, intents: list) -> list:
    """The open order fills 0.06 of 0.1, then the book moves away and the rest is cancelled."""
    [p] = [i for i in intents if isinstance(i, PlaceLimit)]
    assert (p.side, p.size) == (Side.BUY, D("0.1"))
    k.on_order(order(p, OrderStatus.OPEN, "0"), T0 + 0.1)
    out = k.on_fill(fill(p, "0.06", "t1"), T0 + 1)
    assert not [i for i in out if isinstance(i, PlaceLimit) and i.venue == HV]  # 0.06 < grvt's 0.1 minimum
    out += k.on_order(order(p, OrderStatus.CANCELLED, "0.06"), T0 + 2)
    for n in range(1, 9):  # two simulated seconds of ticks
        out += k.on_tick(T0 + 2 + n / 4)
    return out


def test_the_close_of_a_position_below_the_minimum_is_quoted_reduce_only_where_the_venue_allows_it() -> None:
    k, intents = kernel()
    out = partial_open(k, intents)
    closes = [i for i in out if isinstance(i, PlaceLimit) and i.venue == PV]
    assert len(closes) == 1
    [c] = closes
    assert (c.side, c.size, c.reduce_only) == (Side.SELL, D("0.06"), True)  # 0.06 x 150 = 9 USD < 10 USD
    cycles = [i.payload for i in out if isinstance(i, Record) and i.kind == "cycle"]
    assert [(r.kind, r.size, r.net_delta_after) for r in cycles] == [("open", D("0.06"), D("0.06"))]
    assert not [i for i in out if isinstance(i, Flatten)]


def test_without_the_venue_exception_the_bot_flattens_instead_of_recording_empty_cycles() -> None:
    k, intents = kernel(exempt=False)
    out = partial_open(k, intents)
    [flat] = [i for i in out if isinstance(i, Flatten)]
    assert flat.code is Reason.BELOW_MIN_NOTIONAL and "0.06 SOL is below" in flat.reason
    cycles = [i.payload for i in out if isinstance(i, Record) and i.kind == "cycle"]
    assert [(r.kind, r.size) for r in cycles] == [("open", D("0.06"))]  # no empty close cycles
    assert not [i for i in out if isinstance(i, PlaceLimit) and i.venue == PV]


def test_the_simulated_paradex_takes_a_reduce_only_close_below_the_minimum_only_for_the_whole_position() -> None:
    ex, _ = static_exchange("paradex", "SOL")  # book around 100: 0.06 SOL is 6 USD, under 10 USD
    set_book(ex, "SOL", [("100.000", "50")], [("100.010", "50")])
    ex.place_market("SOL", Side.BUY, D("0.16"), "open", D("50"), reduce_only=False, t=T0)
    ex.place_market("SOL", Side.SELL, D("0.1"), "part", D("50"), reduce_only=True, t=T0 + 1)
    assert ex.account.positions["SOL"] == D("0.06")
    for size, reduce_only, cid in (("0.06", False, "plain"), ("0.05", True, "not-all")):
        with pytest.raises(OrderRejected) as err:
            ex.place_market("SOL", Side.SELL, D(size), cid, D("50"), reduce_only=reduce_only, t=T0 + 2)
        assert err.value.reason is Reason.BELOW_MIN_NOTIONAL
    ex.place_market("SOL", Side.SELL, D("0.06"), "close", D("50"), reduce_only=True, t=T0 + 3)
    assert ex.account.positions.get("SOL", D(0)) == 0


def test_a_venue_that_publishes_no_exception_keeps_its_minimum_for_closes() -> None:
    ins = replace(load_profiles().venue(PV).instrument("SOL"), closes_below_min_notional=False)
    assert ins.below_min_notional(D("0.06"), D("150"), reduce_only=True, position=D("0.06"))
    assert not load_profiles().venue(HV).instrument("SOL").closes_below_min_notional
