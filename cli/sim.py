"""``perpflow sim``: look at the embedded exchange simulator (market shape, fill rates) and record replay files."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from exchanges import registry
from render.tables import text_table

DEFAULT_HEDGE = registry.default("hedge")  # the venue whose executable size matters most
HEDGE_PAIR = f"{registry.default('primary')},{DEFAULT_HEDGE}"  # the hedge bot's default pair

sim_app = typer.Typer(help="The embedded exchange simulator.", no_args_is_help=True)

SIZES = [Decimal(s) for s in ("0.01", "0.1", "0.2", "0.5", "1.0")]


def sim_report(venues: list[str], symbol: str, seconds: float, orders: int, seed: int,
               replay: list[str] | None = None) -> str:
    """Spread and depth per venue, and fill rate of market orders by size (as the notes measured).

    With ``replay`` (VENUE=FILE items) those venues replay the files from their start; sampling
    stops at the end of the shortest file, and fill rates after it are on its last book."""
    from exchanges.sim.probe import fill_rates, market_stats
    from exchanges.sim.replay import load_replays, parse_replay_args
    from exchanges.sim.world import SimWorld

    replays = load_replays(parse_replay_args(replay), (symbol,)) if replay else {}
    world = SimWorld(venues=venues, symbols=(symbol,), seed=seed, replays=replays)
    if replays:
        seconds = min(seconds, (min(rp.end for rp in replays.values()) - world.t) / max(1, len(venues)))

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
    source = "".join(f", {v} replays {rp.path.name} ({rp.source or 'no source given'})" for v, rp in replays.items())
    return (f"Simulated market, seed {seed}{source}, {seconds:.0f} s sampled per venue\n\n{market}\n\n"
            f"Market orders (IOC, 10 bps slippage cap), {orders} per size\n\n{fills}")


@sim_app.command("report")
def sim_report_cmd(
    venues: Annotated[str, typer.Option(help="comma-separated simulated venues")] = HEDGE_PAIR,
    symbol: Annotated[str, typer.Option(help="SOL, ETH or BTC")] = "ETH",
    seconds: Annotated[float, typer.Option(help="virtual seconds of book sampling per venue")] = 300,
    orders: Annotated[int, typer.Option(help="market orders per size")] = 20,
    seed: Annotated[int, typer.Option(help="simulation seed")] = 7,
    replay: Annotated[list[str] | None, typer.Option(help="VENUE=FILE: a recorded market drives that venue "
                                                          "(repeatable)")] = None,
) -> None:
    """Print per-venue spread and depth, and the fill rate of market orders by size."""
    from core.errors import ConfigError

    try:
        text = sim_report([v.strip() for v in venues.split(",")], symbol.upper(), seconds, orders, seed, replay)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(text)


@sim_app.command("compare")
def sim_compare_cmd(
    a: Annotated[str, typer.Argument(help="replay file, or venue:SYMBOL for the seeded model")],
    b: Annotated[str, typer.Argument(help="replay file, or venue:SYMBOL for the seeded model")],
    seconds: Annotated[float, typer.Option(help="simulated seconds recorded for a venue:SYMBOL source")] = 1800,
    seed: Annotated[int, typer.Option(help="simulation seed")] = 7,
    profiles: Annotated[Path | None, typer.Option(help="a profile overlay (e.g. from sim calibrate) for "
                                                       "venue:SYMBOL sources")] = None,
    depth_bps: Annotated[float, typer.Option(help="N of 'depth within N bps of the mid'")] = 5.0,
) -> None:
    """Print a realism table for two market sources (spread, sizes, flow, volatility) and their ratio."""
    from core.errors import ConfigError
    from exchanges.sim.realism import compare_table, load_source, measure

    try:
        ra = measure(load_source(a, seconds=seconds, seed=seed, profiles_path=profiles), a, depth_bps)
        rb = measure(load_source(b, seconds=seconds, seed=seed, profiles_path=profiles), b, depth_bps)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"A = {a} ({ra.seconds:.0f} s)\nB = {b} ({rb.seconds:.0f} s)\nN = {depth_bps:g} bps\n")
    typer.echo(text_table(["figure", "A", "B", "B / A"], compare_table(ra, rb), places=3))


@sim_app.command("calibrate")
def sim_calibrate_cmd(
    file: Annotated[Path, typer.Argument(help="replay file of a real capture")],
    out: Annotated[Path | None, typer.Option(help="write the fitted profile overlay (TOML) here")] = None,
    refine: Annotated[int, typer.Option(help="rounds of simulating the fit and correcting it (0: none)",
                                        min=0, max=5)] = 1,
) -> None:
    """Fit a venue profile's market-shape parameters (spread, depth, flow, sizes) to a capture."""
    from core.errors import ConfigError
    from exchanges.sim.realism import calibrate, calibration_toml, measure
    from exchanges.sim.realism import refine as refine_fit
    from exchanges.sim.replay import load_replay

    try:
        rp = load_replay(file)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    text = calibration_toml(rp, refine_fit(rp, calibrate(rp), refine), measure(rp).vol_1s_bps)
    if out is not None:
        out.write_text(text)
        typer.echo(f"wrote {out}; compare with: perpflow sim compare {file} {rp.venue}:{rp.symbol} --profiles {out}")
    else:
        typer.echo(text)


@sim_app.command("record")
def sim_record_cmd(
    out: Annotated[Path, typer.Option(help="replay file to write (.jsonl or .jsonl.gz)")],
    venue: Annotated[str, typer.Option()] = DEFAULT_HEDGE,
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
