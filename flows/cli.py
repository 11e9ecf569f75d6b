"""``perpflow``: run bots, inspect venues and the warehouse, from the command line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from flows.hedge_cli import hedge_cmd
from flows.render import text_table
from flows.venues_cli import fake_venue_app, positions_app, venues_app
from flows.warehouse_cli import warehouse_app

app = typer.Typer(help="perpflow: perp-DEX trading bots as Prefect flows, recorded in DuckDB.",
                  no_args_is_help=True, add_completion=False)
sim_app = typer.Typer(help="The embedded exchange simulator.", no_args_is_help=True)
app.add_typer(sim_app, name="sim")
app.add_typer(warehouse_app, name="warehouse")
app.add_typer(fake_venue_app, name="fake-venue")
app.add_typer(venues_app, name="venues")
app.add_typer(positions_app, name="positions")
app.command("hedge")(hedge_cmd)

SIZES = [Decimal(s) for s in ("0.01", "0.1", "0.2", "0.5", "1.0")]


def sim_report(venues: list[str], symbol: str, seconds: float, orders: int, seed: int) -> str:
    """Spread and depth per venue, and fill rate of market orders by size (as the notes measured)."""
    from exchanges.sim.probe import fill_rates, market_stats
    from exchanges.sim.world import SimWorld

    world = SimWorld(venues=venues, symbols=(symbol,), seed=seed)

    async def session() -> tuple[list, list]:
        stats = [await market_stats(world, v, symbol, seconds) for v in venues]
        rates = [r for v in venues for r in await fill_rates(world, v, symbol, SIZES, orders)]
        await world.stop()
        return stats, rates

    stats, rates = world.clock.run(session)
    market = text_table(
        ["venue", "symbol", "spread bps (median)", "spread bps (p90)", "top depth", "depth within 5 bps"],
        [[s.venue, s.symbol, s.spread_bps_median, s.spread_bps_p90, s.top_depth_median, s.depth_5bps_median]
         for s in stats], places=2)
    fills = text_table(
        ["venue", "symbol", "size", "orders", "filled", "partial", "none", "fill rate"],
        [[r.venue, r.symbol, r.size, r.orders, r.full, r.partial, r.none, f"{r.fill_rate:.0%}"] for r in rates])
    return (f"Simulated market, seed {seed}, {seconds:.0f} s sampled per venue\n\n{market}\n\n"
            f"Market orders (IOC, 10 bps slippage cap), {orders} per size\n\n{fills}")


@sim_app.command("report")
def sim_report_cmd(
    venues: Annotated[str, typer.Option(help="comma-separated simulated venues")] = "paradex,grvt",
    symbol: Annotated[str, typer.Option(help="SOL, ETH or BTC")] = "ETH",
    seconds: Annotated[float, typer.Option(help="virtual seconds of book sampling per venue")] = 300,
    orders: Annotated[int, typer.Option(help="market orders per size")] = 20,
    seed: Annotated[int, typer.Option(help="simulation seed")] = 7,
) -> None:
    """Print per-venue spread and depth, and the fill rate of market orders by size."""
    typer.echo(sim_report([v.strip() for v in venues.split(",")], symbol.upper(), seconds, orders, seed))


@sim_app.command("record")
def sim_record_cmd(
    out: Annotated[Path, typer.Option(help="replay file to write (.jsonl or .jsonl.gz)")],
    venue: Annotated[str, typer.Option()] = "grvt",
    symbol: Annotated[str, typer.Option()] = "ETH",
    minutes: Annotated[float, typer.Option(help="minutes of market to record")] = 5,
    seed: Annotated[int, typer.Option()] = 7,
) -> None:
    """Record a simulated venue's book and trades to a replay file (format: exchanges/sim/replay.py)."""
    from exchanges.sim.replay import record
    from exchanges.sim.world import SimWorld

    n = record(SimWorld(venues=(venue,), symbols=(symbol.upper(),), seed=seed), venue, symbol.upper(),
               minutes * 60, out)
    typer.echo(f"wrote {n} events to {out}")


EDGE_BY_KIND = """
SELECT kind, count(*) AS cycles, round(avg(CAST(edge_bps AS DOUBLE)), 3) AS avg_edge_bps,
       round(median(CAST(edge_bps AS DOUBLE)), 3) AS median_edge_bps,
       round(sum(CAST(pnl AS DOUBLE)), 6) AS net_pnl, round(median(hedge_latency_ms)) AS hedge_latency_ms_p50
FROM cycles WHERE run_id = ? GROUP BY kind ORDER BY kind DESC
"""


@app.command()
def demo(seed: Annotated[int, typer.Option(help="simulation seed")] = 7) -> None:
    """The main job on the simulator: a Paradex+GRVT SOL hedge run (size 0.1, 10 iterations,
    maker/maker) as a Prefect flow run, then its summary and edge by cycle kind from the warehouse."""
    from flows.hedge_cli import print_summary, run_hedge
    from warehouse.query import df

    typer.echo("Running the hedge flow on the simulator: paradex primary, grvt hedge, SOL 0.1 x 10 iterations, "
               "bbo_minus_1 on both legs ...")
    status, message, summary = run_hedge(dict(primary="paradex", hedge="grvt", ticker="SOL", size=Decimal("0.1"),
                                              iterations=10, primary_mode="bbo_minus_1", hedge_mode="bbo_minus_1",
                                              seed=seed))
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
