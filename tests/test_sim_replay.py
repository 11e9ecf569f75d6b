"""Replay as a venue source: the file's clock, grid and depth; prints on queues; the other venue on
the file's price; the run's end with the file; and every bad file refused before any order."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.app import app
from core.clock import VirtualClock
from core.errors import ConfigError
from core.records import MemoryRecorder
from core.types import Liquidity, OrderStatus, Side
from exchanges.connect import open_sim
from exchanges.sim.replay import SAMPLE, load_replay, record
from exchanges.sim.world import SimWorld
from strategies.hedge.bot import HedgeBot
from strategies.hedge.config import HedgeConfig
from strategies.preflight import PreTradeError
from strategies.runtime.data_end import run_until_data_ends

T0 = 1_767_000_000.0


def write(path: Path, lines: list[dict[str, Any]], **header: Any) -> Path:
    head = {"format": "perpflow-replay", "version": 2, "venue": "grvt", "symbol": "ETH", "tick": "0.01",
            "lot": "0.01", "start": T0, "source": "test"} | header
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt") as f:  # type: ignore[operator]
        for obj in [head, *lines]:
            f.write(json.dumps(obj) + "\n")
    return path


def book(t: float, bids: list[tuple[str, str]], asks: list[tuple[str, str]], k: str = "book") -> dict[str, Any]:
    return {"t": t, "k": k, "bids": [list(b) for b in bids], "asks": [list(a) for a in asks]}


def trade(t: float, p: str, q: str, side: str) -> dict[str, Any]:
    return {"t": t, "k": "trade", "p": p, "q": q, "side": side}


def market(t_end: float = 600) -> list[dict[str, Any]]:
    """A quiet two-level book that lasts ``t_end`` seconds, with a print a second."""
    out: list[dict[str, Any]] = [book(T0, [("2000.00", "5"), ("1999.99", "8")], [("2000.01", "5"), ("2000.02", "8")])]
    for i in range(1, int(t_end)):
        out.append(trade(T0 + i, "2000.01" if i % 2 else "2000.00", "0.01", "BUY" if i % 2 else "SELL"))
    return out


def test_the_clock_starts_at_the_file_and_the_venue_trades_on_the_files_grid(tmp_path: Path) -> None:
    # extended quotes ETH in 0.1 steps; a file recorded in 0.01 steps keeps its 0.01 levels apart
    f = write(tmp_path / "ext.jsonl", [book(T0, [("2999.97", "1.5"), ("2999.96", "2.25")],
                                            [("2999.98", "1"), ("2999.99", "3")]),
                                       book(T0 + 30, [("2999.97", "1.5")], [("2999.98", "1")])],
              venue="extended", tick="0.01", lot="0.0005")
    w = SimWorld(venues=("extended",), symbols=("ETH",), replays={"extended": f})
    assert w.clock.now() == T0  # not today: the file's own time
    ex = w.exchanges["extended"]
    ins = ex.slots["ETH"].instrument
    assert (ins.tick, ins.lot) == (D("0.01"), D("0.0005"))
    b = ex.book("ETH", 5, w.t)
    assert [(lv.price, lv.size) for lv in b.bids] == [(D("2999.97"), D("1.5")), (D("2999.96"), D("2.25"))]
    assert [(lv.price, lv.size) for lv in b.asks] == [(D("2999.98"), D("1")), (D("2999.99"), D("3"))]
    with pytest.raises(ConfigError, match=r"covers .* but the clock is at"):
        SimWorld(venues=("extended",), symbols=("ETH",), replays={"extended": f}, clock=VirtualClock(T0 + 3600))


def test_prints_move_queues_and_fill_us_but_the_depth_is_the_files(tmp_path: Path) -> None:
    f = write(tmp_path / "q.jsonl", [book(T0, [("2000.00", "5")], [("2000.05", "5")]),
                                     trade(T0 + 10, "2000.00", "3", "SELL"),  # 3 of the 5 ahead of us
                                     trade(T0 + 20, "2000.00", "2.5", "SELL"),  # 2 ahead, then 0.5 to us
                                     trade(T0 + 30, "2000.05", "0.2", "BUY"),
                                     book(T0 + 40, [("2000.00", "5")], [("2000.05", "5")])])
    w = SimWorld(venues=("grvt",), symbols=("ETH",), replays={"grvt": f})
    ex = w.exchanges["grvt"]
    w.exchanges["grvt"].slots["ETH"].market.queue_real = 1.0  # the whole displayed queue is real here
    o = ex.place_limit("ETH", Side.BUY, D("2000.00"), D("1"), "q1", post_only=True, reduce_only=False, t=w.t)
    assert ex.find(o.order_id, None).ahead == 500
    w.run_for(15)
    assert ex.find(o.order_id, None).ahead == 200 and not ex.fills_since(0, None)
    assert ex.book("ETH", 1, w.t).bids[0].size == D("6")  # the file's 5 and our 1: prints left the depth alone
    w.run_for(10)
    [fill] = ex.fills_since(0, None)
    assert (fill.price, fill.size, fill.liquidity) == (D("2000.00"), D("0.5"), Liquidity.MAKER)
    # a resting ask below a buy print was traded through: filled whole at its own price
    a = ex.place_limit("ETH", Side.SELL, D("2000.03"), D("0.3"), "a1", post_only=True, reduce_only=False, t=w.t)
    w.run_for(10)
    assert ex.find(a.order_id, None).status is OrderStatus.FILLED
    assert ex.book("ETH", 1, w.t).asks[0].price == D("2000.05")


def test_the_model_venue_follows_the_replayed_price_with_its_basis(tmp_path: Path) -> None:
    # the file trades ETH at 2000, a third below the profile's 3000: paradex must follow the file
    f = write(tmp_path / "m.jsonl.gz", market(600))
    w = SimWorld(venues=("grvt", "paradex"), symbols=("ETH",), replays={"grvt": f}, seed=3)
    gaps = []
    for _ in range(50):
        w.run_for(10)
        g = w.exchanges["grvt"].bbo("ETH", w.t).mid
        p = w.exchanges["paradex"].bbo("ETH", w.t).mid
        gaps.append(abs(p - g) / g * 10_000)
    assert max(gaps) < 5, max(gaps)  # bps: basis and noise, never the profile's price


def _bot(tmp_path: Path, files: dict[str, Path], **kw: Any) -> tuple[Any, HedgeBot]:
    cfg = HedgeConfig(ticker="ETH", size=D("0.01"), iterations=10_000, daily_loss_limit=D(1000), **kw)
    s = open_sim(("paradex", "grvt"), ("ETH",), seed=7, replay=files)
    return s, HedgeBot(cfg, "rp", s.venue("paradex"), s.venue("grvt"), MemoryRecorder(), s.clock)


def test_the_run_completes_when_the_file_ends_flat_with_a_clear_reason(tmp_path: Path) -> None:
    s, runner = _bot(tmp_path, {"grvt": SAMPLE})
    assert s.clock.now() < s.world.replay_end
    res = s.clock.run(lambda: run_until_data_ends(runner, s.data_end))
    s.clock.run(s.close)
    assert res.status == "COMPLETED" and res.reason.startswith("REPLAY_ENDED"), res.reason
    assert res.ended >= s.world.replay_end and res.ended - s.world.replay_end < 60
    assert res.cycles and all(p == 0 for p in res.positions.values())
    assert any("grvt-ETH-5min.jsonl.gz" in e.detail for e in res.risk_events)


def test_pre_trade_validation_refuses_an_absurd_cross_venue_basis(tmp_path: Path) -> None:
    rich = write(tmp_path / "px.jsonl", [book(T0, [("3360.00", "5")], [("3360.10", "5")]),
                                         book(T0 + 600, [("3360.00", "5")], [("3360.10", "5")])], venue="paradex")
    base = write(tmp_path / "gv.jsonl", [book(T0, [("3000.00", "50")], [("3000.10", "50")]),
                                         *[trade(T0 + i, "3000.10", "0.05", "BUY") for i in range(1, 60)],
                                         book(T0 + 600, [("3000.00", "50")], [("3000.10", "50")])])
    s, runner = _bot(tmp_path, {"paradex": rich, "grvt": base})
    with pytest.raises(PreTradeError, match=r"max_basis_bps: .*basis \+1200\.0 bps is beyond the 50 bps"):
        s.clock.run(runner.preflight)
    s.clock.run(s.close)
    assert not s.world.exchanges["paradex"].orders and not s.world.exchanges["grvt"].orders


BAD = {
    "missing": (None, r"no such file"),
    "truncated": ("truncated", r":4: truncated|truncated after line"),
    "out of order": ([book(T0 + 5, [("2000.00", "1")], [("2000.01", "1")]),
                      trade(T0 + 3, "2000.00", "1", "SELL")], r"replay t: .*:3: t=1767000003.0 is before"),
    "unknown venue": ({"venue": "binance"}, r"replay venue: .*line 1 venue='binance' is not simulated; allowed: "
                                            r"backpack, extended, grvt, hibachi, paradex"),
    "unknown symbol": ({"symbol": "DOGE"}, r"replay symbol: .*symbol='DOGE' is not simulated on grvt"),
    "off tick": ([book(T0, [("2000.005", "1")], [("2000.01", "1")])],
                 r"replay bids price: .*:2: bids price=2000.005 is not a multiple of the file's tick 0.01"),
    "off lot": ([book(T0, [("2000.00", "1")], [("2000.01", "0.015")])],
                r"replay asks size: .*:2: asks size=0.015 is not a multiple of the file's lot 0.01"),
    "bad tick": ({"tick": "-1"}, r"replay tick: .*tick='-1' must be a positive decimal"),
    "too fine": ({"tick": "0.0000000000001"}, r"finer than the venue can represent"),
    "bad kind": ([{"t": T0, "k": "quote"}], r"replay k: .*:2: k='quote'; allowed: book, depth, trade"),
    "bad side": ([book(T0, [("2000.00", "1")], [("2000.01", "1")]), trade(T0, "2000.00", "1", "buy")],
                 r"replay side: .*:3: side='buy'; allowed: BUY, SELL"),
    "one-sided": ([book(T0, [("2000.00", "1")], [])], r"no line gives both a bid and an ask"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_file_is_refused_naming_the_line_or_field(tmp_path: Path, case: str) -> None:
    spec, message = BAD[case]
    path = tmp_path / "bad.jsonl.gz"
    if spec == "truncated":
        write(path, market(30))
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif isinstance(spec, dict):
        write(path, market(5), **spec)
    elif isinstance(spec, list):
        write(path, spec)
    with pytest.raises(ConfigError, match=message):
        load_replay(path)


def test_the_cli_refuses_a_bad_file_before_any_run(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.jsonl", [book(T0 + 5, [("2000.00", "1")], [("2000.01", "1")]),
                                         trade(T0 + 3, "2000.00", "1", "SELL")])
    result = CliRunner().invoke(app, ["hedge", "--ticker", "ETH", "--size", "0.01", "--replay", f"grvt={bad}"])
    assert result.exit_code == 2
    assert f"{bad}:3: t=1767000003.0 is before the previous line's t=1767000005.0" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(app, ["hedge", "--replay", f"binance={bad}"])
    assert result.exit_code == 2 and "replay venue 'binance' is not traded; allowed: paradex, grvt" in result.output


def test_version_1_files_still_replay_and_the_record_command_writes_version_2(tmp_path: Path) -> None:
    v1 = write(tmp_path / "v1.jsonl", [book(T0, [("2000.00", "5")], [("2000.05", "5")]),
                                       trade(T0 + 1, "2000.05", "1", "BUY"),
                                       book(T0 + 2, [("2000.01", "5")], [("2000.06", "5")])], version=1)
    w = SimWorld(venues=("grvt",), symbols=("ETH",), replays={"grvt": v1})
    w.run_for(3)
    assert w.exchanges["grvt"].bbo("ETH", w.t).bid == D("2000.01")
    out = tmp_path / "rec.jsonl.gz"
    record(SimWorld(venues=("paradex",), symbols=("SOL",), seed=4), "paradex", "SOL", 20, out)
    rp = load_replay(out)
    assert rp.venue == "paradex" and rp.prints > 0 and rp.end - rp.start >= 19.5
    with gzip.open(out, "rt") as fh:
        assert json.loads(fh.readline())["version"] == 2


def test_the_shipped_sample_is_what_the_documented_record_command_writes(tmp_path: Path) -> None:
    out = tmp_path / "sample.jsonl.gz"
    result = CliRunner().invoke(app, ["sim", "record", "--out", str(out)])  # README: perpflow sim record
    assert result.exit_code == 0, result.output
    with gzip.open(out, "rb") as new, gzip.open(SAMPLE, "rb") as shipped:
        assert new.read() == shipped.read()


def test_the_model_venue_keeps_its_lead_over_the_replayed_venue(tmp_path: Path) -> None:
    """grvt lags the common fair value by 150 ms, paradex by 0: beside a replayed grvt, paradex
    moves to a new price 150 ms before the file does."""
    import dataclasses

    from exchanges.sim.profiles import load_profiles

    jump = T0 + 100
    lines = [book(T0, [("2000.00", "50")], [("2000.10", "50")]), book(jump, [("2010.00", "50")], [("2010.10", "50")]),
             book(T0 + 200, [("2010.00", "50")], [("2010.10", "50")])]
    f = write(tmp_path / "lead.jsonl", lines)
    base = load_profiles()
    fast = base.venue("paradex").with_market("ETH", quote_rate_per_s=500.0, noise_bps=0.0)
    profiles = dataclasses.replace(base, venues={**base.venues, "paradex": fast})
    w = SimWorld(venues=("grvt", "paradex"), symbols=("ETH",), replays={"grvt": f}, profiles=profiles)
    w.run_for(jump - 0.3 - w.t)
    assert w.exchanges["paradex"].bbo("ETH", w.t).mid < 2005  # not yet
    w.run_for(0.25)  # 50 ms before the file moves
    assert w.exchanges["grvt"].bbo("ETH", w.t).mid < 2005
    assert w.exchanges["paradex"].bbo("ETH", w.t).mid > 2005  # the leader already has
