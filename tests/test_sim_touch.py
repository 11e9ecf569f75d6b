"""The touch of the model market (each named model provoked on its own) and the realism tools
(`perpflow sim compare`, `perpflow sim calibrate`) measuring it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.app import app
from core.errors import ConfigError
from exchanges.sim.profiles import SimProfiles, load_profiles, load_profiles_with, parse_profiles
from exchanges.sim.realism import LABELS, Realism, calibrate, measure
from exchanges.sim.replay import SAMPLE, Replay, load_replay, record
from exchanges.sim.world import SimWorld

# A tick-constrained book like a liquid CEX perp: ETH at 3000 with a 0.01 tick is 0.033 bps a tick.
TIGHT = dict(spread_bps=0.03, level_gap_bps=0.03, quote_rate_per_s=1.5, spread_log_sd=0.15, trade_rate_per_s=3.0,
             top_size=20.0, trade_size_median=0.05, trade_size_sigma=0.8, trade_size_max=200.0)


def profiles_with(**market: Any) -> SimProfiles:
    base = load_profiles()
    venue = base.venue("grvt").with_market("ETH", **{"queue_real_fraction": 1.0, "exec_cap_median": None, **market})
    return dataclasses.replace(base, venues={**base.venues, "grvt": venue})


def recorded(tmp_path: Path, seconds: float = 600, seed: int = 5, **market: Any) -> Replay:
    profiles = profiles_with(**market)
    out = tmp_path / f"rec-{seed}-{abs(hash(tuple(sorted(market.items()))))}.jsonl"
    record(SimWorld(venues=("grvt",), symbols=("ETH",), seed=seed, profiles=profiles, warmup=30), "grvt", "ETH",
           seconds, out, depth=20)
    return load_replay(out, profiles)


def test_a_tick_constrained_book_sits_at_one_tick_while_sizes_churn(tmp_path: Path) -> None:
    r = measure(recorded(tmp_path, **TIGHT))
    assert r.one_tick_share > 0.9, r.one_tick_share
    assert r.bbo_changes_per_s < 3.0  # the best price holds between re-pricings ...
    assert r.level_changes_per_s > 3 * r.bbo_changes_per_s  # ... while sizes keep changing


def test_hawkes_flow_is_bursty_and_poisson_is_not(tmp_path: Path) -> None:
    hawkes = measure(recorded(tmp_path, **TIGHT, flow_model="hawkes", hawkes_branching=0.7, informed_prob=0.0))
    poisson = measure(recorded(tmp_path, **TIGHT, flow_model="poisson", informed_prob=0.0))
    assert hawkes.interarrival_cv > 1.25 and hawkes.count_fano_60s > 3, hawkes
    assert 0.85 < poisson.interarrival_cv < 1.15 and poisson.count_fano_60s < 2, poisson
    assert abs(hawkes.taker_orders_per_s - poisson.taker_orders_per_s) / poisson.taker_orders_per_s < 0.35


def test_taker_signs_persist(tmp_path: Path) -> None:
    sticky = measure(recorded(tmp_path, **TIGHT, sign_persistence=0.5, informed_prob=0.0, informed_skew=0.0))
    fresh = measure(recorded(tmp_path, **TIGHT, sign_persistence=0.0, informed_prob=0.0, informed_skew=0.0))
    assert 0.35 < sticky.sign_autocorr < 0.65, sticky.sign_autocorr
    assert abs(fresh.sign_autocorr) < 0.12, fresh.sign_autocorr


def test_pareto_sizes_have_a_heavy_tail_and_lognormal_ones_do_not(tmp_path: Path) -> None:
    heavy = measure(recorded(tmp_path, **TIGHT, size_model="pareto_mix", size_tail_prob=0.1, size_tail_alpha=0.7))
    light = measure(recorded(tmp_path, **TIGHT, size_model="lognormal"))
    assert heavy.taker_tail_ratio > 40, heavy.taker_tail_ratio
    assert light.taker_tail_ratio < 10, light.taker_tail_ratio


def _impact(rp: Replay, horizon: float = 2.0) -> float:
    """Mean mid move (in ticks) over ``horizon`` after a taker order, signed by the taker's side."""
    import bisect
    moves = []
    for t, k, q in zip(rp.ev_t, rp.ev_k, rp.ev_q, strict=True):
        if k == 2:
            i = bisect.bisect_right(rp.mid_t, t) - 1
            j = bisect.bisect_right(rp.mid_t, t + horizon) - 1
            if i >= 0:
                moves.append((rp.mid[j] - rp.mid[i]) / float(rp.tick) * (1 if q > 0 else -1))
    return sum(moves) / len(moves)


