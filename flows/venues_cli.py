"""``perpflow fake-venue <venue>``: a venue's protocol fake on loopback, for developing offline.

The fake speaks the venue's real REST and WebSocket protocol, backed by the simulator's matching
engine, so a strategy (or the venue's adapter) runs against it exactly as against the venue.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

import typer

fake_venue_app = typer.Typer(help="Run a venue's protocol fake (REST + WebSocket on loopback, backed by the "
                                  "simulator).", no_args_is_help=True)


async def serve_paradex(host: str, port: int, seed: int, symbols: tuple[str, ...], seconds: float | None) -> None:
    from exchanges.fakes.paradex import FakeParadex

    # Open registration: any Starknet key signs in (POST /auth/{public_key} registers a new account).
    fake = FakeParadex(seed=seed, symbols=symbols, open_registration=True)
    await fake.start(host, port)
    typer.echo(f"fake Paradex on {fake.base_url} (WebSocket {fake.ws_url}), seed {seed}, markets "
               f"{', '.join(f'{s}-USD-PERP' for s in symbols)}", )
    typer.echo(f"  PERPFLOW_PARADEX__ENDPOINT={fake.base_url}")
    typer.echo(f"  PERPFLOW_PARADEX__WS_ENDPOINT={fake.ws_url}")
    typer.echo("  any Starknet key signs in: set PERPFLOW_PARADEX__L2_PRIVATE_KEY and PERPFLOW_PARADEX__L2_ADDRESS "
               "(or PERPFLOW_PARADEX__L1_ADDRESS to onboard the way the SDK does). Ctrl-C stops.")
    try:
        if seconds is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(seconds)
    finally:
        await fake.stop()


@fake_venue_app.command("paradex")
def paradex_cmd(
    port: Annotated[int, typer.Option(help="TCP port (0: any free port)")] = 8765,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="simulation seed")] = 7,
    symbols: Annotated[str, typer.Option(help="comma-separated markets (SOL, ETH, BTC)")] = "SOL,ETH,BTC",
    seconds: Annotated[float | None, typer.Option(help="stop after this many seconds (default: run until Ctrl-C)")]
    = None,
) -> None:
    """A fake Paradex: REST /v1 and the JSON-RPC WebSocket, on the simulator's Paradex market."""
    markets = tuple(s.strip().upper() for s in symbols.split(",") if s.strip())
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_paradex(host, port, seed, markets, seconds))
