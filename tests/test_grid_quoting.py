"""The grid's quoting arithmetic: skew signs (property tests), the inventory limit, rounding, the
naive mode's opposite skew, re-quote triggers and parameter refusals."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from core.types import Side
from exchanges.sim.profiles import load_profiles
from strategies.grid.params import GridParams, check_instrument, parse_params
from strategies.grid.quoting import QuotePlan, plan_quotes
from strategies.grid.requote import LiveQuote, requote_reason

PROFILES = load_profiles()
BTC = PROFILES.venue("paradex").instrument("BTC")
ETH = PROFILES.venue("paradex").instrument("ETH")
SOL = PROFILES.venue("paradex").instrument("SOL")
INSTRUMENTS = {"BTC": (BTC, D("0.002"), D("90000")), "ETH": (ETH, D("0.01"), D("3000")),
               "SOL": (SOL, D("0.5"), D("150"))}


@st.composite
def markets(draw: st.DrawFn) -> tuple[GridParams, object, D, D, float]:
    symbol = draw(st.sampled_from(sorted(INSTRUMENTS)))
    ins, min_ok, px = INSTRUMENTS[symbol]
    size = min_ok * draw(st.integers(1, 5))
    p = GridParams(symbol=symbol, size=size, max_position=size * draw(st.integers(1, 8)),
                   levels=draw(st.integers(1, 4)), spacing_bps=D(draw(st.sampled_from(["0.5", "1", "3"]))),
                   half_spread_bps=D(draw(st.sampled_from(["0", "0.3", "1", "5"]))),
                   skew_bps=D(draw(st.sampled_from(["0.5", "1.5", "10"]))),
                   risk_aversion=draw(st.sampled_from([0.0, 0.5, 2.0])),
                   vol_spread_mult=draw(st.sampled_from([0.0, 1.0])))
    mid = px * (1 + D(draw(st.integers(-500, 500))) / 10_000)
    spread_ticks = draw(st.integers(1, 40))
    bid = ins.round_price(mid - spread_ticks * ins.tick / 2, Side.BUY)
    ask = bid + spread_ticks * ins.tick
    return p, ins, bid, ask, draw(st.floats(0.0, 5.0))


def plan(p: GridParams, ins: object, bid: D, ask: D, pos: D, vol: float, paused: frozenset[Side] = frozenset()
         ) -> QuotePlan:
    return plan_quotes(p, ins, bid=bid, ask=ask, position=pos, vol_bps_per_sqrt_s=vol, paused=paused)  # type: ignore[arg-type]


def _first(plan_: QuotePlan, side: Side) -> D:
    quotes = plan_.side(side)
    return quotes[0].size if quotes else D(0)


@settings(max_examples=300, deadline=None)
@given(m=markets(), frac=st.integers(1, 100), sign=st.sampled_from([1, -1]))
def test_skew_reduces_inventory_in_price_and_size(m: tuple, frac: int, sign: int) -> None:
    p, ins, bid, ask, vol = m
    pos = ins.round_size(p.max_position * frac / 100) * sign
    if pos == 0:
        return
    flat = plan(p, ins, bid, ask, D(0), vol)
    skewed = plan(p, ins, bid, ask, pos, vol)
    adding, reducing = (Side.BUY, Side.SELL) if sign > 0 else (Side.SELL, Side.BUY)
    # the reservation price moves against the position: below the flat one when long, above when short
    assert (skewed.reservation - flat.reservation) * sign < 0
    # every quote is lower when long (higher when short) than the same level when flat
    for side in (Side.BUY, Side.SELL):
        flat_px = {t.level: t.price for t in flat.side(side)}
        for t in skewed.side(side):
            if t.level in flat_px:
                assert (t.price - flat_px[t.level]) * sign <= 0, (side, t, flat_px[t.level])
    # the side that adds is smaller than the side that reduces
    assert _first(skewed, adding) < _first(skewed, reducing)
    assert skewed.size(adding) < skewed.size(reducing)


@settings(max_examples=300, deadline=None)
@given(m=markets(), frac=st.integers(0, 150), sign=st.sampled_from([1, -1]),
       paused=st.sampled_from([frozenset(), frozenset({Side.BUY}), frozenset({Side.SELL}),
                               frozenset({Side.BUY, Side.SELL})]))
def test_no_side_can_take_the_position_past_the_limit(m: tuple, frac: int, sign: int, paused: frozenset) -> None:
    p, ins, bid, ask, vol = m
    pos = ins.round_size(p.max_position * frac / 100) * sign
    out = plan(p, ins, bid, ask, pos, vol, paused)
    for side in (Side.BUY, Side.SELL):
        after = pos + side.sign * out.size(side)  # every quote on this side filled
        if side.sign * pos >= 0:  # adding side
            assert abs(after) <= max(p.max_position, abs(pos))
            if abs(pos) >= p.max_position or side in paused:
                assert out.size(side) == 0, "an order that adds was quoted at the limit or while paused"
        else:
            assert abs(after) <= max(p.max_position, abs(pos))
            if side in paused:  # a paused side only reduces
                assert side.sign * after <= 0
    # maker-only, on the tick and lot, levels strictly ordered
    for t in out.quotes:
        assert ins.on_tick(t.price) and ins.on_lot(t.size) and t.size >= ins.min_size
        assert (t.price < ask) if t.side is Side.BUY else (t.price > bid)
    for side in (Side.BUY, Side.SELL):
        px = [t.price for t in out.side(side)]
        assert px == sorted(set(px), reverse=side is Side.BUY)


def test_long_at_the_limit_quotes_only_asks_and_they_lean_in() -> None:
    p = GridParams(size=D("0.002"), max_position=D("0.004"), levels=2)
    flat = plan(p, BTC, D("90000.0"), D("90002.0"), D(0), 1.0)
    full = plan(p, BTC, D("90000.0"), D("90002.0"), D("0.004"), 1.0)
    assert full.side(Side.BUY) == ()
    assert [t.size for t in full.side(Side.SELL)] == [D("0.002"), D("0.002")]
    assert full.side(Side.SELL)[0].price < flat.side(Side.SELL)[0].price
    short = plan(p, BTC, D("90000.0"), D("90002.0"), D("-0.004"), 1.0)
    assert short.side(Side.SELL) == () and len(short.side(Side.BUY)) == 2


def test_naive_skew_adds_to_the_position() -> None:
    """The notes' grid: short, it sold more and lower as the price fell."""
    p = GridParams(mode="naive", size=D("0.002"), max_position=D("0.01"))
    flat = plan(p, BTC, D("90000.0"), D("90002.0"), D(0), 1.0)
    short = plan(p, BTC, D("90000.0"), D("90002.0"), D("-0.006"), 1.0)
    assert short.reservation < flat.reservation
    assert short.side(Side.SELL)[0].price < flat.side(Side.SELL)[0].price
    assert _first(short, Side.SELL) > _first(short, Side.BUY)
    # fixed spread: volatility does not widen it
    assert plan(p, BTC, D("90000.0"), D("90002.0"), D(0), 5.0).half_spread_bps == p.half_spread_bps


