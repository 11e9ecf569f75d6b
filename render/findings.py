"""Rule-based findings of a day, from its data: the report's recommendations before the LLM's.

Each rule reads figures the report shows (so a finding can be checked against its table) and says
what it saw, with the numbers, in the notes' words: "close cycles lose on average X bps over N
cycles", "0.5 ETH exceeds what GRVT executed today".
"""

from __future__ import annotations

import math
from typing import Any

from warehouse.daily import Day


def _ok(x: Any) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def findings(day: Day) -> list[str]:
    out: list[str] = []
    if not day.active:
        return out
    for e in day.edges.itertuples():
        if _ok(e.avg_edge_bps) and e.avg_edge_bps < 0:
            out.append(f"{e.kind.capitalize()} cycles lose on average {abs(e.avg_edge_bps):.2f} bps of edge over "
                       f"{e.cycles} cycles (net {e.net_pnl:+.4f} USD): price the {e.kind} leg more patiently or "
                       f"skip {e.kind}s when the hedge touch is against it.")
    for b in day.bots.itertuples():
        if _ok(b.cost_per_1m) and b.cost_per_1m > 0 and b.volume > 0:
            fee_share = b.fees / -b.net_pnl * 100 if b.net_pnl < 0 else None
            share = f"; fees are {fee_share:.0f}% of that cost" if fee_share is not None else ""
            out.append(f"{b.bot} ({b.mode}): $1M of volume cost {b.cost_per_1m:,.2f} USD{share}.")
    hedge = day.hedge_runs
    if not hedge.empty:
        taker = int(hedge.taker_adverse_cycles.sum() + hedge.taker_timeout_cycles.sum())
        total = int(hedge.cycles.sum())
        if total and taker:
            out.append(f"Hedges went taker in {taker} of {total} cycles ({int(hedge.taker_adverse_cycles.sum())} on "
                       f"an adverse move, {int(hedge.taker_timeout_cycles.sum())} on timeout): the maker hedge "
                       f"rarely survives; compare its cost with a taker hedge from the start.")
        for r in hedge.itertuples():
            size = _param_size(day, r.run_id)
            if _ok(r.tw_abs_net_delta) and size and r.tw_abs_net_delta > 0.25 * size:
                out.append(f"Run {r.run_id} carried {r.tw_abs_net_delta / size * 100:.0f}% of a clip unhedged on "
                           f"average (time-weighted |net delta| {r.tw_abs_net_delta:.4f} {r.symbol}, max "
                           f"{r.max_abs_net_delta:g}).")
            if r.net_delta_state == "IMBALANCED":
                out.append(f"Run {r.run_id} ended IMBALANCED: net delta {r.final_net_delta:g} {r.symbol}; "
                           f"check its final positions before the next run.")
    out += _liquidity(day)
    if not day.incidents.empty:
        halts = day.incidents[day.incidents.state_to == "HALTED"]
        if not halts.empty:
            reasons = ", ".join(sorted(set(halts.reason)))
            out.append(f"{len(halts)} run(s) halted today ({reasons}).")
    return out


def _param_size(day: Day, run_id: str) -> float | None:
    rows = day.executable[day.executable.run_id == run_id]
    if not rows.empty and _ok(rows.iloc[0].order_size):
        return float(rows.iloc[0].order_size)
    return None


def _liquidity(day: Day) -> list[str]:
    """A size the hedge venue did not execute today, while it executed smaller ones."""
    out = []
    fs = day.fill_success
    if fs.empty:
        return out
    takers = fs[fs.type == "MARKET"]
    for (venue, symbol), g in takers.groupby(["venue", "symbol"]):
        filled = g[g.full_fills > 0]
        failed = g[(g.full_fills == 0) & (g.orders > 0)]
        for f in failed.itertuples():
            smaller = filled[filled.size_value < f.size_value]
            if not smaller.empty:
                best = smaller.sort_values("size_value").iloc[-1]
                out.append(f"{f.size} {symbol} exceeds what {venue} executed today ({f.orders} taker orders, none "
                           f"filled; {best['size']} did): keep clips at or below {best['size']} {symbol}.")
    for e in day.executable.itertuples():
        if _ok(e.largest_taker_short) and _ok(e.displayed_top) and e.largest_taker_short <= e.displayed_top:
            out.append(f"Run {e.run_id}: {e.venue} displayed {e.displayed_top:g} {e.symbol} at the top of book but did "
                       f"not fully execute a {e.largest_taker_short:g} {e.symbol} taker order.")
    return out


def review_recommendations(review: dict[str, Any] | None) -> list[str]:
    """The latest LLM review's recommendations (``body.recommendations``: strings or objects)."""
    if not review:
        return []
    recs = review.get("body", {}).get("recommendations") or []
    out = []
    for r in recs if isinstance(recs, list) else [recs]:
        if isinstance(r, dict):
            text = r.get("text") or r.get("recommendation") or r.get("action") or ""
            verdict = r.get("verdict") or r.get("status")
            out.append(f"{text} ({verdict})" if verdict else str(text))
        else:
            out.append(str(r))
    return [r for r in out if r]
