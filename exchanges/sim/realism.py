"""How real a market looks: the figures that tell a real book from a synthetic one, for any source.

A source is a replay file (a real capture converted to the replay format, or a recording of the
model) or a simulated venue market (``venue:SYMBOL``, recorded from the seeded model first), so
both sides of a comparison are measured by the same code on the same kind of data.

``measure`` replays the events once and reports: spread distribution and one-tick share,
top-of-book size, depth within N bps, prints per second, print and taker-order sizes (prints of
one taker order share a timestamp and side), inter-arrival CV of taker orders (1 for Poisson,
above 1 when bursty), lag-1 autocorrelation of taker signs, best-price changes per second, mid
volatility at 1/10/60 s and the variance ratio (60 s variance over 60 x the 1 s variance: below
1 when prices mean-revert at short horizons, as bid-ask bounce makes them). ``calibrate`` turns
a capture's figures into the market-shape parameters of a venue profile.
"""

from __future__ import annotations

import itertools
import math
import statistics
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path

from exchanges.sim.replay import ASK, BID, Replay, load_replay, record

SAMPLE_S = 0.1  # book sampling grid for spread and top size
DEPTH_BPS = 5.0


@dataclass(frozen=True, slots=True)
class Realism:
    source: str
    seconds: float
    spread_ticks_median: float
    spread_bps_median: float
    spread_bps_p90: float
    one_tick_share: float
    top_size_median: float
    depth_bps_median: float  # per side, within DEPTH_BPS of the mid
    prints_per_s: float
    print_size_p50: float
    print_size_p90: float
    print_size_p99: float
    taker_size_p50: float
    taker_size_p99: float
    taker_tail_ratio: float  # p99 / median of taker order sizes
    interarrival_cv: float
    sign_autocorr: float
    bbo_changes_per_s: float
    vol_1s_bps: float
    vol_10s_bps: float
    vol_60s_bps: float
    variance_ratio: float
    level_changes_per_s: float
    level_gap_ticks_median: float
    taker_orders_per_s: float
    count_fano_60s: float  # variance / mean of taker-order counts in 60 s windows (1 for Poisson)
    top_update_share: float  # of level changes: size updates of a best level that stays the best
    real_depth_share: float  # takers that walk past the best level: printed there / displayed there

    def rows(self) -> list[tuple[str, float]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self) if f.name not in ("source", "seconds")]


LABELS = {
    "spread_ticks_median": "spread, ticks (median)",
    "spread_bps_median": "spread, bps (median)",
    "spread_bps_p90": "spread, bps (p90)",
    "one_tick_share": "one-tick spread share",
    "top_size_median": "top size (median, per side)",
    "depth_bps_median": "depth within N bps (median, per side)",
    "prints_per_s": "prints / s",
    "print_size_p50": "print size p50",
    "print_size_p90": "print size p90",
    "print_size_p99": "print size p99",
    "taker_size_p50": "taker order size p50",
    "taker_size_p99": "taker order size p99",
    "taker_tail_ratio": "taker size p99 / p50",
    "interarrival_cv": "taker inter-arrival CV",
    "sign_autocorr": "taker sign autocorrelation (lag 1)",
    "bbo_changes_per_s": "best price changes / s",
    "vol_1s_bps": "mid volatility, 1 s (bps)",
    "vol_10s_bps": "mid volatility, 10 s (bps)",
    "vol_60s_bps": "mid volatility, 60 s (bps)",
    "variance_ratio": "variance ratio (60 s vs 1 s)",
    "level_changes_per_s": "level changes / s",
    "level_gap_ticks_median": "gap between levels, ticks (median)",
    "taker_orders_per_s": "taker orders / s",
    "count_fano_60s": "taker count Fano factor (60 s)",
    "top_update_share": "share of level changes that resize the best level",
    "real_depth_share": "real share of displayed size at the touch (sweeps)",
}


def _q(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(q * len(s))))]


def _sd(values: list[float]) -> float:
    return statistics.pstdev(values) if len(values) > 1 else math.nan


