"""Daily report benchmark: the time to build one day's report from a warehouse holding N fills that day.

    .venv/bin/python bench/report.py                 # 100,000 fills (issue 17: under 30 s)
    .venv/bin/python bench/report.py --fills 20000   # quicker

The day is synthetic but shaped like the hedge bot's: runs of cycles, each a primary maker fill and
a hedge fill (some taker, some after an adverse move), orders, start and final positions, a few
hedge failures, and a day of sentiment. Rows are written by DuckDB straight into the tables (the
loader's own rate is bench/warehouse.py's). The floor printed first is the same build on an empty
day, measured in the same run: the fixed cost (imports, templates, a snapshot attach).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from warehouse.paths import WarehousePaths
from warehouse.publish import publish
from warehouse.schema import migrate
from warehouse.views import create_views

DAY = dt.date(2026, 1, 5)
T0 = 1767571200  # 2026-01-05 00:00:00 UTC


def build_day(data_dir: Path, fills: int, runs: int = 10) -> Path:
    paths = WarehousePaths(data_dir)
    paths.ensure()
    con = duckdb.connect(str(paths.master))
    migrate(con)
    create_views(con, paths)
    cycles = fills // 2
    per_run = cycles // runs
    span = 86_000 / runs  # seconds of the day each run trades
    params = json.dumps({
        "venue_mode": "sim", "sim_clock": "virtual", "size": "0.1", "net_delta_tolerance": "0.01",
        "instruments": {"paradex": {"venue_symbol": "SOL-USD-PERP", "tick": "0.001", "lot": "0.01"},
                        "grvt": {"venue_symbol": "SOL_USDT_Perp", "tick": "0.01", "lot": "0.1"}},
        "preflight": {"venue": "grvt", "displayed_top": "400", "executable_size": "2.0"}})
    con.execute(f"""INSERT INTO runs BY NAME SELECT 'run-' || r AS run_id, 'hedge' AS bot,
        ['paradex', 'grvt'] AS venues, 'SOL' AS symbol, '{params}' AS params,
        make_timestamp(CAST(({T0} + r * {span}) * 1e6 AS BIGINT)) AS started,
        make_timestamp(CAST(({T0} + (r + 1) * {span} - 1) * 1e6 AS BIGINT)) AS ended, 'COMPLETED' AS status,
        'run complete' AS reason, 'backtest' AS mode, 'virtual' AS clock FROM range({runs}) t(r)""")
    # cycle i of run r: primary fill at t, hedge fill 0.05-3 s later; opens buy on paradex, closes sell
    con.execute(f"""CREATE TEMP TABLE c AS SELECT i, i % {runs} AS r, i // {runs} AS n,
        {T0} + (i % {runs}) * {span} + (i // {runs}) * ({span} / {per_run + 1}) + 1 AS t,
        0.05 + (i % 60) / 20.0 AS lag, CASE WHEN (i // {runs}) % 2 = 0 THEN 'open' ELSE 'close' END AS kind,
        150 + (i % 997) / 100.0 AS px FROM range({cycles}) t(i)""")
    con.execute("""INSERT INTO cycles BY NAME SELECT 'run-' || r AS run_id, n + 1 AS cycle_no, 'hedge' AS bot,
        n // 2 + 1 AS iteration, kind, 'long' AS direction, 'paradex' AS primary_venue, 'grvt' AS hedge_venue,
        'SOL' AS symbol, 0.1 AS size, px AS primary_price, px + ((i % 21) - 10) / 1000.0 AS hedge_price,
        ((i % 21) - 10) / 1000.0 / px * 10000 AS edge_bps, 0.0000045 * px AS primary_fee, 0.000055 * px AS hedge_fee,
        0.0000595 * px AS fees, 0.1 * ((i % 21) - 10) / 1000.0 AS gross_pnl,
        0.1 * ((i % 21) - 10) / 1000.0 - 0.0000595 * px AS pnl, 0 AS net_delta_after, lag * 1000 AS hedge_latency_ms,
        CASE WHEN i % 97 = 0 THEN 'recovered' ELSE 'ok' END AS status,
        make_timestamp(CAST(t * 1e6 AS BIGINT)) AS started,
        make_timestamp(CAST((t + lag + 0.01) * 1e6 AS BIGINT)) AS ended,
        n AS seq, 0.1 * (2 * px) AS volume, ['p' || i] AS primary_orders, ['h' || i] AS hedge_orders,
        1.0 AS primary_maker_share, CASE WHEN i % 3 = 0 THEN 1.0 ELSE 0.0 END AS hedge_maker_share,
        CASE WHEN i % 3 = 1 THEN 'adverse_move' WHEN i % 3 = 2 THEN 'timeout' END AS hedge_taker_reason FROM c""")
    con.execute("""INSERT INTO fills BY NAME
        SELECT 'paradex' AS venue, 'po' || i AS order_id, 'pt' || i AS trade_id, 'run-' || r AS run_id, 'hedge' AS bot,
               'p' || i AS client_id, 'SOL' AS symbol, CASE kind WHEN 'open' THEN 'BUY' ELSE 'SELL' END AS side,
               px AS price, 0.1 AS size, 0.0000045 * px AS fee, 'MAKER' AS liquidity,
               make_timestamp(CAST(t * 1e6 AS BIGINT)) AS ts, px - 0.01 AS bid, px + 0.01 AS ask, 2 * n AS seq,
               px * 0.1 AS notional FROM c
        UNION ALL
        SELECT 'grvt', 'ho' || i, 'ht' || i, 'run-' || r, 'hedge', 'h' || i, 'SOL',
               CASE kind WHEN 'open' THEN 'SELL' ELSE 'BUY' END, px + ((i % 21) - 10) / 1000.0, 0.1,
               0.000055 * px, CASE WHEN i % 3 = 0 THEN 'MAKER' ELSE 'TAKER' END,
               make_timestamp(CAST((t + lag) * 1e6 AS BIGINT)), px - 0.01, px + 0.01, 2 * n + 1, px * 0.1 FROM c""")
    con.execute("""INSERT INTO orders BY NAME
        SELECT 'paradex' AS venue, 'po' || i AS order_id, 'run-' || r AS run_id, 'hedge' AS bot, 'p' || i AS client_id,
               'SOL' AS symbol, 'BUY' AS side, 'LIMIT' AS type, true AS post_only, false AS reduce_only, px AS price,
               0.1 AS size, 0.1 AS filled, px AS avg_price, 'FILLED' AS status,
               make_timestamp(CAST(t * 1e6 AS BIGINT)) AS ts, 2 * n AS seq FROM c
        UNION ALL
        SELECT 'grvt', 'ho' || i, 'run-' || r, 'hedge', 'h' || i, 'SOL', 'SELL',
               CASE WHEN i % 3 = 0 THEN 'LIMIT' ELSE 'MARKET' END, false, false, px, 0.1, 0.1, px, 'FILLED',
               make_timestamp(CAST((t + lag) * 1e6 AS BIGINT)), 2 * n + 1 FROM c""")
    con.execute(f"""INSERT INTO positions BY NAME
        SELECT 'run-' || r AS run_id, v AS venue, 'SOL' AS symbol,
               make_timestamp(CAST(({T0} + r * {span} + e * ({span} - 2)) * 1e6 AS BIGINT)) AS ts, 0 AS size,
               'rest' AS source, CASE WHEN e = 1 THEN 150 END AS mark
        FROM range({runs}) t(r), (VALUES ('paradex'), ('grvt')) v(v), range(2) x(e)""")
    con.execute("""INSERT INTO risk_events BY NAME SELECT 'run-' || r AS run_id,
        make_timestamp(CAST((t + 0.01) * 1e6 AS BIGINT)) AS ts, 2 * n + 1 AS seq, 'hedge' AS check_name,
        'INSUFFICIENT_LIQUIDITY' AS reason, 'hedge filled 0 of 0.1' AS detail, '{}' AS data FROM c WHERE i % 97 = 0""")
    con.execute(f"""INSERT INTO sentiment BY NAME SELECT 'fear_greed' AS source, 'index' AS metric, NULL AS symbol,
        make_timestamp(CAST(({T0} + m * 300) * 1e6 AS BIGINT)) AS ts, 40 + m % 20 AS value, false AS stale
        FROM range(288) t(m)""")
    con.execute("CHECKPOINT")
    con.close()
    publish(paths.master, paths.published)
    return paths.published


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fills", type=int, default=100_000)
    args = ap.parse_args()
    from tasks.report import build_report

    tmp = Path(tempfile.mkdtemp(prefix="perpflow-bench-report-"))
    try:
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
        t = time.perf_counter()
        build_day(tmp, args.fills)
        print(f"  synthetic warehouse, {args.fills:,} fills on {DAY}: {time.perf_counter() - t:.2f} s")
        floor = build_report(DAY + dt.timedelta(days=1), data_dir=tmp)  # an empty day: the fixed cost
        print(f"  floor: report of an empty day                    {floor.seconds:8.2f} s")
        built = build_report(DAY, data_dir=tmp)
        assert len(built.day.runs) == 10 and int(built.day.runs.fills.sum()) == args.fills
        print(f"  report of a day with {args.fills:,} fills              {built.seconds:8.2f} s  (target < 30 s)")
        print(f"  html {built.files['html'].stat().st_size / 1e3:,.0f} kB, {len(built.report.charts)} charts")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
