-- perpflow warehouse cookbook: the analyses the product notes did by hand.
-- Each query is named by its "-- name:" header and runs as is in `make sql` (the published
-- snapshot, read-only) or through warehouse.query.named_query(name). Money is in quote currency.
-- The run figures come from the views of warehouse/summary.sql (run_summary, run_totals, run_money, run_venues,
-- fill_legs, net_delta_path, instrument_steps), which a bot's summary and the daily report read
-- too: one definition of volume, fees and PnL. Every fill of a run counts, a flatten's included;
-- net PnL = cash of every fill + what the run left open at its final mark; cost per $1M =
-- -net PnL / volume * 1e6, so a positive number is what $1M of volume cost. Runs have a mode:
-- backtest (simulator, virtual clock: its timestamps are simulated), paper or live.

-- name: run_summary
-- Per run: cycles, volume, gross/net PnL (in and outside cycles), fees, cost per $1M, edge,
-- maker share per leg, why hedges went taker, max and time-weighted |net delta|, final net delta.
SELECT * FROM run_summary ORDER BY started, run_id;

-- name: today_live
-- Today (UTC) on live venues, in one row: runs, volume, fees, net PnL and cost per $1M.
SELECT count(*) AS runs, coalesce(sum(cycles), 0) AS cycles, round(coalesce(sum(volume), 0), 2) AS volume,
       round(coalesce(sum(fees), 0), 6) AS fees, round(coalesce(sum(net_pnl), 0), 6) AS net_pnl,
       round(-sum(net_pnl) / nullif(sum(volume), 0) * 1e6, 4) AS cost_per_1m
FROM run_money
WHERE mode = 'live' AND started >= CAST(CAST(now() AT TIME ZONE 'UTC' AS DATE) AS TIMESTAMP);

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
-- Of the orders sent at each size on each venue and symbol, how many filled fully, partly or not
-- at all, and what share of the size asked for was executed (final order states). Sizes print in
-- the venue's size step.
SELECT o.venue, o.symbol, o.type,
       printf('%.*f', coalesce(any_value(i.size_decimals), 4), o.size) AS size,
       count(*) AS orders,
       count(*) FILTER (WHERE o.filled >= o.size) AS full_fills,
       count(*) FILTER (WHERE o.filled > 0 AND o.filled < o.size) AS partial_fills,
       count(*) FILTER (WHERE o.filled = 0) AS no_fills,
       round(count(*) FILTER (WHERE o.filled >= o.size) / count(*), 4) AS full_fill_rate,
       round(CAST(sum(o.filled) / sum(o.size) AS DOUBLE), 4) AS filled_share
FROM orders o LEFT JOIN instrument_steps i ON i.run_id = o.run_id AND i.venue = o.venue
WHERE o.status IN ('FILLED', 'CANCELLED', 'EXPIRED', 'REJECTED')
GROUP BY o.venue, o.symbol, o.type, o.size
ORDER BY o.venue, o.symbol, o.type, o.size;

-- name: net_delta_over_time
-- The exposure the bot really carried: net delta (all venues, base units) after every fill, in
-- time order across venues, per run and minute: the last value, the largest |value| and the
-- seconds spent unhedged (net delta not zero) in the minute's fills' intervals.
SELECT run_id, time_bucket(INTERVAL 1 MINUTE, ts) AS minute, count(*) AS fills,
       CAST(arg_max(net_delta, ts) AS DOUBLE) AS net_delta_last,
       CAST(max(abs(net_delta)) AS DOUBLE) AS net_delta_max_abs,
       round(sum(epoch(until) - epoch(ts)) FILTER (WHERE net_delta <> 0), 3) AS unhedged_s
FROM net_delta_path
GROUP BY run_id, minute
ORDER BY run_id, minute;

-- name: cost_per_million
-- What $1M of volume cost, per mode, bot and symbol (positive = a cost, negative = a profit).
SELECT mode, bot, symbol, count(*) AS runs, round(sum(volume), 2) AS volume, round(sum(net_pnl), 6) AS net_pnl,
       round(sum(fees), 6) AS fees,
       round(-sum(net_pnl) / nullif(sum(volume), 0) * 1e6, 4) AS cost_per_1m,
       round(sum(fees) / nullif(sum(volume), 0) * 1e6, 4) AS fees_per_1m
