"""The simulator's two engines - exchanges/sim/hotpath.py compiled by Cython (exchanges.sim._hotpath)
and the same file run as Python (exchanges.sim.hotpath) - give the same event sequence for a seed, bit for bit.

Each test runs the same thing on both engines and compares everything the engine holds or hands
out, step by step: books, prints, event counts, the sources' clocks and state, the random
generators' states (same draws, in the same order), the BBOs a listener receives, our orders' fills.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from core.clock import VirtualClock
from core.errors import ConfigError, VenueError
from core.types import Liquidity, OrderStatus, OrderType, Side
from exchanges.sim import build_core, engine
from exchanges.sim.orders import SimOrder
from exchanges.sim.profiles import load_profiles
from exchanges.sim.replay import SAMPLE, read_header
from exchanges.sim.world import SimWorld
from tests.simkit import run

ENGINES = ("python", "compiled")


@pytest.fixture(autouse=True)
def _compiled_engine() -> None:
    """Every test here needs the compiled engine. Without it they fail, saying how to build it; they
    skip only when the build wrote that it failed on this machine (no compiler or headers)."""
    if engine.CORE is not None:
        return
    if build_core.NOTICE.exists():
        pytest.skip(f"the compiled core could not be built here ({build_core.NOTICE}): "
                    f"{build_core.NOTICE.read_text().strip()}")
    pytest.fail(f"the compiled simulator core is {engine.CORE_MISSING} "
                f"(or: .venv/bin/python exchanges/sim/build_core.py -v)", pytrace=False)


def state(world: SimWorld) -> list[Any]:
    """Everything the engine holds that the next event depends on or a client can see."""
    out: list[Any] = [world.t]
    for fv in world.fair.values():
        out.append(fv.at(world.t))
    for name, ex in world.exchanges.items():
        for symbol, slot in ex.slots.items():
            m, src = slot.market, slot.source
            out.append((name, symbol, m.events, m.n_prints, m.best_bid, m.best_ask, sorted(m.bids.items()),
                        sorted(m.asks.items()), list(m.prints), m._bid_top, m._ask_top,
                        sorted((p, [o.client_id for o in os_]) for p, os_ in (m.own_bids | m.own_asks).items()),
                        m.top(), src.next_t, src.next_visible_t))
            if hasattr(src, "rng"):
                out.append((src.t_trade, src.t_quote, src.t_refill, src.t_churn, src.noise, src.spread_log,
                            src.mid, src.sign, src.rng.getstate(), src.arrivals.excess, src.arrivals.last))
    return out


def profiles_with(venue: str, symbol: str, **market: Any):  # type: ignore[no-untyped-def]
    base = load_profiles()
    vp = base.venue(venue).with_market(symbol, **market)
    return dataclasses.replace(base, venues={**base.venues, venue: vp})


CASES = {
    "paradex+grvt SOL": dict(venues=("paradex", "grvt"), symbols=("SOL",), regime="base"),
    "three venues ETH, volatile (jumps)": dict(venues=("backpack", "hibachi", "extended"), symbols=("ETH",),
                                               regime="volatile"),
    "grvt BTC+SOL, mean-reverting (AR(1) path)": dict(venues=("grvt",), symbols=("BTC", "SOL"),
                                                      regime="mean_reverting"),
    "poisson, lognormal, proportional queue, trend": dict(
        venues=("paradex",), symbols=("SOL",), regime="trending_up",
        profiles=profiles_with("paradex", "SOL", flow_model="poisson", size_model="lognormal",
                               queue_model="proportional", sign_persistence=0.0, informed_prob=0.9)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_same_market_event_by_event(case: str) -> None:
    kw = CASES[case]
    a, b = (SimWorld(seed=11, warmup=60, engine=e, **kw) for e in ENGINES)  # type: ignore[arg-type]
    assert type(a.exchanges[kw["venues"][0]].slots[kw["symbols"][0]].market).__module__ == "exchanges.sim.hotpath"
    assert type(b.exchanges[kw["venues"][0]].slots[kw["symbols"][0]].market).__module__ == "exchanges.sim._hotpath"
    assert state(a) == state(b)
    for _ in range(240):  # 20 minutes in steps of 5 s, compared after each
        a.run_for(5.0)
        b.run_for(5.0)
        assert state(a) == state(b)
    assert a.events == b.events > 10_000  # a market that moved


def _session(engine_name: str) -> dict[str, list[Any]]:
    """Two venues with BBO listeners, our maker orders resting at the touch (filled by the flow and by
    trade-throughs), a taker order, cancels: everything handed out, in order."""
    w = SimWorld(venues=("paradex", "grvt"), symbols=("SOL",), seed=5, clock=VirtualClock(), warmup=60,
                 engine=engine_name)
    got: dict[str, list[Any]] = {"bbo:paradex": [], "bbo:grvt": [], "orders": []}

    async def listen(venue: str) -> None:
        async for b in w.venue(venue).stream_bbo("SOL"):
            got[f"bbo:{venue}"].append(b)

    async def main() -> None:
        tasks = [asyncio.create_task(listen(v)) for v in ("paradex", "grvt")]
        p, g = w.venue("paradex"), w.venue("grvt")
        for i in range(40):
            for v in (p, g):
                bbo = await v.bbo("SOL")
                side = Side.BUY if i % 2 == 0 else Side.SELL
                try:
                    got["orders"].append(await v.place_limit("SOL", side, bbo.best(side), D("0.3"),
                                                             client_id=f"m{i}", post_only=True))
                except VenueError as exc:  # the touch moved while the order travelled
                    got["orders"].append(repr(exc))
            await asyncio.sleep(7)
            if i % 5 == 4:
                got["orders"] += await p.cancel_all("SOL")
                got["orders"].append(await g.place_market("SOL", Side.BUY, D("0.1"), client_id=f"t{i}",
                                                          max_slippage_bps=D("50")))
        for v in (p, g):
            got["orders"] += await v.open_orders()
            got[f"fills:{v.name}"] = await v.fills(0)
            got[f"positions:{v.name}"] = await v.positions()
        for t in tasks:
            t.cancel()

    run(w, main)
    got["state"] = state(w)
    return got


def test_the_same_session_with_listeners_and_our_orders() -> None:
    a, b = _session("python"), _session("compiled")
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == b[key], key
    maker = [f for f in a["fills:paradex"] + a["fills:grvt"] if f.liquidity is Liquidity.MAKER]
    assert len(maker) >= 5 and len(a["bbo:paradex"]) > 100  # the fill and publishing paths ran


def test_the_same_replay_with_a_resting_order() -> None:
    """A recorded file drives grvt (the replay source on each engine's book), paradex follows its mid."""
    start = float(read_header(SAMPLE, load_profiles())["start"])
    out = []
    for e in ENGINES:
        w = SimWorld(venues=("grvt", "paradex"), symbols=("ETH",), seed=2, clock=VirtualClock(start=start),
                     replays={"grvt": SAMPLE}, engine=e)
        states = []

        async def main(w: SimWorld = w, states: list[Any] = states) -> list[Any]:
            v = w.venue("grvt")
            bbo = await v.bbo("ETH")
            await v.place_limit("ETH", Side.BUY, bbo.bid, D("0.05"), client_id="r1", post_only=True)
            await v.place_limit("ETH", Side.SELL, bbo.ask, D("0.05"), client_id="r2", post_only=True)
            for _ in range(50):
                await asyncio.sleep(5)
                states.append(state(w))
            return [await v.fills(0), await v.open_orders()]

        out.append((run(w, main), states))
    assert out[0] == out[1]


def _orders(rng: random.Random, t: float, n: int) -> list[SimOrder]:
    return [SimOrder("v", f"o{n}-{i}", f"c{n}-{i}", "SOL", Side.BUY, 1, OrderType.LIMIT, 0, 1 + rng.randrange(30),
                     False, False, t + rng.random()) for i in range(2)]


def test_the_same_book_under_random_operations() -> None:
    """Every public operation of ``SimMarket``, in a seeded random order, with our orders in the book
    (queues, trade-throughs, partial fills), on books that show all of their size and on books that
    show more than trades (``queue_real`` < 1)."""
    Python, _, _ = engine.classes("python")
    Compiled, _, _ = engine.classes("compiled")
    for queue_real, proportional in ((1.0, False), (0.25, True)):
        ops = random.Random(f"ops/{queue_real}")
        books = [cls(levels=8, gap_ticks=3, depth_lots=[5, 8, 12, 18, 25, 30, 40, 50],
                     rand=random.Random(4).random, queue_real=queue_real, proportional_queue=proportional)
                 for cls in (Python, Compiled)]
        orders: list[list[SimOrder]] = [[], []]
        mid, t = 10_000, 0.0
        for n in range(3000):
            t += ops.random()
            kind = ops.randrange(9)
            mid += ops.choice((-7, -2, -1, 0, 0, 1, 2, 7, 70, -70)) if kind == 0 else 0
            spread = ops.choice((1, 1, 2, 5))
            args = (ops.choice((-1, 1)), ops.randrange(1, 80), ops.choice((None, mid - 5, mid + 5)), ops.random())
            deeper = ops.randrange(0, 9)  # every draw happens here, once for both books
            new = _orders(random.Random(n), t, n) if kind == 5 else []
            for m, mine in zip(books, orders, strict=True):
                if kind <= 1:
                    m.set_quotes(mid, mid + spread, t)
                elif kind == 2:
                    m.flow_trade(t, args[0], args[1], args[2])
                elif kind == 3:
                    p = (m.best_bid if args[0] < 0 else m.best_ask) + args[0] * deeper
                    m.update_level(args[0], p, args[1] % 20)
                elif kind == 4:
                    m.refresh_level(args[0], args[3] < 0.3, args[3])
                elif kind == 5:
                    for j, o in enumerate(dataclasses.replace(x) for x in new):
                        o.sign = 1 if j == 0 else -1
                        o.side = Side.BUY if o.sign > 0 else Side.SELL
                        o.price = (m.best_bid if o.sign > 0 else m.best_ask) - o.sign * (n % 3)
                        m.rest(o)
                        mine.append(o)
                elif kind == 6 and mine:
                    m.unrest(mine.pop(n % len(mine)))
                elif kind == 7:
                    m.replay_print(t, (m.best_ask if args[0] > 0 else m.best_bid) + args[0] * (n % 2),
                                   args[0] * args[1])
                else:
                    m.take(args[0], args[1] % 7, args[2], t)
                    m.cross_check(t)
            a, b = books
            assert (a.bids, a.asks, a.best_bid, a.best_ask, a.events, a.n_prints, list(a.prints), a.top(),
                    a.levels_view(5), a._bid_top, a._ask_top) == \
                   (b.bids, b.asks, b.best_bid, b.best_ask, b.events, b.n_prints, list(b.prints), b.top(),
                    b.levels_view(5), b._bid_top, b._ask_top), n
            fills = [[(o.client_id, p, q, ts, o.filled, o.status, o.ahead) for o, p, q, ts in m.maker_fills]
                     for m in books]
            assert fills[0] == fills[1], n
            assert [(o.ahead, o.filled, o.status) for o in orders[0]] == [(o.ahead, o.filled, o.status)
                                                                          for o in orders[1]], n
        assert any(o.status is OrderStatus.FILLED for o in orders[0])
        assert sum(len(m.maker_fills) for m in books[:1]) > 50


def test_the_engine_is_chosen_by_name_and_refused_when_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SimWorld(venues=("paradex",), engine="compiled").engine == "compiled"
    assert SimWorld(venues=("paradex",)).engine == "compiled"  # the default once built
    monkeypatch.setenv("PERPFLOW_SIM_ENGINE", "python")
    w = SimWorld(venues=("paradex",))
    assert w.engine == "python"
    assert type(w.exchanges["paradex"].slots["SOL"].market).__module__ == "exchanges.sim.hotpath"
    with pytest.raises(ConfigError, match="'fast' is not an engine; allowed: compiled, python"):
        SimWorld(venues=("paradex",), engine="fast")


def test_a_failed_build_leaves_the_install_working_with_a_one_line_notice(tmp_path: Path) -> None:
    """No compiler: the build says so on one line, writes it to its notice file, exits 0, and the
    module already there stays."""
    so = Path(engine.CORE.__file__)  # type: ignore[union-attr]
    before = so.stat().st_mtime_ns
    notice = tmp_path / "notice"
    res = subprocess.run([sys.executable, "exchanges/sim/build_core.py"], capture_output=True, text=True,
                         env={**os.environ, "CC": "/nonexistent/cc", "PERPFLOW_SIMCORE_NOTICE": str(notice)},
                         cwd=Path(__file__).resolve().parent.parent, timeout=240)
    assert res.returncode == 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("notice: the simulator's compiled core was not built"), res.stderr
    assert "/nonexistent/cc" in lines[0] and "pure-Python engine runs instead" in lines[0]
    assert notice.read_text() == lines[0] + "\n"
    assert so.stat().st_mtime_ns == before


def test_the_engines_run_one_source() -> None:
    """The pure-Python engine is hotpath.py itself; the compiled one was built from that file as it is now."""
    from exchanges.sim import hotpath

    assert Path(hotpath.__file__).name == "hotpath.py" and not hotpath.cython.compiled
    assert engine.CORE.__name__ == "exchanges.sim._hotpath"  # type: ignore[union-attr]
    assert Path(engine.CORE.__file__).name == build_core.target().name  # type: ignore[union-attr]
    assert engine.CORE.SOURCE_SHA == build_core.source_sha() == engine.source_sha()  # type: ignore[union-attr]
