"""Simulator scenarios (the ``[regimes.*]`` of the profiles): each does what its name says to the fair
value, a grid can name them, and a stale quote in a trend is filled on the wrong side (adverse
selection comes out of the model)."""

from __future__ import annotations

import math
import statistics
from decimal import Decimal as D

import pytest

from core.errors import ConfigError
from core.types import Side
from exchanges.sim.flow import FairValue, seed_int
from exchanges.sim.profiles import load_profiles
from exchanges.sim.world import SimWorld
from strategies.grid.params import scenarios

PROFILES = load_profiles()
ASSET = PROFILES.asset("BTC")
T0 = 1_767_571_200.0


def _path(regime: str, seed: int, seconds: float, every: float = 1.0) -> list[float]:
    fv = FairValue(ASSET, PROFILES.regime(regime), seed_int(seed, "fair", "BTC"), T0)
    return [fv.at(T0 + i * every) for i in range(int(seconds / every) + 1)]


def _moves_bps(path: list[float], every: int) -> list[float]:
    return [math.log(path[i + every] / path[i]) * 10_000 for i in range(0, len(path) - every, every)]


def test_the_grid_scenarios_are_simulator_regimes() -> None:
    assert set(scenarios()) >= {"base", "quiet", "trending_up", "trending_down", "volatile", "mean_reverting"}
    with pytest.raises(ConfigError) as e:
        SimWorld(venues=("paradex",), symbols=("BTC",), regime="crash")
    assert e.value.field == "regime" and "trending_up" in str(e.value)


def test_trends_go_their_way_and_flat_regimes_do_not() -> None:
    hour = 3600.0
    up = [math.log(_path("trending_up", s, hour)[-1] / ASSET.price) * 10_000 for s in range(4)]
    down = [math.log(_path("trending_down", s, hour)[-1] / ASSET.price) * 10_000 for s in range(4)]
    quiet = [math.log(_path("quiet", s, hour)[-1] / ASSET.price) * 10_000 for s in range(4)]
    assert all(x > 100 for x in up), up  # 200 bps an hour on ~32 bps of noise
    assert all(x < -100 for x in down), down
    assert abs(statistics.mean(quiet)) < 60, quiet


def test_volatility_scales() -> None:
    base = statistics.pstdev(_moves_bps(_path("base", 1, 3600), 10))
    quiet = statistics.pstdev(_moves_bps(_path("quiet", 1, 3600), 10))
    wild = statistics.pstdev(_moves_bps(_path("volatile", 1, 3600), 10))
    assert quiet == pytest.approx(base * 0.5, rel=0.2)
    assert wild > base * 2.3  # 2.5x the volatility, plus jumps


def test_mean_reverting_stays_near_its_anchor() -> None:
    walk = [abs(math.log(_path("base", s, 3600, 10)[-1] / ASSET.price)) * 10_000 for s in range(8)]
    revert = [abs(math.log(_path("mean_reverting", s, 3600, 10)[-1] / ASSET.price)) * 10_000 for s in range(8)]
    assert statistics.mean(revert) < statistics.mean(walk) / 2


def test_stale_bid_in_a_falling_market_is_filled_then_marked_down() -> None:
    """Adverse selection: a bid left resting while the fair value falls is filled at its own price,
    and the mid keeps falling after the fill."""
    markouts = []
    for seed in range(3):
        w = SimWorld(venues=("paradex",), symbols=("BTC",), seed=seed, regime="trending_down", warmup=60)
        ex = w.exchanges["paradex"]
        mid0 = ex.bbo("BTC", w.t).mid
        price = PROFILES.venue("paradex").instrument("BTC").round_price(mid0 * D("0.9997"), Side.BUY)
        ex.place_limit("BTC", Side.BUY, price, D("0.002"), f"stale-{seed}", True, False, w.t)
        for _ in range(1800):
            w.run_for(1.0)
            if ex.fill_log:
                break
        assert ex.fill_log, "the falling market never reached the stale bid"
        fill = ex.fill_log[0]
        assert fill.price == price  # filled at its own, stale price
        w.run_for(60.0)
        markouts.append(float((ex.bbo("BTC", w.t).mid - fill.price) / fill.price * 10_000))
    assert statistics.mean(markouts) < 0, markouts