def test_volatility_widens_the_fixed_grid_and_its_skew() -> None:
    p = GridParams()
    calm = plan(p, BTC, D("90000.0"), D("90002.0"), D("0.004"), 0.2)
    wild = plan(p, BTC, D("90000.0"), D("90002.0"), D("0.004"), 3.0)
    assert wild.half_spread_bps > calm.half_spread_bps
    assert wild.reservation < calm.reservation


def test_passive_clamp_keeps_quotes_off_the_other_side() -> None:
    """A large skew would put the ask under the best bid: it stays one tick above it (post-only)."""
    p = GridParams(skew_bps=D("50"), max_position=D("0.004"))
    out = plan(p, BTC, D("90000.0"), D("90000.1"), D("0.004"), 1.0)
    asks = out.side(Side.SELL)
    assert [t.price for t in asks] == [D("90000.1"), D("90000.2")]


def _live(side: Side, price: str, mid: str, ts: float = 0.0, size: str = "0.002") -> LiveQuote:
    return LiveQuote(side, 0, D(price), D(size), ts, D(mid))


def test_requote_triggers() -> None:
    p = GridParams(requote_tolerance_bps=D("0.5"), max_order_age_s=20)
    from strategies.grid.quoting import QuoteTarget
    tgt = QuoteTarget(Side.BUY, 0, D("89990.0"), D("0.002"))
    live = _live(Side.BUY, "89990.0", "90000.0")
    assert requote_reason(p, live, tgt, D("90000.0"), 1.0) is None
    assert requote_reason(p, live, None, D("90000.0"), 1.0) == "withdrawn"
    assert requote_reason(p, live, tgt, D("90000.0"), 25.0) == "age"
    assert requote_reason(p, live, tgt, D("90006.0"), 1.0) == "book_moved"  # 0.67 bps
    assert requote_reason(p, live, tgt, D("89988.0"), 1.0) == "through"  # moved 12 > its 10 from mid
    moved = QuoteTarget(Side.BUY, 0, D("89980.0"), D("0.002"))
    assert requote_reason(p, live, moved, D("90000.0"), 1.0) == "target"
    assert requote_reason(p, live, QuoteTarget(Side.BUY, 0, D("89990.0"), D("0.001")), D("90000.0"), 1.0) == "target"
    naive = GridParams(mode="naive", naive_requote_s=60)
    assert requote_reason(naive, live, tgt, D("89900.0"), 30.0) is None  # rests through the move
    assert requote_reason(naive, live, tgt, D("89900.0"), 61.0) == "age"


@pytest.mark.parametrize(("raw", "field"), [
    ({"levels": 0}, "levels"),
    ({"spacing_bps": "-1"}, "spacing_bps"),
    ({"spacing_bps": "0.001"}, "spacing_bps"),  # 0.009 at 90k: below the 0.1 tick
    ({"size": "0.000001"}, "size"),  # below the minimum size
    ({"size": "0.0001"}, "size"),  # $9: below the minimum notional
    ({"size": "0.0020001"}, "size"),  # off the lot
    ({"max_position": "0.001"}, "max_position"),  # below one level's size (0.002)
    ({"venue": "binance"}, "venue"),
    ({"scenario": "crash"}, "scenario"),
    ({"symbol": "DOGE"}, "symbol"),
    ({"momentum_exit_z": 3.0, "momentum_enter_z": 2.0}, "momentum_exit_z"),
    ({"mode": "smart"}, "mode"),
])
def test_bad_parameters_are_refused_naming_the_field(raw: dict, field: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_params(**raw)
    assert e.value.field == field
    assert str(e.value).startswith(f"{field}: ")


def test_instrument_check_for_live_venues() -> None:
    p = GridParams(venue_mode="live", size=D("0.002"))
    check_instrument(p, BTC, D("90000"))
    coarse = BTC.__class__(**{**{f: getattr(BTC, f) for f in BTC.__slots__}, "tick": D("100")})
    with pytest.raises(ConfigError, match="spacing_bps"):
        check_instrument(p, coarse, D("90000"))
    big_min = BTC.__class__(**{**{f: getattr(BTC, f) for f in BTC.__slots__}, "min_size": D("0.01")})
    with pytest.raises(ConfigError, match=r"^size: "):
        check_instrument(p, big_min, D("90000"))