FROM run_money
GROUP BY mode, bot, symbol
ORDER BY mode, bot, symbol;

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
SELECT CAST(started AS DATE) AS day, mode, clock, count(*) AS runs, round(sum(volume), 2) AS volume,
       round(sum(net_pnl), 6) AS net_pnl, round(sum(fees), 6) AS fees,
       round(-sum(net_pnl) / nullif(sum(volume), 0) * 1e6, 4) AS cost_per_1m
FROM run_money
GROUP BY day, mode, clock
ORDER BY day, mode;

-- name: losing_cycles
-- Every cycle that lost money or whose hedge failed, and why: its edge against its fees, why its
-- hedge went taker and at what maker share, the hedge failures logged during it (the hedge venue's
-- liquidity) and the client ids of its orders (orders.client_id, fills.client_id). Sizes in the
-- venue's size step; worst first.
WITH fails AS (SELECT c.run_id, c.cycle_no, count(e.ts) AS hedge_failures,
                      string_agg(DISTINCT e.reason, ',') AS failure_reasons
               FROM cycles c JOIN risk_events e
                 ON e.run_id = c.run_id AND e.check_name = 'hedge' AND e.ts BETWEEN c.started AND c.ended
               GROUP BY c.run_id, c.cycle_no)
SELECT c.run_id, c.cycle_no, c.kind, c.direction, c.symbol,
       printf('%.*f', coalesce(i.size_decimals, 4), c.size) AS size,
       round(CAST(c.edge_bps AS DOUBLE), 4) AS edge_bps,
       round(CAST(c.gross_pnl AS DOUBLE), 6) AS gross_pnl, round(CAST(c.fees AS DOUBLE), 6) AS fees,
       round(CAST(c.pnl AS DOUBLE), 6) AS pnl,
       concat_ws('; ',
           CASE WHEN c.edge_bps < 0 THEN 'hedged at a worse price than the primary fill'
                WHEN c.edge_bps IS NULL THEN 'no price on a leg (fills missing)'
                WHEN c.pnl < 0 THEN 'fees exceed the edge' END,
           CASE WHEN c.hedge_taker_reason IS NOT NULL THEN 'hedge went taker: ' || c.hedge_taker_reason END,
           CASE WHEN f.hedge_failures > 0
                THEN f.hedge_failures || ' hedge failure(s): ' || f.failure_reasons END) AS why,
       c.hedge_taker_reason, c.primary_maker_share, c.hedge_maker_share,
       coalesce(f.hedge_failures, 0) AS hedge_failures, f.failure_reasons,
       round(c.hedge_latency_ms, 1) AS hedge_latency_ms, c.status,
       array_to_string(c.primary_orders, ' ') AS primary_orders, array_to_string(c.hedge_orders, ' ') AS hedge_orders
FROM cycles c
LEFT JOIN fails f USING (run_id, cycle_no)
LEFT JOIN instrument_steps i ON i.run_id = c.run_id AND i.venue = c.primary_venue
WHERE c.pnl < 0 OR f.hedge_failures > 0
ORDER BY c.pnl, c.run_id, c.cycle_no;

-- name: hedge_taker_reasons
-- How often each run's hedges went taker, and why (timeout, adverse_move, hedge_failed,
-- hedge_mode_market), with the hedge leg's maker share.
SELECT run_id, coalesce(hedge_taker_reason, 'stayed maker') AS reason, count(*) AS cycles,
       round(avg(hedge_maker_share), 4) AS avg_hedge_maker_share,
       round(CAST(sum(pnl) AS DOUBLE), 6) AS net_pnl
FROM cycles
GROUP BY run_id, reason
ORDER BY run_id, cycles DESC, reason;

-- The grid market maker's four hypotheses for losing fills, one query each, over the
-- fill_diagnostics view (one row per fill: book, queue time, fees, inventory, momentum, markouts;
-- see warehouse/diagnostics.py). Markouts are signed: positive = the mid moved our way afterwards.

