"""``perpflow hedge``: run the hedge flow from the command line, with the notes' options."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from exchanges import registry
from render.tables import text_table

PRIMARY_MODES = "bbo|bbo_minus_1|bbo_plus_1|market"


def ensure_account_limit(name: str) -> None:
    """Create the account's strict concurrency limit (limit 1) if it does not exist yet."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, 1)


def run_hedge(params: dict[str, Any]) -> tuple[str, str, dict[str, Any] | None]:
    """Validate, make sure the account lock exists, run the flow. Returns (status, message, summary)."""
    from flows.hedge import BotStopped, account_limit_name, hedge_flow
    from strategies.hedge.config import HedgeConfig

    cfg = HedgeConfig(**{k: v for k, v in params.items() if k != "lock_timeout"})
    ensure_account_limit(account_limit_name(cfg))
    state = hedge_flow(**params, return_state=True)
    data = state.result(raise_on_failure=False)
    if isinstance(data, BotStopped):
        data = data.summary
    return state.type.value, state.message or "", data if isinstance(data, dict) else None


def print_summary(summary: dict[str, Any]) -> None:
    """The rows of the run's Prefect summary artifact, as a text table."""
    typer.echo(text_table(["metric", "value"], summary["rows"]))


PRIMARIES, HEDGES = ('|'.join(registry.names(role=r)) for r in ('primary', 'hedge'))


def hedge_cmd(
    primary: Annotated[str, typer.Option(help=f"primary (maker) venue: {PRIMARIES}")] = "paradex",
    hedge: Annotated[str, typer.Option(help=f"hedge venue: {HEDGES}")] = "grvt",
    ticker: Annotated[str, typer.Option(help="SOL|ETH|BTC")] = "SOL",
    size: Annotated[Decimal, typer.Option(help="order size per cycle, base units")] = Decimal("0.1"),
    iterations: Annotated[int, typer.Option("--iter", help="iterations (one open + one close cycle each)")] = 10,
    primary_mode: Annotated[str, typer.Option(help=f"primary price mode: {PRIMARY_MODES}")] = "bbo_minus_1",
    hedge_mode: Annotated[str, typer.Option(help="hedge price mode: bbo_minus_1|market")] = "bbo_minus_1",
    direction: Annotated[str, typer.Option(help="long|short|alternate (the primary's side when opening)")] = "long",
    build_to: Annotated[int, typer.Option(help="open cycles before closing (bounded by --max-position)")] = 1,
    max_position: Annotated[Decimal | None, typer.Option(help="max |primary position|; default size*build-to")] = None,
    daily_loss_limit: Annotated[Decimal, typer.Option(help="USD; from real fills and fees, UTC day")] = Decimal(25),
    net_delta_tolerance: Annotated[Decimal, typer.Option(help="unexplained |net delta| allowed, fraction of size")]
    = Decimal("0.01"),
    min_spread_bps: Annotated[Decimal | None, typer.Option(help="quote only if the hedge touch is this much "
                                                                 "better than the primary price (bps)")] = None,
    hedge_timeout: Annotated[float, typer.Option(help="seconds before a maker hedge turns taker")] = 5.0,
    on_cancel: Annotated[str, typer.Option(help="flatten|leave positions when the run is cancelled")] = "flatten",
    venue_mode: Annotated[str, typer.Option(help="sim (embedded simulator) | live")] = "sim",
    seed: Annotated[int, typer.Option(help="simulator seed")] = 7,
    lock_timeout: Annotated[float, typer.Option(help="seconds to wait if another bot holds the account")] = 600,
    sim_clock: Annotated[str, typer.Option(help="virtual (accelerated backtest) | real (paper trading in real "
                                                "time); simulator only")] = "virtual",
) -> None:
    """Run the delta-neutral hedge bot (a Prefect flow run) and print its summary.

    Posts maker orders on the primary venue, hedges every fill on GRVT at once, keeps net delta
    near zero, and records every order, fill and cycle for the warehouse.
    """
    params = dict(primary=primary, hedge=hedge, ticker=ticker.upper(), size=size, iterations=iterations,
                  primary_mode=primary_mode, hedge_mode=hedge_mode, direction=direction, build_to=build_to,
                  max_position=max_position, daily_loss_limit=daily_loss_limit,
                  net_delta_tolerance=net_delta_tolerance, min_spread_bps=min_spread_bps,
                  hedge_timeout=hedge_timeout, on_cancel=on_cancel, venue_mode=venue_mode, seed=seed,
                  lock_timeout=lock_timeout, sim_clock=sim_clock)
    try:
        status, message, summary = run_hedge(params)
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(x) for x in err["loc"]) or "parameters"
            typer.echo(f"error: --{field.replace('_', '-')}: {err['msg']}", err=True)
        raise typer.Exit(2) from None
    if summary:
        print_summary(summary)
    typer.echo(f"\n{status}: {message}")
    if status != "COMPLETED":
        raise typer.Exit(1)
