"""Views that explain fills and split PnL: the product notes' grid investigation as SQL.

``fill_diagnostics``: one row per fill with its order price and the difference in ticks, the book
(best bid/ask, mid) at the fill as the venue reported it, the mid just before the fill (the last
book sample the bot recorded before it: the market the quote was resting in), queue time (fill -
first order event), MAKER/TAKER and the fee charged beside the fee assumed (maker rate x
notional), inventory before and after, the strategy's momentum state, and markouts: the mid 1, 10
and 60 s later (first book sample at or after) and the signed markout in bps (positive = the
market moved our way after the fill).

``pnl_timeline`` / ``pnl_split`` / ``pnl_split_hourly``: PnL of a run (and of each hour) split as

- spread capture: each fill's edge against the mid just before it,
  ``side * (mid_before - price) * size`` (the venue's book after the fill when no sample precedes it:
  a fill that the market moved through shows its cost in the markouts and inventory PnL, not here);
- inventory PnL: the position held between consecutive events (fills and book samples) times the
  mid's move over that interval;
- fees: minus the fees charged (a rebate is positive);
- funding: minus the funding paid;

and they sum to ``total``, which equals the run's cash flows plus its position marked at the last
mid (less the starting position at the first mid): spread + inventory telescopes to exactly that.

They read what a strategy records beside its orders and fills: ``book_samples`` (the market it
saw) and ``strategy_events`` -- ``instrument`` (data: venue, symbol, tick, maker_fee, taker_fee,
initial_position), ``pause`` / ``resume`` (data: direction). Runs that record none still get rows,
with NULL where the facts are missing.
"""

from __future__ import annotations

INSTRUMENTS = """
    SELECT run_id, data->>'venue' AS venue, data->>'symbol' AS symbol,
           CAST(data->>'tick' AS DOUBLE) AS tick, CAST(data->>'maker_fee' AS DOUBLE) AS maker_fee,
           CAST(coalesce(data->>'initial_position', '0') AS DOUBLE) AS initial_position
    FROM strategy_events WHERE event = 'instrument'
    QUALIFY row_number() OVER (PARTITION BY run_id, data->>'venue', data->>'symbol' ORDER BY ts, seq) = 1"""

MARKS = """SELECT run_id, venue, symbol, ts, seq,
                  (CAST(bid AS DOUBLE) + CAST(ask AS DOUBLE)) / 2 AS mid FROM book_samples"""

MOMENTUM = """
    SELECT run_id, ts,
           CASE WHEN event = 'resume' THEN 'normal'
                WHEN CAST(data->>'direction' AS INTEGER) > 0 THEN 'paused_up' ELSE 'paused_down' END AS momentum
    FROM strategy_events WHERE event IN ('pause', 'resume')"""


def _markout(h: int) -> str:
    return f"""ASOF LEFT JOIN ({MARKS}) m{h} ON m{h}.run_id = b.run_id AND m{h}.venue = b.venue
               AND m{h}.symbol = b.symbol AND m{h}.ts >= b.ts + INTERVAL {h} SECOND"""


FILL_DIAGNOSTICS = f"""
CREATE OR REPLACE VIEW fill_diagnostics AS
WITH placed AS (SELECT venue, order_id, min(ts) AS placed_ts FROM order_events GROUP BY venue, order_id),
base AS (
    SELECT f.run_id, f.bot, f.venue, f.symbol, f.order_id, f.trade_id, f.client_id, f.ts, f.seq, f.side,
           CASE f.side WHEN 'BUY' THEN 1 ELSE -1 END AS sgn,
           CAST(f.size AS DOUBLE) AS size, CAST(f.price AS DOUBLE) AS fill_price,
           CAST(o.price AS DOUBLE) AS order_price, CAST(f.bid AS DOUBLE) AS fill_bid,
           CAST(f.ask AS DOUBLE) AS fill_ask, f.liquidity, CAST(f.fee AS DOUBLE) AS fee, p.placed_ts,
           i.tick, i.maker_fee, coalesce(i.initial_position, 0) AS initial_position
    FROM fills f
    LEFT JOIN orders o ON o.venue = f.venue AND o.order_id = f.order_id
    LEFT JOIN placed p ON p.venue = f.venue AND p.order_id = f.order_id
    LEFT JOIN ({INSTRUMENTS}) i ON i.run_id = f.run_id AND i.venue = f.venue AND i.symbol = f.symbol
),
joined AS (
    SELECT b.*,
           coalesce((b.fill_bid + b.fill_ask) / 2, m0.mid, b.fill_price) AS mid,
           m0.mid AS mid_before, coalesce(m0.mid, (b.fill_bid + b.fill_ask) / 2, b.fill_price) AS ref_mid,
           m1.mid AS mid_1s, m10.mid AS mid_10s, m60.mid AS mid_60s,
           coalesce(mo.momentum, 'normal') AS momentum
    FROM base b
    ASOF LEFT JOIN ({MARKS}) m0 ON m0.run_id = b.run_id AND m0.venue = b.venue AND m0.symbol = b.symbol
         AND m0.ts < b.ts
    {_markout(1)}
    {_markout(10)}
    {_markout(60)}
    ASOF LEFT JOIN ({MOMENTUM}) mo ON mo.run_id = b.run_id AND mo.ts <= b.ts
)
SELECT run_id, bot, venue, symbol, order_id, trade_id, client_id, ts, seq, side, size,
       order_price, fill_price,
       (fill_price - order_price) / tick AS diff_ticks,
       sgn * (fill_price - order_price) / tick AS slippage_ticks,
       fill_bid AS bid, fill_ask AS ask, mid, mid_before, ref_mid,
       date_diff('microsecond', placed_ts, ts) / 1e6 AS queue_s,
       liquidity, fee, fill_price * size * maker_fee AS fee_assumed,
       fee - fill_price * size * maker_fee AS fee_excess,
       fill_price * size AS notional,
       sgn * (ref_mid - fill_price) * size AS spread_capture,
       initial_position + sum(sgn * size) OVER w - sgn * size AS inventory_before,
       initial_position + sum(sgn * size) OVER w AS inventory_after,
       initial_position, momentum, mid_1s, mid_10s, mid_60s,
       sgn * (mid_1s - fill_price) / fill_price * 1e4 AS markout_1s_bps,
       sgn * (mid_10s - fill_price) / fill_price * 1e4 AS markout_10s_bps,
       sgn * (mid_60s - fill_price) / fill_price * 1e4 AS markout_60s_bps,
       sgn * (mid_60s - fill_price) * size - fee AS markout_60s_pnl
FROM joined
WINDOW w AS (PARTITION BY run_id, venue, symbol ORDER BY ts, seq ROWS UNBOUNDED PRECEDING)
"""

