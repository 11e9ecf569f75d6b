"""Multi-day price paths: seeded, regime-switching, with funding that follows the regime, and no
reader ever sees a bar from its future."""

from __future__ import annotations

import math
import statistics
from dataclasses import replace

from core.clock import DEFAULT_VIRTUAL_START
from exchanges.sim.paths import REGIMES, generate_path
from exchanges.sim.profiles import load_profiles

T0 = DEFAULT_VIRTUAL_START


def test_same_seed_same_path_other_seed_other_path() -> None:
    a = generate_path(["SOL", "ETH"], days=2, seed=3, start=T0)
    b = generate_path(["SOL", "ETH"], days=2, seed=3, start=T0)
    c = generate_path(["SOL", "ETH"], days=2, seed=4, start=T0)
    assert a == b and a.symbols["SOL"].mid != c.symbols["SOL"].mid
    assert len(a.symbols["SOL"]) == 2 * 1440 and a.end == T0 + 2 * 86_400
    assert a.symbols["SOL"].regime == a.symbols["ETH"].regime  # regimes are market-wide


def test_regimes_shape_returns_volatility_and_funding() -> None:
    """Over many seeded days: storms move more than ranges, and funding is paid by longs in a
    bull and by shorts in a bear."""
    drift: dict[str, list[float]] = {r: [] for r in REGIMES}
    vol: dict[str, list[float]] = {r: [] for r in REGIMES}
    fund: dict[str, list[float]] = {r: [] for r in REGIMES}
    for seed in range(4):
        path = generate_path(["ETH"], days=14, seed=seed, start=T0, bar_s=300)
        assert len(path.regime_hours()) >= 3
        p = path.symbols["ETH"]
        for i in range(1, len(p)):
            if p.regime[i] == p.regime[i - 1]:
                r = math.log(p.mid[i] / p.mid[i - 1])
                drift[p.regime[i]].append(r)
                vol[p.regime[i]].append(r * r)
                fund[p.regime[i]].append(p.funding_hourly[i])
    assert statistics.fmean(vol["storm"]) > 4 * statistics.fmean(vol["range"])
    assert statistics.fmean(fund["bull"]) > 0 > statistics.fmean(fund["bear"])


def test_trends_drift_and_ranges_revert() -> None:
    """With the asset's volatility turned (almost) off, the regimes' drift shows exactly."""
    base = load_profiles()
    calm = replace(base, assets={s: replace(a, vol_annual=1e-6) for s, a in base.assets.items()})
    path = generate_path(["SOL"], days=14, seed=2, start=T0, bar_s=300, profiles=calm)
    p = path.symbols["SOL"]
    for i in range(1, len(p)):
        r = math.log(p.mid[i] / p.mid[i - 1]) * 288
        if p.regime[i] == "bull":
            assert 0.0119 < r < 0.0121
        elif p.regime[i] == "bear":
            assert -0.0121 < r < -0.0119
        elif p.regime[i] == p.regime[i - 1] == "range":
            assert abs(r) < 1e-3


def test_a_reader_never_sees_the_future() -> None:
    p = generate_path(["SOL"], days=1, seed=1, start=T0).symbols["SOL"]
    assert p.upto(T0, 10) == () and p.index_at(T0 + 59.9) == -1
    t = T0 + 3600 + 30  # half way through a bar: the bar closing at T0+3660 is not known yet
    seen = p.upto(t, 5)
    assert len(seen) == 5 and seen[-1] == p.mid[59] and p.ts[59] <= t < p.ts[60]
    b = p.bar(59)
    assert b.bid < b.mid < b.ask and b.spread_bps > 0
