"""``perpflow``: run bots, inspect venues and the warehouse, from the command line."""

from __future__ import annotations

import typer

from cli.agent import agent_cmd
from cli.demo import demo
from cli.grid import grid_cmd
from cli.hedge import hedge_cmd
from cli.intel import fake_intel_cmd, insights_cmd, review_cmd, sentiment_cmd
from cli.report import report_cmd
from cli.serve import serve_cmd, stop_cmd
from cli.sim import sim_app
from cli.venues import fake_venue_app, positions_app, venues_app
from cli.warehouse import warehouse_app

app = typer.Typer(help="perpflow: perp-DEX trading bots as Prefect flows, recorded in DuckDB.",
                  no_args_is_help=True, add_completion=False)
app.add_typer(sim_app, name="sim")
app.add_typer(warehouse_app, name="warehouse")
app.add_typer(fake_venue_app, name="fake-venue")
app.add_typer(venues_app, name="venues")
app.add_typer(positions_app, name="positions")
app.command("hedge")(hedge_cmd)
app.command("grid")(grid_cmd)
app.command("agent")(agent_cmd)
app.command("serve")(serve_cmd)
app.command("stop")(stop_cmd)
app.command("demo")(demo)
app.command("sentiment")(sentiment_cmd)
app.command("insights")(insights_cmd)
app.command("review")(review_cmd)
app.command("fake-intel")(fake_intel_cmd)
app.command("report")(report_cmd)


def main() -> None:
    """Settings are read first: a malformed one is one line naming it (exit 2), not a traceback."""
    import os

    from core.errors import ConfigError
    from core.settings import get_settings
    from exchanges.settings import get_settings as get_venue_settings
    from server.flow_api import STARTUP_ENV, STARTUP_TIMEOUT_S

    # any temporary server Prefect itself starts waits as long as ours (a first start migrates ~30 s)
    os.environ.setdefault(STARTUP_ENV, str(int(STARTUP_TIMEOUT_S)))

    try:
        get_settings()
        get_venue_settings()  # every venue's section too
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    app()


if __name__ == "__main__":
    main()