-- name: hyp_a_markout_by_side_and_momentum
-- A, adverse selection: are fills followed by the mid moving against us, by side and momentum state?
SELECT bot, side, momentum, count(*) AS fills,
       round(avg(spread_capture / notional * 1e4), 4) AS avg_edge_at_fill_bps,
       round(avg(markout_1s_bps), 4) AS avg_markout_1s_bps,
       round(avg(markout_10s_bps), 4) AS avg_markout_10s_bps,
       round(avg(markout_60s_bps), 4) AS avg_markout_60s_bps,
       round(sum(markout_60s_pnl), 6) AS markout_60s_pnl
FROM fill_diagnostics
GROUP BY bot, side, momentum
ORDER BY bot, side, momentum;

-- name: hyp_b_inventory_buckets
-- B, inventory imbalance: fills and PnL by inventory before the fill (fraction of the run's
-- max_position), and whether the fill added to the inventory or reduced it.
WITH f AS (
    SELECT d.*, d.inventory_before / nullif(CAST(r.params->>'max_position' AS DOUBLE), 0) AS q
    FROM fill_diagnostics d JOIN runs r USING (run_id))
SELECT bot,
       CASE WHEN q IS NULL THEN 'unknown' WHEN q < -0.6 THEN '1: q < -0.6' WHEN q < -0.2 THEN '2: -0.6..-0.2'
            WHEN q <= 0.2 THEN '3: -0.2..0.2' WHEN q <= 0.6 THEN '4: 0.2..0.6' ELSE '5: q > 0.6' END AS inventory_bucket,
       count(*) AS fills,
       count(*) FILTER (WHERE abs(inventory_after) > abs(inventory_before)) AS adding_fills,
       round(sum(notional), 2) AS volume,
       round(sum(spread_capture - fee), 6) AS fill_pnl,
       round(avg(spread_capture - fee), 6) AS avg_fill_pnl,
       round(sum(markout_60s_pnl), 6) AS markout_60s_pnl
FROM f
GROUP BY bot, inventory_bucket
ORDER BY bot, inventory_bucket;

-- name: hyp_c_maker_taker_fees
-- C, fee miscalculation: maker/taker counts and the fee charged vs the maker fee the bot assumed.
SELECT bot, liquidity, count(*) AS fills, round(sum(notional), 2) AS volume,
       round(sum(fee), 6) AS fee_paid, round(sum(fee_assumed), 6) AS fee_assumed,
       round(sum(fee_excess), 6) AS fee_excess,
       round(sum(fee) / nullif(sum(notional), 0) * 1e4, 4) AS fee_bps
FROM fill_diagnostics
GROUP BY bot, liquidity
ORDER BY bot, liquidity;

-- name: hyp_d_fill_minus_order_ticks
-- D, rounding and slippage: how far fills land from their order price, in ticks (positive = worse
-- for us: a buy above or a sell below its limit).
SELECT bot, round(slippage_ticks, 2) AS slippage_ticks, count(*) AS fills,
       round(count(*) / sum(count(*)) OVER (PARTITION BY bot), 4) AS share,
       round(sum((fill_price - order_price) * size * CASE side WHEN 'BUY' THEN 1 ELSE -1 END), 6) AS cost
FROM fill_diagnostics
WHERE order_price IS NOT NULL
GROUP BY bot, round(slippage_ticks, 2)
ORDER BY bot, slippage_ticks;

-- The LLM agents: round trips (agent_trades: entry, exit, the rule that closed it, hold, fees,
-- spread and funding, net PnL after all three, the mode it traded in), every adviser call
-- (decisions: asked or skipped, accepted or abstained and why) and mode changes. An agent run is
-- one kernel run per symbol (run_id <run>-<symbol>); group by bot/venue to read both agents.

-- name: agent_win_rate
-- Win rate by venue, symbol and direction: what the insights flow blocks or unblocks combos on.
SELECT venue, symbol, direction, count(*) AS trades, count(*) FILTER (WHERE win) AS wins,
       round(count(*) FILTER (WHERE win) / count(*), 4) AS win_rate,
       round(CAST(sum(pnl) AS DOUBLE), 6) AS net_pnl, round(CAST(avg(pnl) AS DOUBLE), 6) AS avg_pnl