def _returns_bps(mids: list[float], every: int) -> list[float]:
    pts = mids[::every]
    return [(math.log(b) - math.log(a)) * 10_000 for a, b in itertools.pairwise(pts) if a > 0 and b > 0]


def measure(rp: Replay, label: str | None = None, depth_bps: float = DEPTH_BPS) -> Realism:
    """Walk a replay's events once and compute every figure of ``Realism`` (depth within ``depth_bps``)."""
    tick, lot = float(rp.tick), float(rp.lot)
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    bb = ba = 0
    ev_t, ev_k, ev_p, ev_q, ev_end = rp.ev_t, rp.ev_k, rp.ev_p, rp.ev_q, rp.ev_end
    start, end = rp.ev_t[rp.first_book - 1], rp.end
    duration = max(end - start, 1e-9)
    next_sample = start
    spreads_t: list[int] = []
    spreads_bps: list[float] = []
    tops: list[float] = []
    depths: list[float] = []
    mids: list[float] = []
    prints: list[float] = []
    takers: list[tuple[float, int, float]] = []  # t, sign, size
    first_fill: list[float] = []  # per taker order: printed / displayed at its first price
    walked: list[bool] = []  # per taker order: printed at more than one price
    last_price = 0
    level_changes = 0
    top_updates = 0
    bbo_changes = 0
    last_bbo = (0, 0)
    gaps: list[int] = []
    n_samples = 0
    for i in range(len(ev_t)):
        t = ev_t[i]
        while t >= next_sample and next_sample <= end:
            if bb and ba and i >= rp.first_book - 1:
                s = ba - bb
                mid = (bb + ba) / 2 * tick
                spreads_t.append(s)
                spreads_bps.append(s * tick / mid * 10_000)
                tops.append((bids.get(bb, 0) + asks.get(ba, 0)) / 2 * lot)
                mids.append(mid)
                if n_samples % 10 == 0:  # depth and level gaps once a second: they cost a scan of the book
                    lo, hi = mid * (1 - depth_bps / 10_000) / tick, mid * (1 + depth_bps / 10_000) / tick
                    db = sum(q for p, q in bids.items() if p >= lo)
                    da = sum(q for p, q in asks.items() if p <= hi)
                    depths.append((db + da) / 2 * lot)
                    near = sorted(bids, reverse=True)[:5]
                    gaps += [a - b for a, b in itertools.pairwise(near)]
                n_samples += 1
            next_sample += SAMPLE_S
        k, p, q = ev_k[i], ev_p[i], ev_q[i]
        if k == BID:
            level_changes += 1
            if q and p == bb:
                top_updates += 1
            if q:
                bids[p] = q
                if p > bb:
                    bb = p
            else:
                bids.pop(p, None)
                if p == bb:
                    bb = max(bids) if bids else 0
        elif k == ASK:
            level_changes += 1
            if q and p == ba:
                top_updates += 1
            if q:
                asks[p] = q
                if p < ba or not ba:
                    ba = p
            else:
                asks.pop(p, None)
                if p == ba:
                    ba = min(asks) if asks else 0
        else:
            sign = 1 if q > 0 else -1
            size = abs(q) * lot
            prints.append(size)
            if takers and takers[-1][0] == t and takers[-1][1] == sign:
                takers[-1] = (t, sign, takers[-1][2] + size)
                if p != last_price:
                    walked[-1] = True
            else:
                takers.append((t, sign, size))
                shown = (asks if sign > 0 else bids).get(p, 0)
                first_fill.append(abs(q) / shown if shown else math.nan)
                walked.append(False)
            last_price = p
        if ev_end[i] and (bb, ba) != last_bbo:  # a line's updates land together: count what it leaves
            if last_bbo[0] and last_bbo[1] and bb and ba:
                bbo_changes += 1
            last_bbo = (bb, ba)
    sizes = [s for _, _, s in takers]
    gaps_t = [b - a for a, b in zip([t for t, _, _ in takers], [t for t, _, _ in takers[1:]], strict=False)]
    mean_gap = statistics.fmean(gaps_t) if gaps_t else math.nan
    signs = [s for _, s, _ in takers]
    if len(signs) > 2:
        m = statistics.fmean(signs)
        var = statistics.fmean([(s - m) ** 2 for s in signs])
        ac = statistics.fmean([(a - m) * (b - m) for a, b in itertools.pairwise(signs)]) / var if var else 0.0
    else:
        ac = math.nan
    counts: dict[int, int] = {}
    for t, _, _ in takers:
        counts[int((t - start) // 60)] = counts.get(int((t - start) // 60), 0) + 1
    windows = [counts.get(w, 0) for w in range(int(duration // 60))]
    fano = statistics.pvariance(windows) / statistics.fmean(windows) if len(windows) > 1 and sum(windows) else math.nan
    r1, r10, r60 = _returns_bps(mids, 10), _returns_bps(mids, 100), _returns_bps(mids, 600)
    v1, v60 = _sd(r1), _sd(r60)
    return Realism(
        source=label or str(rp.path), seconds=duration,
        spread_ticks_median=_q([float(s) for s in spreads_t], 0.5), spread_bps_median=_q(spreads_bps, 0.5),
        spread_bps_p90=_q(spreads_bps, 0.9),
        one_tick_share=sum(1 for s in spreads_t if s == 1) / len(spreads_t) if spreads_t else math.nan,
        top_size_median=_q(tops, 0.5), depth_bps_median=_q(depths, 0.5), prints_per_s=len(prints) / duration,
        print_size_p50=_q(prints, 0.5), print_size_p90=_q(prints, 0.9), print_size_p99=_q(prints, 0.99),
        taker_size_p50=_q(sizes, 0.5), taker_size_p99=_q(sizes, 0.99),
        taker_tail_ratio=_q(sizes, 0.99) / _q(sizes, 0.5) if sizes else math.nan,
        interarrival_cv=_sd(gaps_t) / mean_gap if gaps_t and mean_gap else math.nan, sign_autocorr=ac,
        bbo_changes_per_s=bbo_changes / duration, vol_1s_bps=v1, vol_10s_bps=_sd(r10), vol_60s_bps=v60,
        variance_ratio=(v60 * v60) / (60 * v1 * v1) if v1 and v1 == v1 and v60 == v60 else math.nan,
        level_changes_per_s=level_changes / duration, level_gap_ticks_median=_q([float(g) for g in gaps], 0.5),
        taker_orders_per_s=len(takers) / duration, count_fano_60s=fano,
        top_update_share=top_updates / level_changes if level_changes else math.nan,
        real_depth_share=_real_share(first_fill, walked))


def _real_share(first_fill: list[float], walked: list[bool]) -> float:
    """How much of the displayed size at the touch really trades: a taker that walks past the
    best level took all that was real there. On an honest book that is all of it (1); on a book
    showing phantom size (GRVT) a small taker already walks."""
    sweeps = [f for f, w in zip(first_fill, walked, strict=True) if w and f == f]
    if len(sweeps) < max(5, 0.01 * len(walked)):
        return 1.0
    return min(1.0, statistics.median(sweeps))


def load_source(spec: str, *, seconds: float = 1800.0, seed: int = 7, profiles_path: Path | None = None) -> Replay:
    """A replay file, or ``venue:SYMBOL`` recorded from the seeded model for ``seconds``."""
    path = Path(spec)
    if path.exists() or not (":" in spec and "/" not in spec):
        return load_replay(path)
    from exchanges.sim.profiles import load_profiles, load_profiles_with
    from exchanges.sim.world import SimWorld

    venue, _, symbol = spec.partition(":")
    profiles = load_profiles_with(profiles_path) if profiles_path else load_profiles()
    profiles.venue(venue).market(symbol.upper())
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.jsonl"
        world = SimWorld(venues=(venue,), symbols=(symbol.upper(),), seed=seed, profiles=profiles, warmup=60)
        record(world, venue, symbol.upper(), seconds, out, depth=50)
        return load_replay(out, profiles)


def compare_table(a: Realism, b: Realism) -> list[list[object]]:
    rows = []
    for (name, va), (_, vb) in zip(a.rows(), b.rows(), strict=True):
        ratio = vb / va if va and va == va and vb == vb else math.nan
        rows.append([LABELS.get(name, name), va, vb, ratio])
    return rows


# --- calibration -----------------------------------------------------------------------------
def _z(p: float) -> float:
    """Standard normal quantile (Acklam's rational approximation is overkill: bisection will do)."""
    lo, hi = -8.0, 8.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def calibrate(rp: Replay) -> dict[str, float | str]:
    """Market-shape parameters of a venue profile (``[venues.V.markets.S]``) fitted to a capture.

    What a single venue's capture cannot tell (basis, lag and noise against other venues, the
    GRVT-style executable caps) stays as the profile has it."""
    r = measure(rp)
    tick = float(rp.tick)
    mid = rp.mid[len(rp.mid) // 2]
    tick_bps = tick / mid * 10_000
    out: dict[str, float | str] = {}
    if r.one_tick_share >= 0.5:  # tick-constrained: a one-tick typical spread, breathing rarely to two
        out["spread_bps"] = round(tick_bps, 6)
        share = min(r.one_tick_share, 0.9999)
        out["spread_log_sd"] = round(math.log(1.5) / max(_z(share), 0.05), 4)
    else:
        out["spread_bps"] = round(r.spread_bps_median, 4)
        log_sp = [math.log(x) for x in (r.spread_bps_median, r.spread_bps_p90) if x > 0]
        out["spread_log_sd"] = round(max(0.05, (log_sp[1] - log_sp[0]) / 1.2816) if len(log_sp) == 2 else 0.3, 4)
    out["level_gap_bps"] = round(max(tick_bps, r.level_gap_ticks_median * tick_bps), 6)
    out["top_size"] = round(r.top_size_median, 8)
    out["quote_rate_per_s"] = round(max(0.05, r.bbo_changes_per_s), 4)
    out["book_updates_per_s"] = round(max(0.0, r.level_changes_per_s - 2 * r.bbo_changes_per_s), 4)
    if r.top_update_share == r.top_update_share and out["book_updates_per_s"]:
        share = r.top_update_share * r.level_changes_per_s / float(out["book_updates_per_s"])
        out["top_churn_share"] = round(min(1.0, max(0.0, share)), 4)
    out["trade_rate_per_s"] = round(r.taker_orders_per_s, 4)
    sizes = sorted(s for s in _taker_sizes(rp))
    q25, q50, q75 = (sizes[int(q * len(sizes))] for q in (0.25, 0.5, 0.75)) if sizes else (1, 1, 1)
    out["trade_size_median"] = round(q50, 10)
    out["trade_size_sigma"] = round(max(0.05, (math.log(q75) - math.log(q25)) / 1.349) if q25 > 0 else 1.0, 4)
    out["trade_size_max"] = round(sizes[-1], 10) if sizes else 1.0
    if sizes:
        top = sizes[int(0.95 * len(sizes)):]
        xmin = top[0]
        hill = len(top) / sum(math.log(x / xmin) for x in top) if len(top) > 1 and top[-1] > xmin else 2.0
        sigma = float(out["trade_size_sigma"])
        alpha = min(5.0, max(0.6, hill))
        tail_start = q50 * math.exp(1.2816 * sigma)
        # the tail's weight that puts the mixture's 99th percentile where the capture's is
        p99 = sizes[int(0.99 * len(sizes))]
        body = 0.5 * math.erfc(math.log(p99 / q50) / sigma / math.sqrt(2))  # P(body > p99)
        tail = min(1.0, (tail_start / p99) ** alpha)  # P(pareto > p99)
        weight = (0.01 - body) / (tail - body) if tail > body else 0.0
        out["size_model"] = "pareto_mix"
        out["size_tail_alpha"] = round(alpha, 4)
        out["size_tail_prob"] = round(min(0.5, max(0.0, weight)), 4)
    out["queue_real_fraction"] = round(max(0.0001, r.real_depth_share), 4)
    fano = r.count_fano_60s
    out["flow_model"] = "hawkes"
    branching = 1 - 1 / math.sqrt(fano) if fano == fano and fano > 1 else 0.0  # Fano = 1 / (1 - n)^2
    out["hawkes_branching"] = round(min(0.95, max(0.0, branching)), 4)
    # Some of the takers seen are the model's informed ones (a quote the fair value moved through is
    # picked off, at the default informed_prob), each exciting the flow: the rest is the base rate.
    from exchanges.sim.profiles import MarketProfile

    prob = next(f.default for f in fields(MarketProfile) if f.name == "informed_prob")
    informed = r.bbo_changes_per_s * float(prob) / (1 - float(out["hawkes_branching"]))  # type: ignore[arg-type]
    out["trade_rate_per_s"] = round(max(0.05 * r.taker_orders_per_s, r.taker_orders_per_s - informed), 4)
    ac = r.sign_autocorr if r.sign_autocorr == r.sign_autocorr else 0.0
    out["sign_persistence"] = round(min(0.95, max(0.0, ac)), 4)
    return out


def _taker_sizes(rp: Replay) -> list[float]:
    lot = float(rp.lot)
    out: list[float] = []
    last: tuple[float, int] | None = None
    for t, k, q in zip(rp.ev_t, rp.ev_k, rp.ev_q, strict=True):
        if k < 2:
            continue
        key = (t, 1 if q > 0 else -1)
        if key == last:
            out[-1] += abs(q) * lot
        else:
            out.append(abs(q) * lot)
        last = key
    return out


def refine(rp: Replay, fitted: dict[str, float | str], rounds: int = 1, seed: int = 7) -> dict[str, float | str]:
    """Correct a fit by simulating it: what the model adds on its own (informed takers, bursts they
    start, refills after a print) shifts some figures, so each round runs the fitted market for the
    capture's length and scales rates (and shifts sign persistence) by what came out versus the capture."""
    target = measure(rp)
    out = dict(fitted)
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            overlay = Path(tmp) / "fit.toml"
            overlay.write_text(calibration_toml(rp, out, target.vol_1s_bps))
            model = measure(load_source(f"{rp.venue}:{rp.symbol}", seconds=min(1800.0, max(300.0, target.seconds)),
                                        seed=seed, profiles_path=overlay))
        for key, want, got in (("trade_rate_per_s", target.taker_orders_per_s, model.taker_orders_per_s),
                               ("book_updates_per_s", target.level_changes_per_s, model.level_changes_per_s),
                               ("quote_rate_per_s", target.bbo_changes_per_s, model.bbo_changes_per_s)):
            if got > 0 and want == want and key in out:
                out[key] = round(float(out[key]) * want / got, 4)
        if target.sign_autocorr == target.sign_autocorr and model.sign_autocorr == model.sign_autocorr:
            shifted = float(out["sign_persistence"]) + target.sign_autocorr - model.sign_autocorr
            out["sign_persistence"] = round(min(0.95, max(0.0, shifted)), 4)
    return out


def calibration_toml(rp: Replay, fitted: dict[str, float | str], vol_1s_bps: float) -> str:
    head = (f"# fitted by `perpflow sim calibrate` from {rp.path.name} ({rp.source or 'no source given'}),\n"
            f"# {rp.end - rp.start:.0f} s of {rp.venue} {rp.symbol}. An overlay: load it with --profiles.\n"
            f"# Not fitted (one venue's capture cannot tell): basis, noise, lag, and the executable caps\n"
            f"# of a market order (exec_cap_*). queue_real_fraction comes from takers that walk the book.\n"
            f"# The capture's 1 s volatility is {vol_1s_bps:.3f} bps: vol_annual ~ "
            f"{vol_1s_bps / 10_000 * math.sqrt(365 * 24 * 3600):.3f} for [assets.{rp.symbol}].\n")
    lines = [f"[venues.{rp.venue}.markets.{rp.symbol}]", f'tick = "{rp.tick}"', f'lot = "{rp.lot}"']
    for k, v in fitted.items():
        lines.append(f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v!r}")
    return head + "\n".join(lines) + "\n"
