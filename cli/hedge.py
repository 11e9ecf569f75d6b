"""``perpflow hedge``: run the hedge flow from the command line, with the notes' options."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from cli.strict import decimal_arg, float_arg, int_arg
from core.errors import ConfigError
from exchanges import registry
from render.tables import text_table
from server.flow_api import ServerUnavailable

PRIMARY_MODES = "bbo|bbo_minus_1|bbo_plus_1|market"


def ensure_account_limit(name: str) -> None:
    """Create the account's strict concurrency limit (limit 1) if it does not exist yet."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, 1)


def run_hedge(params: dict[str, Any]) -> tuple[str, str, dict[str, Any] | None]:
    """Validate, find or start a Prefect API, make sure the account lock exists, run the flow.

    Returns (status, message, summary); raises ``ServerUnavailable`` (before any order) when no
    Prefect API can be reached or started."""
    from core.settings import get_settings
    from flows.hedge import BotStopped, account_limit_name, hedge_flow
    from server.flow_api import flow_api
    from strategies.hedge.config import HedgeConfig

    cfg = HedgeConfig(**{k: v for k, v in params.items() if k != "lock_timeout"})
    with flow_api(get_settings().data_dir):  # the local server when it runs, else a temporary one
        ensure_account_limit(account_limit_name(cfg))
        state = hedge_flow(**params, return_state=True)
    data = state.result(raise_on_failure=False)
    if isinstance(data, BotStopped):
        data = data.summary
    return state.type.value, state.message or "", data if isinstance(data, dict) else None


def check_replays(params: dict[str, Any]) -> None:
    """Read every --replay file whole before the flow starts: a bad file is refused here, naming
    its line and field, before any order (the flow checks again when it opens the venues)."""
    if not params.get("replay"):
        return
    from exchanges.sim.replay import load_replays, parse_replay_args
    from strategies.hedge.config import HedgeConfig

    HedgeConfig(**{k: v for k, v in params.items() if k != "lock_timeout"})
    load_replays(parse_replay_args(params["replay"]), (params["ticker"],))


def print_summary(summary: dict[str, Any]) -> None:
    """The rows of the run's Prefect summary artifact, as a text table."""
    typer.echo(text_table(["metric", "value"], summary["rows"]))


DEFAULT_PRIMARY, DEFAULT_HEDGE = registry.default("primary"), registry.default("hedge")
PRIMARIES, HEDGES = ('|'.join(registry.names(role=r)) for r in ('primary', 'hedge'))


def hedge_cmd(
    primary: Annotated[str, typer.Option(help=f"primary (maker) venue: {PRIMARIES}")] = DEFAULT_PRIMARY,
    hedge: Annotated[str, typer.Option(help=f"hedge venue: {HEDGES}")] = DEFAULT_HEDGE,
    ticker: Annotated[str, typer.Option(help="SOL|ETH|BTC")] = "SOL",
    size: Annotated[Decimal, typer.Option(help="order size per cycle, base units", parser=decimal_arg)]
    = Decimal("0.1"),
    iterations: Annotated[int, typer.Option("--iter", help="iterations (one open + one close cycle each)",
                                            parser=int_arg)] = 10,
    primary_mode: Annotated[str, typer.Option(help=f"primary price mode: {PRIMARY_MODES}")] = "bbo_minus_1",
    hedge_mode: Annotated[str, typer.Option(help="hedge price mode: bbo_minus_1|market")] = "bbo_minus_1",
    direction: Annotated[str, typer.Option(help="long|short|alternate (the primary's side when opening)")] = "long",
    build_to: Annotated[int, typer.Option(help="open cycles before closing (bounded by --max-position)",
                                          parser=int_arg)] = 1,
    max_position: Annotated[Decimal | None, typer.Option(help="max |primary position|; default size*build-to",
                                                         parser=decimal_arg)] = None,
    daily_loss_limit: Annotated[Decimal, typer.Option(help="USD; from real fills and fees, UTC day",
                                                      parser=decimal_arg)] = Decimal(25),
    net_delta_tolerance: Annotated[Decimal, typer.Option(help="unexplained |net delta| allowed, fraction of size",
                                                         parser=decimal_arg)] = Decimal("0.01"),
    min_spread_bps: Annotated[Decimal | None, typer.Option(help="quote only if the hedge touch is this much "
                                                                 "better than the primary price (bps)",
                                                           parser=decimal_arg)] = None,
    hedge_timeout: Annotated[float, typer.Option(help="seconds before a maker hedge turns taker",
                                                 parser=float_arg)] = 5.0,
    on_cancel: Annotated[str, typer.Option(help="flatten|leave positions when the run is cancelled")] = "flatten",
    venue_mode: Annotated[str, typer.Option(help="sim (embedded simulator) | live")] = "sim",
    seed: Annotated[int, typer.Option(help="simulator seed", parser=int_arg)] = 7,
    lock_timeout: Annotated[float, typer.Option(help="seconds to wait if another bot holds the account",
                                                parser=float_arg)] = 600,
    sim_clock: Annotated[str, typer.Option(help="virtual (accelerated backtest) | real (paper trading in real "
                                                "time); simulator only")] = "virtual",
    replay: Annotated[list[str] | None, typer.Option(help="VENUE=FILE: a recorded market file drives that simulated "
                                                          "venue (repeatable); the run ends with the file")] = None,
    max_basis_bps: Annotated[Decimal, typer.Option(help="refuse to start when the venues' mids differ by more "
                                                        "(bps)", parser=decimal_arg)] = Decimal(50),
    primary_fees: Annotated[str | None, typer.Option(help="primary account's fee rates, maker/taker in bps, e.g. "
                                                          "0.3/4.5 (simulator; live reads the account's own)")] = None,
    hedge_fees: Annotated[str | None, typer.Option(help="hedge account's fee rates, maker/taker in bps, e.g. "
                                                        "-0.3/1.9 (simulator; live reads the account's own)")] = None,
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
                  lock_timeout=lock_timeout, sim_clock=sim_clock, primary_fees=primary_fees, hedge_fees=hedge_fees,
                  replay=list(replay or []), max_basis_bps=max_basis_bps)
    try:
        check_replays(params)
        status, message, summary = run_hedge(params)
    except ServerUnavailable as exc:
        typer.echo(f"error: {exc}; no order was sent", err=True)
        raise typer.Exit(1) from None
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(x) for x in err["loc"]) or "parameters"
            typer.echo(f"error: --{field.replace('_', '-')}: {err['msg']}", err=True)
        raise typer.Exit(2) from None
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if summary:
        print_summary(summary)
    typer.echo(f"\n{status}: {message}")
    if status != "COMPLETED":
        raise typer.Exit(1)