def test_informed_flow_moves_the_price_the_way_it_trades(tmp_path: Path) -> None:
    """Adverse selection: a resting order is hit just before the price moves through it."""
    informed = recorded(tmp_path, **TIGHT, informed_prob=1.0, informed_skew=0.5)
    blind = recorded(tmp_path, **TIGHT, informed_prob=0.0, informed_skew=0.0)
    assert _impact(informed) > 0.3, _impact(informed)
    assert _impact(informed) > 3 * abs(_impact(blind)), (_impact(informed), _impact(blind))


def test_an_unknown_model_name_is_refused_naming_the_field() -> None:
    data = {"assets": {}, "venues": {"v": {"maker_fee": 0, "taker_fee": 0, "feed_latency_ms": 1, "order_rtt_ms": 1,
                                          "cancel_rtt_ms": 1, "latency_jitter": 0, "funding_interval_s": 1,
                                          "funding_rate": 0, "initial_margin": 0.1, "account_equity": 1,
                                          "markets": {}}}}
    data["venues"]["v"]["fee_model"] = "tiered"
    with pytest.raises(ConfigError, match=r"venues.v.fee_model: 'tiered' is not a model; allowed: flat"):
        parse_profiles(data)


def test_calibrate_recovers_the_shape_of_a_known_market(tmp_path: Path) -> None:
    truth = dict(TIGHT, sign_persistence=0.4, informed_skew=0.0, hawkes_branching=0.6)  # informed_prob: default
    rp = recorded(tmp_path, seconds=1200, **truth)
    fitted = calibrate(rp)
    assert fitted["spread_bps"] == pytest.approx(0.01 / rp.mid[0] * 10_000, rel=0.05)
    assert abs(fitted["sign_persistence"] - 0.4) < 0.12  # type: ignore[operator]
    assert fitted["trade_rate_per_s"] == pytest.approx(3.0, rel=0.3)
    assert fitted["trade_size_median"] == pytest.approx(0.05, rel=0.3)
    assert fitted["top_size"] == pytest.approx(20.0, rel=0.4)
    assert 0.3 < fitted["hawkes_branching"] < 0.85  # type: ignore[operator]
    assert fitted["queue_real_fraction"] == 1.0  # an honest book: every displayed lot trades


def test_calibrate_sees_phantom_depth(tmp_path: Path) -> None:
    """GRVT shows far more than trades: takers walk past a best level that still shows plenty."""
    rp = recorded(tmp_path, seconds=600, **dict(TIGHT, queue_real_fraction=0.01))
    assert calibrate(rp)["queue_real_fraction"] < 0.05


def test_compare_and_calibrate_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["sim", "compare", str(SAMPLE), "grvt:ETH", "--seconds", "300"])
    assert res.exit_code == 0, res.output
    for name in (f.name for f in dataclasses.fields(Realism) if f.name not in ("source", "seconds")):
        assert LABELS[name] in res.output
    overlay = tmp_path / "fit.toml"
    res = runner.invoke(app, ["sim", "calibrate", str(SAMPLE), "--out", str(overlay)])
    assert res.exit_code == 0, res.output
    fitted = load_profiles_with(overlay).venue("grvt").market("ETH")
    assert fitted.spread_bps != load_profiles().venue("grvt").market("ETH").spread_bps
    res = runner.invoke(app, ["sim", "compare", str(SAMPLE), "grvt:ETH", "--seconds", "300", "--profiles",
                              str(overlay)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["sim", "calibrate", str(tmp_path / "missing.jsonl")])
    assert res.exit_code == 2 and "no such file" in res.output
