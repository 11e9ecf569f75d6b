"""One UTC day of the warehouse, as the daily post-mortem report shows it.

Every figure comes from SQL on the published snapshot, and the money figures from the run views of
``summary.sql`` (``run_totals``, ``run_venues``, ``net_delta_path``): the report, a bot's end-of-run
summary and the cookbook cannot disagree. A run belongs to the day it started (UTC), so each run is
in exactly one daily report and a past day can be rebuilt at any time with the same result.
Sections whose tables a warehouse does not have yet (grid, agents) are simply absent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

# The day's runs, narrowed by bot or run: $1 day start, $2 day end, $3 bot or NULL, $4 run_id or NULL.
DAY_RUNS = """SELECT run_id FROM runs WHERE started >= $1 AND started < $2
              AND ($3 IS NULL OR bot = $3) AND ($4 IS NULL OR run_id = $4)"""


def _df(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> pd.DataFrame:
    return con.execute(sql, params).df()


def tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database()"
                       ).fetchall()
    return {r[0] for r in rows}


@dataclass
class Day:
    """What the report of one day shows; every frame is a SQL result on one snapshot."""

    date: dt.date
    bot: str | None
    run: str | None
    runs: pd.DataFrame  # run_summary rows
    bots: pd.DataFrame  # per bot and mode: run_totals summed
    venues: pd.DataFrame  # run_venues rows (final positions, marks)
    edges: pd.DataFrame  # open vs close edge
    fill_success: pd.DataFrame
    executable: pd.DataFrame  # per run: preflight estimate vs what the hedge venue executed
    latency: pd.DataFrame
    incidents: pd.DataFrame  # risk events that are incidents (not routine state changes)
    net_delta: pd.DataFrame  # run_id, ts, net_delta: the exposure carried
    cycles: pd.DataFrame  # per cycle: kind, edge, pnl, taker reason (for charts and rules)
    sentiment: pd.DataFrame = field(default_factory=pd.DataFrame)
    insights: pd.DataFrame = field(default_factory=pd.DataFrame)
    review: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # sections of tables other helpers add
    tables: set[str] = field(default_factory=set)

    @property
    def active(self) -> bool:
        return not self.runs.empty

    @property
    def hedge_runs(self) -> pd.DataFrame:
        return self.runs[self.runs.bot == "hedge"]


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(day.year, day.month, day.day)
    return start, start + dt.timedelta(days=1)


def read_day(con: duckdb.DuckDBPyConnection, day: dt.date, bot: str | None = None,
             run: str | None = None) -> Day:
    start, end = day_bounds(day)
    p = [start, end, bot, run]
    have = tables(con)
    runs = _df(con, f"SELECT * FROM run_summary WHERE run_id IN ({DAY_RUNS}) ORDER BY started, run_id", p)
    bots = _df(con, f"""
        SELECT bot, mode, count(*) AS runs, CAST(sum(cycles) AS BIGINT) AS cycles, CAST(sum(fills) AS BIGINT) AS fills,
               round(sum(volume), 2) AS volume, round(sum(fees), 6) AS fees, round(sum(gross_pnl), 6) AS gross_pnl,
               round(sum(net_pnl), 6) AS net_pnl,
               round(-sum(net_pnl) / nullif(sum(volume), 0) * 1e6, 4) AS cost_per_1m,
               CAST(sum(hedge_failures) AS BIGINT) AS hedge_failures,
               CAST(sum(recovered_cycles) AS BIGINT) AS recovered_cycles,
               CAST(sum(halts) AS BIGINT) AS halts, CAST(sum(risk_events) AS BIGINT) AS risk_events,
               count(*) FILTER (WHERE status = 'FAILED') AS failed_runs,
               count(*) FILTER (WHERE net_delta_state = 'IMBALANCED') AS imbalanced_runs
        FROM run_totals WHERE run_id IN ({DAY_RUNS}) GROUP BY bot, mode ORDER BY bot, mode""", p)
    venues = _df(con, f"SELECT * FROM run_venues WHERE run_id IN ({DAY_RUNS}) ORDER BY run_id, venue", p)
    edges = _df(con, f"""
        SELECT kind, count(*) AS cycles,
               round(CAST(sum(edge_bps * size) FILTER (WHERE edge_bps IS NOT NULL)
                          / sum(size) FILTER (WHERE edge_bps IS NOT NULL) AS DOUBLE), 4) AS avg_edge_bps,
               round(CAST(median(edge_bps) AS DOUBLE), 4) AS median_edge_bps,
               round(CAST(sum(pnl) AS DOUBLE), 6) AS net_pnl
        FROM cycles WHERE run_id IN ({DAY_RUNS}) GROUP BY kind ORDER BY kind DESC""", p)
    fill_success = _df(con, f"""
        SELECT o.venue, o.symbol, o.type, printf('%.*f', coalesce(any_value(i.size_decimals), 4), o.size) AS size,
               CAST(o.size AS DOUBLE) AS size_value, count(*) AS orders,
               count(*) FILTER (WHERE o.filled >= o.size) AS full_fills,
               count(*) FILTER (WHERE o.filled > 0 AND o.filled < o.size) AS partial_fills,
               count(*) FILTER (WHERE o.filled = 0) AS no_fills,
               round(CAST(sum(o.filled) / sum(o.size) AS DOUBLE), 4) AS filled_share
        FROM orders o LEFT JOIN instrument_steps i ON i.run_id = o.run_id AND i.venue = o.venue
        WHERE o.run_id IN ({DAY_RUNS}) AND o.status IN ('FILLED', 'CANCELLED', 'EXPIRED', 'REJECTED')
        GROUP BY o.venue, o.symbol, o.type, o.size ORDER BY o.venue, o.symbol, o.type, o.size""", p)
    executable = _df(con, f"""
        WITH e AS (SELECT o.run_id, o.venue, max(o.filled) AS largest_executed,
                          max(o.size) FILTER (WHERE o.type = 'MARKET' AND o.filled < o.size) AS largest_short
                   FROM orders o WHERE o.run_id IN ({DAY_RUNS}) GROUP BY o.run_id, o.venue)
        SELECT r.run_id, r.symbol, json_extract_string(r.params, '$.preflight.venue') AS venue,
               CAST(json_extract_string(r.params, '$.size') AS DOUBLE) AS order_size,
               CAST(json_extract_string(r.params, '$.preflight.displayed_top') AS DOUBLE) AS displayed_top,
               CAST(json_extract_string(r.params, '$.preflight.executable_size') AS DOUBLE) AS executable_estimate,
               CAST(e.largest_executed AS DOUBLE) AS largest_executed,
               CAST(e.largest_short AS DOUBLE) AS largest_taker_short
        FROM runs r JOIN e ON e.run_id = r.run_id AND e.venue = json_extract_string(r.params, '$.preflight.venue')
        WHERE r.run_id IN ({DAY_RUNS}) ORDER BY r.started, r.run_id""", p)
    latency = _df(con, f"""
        SELECT hedge_venue, count(hedge_latency_ms) AS cycles,
               round(quantile_cont(hedge_latency_ms, 0.5), 1) AS p50_ms,
               round(quantile_cont(hedge_latency_ms, 0.9), 1) AS p90_ms, round(max(hedge_latency_ms), 1) AS max_ms
        FROM cycles WHERE run_id IN ({DAY_RUNS}) AND hedge_latency_ms IS NOT NULL
        GROUP BY hedge_venue ORDER BY hedge_venue""", p)
    incidents = _df(con, f"""
        SELECT e.ts, e.run_id, r.bot, e.check_name, e.reason, e.state_to, e.detail
        FROM risk_events e JOIN runs r USING (run_id)
        WHERE e.run_id IN ({DAY_RUNS})
          AND (e.check_name = 'hedge'
               OR (e.state_to = 'HALTED' AND e.reason NOT IN ('RUN_COMPLETE', 'CANCELLED_BY_USER'))
               OR (e.state_to = 'REDUCING' AND e.reason <> 'CANCELLED_BY_USER')
               OR e.check_name IN ('reconcile', 'ledger', 'daily_loss'))
        ORDER BY e.ts, e.run_id, e.seq""", p)
    net_delta = _df(con, f"""SELECT run_id, ts, CAST(net_delta AS DOUBLE) AS net_delta FROM net_delta_path
                             WHERE run_id IN ({DAY_RUNS}) ORDER BY run_id, ts, seq""", p)
    cycles = _df(con, f"""
        SELECT run_id, cycle_no, kind, CAST(size AS DOUBLE) AS size, CAST(edge_bps AS DOUBLE) AS edge_bps,
               CAST(pnl AS DOUBLE) AS pnl, hedge_taker_reason, hedge_maker_share, status
        FROM cycles WHERE run_id IN ({DAY_RUNS}) ORDER BY run_id, cycle_no""", p)
    day = Day(day, bot, run, runs, bots, venues, edges, fill_success, executable, latency, incidents, net_delta,
              cycles, tables=have)
    if {"fill_diagnostics", "pnl_split", "strategy_events"} <= have | _views(con):
        _grid(con, day, p)
    if {"agent_trades", "mode_changes"} <= have:
        _agents(con, day, p)
    if bot is None and run is None:  # market intelligence is not a bot's: only in the whole day's report
        _intelligence(con, day, start, end)
    return day


def _views(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT view_name FROM duckdb_views() WHERE database_name = current_database()").fetchall()
    return {r[0] for r in rows}


GRID_RUNS = f"SELECT run_id FROM runs WHERE bot = 'grid' AND run_id IN ({DAY_RUNS})"


def _grid(con: duckdb.DuckDBPyConnection, day: Day, p: list[Any]) -> None:
    """The grid's diagnostics (warehouse/diagnostics.py) for the day's grid runs, if any."""
    ids = [r[0] for r in con.execute(GRID_RUNS, p).fetchall()]
    if not ids:
        return
    g: dict[str, pd.DataFrame] = {}
    g["split"] = _df(con, f"""SELECT run_id, CAST(fills AS BIGINT) AS fills, round(spread_capture, 6) AS spread_capture,
                                   round(inventory_pnl, 6) AS inventory_pnl, round(fees, 6) AS fees,
                                   round(funding, 6) AS funding, round(total, 6) AS total
                              FROM pnl_split WHERE run_id IN ({GRID_RUNS}) ORDER BY run_id""", p)
    g["markouts"] = _df(con, f"""SELECT side, count(*) AS fills, avg(markout_1s_bps) AS m1,
                                      avg(markout_10s_bps) AS m10, avg(markout_60s_bps) AS m60
                                 FROM fill_diagnostics WHERE run_id IN ({GRID_RUNS}) GROUP BY side ORDER BY side""", p)
    g["inventory"] = _df(con, f"""SELECT run_id, ts, CAST(inventory_after AS DOUBLE) AS inventory
                                  FROM fill_diagnostics WHERE run_id IN ({GRID_RUNS}) ORDER BY run_id, ts, seq""", p)
    g["pauses"] = _df(con, f"""SELECT coalesce(detail, '') AS reason, count(*) AS pauses
                               FROM strategy_events WHERE event = 'pause' AND run_id IN ({GRID_RUNS})
                               GROUP BY reason ORDER BY pauses DESC, reason""", p)
    g["hyp"] = _df(con, f"""SELECT
            avg(markout_60s_bps) AS a_markout_60s_bps, count(*) AS fills,
            avg(spread_capture - fee) FILTER (WHERE abs(inventory_after) > abs(inventory_before)) AS b_adding_fill_pnl,
            avg(spread_capture - fee) FILTER (WHERE abs(inventory_after) <= abs(inventory_before))
              AS b_reducing_fill_pnl,
            sum(fee_excess) AS c_fee_excess, sum(fee) AS c_fee_paid,
            count(*) FILTER (WHERE slippage_ticks > 0) AS d_slipped_fills,
            sum(CASE WHEN slippage_ticks > 0 THEN (fill_price - order_price) * size
                     * CASE side WHEN 'BUY' THEN 1 ELSE -1 END ELSE 0 END) AS d_slippage_cost
        FROM fill_diagnostics WHERE run_id IN ({GRID_RUNS})""", p)
    day.extra["grid"] = g


AGENT_RUNS = f"SELECT run_id FROM runs WHERE run_id IN ({DAY_RUNS})"


def _agents(con: duckdb.DuckDBPyConnection, day: Day, p: list[Any]) -> None:
    """The agents' round trips (agent_trades) and mode changes of the day's runs, if any."""
    n = con.execute(f"SELECT count(*) FROM agent_trades WHERE run_id IN ({AGENT_RUNS})", p).fetchone()
    m = con.execute(f"SELECT count(*) FROM mode_changes WHERE run_id IN ({AGENT_RUNS})", p).fetchone()
    if not (n and n[0]) and not (m and m[0]):
        return
    a: dict[str, pd.DataFrame] = {}
    a["totals"] = _df(con, f"""SELECT bot, count(*) AS trades, count(*) FILTER (WHERE win) AS wins,
            round(count(*) FILTER (WHERE win) / count(*), 4) AS win_rate,
            round(CAST(sum(notional) AS DOUBLE), 2) AS notional,
            round(CAST(sum(gross_pnl) AS DOUBLE), 6) AS gross_pnl, round(CAST(sum(fees) AS DOUBLE), 6) AS fees,
            round(CAST(sum(pnl) AS DOUBLE), 6) AS pnl, round(CAST(avg(fees) AS DOUBLE), 6) AS fees_per_trip,
            round(avg(drag_pct), 4) AS avg_drag_pct, round(median(hold_s) / 3600, 2) AS median_hold_h,
            round(avg(hold_s) / 3600, 2) AS avg_hold_h
        FROM agent_trades WHERE run_id IN ({AGENT_RUNS}) GROUP BY bot ORDER BY bot""", p)
    a["by_symbol"] = _df(con, f"""SELECT symbol, lower(direction) AS direction, count(*) AS trades,
            round(count(*) FILTER (WHERE win) / count(*), 4) AS win_rate, round(CAST(sum(pnl) AS DOUBLE), 6) AS pnl
        FROM agent_trades WHERE run_id IN ({AGENT_RUNS}) GROUP BY ALL ORDER BY symbol, direction""", p)
    a["exits"] = _df(con, f"""SELECT coalesce(exit_rule, '-') AS exit_rule, count(*) AS trades,
            round(CAST(sum(pnl) AS DOUBLE), 6) AS pnl, round(avg(hold_s) / 3600, 2) AS avg_hold_h
        FROM agent_trades WHERE run_id IN ({AGENT_RUNS}) GROUP BY ALL ORDER BY trades DESC, exit_rule""", p)
    a["calibration"] = _df(con, f"""SELECT floor(confidence * 10) / 10 AS bucket, count(*) AS trades,
            round(avg(confidence), 4) AS stated, round(count(*) FILTER (WHERE win) / count(*), 4) AS realised
        FROM agent_trades WHERE run_id IN ({AGENT_RUNS}) AND confidence IS NOT NULL
        GROUP BY bucket ORDER BY bucket""", p)
    a["modes"] = _df(con, f"""SELECT ts, run_id, mode_from, mode_to, reason
        FROM mode_changes WHERE run_id IN ({AGENT_RUNS}) ORDER BY ts, run_id, seq""", p)
    day.extra["agents"] = a


def _intelligence(con: duckdb.DuckDBPyConnection, day: Day, start: dt.datetime, end: dt.datetime) -> None:
    if "sentiment" in day.tables:
        day.sentiment = _df(con, """SELECT ts, source, metric, coalesce(symbol, '') AS symbol, value, stale
                                    FROM sentiment WHERE ts >= $1 AND ts < $2 ORDER BY source, metric, symbol, ts""",
                            [start, end])
    if "insights" in day.tables:
        day.insights = _df(con, """SELECT ts, scope, topic, CAST(data AS VARCHAR) AS data, confidence, source
                                   FROM insights WHERE ts >= $1 AND ts < $2 ORDER BY ts, insight_id""", [start, end])
    if "reviews" in day.tables:  # the latest valid review written by the end of the day
        row = con.execute("""SELECT review_id, ts, reviewer, model, summary, CAST(body AS VARCHAR)
                             FROM reviews WHERE valid AND ts < $1 ORDER BY ts DESC, review_id DESC LIMIT 1""",
                          [end]).fetchone()
        if row:
            import json

            day.review = {"review_id": row[0], "ts": row[1], "reviewer": row[2], "model": row[3],
                          "summary": row[4], "body": json.loads(row[5]) if row[5] else {}}
