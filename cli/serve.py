"""``perpflow serve`` / ``perpflow stop``: the local Prefect server and worker (logic in ``server.serve``)."""

from __future__ import annotations

from typing import Annotated

import typer

from server.serve import HOST, ServeError, ServePaths, api_url, serve, stop


def serve_cmd(
    port: Annotated[int, typer.Option(help="port of the Prefect server (API and UI)")] = 4200,
) -> None:
    """Start a local Prefect server and worker, deploy prefect.yaml, print the UI address (safe to repeat)."""
    paths = ServePaths.from_settings()
    try:
        port = serve(paths, port, say=typer.echo)
    except ServeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"\nPrefect UI: http://{HOST}:{port}\n"
               f"Prefect CLI: export PREFECT_API_URL={api_url(port)}\n"
               f"logs: {paths.server.log_file}, {paths.worker.log_file}; stop with `make stop`")


def stop_cmd() -> None:
    """Cancel running bots cleanly (open orders cancelled, then flatten or leave), then stop worker and server."""
    stop(ServePaths.from_settings(), say=typer.echo)
