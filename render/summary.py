"""A run's summary rows (CLI, Prefect artifact, logs) from its warehouse figures.

The figures are the ``run_summary`` / ``run_venues`` views' (``warehouse/summary.sql``), printed
as the views give them - rounding included - so the summary shows the very numbers the cookbook
shows for the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

MODES = {
    "backtest": "backtest: simulator on a virtual clock (timestamps and durations are simulated)",
    "paper": "paper: simulator in real time",
    "live": "live venues",
}


def _n(value: Any, places: int = 6, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{float(value):{'+' if sign else ''},.{places}f}"


def _share(value: Any) -> str:
    return "-" if value is None else f"{float(value) * 100:.0f}% maker"


def _size(value: Any) -> str:
    """A base-unit size without decimal(18,10)'s trailing zeros."""
    if value is None:
        return "-"
    d = Decimal(str(value)).normalize()
    return f"{d:f}" if d != 0 else "0"


def taker_reasons(row: Mapping[str, Any]) -> str:
    parts = [(row.get("taker_adverse_cycles") or 0, "on adverse move"),
             (row.get("taker_timeout_cycles") or 0, "on timeout"),
             (row.get("taker_after_failure_cycles") or 0, "after a failed hedge"),
             (row.get("taker_by_mode_cycles") or 0, "as configured (hedge mode market)")]
    said = [f"{n} {what}" for n, what in parts if n]
    return ("cycles: " + ", ".join(said)) if said else "never"


def summary_rows(row: Mapping[str, Any], venues: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Label/value rows of one run's summary (``run_summary`` row, ``run_venues`` rows)."""
    sym = row.get("symbol") or ""
    simulated = row.get("clock") == "virtual"
    by_venue = ", ".join(f"{v['venue']} {float(v['volume']):,.2f}" for v in venues)
    rows = [
        ("status", f"{row['status']} - {row['reason']}"),
        ("mode", MODES.get(row.get("mode") or "", str(row.get("mode")))),
        ("cycles", f"{row['cycles']} ({row['open_cycles']} open, {row['close_cycles']} close); "
                   f"{row['fills']} fills, {row['fills_outside_cycles']} outside cycles"),
        ("volume", f"{_n(row['volume'], 2)} USD ({by_venue})"),
        ("gross PnL", f"{_n(row['gross_pnl'], sign=True)} USD"),
        ("fees", f"{_n(row['fees'])} USD"),
        ("funding paid", f"{_n(row.get('funding'), sign=True)} USD"),
        ("net PnL", f"{_n(row['net_pnl'], sign=True)} USD ({_n(row['pnl_pct'], sign=True)}% of volume)"),
        ("net PnL of cycles / outside cycles", f"{_n(row['cycles_pnl'], sign=True)} / "
                                               f"{_n(row['other_pnl'], sign=True)} USD (flatten, open positions)"),
        ("cost per $1M volume", f"{_n(row['cost_per_1m'], 2)} USD"),
        ("average edge", f"{_n(row['avg_edge_bps'], 4, True)} bps"),
        ("open vs close edge", f"{_n(row['open_edge_bps'], 4, True)} / {_n(row['close_edge_bps'], 4, True)} bps"),
        ("primary / hedge leg", f"{_share(row['primary_maker_share'])} / {_share(row['hedge_maker_share'])}"),
        ("hedge turned taker", taker_reasons(row)),
        ("hedge failures / recovered cycles", f"{row['hedge_failures']} / {row['recovered_cycles']}"),
        ("hedge latency p50", "-" if row["hedge_latency_p50_ms"] is None
         else f"{row['hedge_latency_p50_ms']:,.1f} ms" + (" (simulated)" if simulated else "")),
        ("max / time-weighted abs net delta", f"{_size(row['max_abs_net_delta'])} / "
                                              f"{_n(row['tw_abs_net_delta'])} {sym}"),
    ]
    for v in venues:
        mark = f" (marked at {_n(v['mark'], 4)})" if v.get("position") and v.get("mark") is not None else ""
        rows.append((f"final position {v['venue']}", f"{_size(v['position'])} {sym}{mark}"))
    rows.append(("net delta", f"{_size(row['final_net_delta'])} {sym} - {row['net_delta_state'] or 'UNKNOWN'}"))
    duration = row.get("duration_s")
    rows.append(("duration", "-" if duration is None
                 else f"{duration / 60:,.1f} min" + (" (simulated time)" if simulated else "")))
    return rows
