"""``perpflow warehouse``: load journals into DuckDB and show what the warehouse holds."""

from __future__ import annotations

from typing import Annotated

import typer

from render.tables import text_table

warehouse_app = typer.Typer(help="The DuckDB warehouse: per-run journals loaded into data/warehouse.duckdb.",
                            no_args_is_help=True)


@warehouse_app.command("load")
def load_cmd(
    wait: Annotated[float, typer.Option(help="seconds to wait for another loader to finish")] = 30.0,
) -> None:
    """Load every journal's new records (idempotent), then publish the read-only snapshot."""
    from warehouse.loader import LoaderBusy, load

    try:
        r = load(wait=wait)
    except LoaderBusy as err:
        typer.echo(f"busy: {err}", err=True)
        raise typer.Exit(2) from None
    rows = [[t, n] for t, n in r.inserted.items() if n]
    typer.echo(f"load {r.load_id}: {r.records} records from {r.journals} journal(s) in {r.seconds:.2f}s, "
               f"{r.quarantined} quarantined, {r.torn} torn, {r.pending_live} live journal(s) mid-record")
    if rows:
        typer.echo(text_table(["table", "rows written"], rows))


@warehouse_app.command("status")
def status_cmd() -> None:
    """Print runs, rows per table, journals pending and quarantined records."""
    from warehouse.status import status

    s = status()
    typer.echo(f"warehouse {s.published} (schema v{s.schema_version}, last load {s.last_load or 'never'})")
    typer.echo("\nruns\n" + (text_table(["run", "bot", "symbol", "status", "started", "ended"],
                                        [list(r) for r in s.runs]) if s.runs else "(none)"))
    typer.echo("\nrows per table\n" + text_table(["table", "rows"], [[t, n] for t, n in s.rows.items()]))
    typer.echo(f"\njournals pending: {len(s.pending)}")
    if s.pending:
        typer.echo(text_table(["journal", "bytes not loaded", "writer"],
                              [[p.journal, p.bytes_pending, "live" if p.live else "gone"] for p in s.pending]))
    typer.echo(f"\nquarantined records: {s.quarantined_total}")
    if s.quarantined:
        typer.echo(text_table(["reason", "records"], [list(q) for q in s.quarantined]))


@warehouse_app.command("path")
def path_cmd() -> None:
    """Print the published warehouse file (what `make sql` opens read-only)."""
    from warehouse.paths import WarehousePaths

    typer.echo(str(WarehousePaths.from_settings().published))
