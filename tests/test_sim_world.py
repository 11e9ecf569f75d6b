"""The simulated world: determinism, shared fair value, replay, real-time mode, profiles."""

from __future__ import annotations

import asyncio
import gzip
import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from core.clock import RealClock, VirtualClock
from core.errors import ConfigError
from core.types import OrderStatus, Side
from exchanges.sim.probe import fill_rates, market_stats
from exchanges.sim.profiles import load_profiles
from exchanges.sim.replay import SAMPLE, read_replay, record
from exchanges.sim.world import SimWorld
from tests.simkit import model_world, run


def _session(seed: int) -> list[tuple]:
    w = model_world(("paradex", "grvt"), ("SOL",), seed=seed)

    async def main() -> list[tuple]:
        p = w.venue("paradex")
        for i in range(5):
            side = Side.BUY if i % 2 == 0 else Side.SELL
            bbo = await p.bbo("SOL")
            price = bbo.best(side) - side.sign * D("0.05")  # behind the touch: never crosses
            await p.place_limit("SOL", side, price, D("0.2"), client_id=f"c{i}", post_only=True)
            await asyncio.sleep(30)
        fills = await p.fills(0)
        return [(f.trade_id, f.order_id, f.price, f.size, f.ts) for f in fills]

    return run(w, main)


def test_same_seed_same_run_ids_included() -> None:
    a, b = _session(11), _session(11)
    assert a and a == b
    assert _session(12) != a


def test_venues_share_one_fair_value_with_basis_and_lag() -> None:
    w = SimWorld(venues=("paradex", "grvt"), symbols=("ETH",), seed=5)
    gaps = []
    for _ in range(600):
        w.run_for(1.0)
        p = w.exchanges["paradex"].bbo("ETH", w.t).mid
        g = w.exchanges["grvt"].bbo("ETH", w.t).mid
        gaps.append(float(abs(p - g) / p * 10_000))
    moved = abs(float(w.exchanges["paradex"].bbo("ETH", w.t).mid) - 3000.0) / 3000.0 * 10_000
    assert max(gaps) < 20  # the same asset everywhere ...
    assert sum(gaps) / len(gaps) > 0.05  # ... never quite the same price
    assert moved > 1  # and it moves


def test_every_venue_profile_has_the_venues_md_facts() -> None:
    prof = load_profiles()
    assert set(prof.venues) == {"paradex", "grvt", "backpack", "hibachi", "extended"}
    for v in prof.venues.values():
        assert set(v.markets) >= {"SOL", "ETH", "BTC"}
        assert v.feed_latency_ms > 0 and v.order_rtt_ms > 0 and v.cancel_rtt_ms > 0
    px = prof.venue("paradex")
    assert (px.maker_fee, px.taker_fee) == (D("0.00003"), D("0.00045"))
    sol = px.instrument("SOL")
    assert (sol.tick, sol.lot, sol.min_notional, sol.max_order_size) == (D("0.001"), D("0.01"), D("10"), D("10000"))
    assert sol.venue_symbol == "SOL-USD-PERP"
    eth = px.instrument("ETH")
    assert (eth.tick, eth.lot, eth.max_order_size) == (D("0.01"), D("0.0001"), D("1000"))
    assert px.instrument("BTC").max_order_size is None
    assert prof.venue("grvt").instrument("ETH").venue_symbol == "ETH_USDT_Perp"
    assert prof.venue("backpack").instrument("SOL").venue_symbol == "SOL_USDC_PERP"
    assert prof.venue("hibachi").maker_fee == 0 and prof.venue("extended").taker_fee == D("0.00025")


def test_unknown_venue_or_symbol_names_the_allowed_values() -> None:
    with pytest.raises(ConfigError, match="allowed: backpack, extended, grvt, hibachi, paradex"):
        SimWorld(venues=("binance",))
    with pytest.raises(ConfigError, match="allowed: BTC, ETH, SOL"):
        SimWorld(venues=("paradex",), symbols=("DOGE",))


def test_typical_spread_and_depth_match_the_profiles() -> None:
    w = model_world(("paradex",), ("SOL",), seed=2)
    stats = run(w, lambda: market_stats(w, "paradex", "SOL", seconds=300))
    assert 0.4 < stats.spread_bps_median < 1.2  # notes: 0.6-0.7 bps
    assert 10 < stats.top_depth_median < 100


