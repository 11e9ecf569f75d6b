-- perpflow warehouse cookbook: the analyses the product notes did by hand.
-- Each query is named by its "-- name:" header and runs as is in `make sql` (the published
-- snapshot, read-only) or through warehouse.query.named_query(name). Money is in quote currency.
-- Conventions: volume = notional of every fill of the run (both legs, what points programs count);
-- net PnL = sum of cycles.pnl (gross edge minus fees of both legs); PnL % = net PnL / volume * 100;
-- cost per $1M = -net PnL / volume * 1e6, so a positive number is what $1M of volume cost.

-- name: run_summary
-- Per run: cycles, volume, gross PnL, fees, net PnL, PnL % of volume and average edge.
WITH v AS (SELECT run_id, sum(notional) AS volume, count(*) AS fills FROM fills GROUP BY run_id),
     c AS (SELECT run_id, count(*) AS cycles, sum(gross_pnl) AS gross_pnl, sum(fees) AS fees, sum(pnl) AS net_pnl,
                  avg(edge_bps) AS avg_edge_bps
           FROM cycles GROUP BY run_id)
SELECT r.run_id, r.bot, r.symbol, r.status, r.started, r.ended,
       coalesce(c.cycles, 0) AS cycles, coalesce(v.fills, 0) AS fills,
       round(coalesce(v.volume, 0), 2) AS volume,
       round(CAST(coalesce(c.gross_pnl, 0) AS DOUBLE), 6) AS gross_pnl,
       round(CAST(coalesce(c.fees, 0) AS DOUBLE), 6) AS fees,
       round(CAST(coalesce(c.net_pnl, 0) AS DOUBLE), 6) AS net_pnl,
       round(CAST(c.net_pnl AS DOUBLE) / nullif(v.volume, 0) * 100, 6) AS pnl_pct,
       round(CAST(c.avg_edge_bps AS DOUBLE), 4) AS avg_edge_bps
FROM runs r LEFT JOIN v USING (run_id) LEFT JOIN c USING (run_id)
ORDER BY r.started, r.run_id;

-- name: edge_by_cycle_kind
-- Edge of open vs close cycles: the notes found opens cheap and closes expensive.
SELECT bot, kind, count(*) AS cycles,
       round(CAST(avg(edge_bps) AS DOUBLE), 4) AS avg_edge_bps,
       round(CAST(median(edge_bps) AS DOUBLE), 4) AS median_edge_bps,
       round(CAST(min(edge_bps) AS DOUBLE), 4) AS min_edge_bps,
       round(CAST(max(edge_bps) AS DOUBLE), 4) AS max_edge_bps,
       round(CAST(sum(gross_pnl) AS DOUBLE), 6) AS gross_pnl,
       round(CAST(sum(fees) AS DOUBLE), 6) AS fees,
       round(CAST(sum(pnl) AS DOUBLE), 6) AS net_pnl
FROM cycles
GROUP BY bot, kind
ORDER BY bot, kind DESC;

-- name: fill_success_by_size
-- Of the orders sent at each size on each venue, how many filled fully, partly or not at all,
-- and what share of the size asked for was executed (final order states).
SELECT venue, type, size,
       count(*) AS orders,
       count(*) FILTER (WHERE filled >= size) AS full_fills,
       count(*) FILTER (WHERE filled > 0 AND filled < size) AS partial_fills,
       count(*) FILTER (WHERE filled = 0) AS no_fills,
       round(count(*) FILTER (WHERE filled >= size) / count(*), 4) AS full_fill_rate,
       round(CAST(sum(filled) / sum(size) AS DOUBLE), 4) AS filled_share
FROM orders
WHERE status IN ('FILLED', 'CANCELLED', 'EXPIRED', 'REJECTED')
GROUP BY venue, type, size
ORDER BY venue, type, size;

-- name: net_delta_over_time
-- Net delta (primary + hedge position, base units) after each cycle, per run and minute:
-- the last value in the minute and the largest absolute value seen in it.
SELECT run_id, time_bucket(INTERVAL 1 MINUTE, ended) AS minute,
       count(*) AS cycles,
       CAST(arg_max(net_delta_after, ended) AS DOUBLE) AS net_delta_last,
       CAST(max(abs(net_delta_after)) AS DOUBLE) AS net_delta_max_abs
FROM cycles
GROUP BY run_id, minute
ORDER BY run_id, minute;

-- name: cost_per_million
-- What $1M of volume cost, per bot and symbol (positive = a cost, negative = a profit).
WITH v AS (SELECT bot, symbol, sum(notional) AS volume FROM fills GROUP BY bot, symbol),
     p AS (SELECT bot, symbol, sum(CAST(pnl AS DOUBLE)) AS net_pnl, sum(CAST(fees AS DOUBLE)) AS fees
           FROM cycles GROUP BY bot, symbol)
SELECT v.bot, v.symbol, round(v.volume, 2) AS volume, round(p.net_pnl, 6) AS net_pnl, round(p.fees, 6) AS fees,
       round(-p.net_pnl / nullif(v.volume, 0) * 1e6, 4) AS cost_per_1m,
       round(p.fees / nullif(v.volume, 0) * 1e6, 4) AS fees_per_1m
FROM v JOIN p USING (bot, symbol)
ORDER BY v.bot, v.symbol;

-- name: hedge_latency_percentiles
-- Time from the first primary fill to the first hedge fill of each cycle, per bot and hedge venue.
SELECT bot, hedge_venue, count(hedge_latency_ms) AS cycles,
       round(quantile_cont(hedge_latency_ms, 0.5), 1) AS p50_ms,
       round(quantile_cont(hedge_latency_ms, 0.9), 1) AS p90_ms,
       round(quantile_cont(hedge_latency_ms, 0.99), 1) AS p99_ms,
       round(max(hedge_latency_ms), 1) AS max_ms
FROM cycles
WHERE hedge_latency_ms IS NOT NULL
GROUP BY bot, hedge_venue
ORDER BY bot, hedge_venue;

-- name: daily_by_mode
-- Per UTC day and run mode: runs, volume, net PnL, fees and cost per $1M. Read "today" for one mode
-- (WHERE mode = 'live'): backtests (mode 'backtest', clock 'virtual') run on simulated timestamps and
-- paper runs trade the simulator; neither belongs in a live day's figures.
WITH f AS (SELECT run_id, sum(notional) AS volume FROM fills GROUP BY run_id),
     c AS (SELECT run_id, sum(CAST(pnl AS DOUBLE)) AS net_pnl, sum(CAST(fees AS DOUBLE)) AS fees
           FROM cycles GROUP BY run_id)
SELECT CAST(r.started AS DATE) AS day, r.mode, r.clock, count(*) AS runs,
       round(sum(coalesce(f.volume, 0)), 2) AS volume,
       round(sum(coalesce(c.net_pnl, 0)), 6) AS net_pnl,
       round(sum(coalesce(c.fees, 0)), 6) AS fees,
       round(-sum(c.net_pnl) / nullif(sum(f.volume), 0) * 1e6, 4) AS cost_per_1m
FROM runs r LEFT JOIN f USING (run_id) LEFT JOIN c USING (run_id)
GROUP BY day, r.mode, r.clock
ORDER BY day, r.mode;
