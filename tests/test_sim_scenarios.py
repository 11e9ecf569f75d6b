"""Simulator scenarios: each regime does what its name says to the fair value, baseline is the old
random walk draw for draw, and a stale quote in a trend is filled on the wrong side (adverse
selection comes out of the model)."""

from __future__ import annotations

import math
import random
import statistics
from decimal import Decimal as D

import pytest

from core.errors import ConfigError
from core.types import Side
from exchanges.sim.flow import FairValue
from exchanges.sim.profiles import load_profiles
from exchanges.sim.scenarios import SCENARIOS, fair_value, scenario
from exchanges.sim.world import SimWorld

ASSET = load_profiles().asset("BTC")
STEP = 0.1


def _path(name: str | None, seed: int, seconds: float) -> list[float]:
    fv = fair_value(ASSET, STEP, random.Random(f"{seed}/fair/BTC"), 1, name)
    out = [fv.price]
    for _ in range(int(seconds / STEP)):
        fv.advance()
        out.append(fv.price)
    return out


def _moves_bps(path: list[float], every: int) -> list[float]:
    return [math.log(path[i + every] / path[i]) * 10_000 for i in range(0, len(path) - every, every)]


def test_baseline_is_the_profiles_random_walk_draw_for_draw() -> None:
    plain = FairValue(ASSET, STEP, random.Random("3/fair/BTC"), 1)
    ours = _path("baseline", 3, 60)
    theirs = [plain.price]
    for _ in range(600):
        plain.advance()
        theirs.append(plain.price)
    assert ours == theirs == _path(None, 3, 60)


def test_trends_go_their_way_and_flat_regimes_do_not() -> None:
    hour = 3600.0
    up = [math.log(_path("trending_up", s, hour)[-1] / ASSET.price) * 10_000 for s in range(4)]
    down = [math.log(_path("trending_down", s, hour)[-1] / ASSET.price) * 10_000 for s in range(4)]
    quiet = [math.log(_path("quiet", s, hour)[-1] / ASSET.price) * 10_000 for s in range(4)]
    assert all(x > 100 for x in up), up  # ~360 bps an hour expected
    assert all(x < -100 for x in down), down
    assert abs(statistics.mean(quiet)) < 60, quiet


def test_volatility_scales() -> None:
    base = statistics.pstdev(_moves_bps(_path("baseline", 1, 1800), 10))
    quiet = statistics.pstdev(_moves_bps(_path("quiet", 1, 1800), 10))
    wild = statistics.pstdev(_moves_bps(_path("volatile", 1, 1800), 10))
    assert quiet == pytest.approx(base * 0.5, rel=0.15)
    assert wild == pytest.approx(base * 3.0, rel=0.15)


def test_mean_reverting_stays_near_its_anchor() -> None:
    walk = [abs(math.log(_path("baseline", s, 1800)[-1] / ASSET.price)) * 10_000 for s in range(6)]
    revert = [abs(math.log(_path("mean_reverting", s, 1800)[-1] / ASSET.price)) * 10_000 for s in range(6)]
    # a random walk wanders ~sqrt(t); the OU process stays within a few half-lives' worth of noise
    assert statistics.mean(revert) < statistics.mean(walk) / 2


def test_unknown_scenario_is_refused_naming_the_allowed_ones() -> None:
    with pytest.raises(ConfigError) as e:
        scenario("crash")
    assert e.value.field == "scenario" and "trending_up" in str(e.value)
    with pytest.raises(ConfigError, match="scenario"):
        SimWorld(venues=("paradex",), symbols=("BTC",), scenario="crash")
    assert set(SCENARIOS) >= {"quiet", "trending_up", "trending_down", "volatile", "mean_reverting"}


def test_stale_bid_in_a_falling_market_is_filled_then_marked_down() -> None:
    """Adverse selection: a bid left resting while the fair value falls is traded through at its
    own price, and the mid keeps falling after the fill."""
    markouts = []
    for seed in range(3):
        w = SimWorld(venues=("paradex",), symbols=("BTC",), seed=seed, scenario="trending_down")
        ex = w.exchanges["paradex"]
        while not w.fair["BTC"].in_leg:  # wait for a leg of the trend
            w.run_for(1.0)
        mid0 = ex.bbo("BTC", w.t).mid
        price = load_profiles().venue("paradex").instrument("BTC").round_price(mid0 * D("0.9998"), Side.BUY)
        ex.place_limit("BTC", Side.BUY, price, D("0.002"), f"stale-{seed}", True, False, w.t)
        for _ in range(600):
            w.run_for(1.0)
            if ex.fill_log:
                break
        assert ex.fill_log, "the falling market never reached the stale bid"
        fill = ex.fill_log[0]
        assert fill.price == price  # filled at its own, stale price
        w.run_for(60.0)
        markouts.append(float((ex.bbo("BTC", w.t).mid - fill.price) / fill.price * 10_000))
    assert statistics.mean(markouts) < 0, markouts