def test_replay_sample_drives_the_book_and_fills_by_queue(tmp_path: Path) -> None:
    header, events = read_replay(SAMPLE)
    assert header["venue"] == "grvt" and header["symbol"] == "ETH"
    evs = list(events)
    first_book = next(e for e in evs if e["k"] == "book")
    assert any(e["k"] == "trade" for e in evs)
    clock = VirtualClock(start=header["start"])
    w = SimWorld(venues=("grvt",), symbols=("ETH",), seed=99, clock=clock, replay=SAMPLE)
    v = w.venue("grvt")

    async def main() -> None:
        bbo = await v.bbo("ETH")
        assert bbo.bid == D(first_book["bids"][0][0]) or bbo.ts > first_book["t"]
        # rest at the best bid, then let the recorded sells reach us through the queue
        o = await v.place_limit("ETH", Side.BUY, bbo.bid, D("0.01"), client_id="r1", post_only=True)
        for _ in range(60):
            await asyncio.sleep(5)
            cur = await v.order("ETH", client_id="r1")
            if cur is not None and cur.status is OrderStatus.FILLED:
                break
        assert o.order_id

    run(w, main)
    ex = w.exchanges["grvt"]
    # the book follows the file, not the model: every snapshot price sits in the recording
    recorded = {D(p) for e in evs if e["k"] == "book" for p, _ in e["bids"] + e["asks"]}
    assert ex.bbo("ETH", w.t).bid in recorded or ex.bbo("ETH", w.t).ask in recorded


def test_recording_roundtrip_and_bad_files(tmp_path: Path) -> None:
    out = tmp_path / "rec.jsonl.gz"
    n = record(SimWorld(venues=("paradex",), symbols=("SOL",), seed=4), "paradex", "SOL", 20, out)
    header, events = read_replay(out)
    assert header["venue"] == "paradex" and len(list(events)) == n
    bad = tmp_path / "bad.jsonl.gz"
    with gzip.open(bad, "wt") as f:
        f.write(json.dumps({"format": "something-else"}) + "\n")
    with pytest.raises(ConfigError, match="not a perpflow-replay v1 file"):
        read_replay(bad)


def test_real_time_mode_runs_the_same_client_code() -> None:
    w = SimWorld(venues=("paradex",), symbols=("SOL",), seed=3, clock=RealClock())

    async def main() -> list:
        got = []
        async for b in w.venue("paradex").stream_bbo("SOL"):
            got.append(b)
            if len(got) == 3:
                break
        rates = await fill_rates(w, "paradex", "SOL", [D("0.1")], orders_per_size=2, pause=0.05)
        await w.stop()
        return [got, rates]

    import time
    t0 = time.monotonic()
    got, rates = asyncio.run(main())
    wall = time.monotonic() - t0
    assert len(got) == 3 and rates[0].full == 2
    assert 0.1 < wall < 10  # real latencies were waited for, in real time



def test_funding_rate_is_the_profiles_rate_and_next_settlement() -> None:
    """The venue contract's funding_rate on the simulator: the profile's rate and interval, the
    exchange's next settlement time, and an unknown symbol refused like any other request."""
    from core.errors import OrderRejected
    from core.reasons import Reason

    world = SimWorld(venues=("paradex", "grvt"), symbols=("ETH",), seed=3)

    async def read() -> None:
        for name in ("paradex", "grvt"):
            fr = await world.venue(name).funding_rate("ETH")
            profile = load_profiles().venue(name)
            assert (fr.venue, fr.symbol, fr.rate, fr.interval_s) == (name, "ETH", profile.funding_rate,
                                                                     profile.funding_interval_s)
            assert fr.next_ts is not None and fr.ts < fr.next_ts <= fr.ts + fr.interval_s
            assert fr.hourly == fr.rate * 3600 / D(str(fr.interval_s))
        with pytest.raises(OrderRejected) as err:
            await world.venue("grvt").funding_rate("DOGE")
        assert err.value.reason is Reason.UNKNOWN_SYMBOL
        await world.stop()

    world.clock.run(read)
