-- The run summary as views: the one definition of every figure a bot's summary, its Prefect
-- artifacts, the cookbook (docs/queries.sql) and the daily report show. warehouse/summary.py
-- creates them in the master (so in every published snapshot) and reads them for one run.
--
-- Conventions. Money in quote currency (USD). Every fill of the run counts, inside a cycle or not
-- (a flatten's fills too): volume = sum of fill notionals; fees = sum of fill fees; net PnL = the
-- cash of every fill (-signed notional - fee) minus funding paid, plus what the run's fills left
-- open, marked at the mid the bot recorded with its final positions (else its last fill price);
-- gross PnL = net PnL + fees + funding; cost per $1M =
-- -net PnL / volume * 1e6 (positive: what $1M of volume cost). A fill's leg is the cycle order it
-- belongs to (cycles.primary_orders / hedge_orders); 'other' is a fill outside any finished cycle
-- (flattening, an interrupted cycle). Net delta is the run's starting net position plus every
-- fill, in time order across venues: the exposure the bot really carried.

-- name: instrument_steps
-- Each run's venues' price tick and size step as it traded them, and the decimals they print with
-- (printf('%.*f', size_decimals, size) shows a size as the venue does, not as decimal(18,10)).
SELECT run_id, venue, json_extract_string(params, '$.instruments.' || venue || '.venue_symbol') AS venue_symbol,
       CAST(json_extract_string(params, '$.instruments.' || venue || '.tick') AS DOUBLE) AS tick,
       CAST(json_extract_string(params, '$.instruments.' || venue || '.lot') AS DOUBLE) AS lot,
       length(split_part(json_extract_string(params, '$.instruments.' || venue || '.tick'), '.', 2)) AS price_decimals,
       length(split_part(json_extract_string(params, '$.instruments.' || venue || '.lot'), '.', 2)) AS size_decimals
FROM (SELECT run_id, params, unnest(venues) AS venue FROM runs)
WHERE json_extract_string(params, '$.instruments.' || venue || '.lot') IS NOT NULL;

-- name: fill_legs
SELECT f.run_id, f.bot, f.venue, f.symbol, f.order_id, f.trade_id, f.client_id, f.side, f.liquidity, f.ts, f.seq,
       f.price, f.size, f.fee, f.notional,
       CASE f.side WHEN 'BUY' THEN f.size ELSE -f.size END AS signed_size,
       coalesce(l.leg, 'other') AS leg, l.cycle_no
FROM fills f
LEFT JOIN (SELECT run_id, 'primary' AS leg, cycle_no, unnest(primary_orders) AS client_id FROM cycles
           UNION ALL
           SELECT run_id, 'hedge' AS leg, cycle_no, unnest(hedge_orders) AS client_id FROM cycles) l
       ON l.run_id = f.run_id AND l.client_id = f.client_id;

-- name: net_delta_path
-- After each fill of a run: the net position over all its venues, and until when it held.
WITH start AS (SELECT run_id, sum(size) AS net FROM (
                   SELECT run_id, venue, arg_min(size, ts) AS size FROM positions GROUP BY run_id, venue)
               GROUP BY run_id)
SELECT f.run_id, f.ts, f.seq, f.venue, f.signed_size,
       coalesce(s.net, 0) + sum(f.signed_size) OVER (w ROWS UNBOUNDED PRECEDING) AS net_delta,
       coalesce(lead(f.ts) OVER w, greatest(r.ended, f.ts)) AS until
FROM (SELECT run_id, ts, seq, venue, CASE side WHEN 'BUY' THEN size ELSE -size END AS signed_size FROM fills) f
LEFT JOIN start s USING (run_id) LEFT JOIN runs r USING (run_id)
WINDOW w AS (PARTITION BY f.run_id ORDER BY f.ts, f.seq);

-- name: run_venues
-- Per run and venue: fills, volume, fees, funding paid, maker share, final position and the mark it
-- is valued at; net PnL = fill cash - fees - funding + what the fills left open at the mark.
WITH f AS (SELECT run_id, venue, count(*) AS fills, sum(notional) AS volume, sum(fee) AS fees,
                  coalesce(sum(size) FILTER (WHERE liquidity = 'MAKER'), 0) / sum(size) AS maker_share,
                  sum(CASE side WHEN 'BUY' THEN size ELSE -size END) AS traded,
                  sum(CASE side WHEN 'BUY' THEN -price * size ELSE price * size END) AS cash,
                  arg_max(price, ts) AS last_price
           FROM fills GROUP BY run_id, venue),
     p AS (SELECT run_id, venue, arg_max(size, ts) AS position,
                  arg_max(mark, ts) FILTER (WHERE mark IS NOT NULL) AS mark
           FROM positions GROUP BY run_id, venue),
     u AS (SELECT run_id, venue, sum(payment) AS funding FROM funding GROUP BY run_id, venue),
     k AS (SELECT run_id, venue FROM f UNION SELECT run_id, venue FROM p UNION SELECT run_id, venue FROM u)
SELECT k.run_id, k.venue,
       coalesce(f.fills, 0) AS fills, coalesce(f.volume, 0) AS volume, coalesce(f.fees, 0) AS fees,
       coalesce(u.funding, 0) AS funding,
       f.maker_share, coalesce(f.traded, 0) AS traded, p.position, coalesce(p.mark, f.last_price) AS mark,
       coalesce(f.cash, 0) - coalesce(f.fees, 0) - coalesce(u.funding, 0)
         + coalesce(f.traded, 0) * coalesce(p.mark, f.last_price, 0) AS net_pnl
FROM k LEFT JOIN f ON f.run_id = k.run_id AND f.venue = k.venue
LEFT JOIN p ON p.run_id = k.run_id AND p.venue = k.venue
LEFT JOIN u ON u.run_id = k.run_id AND u.venue = k.venue;

-- name: run_modes
-- Each run with its mode and clock (from its params for runs recorded before runs had them) and
-- the net delta tolerance it was judged with.
SELECT * EXCLUDE (mode, clock),
       coalesce(mode, CASE WHEN json_extract_string(params, '$.venue_mode') = 'live' THEN 'live'
            WHEN json_extract_string(params, '$.sim_clock') = 'real' THEN 'paper' ELSE 'backtest' END) AS mode,
       coalesce(clock, CASE WHEN json_extract_string(params, '$.venue_mode') = 'live' OR json_extract_string(params, '$.sim_clock') = 'real' THEN 'real'
            ELSE 'virtual' END) AS clock,
       greatest(CAST(json_extract_string(params, '$.net_delta_tolerance') AS DOUBLE) * CAST(json_extract_string(params, '$.size') AS DOUBLE),
                least(CAST(json_extract_string(params, '$.instruments.' || venues[1] || '.lot') AS DOUBLE),
                      CAST(json_extract_string(params, '$.instruments.' || venues[2] || '.lot') AS DOUBLE))
                / 2) AS tolerance
FROM runs;


-- name: run_money
-- One row per run: its money figures alone (no per-fill path), for sums over many runs.
SELECT r.run_id, r.bot, r.symbol, r.mode, r.clock, r.started,
       coalesce(c.cycles, 0) AS cycles, coalesce(v.fills, 0) AS fills, coalesce(v.volume, 0) AS volume,
       CAST(coalesce(v.fees, 0) AS DOUBLE) AS fees, CAST(coalesce(v.funding, 0) AS DOUBLE) AS funding,
       CAST(coalesce(v.net_pnl, 0) AS DOUBLE) AS net_pnl, v.final_net_delta
FROM run_modes r
LEFT JOIN (SELECT run_id, CAST(sum(fills) AS BIGINT) AS fills, sum(volume) AS volume, sum(fees) AS fees,
                  sum(funding) AS funding, sum(net_pnl) AS net_pnl, sum(position) AS final_net_delta
           FROM run_venues GROUP BY run_id) v USING (run_id)
LEFT JOIN (SELECT run_id, count(*) AS cycles FROM cycles GROUP BY run_id) c USING (run_id);

-- name: run_totals
-- One row per run: every figure of its summary, unrounded (sums over runs start here).
WITH v AS (SELECT * FROM run_money),
     legs AS (SELECT run_id,
                     coalesce(sum(size) FILTER (WHERE leg = 'primary' AND liquidity = 'MAKER'), 0)
                       / nullif(sum(size) FILTER (WHERE leg = 'primary'), 0) AS primary_maker_share,
                     coalesce(sum(size) FILTER (WHERE leg = 'hedge' AND liquidity = 'MAKER'), 0)
                       / nullif(sum(size) FILTER (WHERE leg = 'hedge'), 0) AS hedge_maker_share,
                     count(*) FILTER (WHERE leg = 'other') AS fills_outside_cycles
              FROM fill_legs GROUP BY run_id),
     c AS (SELECT run_id, count(*) AS cycles, count(*) FILTER (WHERE kind = 'open') AS open_cycles,
                  count(*) FILTER (WHERE kind = 'close') AS close_cycles, sum(pnl) AS cycles_pnl,
                  sum(edge_bps * size) FILTER (WHERE edge_bps IS NOT NULL)
                    / sum(size) FILTER (WHERE edge_bps IS NOT NULL) AS avg_edge_bps,
                  sum(edge_bps * size) FILTER (WHERE edge_bps IS NOT NULL AND kind = 'open')
                    / sum(size) FILTER (WHERE edge_bps IS NOT NULL AND kind = 'open') AS open_edge_bps,
                  sum(edge_bps * size) FILTER (WHERE edge_bps IS NOT NULL AND kind = 'close')
                    / sum(size) FILTER (WHERE edge_bps IS NOT NULL AND kind = 'close') AS close_edge_bps,
                  count(*) FILTER (WHERE hedge_taker_reason LIKE '%timeout%') AS taker_timeout_cycles,
                  count(*) FILTER (WHERE hedge_taker_reason LIKE '%adverse_move%') AS taker_adverse_cycles,
                  count(*) FILTER (WHERE hedge_taker_reason LIKE '%hedge_failed%') AS taker_after_failure_cycles,
                  count(*) FILTER (WHERE hedge_taker_reason LIKE '%hedge_mode_market%') AS taker_by_mode_cycles,
                  count(*) FILTER (WHERE status = 'recovered') AS recovered_cycles,
                  median(hedge_latency_ms) AS hedge_latency_p50_ms
           FROM cycles GROUP BY run_id),
     k AS (SELECT run_id, count(*) FILTER (WHERE check_name = 'hedge') AS hedge_failures,
                  count(*) FILTER (WHERE state_to = 'HALTED' AND reason NOT IN ('RUN_COMPLETE', 'CANCELLED_BY_USER'))
                    AS halts,
                  count(*) FILTER (WHERE check_name NOT IN ('state', 'min_spread')) AS risk_events
           FROM risk_events GROUP BY run_id),
     d AS (SELECT run_id, max(abs(net_delta)) AS max_abs_net_delta,
                  sum(abs(net_delta) * (epoch(until) - epoch(ts))) AS abs_net_seconds, min(ts) AS first_fill
           FROM net_delta_path GROUP BY run_id),
     s AS (SELECT run_id, abs(sum(size)) AS start_abs_net FROM (
               SELECT run_id, venue, arg_min(size, ts) AS size FROM positions GROUP BY run_id, venue)
           GROUP BY run_id)
SELECT r.run_id, r.bot, r.symbol, r.mode, r.clock, r.status, r.reason, r.started, r.ended,
       epoch(r.ended) - epoch(r.started) AS duration_s,
       coalesce(c.cycles, 0) AS cycles, coalesce(c.open_cycles, 0) AS open_cycles,
       coalesce(c.close_cycles, 0) AS close_cycles, coalesce(v.fills, 0) AS fills,
       coalesce(v.volume, 0) AS volume,
       CAST(coalesce(v.net_pnl, 0) + coalesce(v.fees, 0) + coalesce(v.funding, 0) AS DOUBLE) AS gross_pnl,
       CAST(coalesce(v.fees, 0) AS DOUBLE) AS fees, CAST(coalesce(v.funding, 0) AS DOUBLE) AS funding,
       CAST(coalesce(v.net_pnl, 0) AS DOUBLE) AS net_pnl,
       CAST(coalesce(c.cycles_pnl, 0) AS DOUBLE) AS cycles_pnl,
       CAST(coalesce(v.net_pnl, 0) - coalesce(c.cycles_pnl, 0) AS DOUBLE) AS other_pnl,
       CAST(c.avg_edge_bps AS DOUBLE) AS avg_edge_bps, CAST(c.open_edge_bps AS DOUBLE) AS open_edge_bps,
       CAST(c.close_edge_bps AS DOUBLE) AS close_edge_bps,
       CAST(legs.primary_maker_share AS DOUBLE) AS primary_maker_share,
       CAST(legs.hedge_maker_share AS DOUBLE) AS hedge_maker_share,
       coalesce(legs.fills_outside_cycles, 0) AS fills_outside_cycles,
       coalesce(c.taker_timeout_cycles, 0) AS taker_timeout_cycles,
       coalesce(c.taker_adverse_cycles, 0) AS taker_adverse_cycles,
       coalesce(c.taker_after_failure_cycles, 0) AS taker_after_failure_cycles,
       coalesce(c.taker_by_mode_cycles, 0) AS taker_by_mode_cycles,
       coalesce(k.hedge_failures, 0) AS hedge_failures, coalesce(c.recovered_cycles, 0) AS recovered_cycles,
       coalesce(k.halts, 0) AS halts, coalesce(k.risk_events, 0) AS risk_events,
       c.hedge_latency_p50_ms,
       CAST(greatest(coalesce(d.max_abs_net_delta, 0), coalesce(s.start_abs_net, 0)) AS DOUBLE) AS max_abs_net_delta,
       CAST(coalesce(d.abs_net_seconds, 0)
            + coalesce(s.start_abs_net, 0) * greatest(0, epoch(coalesce(d.first_fill, r.ended)) - epoch(r.started))
            AS DOUBLE) / nullif(epoch(r.ended) - epoch(r.started), 0) AS tw_abs_net_delta,
       CAST(v.final_net_delta AS DOUBLE) AS final_net_delta, r.tolerance,
       CASE WHEN v.final_net_delta IS NULL THEN NULL
            WHEN abs(v.final_net_delta) <= coalesce(r.tolerance, 0) THEN 'CLEAN' ELSE 'IMBALANCED' END AS net_delta_state
FROM run_modes r LEFT JOIN v USING (run_id) LEFT JOIN legs USING (run_id) LEFT JOIN c USING (run_id)
LEFT JOIN k USING (run_id) LEFT JOIN d USING (run_id) LEFT JOIN s USING (run_id);

-- name: run_summary
-- One row per run, as its summary prints it: run_totals rounded (money to 6 places, edges to 4).
SELECT run_id, bot, symbol, mode, clock, status, reason, started, ended, round(duration_s, 3) AS duration_s,
       cycles, open_cycles, close_cycles, fills, round(volume, 2) AS volume,
       round(gross_pnl, 6) AS gross_pnl, round(fees, 6) AS fees, round(funding, 6) AS funding,
       round(net_pnl, 6) AS net_pnl,
       round(cycles_pnl, 6) AS cycles_pnl, round(other_pnl, 6) AS other_pnl,
       round(net_pnl / nullif(volume, 0) * 100, 6) AS pnl_pct,
       round(-net_pnl / nullif(volume, 0) * 1e6, 4) AS cost_per_1m,
       round(avg_edge_bps, 4) AS avg_edge_bps, round(open_edge_bps, 4) AS open_edge_bps,
       round(close_edge_bps, 4) AS close_edge_bps,
       round(primary_maker_share, 4) AS primary_maker_share, round(hedge_maker_share, 4) AS hedge_maker_share,
       fills_outside_cycles, taker_timeout_cycles, taker_adverse_cycles, taker_after_failure_cycles,
       taker_by_mode_cycles,
       hedge_failures, recovered_cycles, halts, risk_events, round(hedge_latency_p50_ms, 1) AS hedge_latency_p50_ms,
       max_abs_net_delta, round(tw_abs_net_delta, 6) AS tw_abs_net_delta, final_net_delta, tolerance,
       net_delta_state
FROM run_totals;
