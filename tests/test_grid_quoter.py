"""The grid's decision loop (pure): places the planned quotes, cancels stale ones before quoting the
level again, never lets open orders exceed the inventory limit, records samples and pauses."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from core.types import Side
from exchanges.sim.profiles import load_profiles
from strategies.grid.params import GridParams
from strategies.grid.quoter import Cancel, GridQuoter, Note, OpenQuote, Place, parse_tag, tag_of

BTC = load_profiles().venue("paradex").instrument("BTC")
BID, ASK = D("90000.0"), D("90002.0")


def _quoter(**kw: object) -> GridQuoter:
    return GridQuoter(GridParams(**kw), BTC)  # type: ignore[arg-type]


def _open(q: GridQuoter, places: list[Place], ts: float, mid: D) -> list[OpenQuote]:
    out = []
    for i, a in enumerate(places):
        cid = f"c{ts}-{i}"
        q.placed_order(cid, a, ts, mid)
        out.append(OpenQuote(a.tag, cid, a.side, a.price, a.size))
    return out


def test_first_book_places_every_level_and_records_a_sample() -> None:
    q = _quoter(levels=3)
    acts = q.on_book(0.0, BID, ASK, D(0), [])
    places = [a for a in acts if isinstance(a, Place)]
    assert sorted(a.tag for a in places) == sorted(tag_of(s, i) for s in Side for i in range(3))
    assert all(a.size == D("0.002") for a in places)
    notes = [a for a in acts if isinstance(a, Note)]
    assert [n.kind for n in notes] == ["book_sample"]
    assert parse_tag("grid:BUY:2") == (Side.BUY, 2) and parse_tag("hedge:1") is None


def test_quiet_book_leaves_quotes_alone_and_samples_once_a_second() -> None:
    q = _quoter()
    places = [a for a in q.on_book(0.0, BID, ASK, D(0), []) if isinstance(a, Place)]
    live = _open(q, places, 0.0, (BID + ASK) / 2)
    assert q.on_book(0.5, BID, ASK, D(0), live) == []  # < 1 s: no sample, nothing to change
    acts = q.on_book(1.0, BID, ASK, D(0), live)
    assert [type(a) for a in acts] == [Note]


def test_a_moved_book_cancels_first_and_requotes_only_once_the_cancel_is_confirmed() -> None:
    q = _quoter(requote_tolerance_bps=D("0.5"))
    places = [a for a in q.on_book(0.0, BID, ASK, D(0), []) if isinstance(a, Place)]
    live = _open(q, places, 0.0, (BID + ASK) / 2)
    up = D("10")  # 1.1 bps
    acts = q.on_book(0.5, BID + up, ASK + up, D(0), live)
    cancels = [a for a in acts if isinstance(a, Cancel)]
    assert {c.client_id for c in cancels} == {o.client_id for o in live}
    assert {c.reason for c in cancels} <= {"book_moved", "through"}
    assert not [a for a in acts if isinstance(a, Place)]  # the level is busy until the cancel is answered
    pending = [OpenQuote(o.tag, o.client_id, o.side, o.price, o.remaining, cancelling=True) for o in live]
    assert not [a for a in q.on_book(0.6, BID + up, ASK + up, D(0), pending) if isinstance(a, Place)]
    for o in live:
        q.order_done(o.client_id)
    again = [a for a in q.on_book(0.7, BID + up, ASK + up, D(0), []) if isinstance(a, Place)]
    assert len(again) == 4 and all(a.price > p.price for a, p in zip(
        sorted(again, key=lambda a: a.tag), sorted(places, key=lambda a: a.tag), strict=True))


def test_open_orders_count_against_the_limit_even_while_being_cancelled() -> None:
    q = _quoter(size=D("0.002"), max_position=D("0.006"), levels=2)
    # long 0.002 with a 0.002 bid still open (being cancelled): room to buy is 0.006 - 0.002 - 0.002
    stale = OpenQuote("grid:BUY:0", "old", Side.BUY, D("89990.0"), D("0.002"), cancelling=True)
    acts = q.on_book(0.0, BID, ASK, D("0.002"), [stale])
    buys = [a for a in acts if isinstance(a, Place) and a.side is Side.BUY]
    assert sum(a.size for a in buys) <= D("0.002")
    assert all(a.tag != "grid:BUY:0" for a in buys)  # that level waits for its cancel


def test_an_order_it_did_not_place_is_cancelled() -> None:
    q = _quoter()
    foreign = OpenQuote("grid:SELL:0", "from-a-previous-run", Side.SELL, D("90100.0"), D("0.002"))
    acts = q.on_book(0.0, BID, ASK, D(0), [foreign])
    assert Cancel("grid:SELL:0", "from-a-previous-run", "unknown") in acts


def test_a_trend_records_a_pause_and_withdraws_the_side_against_it() -> None:
    q = _quoter(momentum_horizon_s=10.0, momentum_enter_z=2.0, momentum_exit_z=0.5, vol_prior_bps=0.5,
                vol_half_life_s=86_400)
    mid = D("90000.0")
    acts: list = []
    for t in range(40):  # flat for 20 s, then +1 bps a second
        if t >= 20:
            mid += D("9.0")
        acts = q.on_book(float(t), mid - 1, mid + 1, D(0), [])
        if any(isinstance(a, Note) and a.fields.get("event") == "pause" for a in acts):
            break
    pause = next(a for a in acts if isinstance(a, Note) and a.fields.get("event") == "pause")
    assert pause.fields["data"]["direction"] == 1 and pause.fields["data"]["sides"] == ["SELL"]
    assert "trend up" in pause.fields["detail"]
    assert not [a for a in acts if isinstance(a, Place) and a.side is Side.SELL]
    assert q.pauses == 1


def test_naive_mode_has_no_momentum_filter() -> None:
    q = _quoter(mode="naive")
    assert q.momentum is None and q.paused_sides == frozenset()
    assert q.start_notes(0.0)[0].fields["data"]["mode"] == "naive"


@st.composite
def _events(draw: st.DrawFn) -> list[tuple[str, int, int]]:
    """Book moves (ticks), fills of open quotes (index, share in %) and cancel answers, in any order."""
    kinds = st.one_of(st.tuples(st.just("move"), st.integers(-60, 60), st.just(0)),
                      st.tuples(st.just("fill"), st.integers(0, 9), st.sampled_from([30, 100])),
                      st.tuples(st.just("ack"), st.integers(0, 9), st.just(0)))
    return draw(st.lists(kinds, min_size=1, max_size=120))


@settings(max_examples=150, deadline=None)
@given(events=_events(), mode=st.sampled_from(["fixed", "naive"]), levels=st.integers(1, 3),
       limit_levels=st.integers(1, 4))
def test_whatever_fills_no_sequence_takes_the_inventory_past_its_limit(events: list, mode: str, levels: int,
                                                                      limit_levels: int) -> None:
    """Quotes fill (fully or partly) at any moment, cancels are answered late or never: the position
    never passes the limit, because every open order, cancelling ones included, counts against it."""
    size = D("0.002")
    q = GridQuoter(GridParams(mode=mode, levels=levels, size=size, max_position=size * limit_levels), BTC)
    mid = D("90000.0")
    position = D(0)
    live: dict[str, OpenQuote] = {}
    n = 0
    t = 0.0
    for kind, a, b in events:
        t += 0.5
        if kind == "move":
            mid += BTC.tick * a
        elif kind == "fill" and live:
            cid = sorted(live)[a % len(live)]
            o = live[cid]
            qty = BTC.round_size(o.remaining * b / 100) or o.remaining
            position += o.side.sign * qty
            left = o.remaining - qty
            if left > 0:
                live[cid] = OpenQuote(o.tag, cid, o.side, o.price, left, o.cancelling)
            else:
                del live[cid]
                q.order_done(cid)
        elif kind == "ack" and live:
            cid = sorted(live)[a % len(live)]
            if live[cid].cancelling:
                del live[cid]
                q.order_done(cid)
        assert abs(position) <= q.p.max_position, (position, q.p.max_position)
        for act in q.on_book(t, mid - 1, mid + 1, position, list(live.values())):
            if isinstance(act, Cancel) and act.client_id in live:
                o = live[act.client_id]
                live[act.client_id] = OpenQuote(o.tag, o.client_id, o.side, o.price, o.remaining, True)
            elif isinstance(act, Place):
                n += 1
                cid = f"c{n}"
                q.placed_order(cid, act, t, mid)
                live[cid] = OpenQuote(act.tag, cid, act.side, act.price, act.size)
        for side in (Side.BUY, Side.SELL):  # everything open on a side filling still stays inside
            worst = position + side.sign * sum((o.remaining for o in live.values() if o.side is side), D(0))
            assert abs(worst) <= q.p.max_position
