"""An agent run's summary, computed by SQL on the warehouse (one truth: every figure the summary
artifact and the CLI show is a query on the loaded tables for that run).

An agent run is one kernel run per symbol (``<run_id>-<symbol>``); the summary reads them all.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

RUNS = "(run_id = ? OR run_id LIKE ? || '-%')"


def _q(con: duckdb.DuckDBPyConnection, sql: str, run_id: str) -> list[tuple[Any, ...]]:
    return con.execute(sql.replace("{runs}", RUNS), [run_id, run_id]).fetchall()


def agent_summary(warehouse: Path, run_id: str) -> dict[str, Any]:
    """Trades, win rate by symbol/direction, exits by rule, fee drag per round trip, PnL by mode,
    calibration (stated confidence bucket -> realised win rate), LLM calls made and skipped; fills,
    volume and funding from the run views (``run_money``: the same figures as ``run_summary``)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        (n, wins, pnl, fees, spread, drag, hold, notional), = _q(con, """
            SELECT count(*), count(*) FILTER (WHERE win), coalesce(sum(pnl), 0), coalesce(sum(fees), 0),
                   coalesce(sum(spread_cost), 0), avg(drag_pct), avg(hold_s) / 3600, coalesce(sum(notional), 0)
            FROM agent_trades WHERE {runs}""", run_id)
        by_combo = [{"symbol": s, "direction": d, "trades": k, "win_rate": round(w, 3), "pnl": str(p)}
                    for s, d, k, w, p in _q(con, """
            SELECT symbol, direction, count(*), avg(CASE WHEN win THEN 1 ELSE 0 END), sum(pnl)
            FROM agent_trades WHERE {runs} GROUP BY 1, 2 ORDER BY 1, 2""", run_id)]
        exits = {r: k for r, k in _q(con, """
            SELECT exit_rule, count(*) FROM agent_trades WHERE {runs} GROUP BY 1 ORDER BY 2 DESC, 1""", run_id)}
        by_mode = {m: str(p) for m, p in _q(con, """
            SELECT mode, sum(pnl) FROM agent_trades WHERE {runs} GROUP BY 1 ORDER BY 1""", run_id)}
        calibration = [{"bucket": f"{lo:.1f}-{hi:.1f}", "trades": k, "realised": round(w, 3)}
                       for lo, hi, k, w in _q(con, """
            SELECT floor(least(confidence, 0.999) * 10) / 10 AS lo, floor(least(confidence, 0.999) * 10) / 10 + 0.1,
                   count(*), avg(CASE WHEN win THEN 1 ELSE 0 END)
            FROM agent_trades WHERE {runs} GROUP BY 1 ORDER BY 1""", run_id)]
        (calls, skipped, accepted, abstained), = _q(con, """
            SELECT count(*) FILTER (WHERE llm_called), count(*) FILTER (WHERE NOT llm_called),
                   count(*) FILTER (WHERE verdict = 'accepted'), count(*) FILTER (WHERE verdict = 'abstain')
            FROM decisions WHERE {runs}""", run_id)
        (fills, volume, funding), = _q(con, """
            SELECT coalesce(sum(fills), 0), coalesce(sum(volume), 0), coalesce(sum(funding), 0)
            FROM run_money WHERE {runs}""", run_id)
        modes = [{"ts": str(ts), "from": f, "to": t, "reason": r} for ts, f, t, r in _q(con, """
            SELECT ts, mode_from, mode_to, reason FROM mode_changes WHERE {runs} ORDER BY ts, seq""", run_id)]
    finally:
        con.close()
    return {
        "run_id": run_id, "trades": n, "win_rate": round(wins / n, 3) if n else None, "pnl": str(pnl),
        "fees": str(fees), "spread_cost": str(spread),
        "drag_pct_per_round_trip": round(drag, 4) if drag is not None else None,
        "avg_hold_h": round(hold, 2) if hold is not None else None, "fills": int(fills),
        "volume_usd": f"{volume:.2f}", "funding": f"{funding:.6f}", "round_trip_notional": str(notional),
        "by_symbol_direction": by_combo, "exits_by_rule": exits, "pnl_by_mode": by_mode,
        "calibration": calibration, "llm_calls": calls, "llm_skipped": skipped, "accepted": accepted,
        "abstained": abstained, "mode_changes": modes,
    }


def _usd(value: str) -> str:
    """A USD figure as written in the summary, without an exponent (a zero sum reads ``0E-10``)."""
    return format(Decimal(value).normalize(), "f") if Decimal(value) else "0"


def summary_rows(s: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary as (metric, value) rows: the artifact and the CLI print the same."""
    return [
        ("trades", str(s["trades"])), ("win rate", "-" if s["win_rate"] is None else f"{s['win_rate']:.1%}"),
        ("net PnL (USD, after fees and funding)", _usd(s["pnl"])),
        ("fills / volume (USD)", f"{s['fills']} / {s['volume_usd']}"),
        ("fees (USD)", _usd(s["fees"])), ("funding paid (USD)", _usd(s["funding"])),
        ("spread paid (USD)", _usd(s["spread_cost"])),
        ("fee + spread drag per round trip (% notional)",
         "-" if s["drag_pct_per_round_trip"] is None else f"{s['drag_pct_per_round_trip']:.3f}"),
        ("average hold (h)", "-" if s["avg_hold_h"] is None else f"{s['avg_hold_h']:.2f}"),
        ("exits by rule", ", ".join(f"{k} {v}" for k, v in s["exits_by_rule"].items()) or "-"),
        ("PnL by mode", ", ".join(f"{k} {v}" for k, v in s["pnl_by_mode"].items()) or "-"),
        ("LLM calls made / skipped", f"{s['llm_calls']} / {s['llm_skipped']}"),
        ("decisions accepted / abstained", f"{s['accepted']} / {s['abstained']}"),
        ("mode changes", " ; ".join(f"{m['from'] or '-'}->{m['to']} ({m['reason']})" for m in s["mode_changes"])),
    ]