PNL_TIMELINE = f"""
CREATE OR REPLACE VIEW pnl_timeline AS
WITH ev AS (
    SELECT run_id, venue, symbol, ts, seq, 0 AS ord, ref_mid AS mid,
           CASE side WHEN 'BUY' THEN size ELSE -size END AS dq,
           -(CASE side WHEN 'BUY' THEN 1 ELSE -1 END) * fill_price * size AS cash, fee, spread_capture,
           initial_position
    FROM fill_diagnostics
    UNION ALL
    SELECT m.run_id, m.venue, m.symbol, m.ts, m.seq, 1, m.mid, 0, 0, 0, 0, coalesce(i.initial_position, 0)
    FROM ({MARKS}) m
    LEFT JOIN ({INSTRUMENTS}) i ON i.run_id = m.run_id AND i.venue = m.venue AND i.symbol = m.symbol
),
pos AS (
    SELECT *, initial_position + sum(dq) OVER (PARTITION BY run_id, venue, symbol ORDER BY ts, ord, seq
                                              ROWS UNBOUNDED PRECEDING) AS position_after,
           lead(mid) OVER (PARTITION BY run_id, venue, symbol ORDER BY ts, ord, seq) AS next_mid
    FROM ev
)
SELECT run_id, venue, symbol, ts, seq, CASE ord WHEN 0 THEN 'fill' ELSE 'sample' END AS event, mid, dq, cash,
       fee, spread_capture, position_after, next_mid,
       coalesce(position_after * (next_mid - mid), 0) AS inventory_pnl
FROM pos
"""

FUNDING = "SELECT run_id, venue, symbol, ts, CAST(payment AS DOUBLE) AS payment FROM funding"

PNL_SPLIT_HOURLY = f"""
CREATE OR REPLACE VIEW pnl_split_hourly AS
WITH parts AS (
    SELECT run_id, time_bucket(INTERVAL 1 HOUR, ts) AS hour, spread_capture, inventory_pnl, -fee AS fees,
           0.0 AS funding, CASE event WHEN 'fill' THEN 1 ELSE 0 END AS fill
    FROM pnl_timeline
    UNION ALL
    SELECT run_id, time_bucket(INTERVAL 1 HOUR, ts), 0, 0, 0, -payment, 0 FROM ({FUNDING})
)
SELECT run_id, hour, sum(fill) AS fills, sum(spread_capture) AS spread_capture,
       sum(inventory_pnl) AS inventory_pnl, sum(fees) AS fees, sum(funding) AS funding,
       sum(spread_capture) + sum(inventory_pnl) + sum(fees) + sum(funding) AS total
FROM parts GROUP BY run_id, hour
"""

PNL_SPLIT = """
CREATE OR REPLACE VIEW pnl_split AS
SELECT run_id, sum(fills) AS fills, sum(spread_capture) AS spread_capture, sum(inventory_pnl) AS inventory_pnl,
       sum(fees) AS fees, sum(funding) AS funding, sum(total) AS total
FROM pnl_split_hourly GROUP BY run_id
"""

VIEWS = (FILL_DIAGNOSTICS, PNL_TIMELINE, PNL_SPLIT_HOURLY, PNL_SPLIT)