FROM agent_trades
GROUP BY venue, symbol, direction
ORDER BY venue, symbol, direction;

-- name: agent_exits_by_rule
-- Which rule closed the round trips (stop_loss, take_profit, max_hold, cut_loser, run_end, ...),
-- how they did and how long they were held.
SELECT venue, exit_rule, count(*) AS trades, round(count(*) FILTER (WHERE win) / count(*), 4) AS win_rate,
       round(CAST(sum(pnl) AS DOUBLE), 6) AS net_pnl, round(avg(hold_s) / 3600, 2) AS avg_hold_h
FROM agent_trades
GROUP BY venue, exit_rule
ORDER BY venue, trades DESC, exit_rule;

-- name: agent_cost_per_round_trip
-- Fee + spread drag per round trip, per venue and mode: USD and % of entry notional (the notes
-- measured 0.25-0.35 % for the old quick traders), and how often entries got a maker fill.
SELECT venue, mode, count(*) AS trades, round(CAST(avg(notional) AS DOUBLE), 2) AS avg_notional,
       round(CAST(avg(fees) AS DOUBLE), 6) AS fees_per_trip,
       round(CAST(avg(spread_cost) AS DOUBLE), 6) AS spread_per_trip,
       round(CAST(avg(fees + spread_cost) AS DOUBLE), 6) AS drag_per_trip,
       round(CAST(sum(fees + spread_cost) / sum(notional) * 100 AS DOUBLE), 4) AS drag_pct,
       round(count(*) FILTER (WHERE entry_maker) / count(*), 4) AS maker_entry_share
FROM agent_trades
GROUP BY venue, mode
ORDER BY venue, mode;

-- name: agent_pnl_by_mode
-- Profit mode (hold 1-48 h) against volume mode (quick trades, burning banked profit): trades per
-- mode, gross PnL, what fees, spread and funding took, net PnL and average hold.
SELECT venue, mode, count(*) AS trades, round(CAST(sum(gross_pnl) AS DOUBLE), 6) AS gross_pnl,
       round(CAST(sum(fees) AS DOUBLE), 6) AS fees, round(CAST(sum(spread_cost) AS DOUBLE), 6) AS spread_cost,
       round(CAST(sum(funding_paid) AS DOUBLE), 6) AS funding, round(CAST(sum(pnl) AS DOUBLE), 6) AS net_pnl,
       round(avg(hold_s) / 3600, 2) AS avg_hold_h
FROM agent_trades
GROUP BY venue, mode
ORDER BY venue, mode;

-- name: agent_calibration
-- Is the model's confidence worth what it says? Per stated-confidence bucket (0.1 wide): trades,
-- the average stated and calibrated confidence at entry, and the realised win rate.
SELECT floor(least(confidence, 0.999) * 10) / 10 AS bucket, count(*) AS trades,
       round(avg(confidence), 4) AS stated, round(avg(calibrated_confidence), 4) AS calibrated,
       round(count(*) FILTER (WHERE win) / count(*), 4) AS realised
FROM agent_trades
GROUP BY bucket
ORDER BY bucket;

-- name: agent_llm_calls
-- Adviser calls per venue and mode: made (the LLM was asked) and skipped (only hold was allowed,
-- so no call), accepted, abstained (invalid answer after a repair, a disallowed symbol or action,
-- an endpoint error), repaired, tokens and latency of the calls made.
SELECT venue, mode, count(*) AS decisions, count(*) FILTER (WHERE llm_called) AS llm_calls,
       count(*) FILTER (WHERE NOT llm_called) AS llm_skipped,
       count(*) FILTER (WHERE verdict = 'accepted') AS accepted,
       count(*) FILTER (WHERE verdict = 'abstain') AS abstained,
       count(*) FILTER (WHERE repaired) AS repaired,
       coalesce(sum(prompt_tokens), 0) AS prompt_tokens, coalesce(sum(completion_tokens), 0) AS completion_tokens,
       round(avg(latency_ms) FILTER (WHERE llm_called), 1) AS avg_latency_ms
FROM decisions
GROUP BY venue, mode
ORDER BY venue, mode;
