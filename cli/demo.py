"""``perpflow demo``: the main job on the simulator, as ``make demo`` runs it."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import typer

from render.tables import text_table
from server.flow_api import ServerUnavailable

EDGE_BY_KIND = """
SELECT kind, count(*) AS cycles, round(avg(CAST(edge_bps AS DOUBLE)), 3) AS avg_edge_bps,
       round(median(CAST(edge_bps AS DOUBLE)), 3) AS median_edge_bps,
       round(sum(CAST(pnl AS DOUBLE)), 6) AS net_pnl, round(median(hedge_latency_ms)) AS hedge_latency_ms_p50
FROM cycles WHERE run_id = ? GROUP BY kind ORDER BY kind DESC
"""


def demo(seed: Annotated[int, typer.Option(help="simulation seed")] = 7) -> None:
    """The main job on the simulator: a Paradex+GRVT SOL hedge run (size 0.1, 10 iterations,
    maker/maker) as a Prefect flow run, then its summary and edge by cycle kind from the warehouse."""
    from cli.bots import print_summary
    from cli.hedge import run_hedge
    from exchanges import registry
    from warehouse.query import df

    primary, hedge = registry.default("primary"), registry.default("hedge")
    typer.echo(f"Running the hedge flow on the simulator: {primary} primary, {hedge} hedge, SOL 0.1 x 10 iterations, "
               "bbo_minus_1 on both legs ...")
    try:
        status, message, summary = run_hedge(dict(primary=primary, hedge=hedge, ticker="SOL", size=Decimal("0.1"),
                                                  iterations=10, primary_mode="bbo_minus_1",
                                                  hedge_mode="bbo_minus_1", seed=seed))
    except ServerUnavailable as exc:
        typer.echo(f"error: {exc}; no order was sent", err=True)
        raise typer.Exit(1) from None
    if summary is None:
        typer.echo(f"{status}: {message}", err=True)
        raise typer.Exit(1)
    typer.echo("\nSummary\n")
    print_summary(summary)
    edges = df(EDGE_BY_KIND, [summary["run_id"]])
    typer.echo("\nEdge by cycle kind (from data/warehouse.duckdb)\n")
    typer.echo(text_table(list(edges.columns), [[v.item() if hasattr(v, "item") else v for v in row]
                                                  for row in edges.itertuples(index=False, name=None)]))
    typer.echo(f"\n{status}: {message}. Explore it with `make sql` (docs/queries.sql has the cookbook).")
