"""``perpflow report``: build a day's post-mortem report from the warehouse and say where it is.

It builds the report directly from the published snapshot (the ``daily-report`` flow does the same
and adds Prefect artifacts), so it needs no Prefect server.
"""

from __future__ import annotations

from typing import Annotated

import typer


def report_cmd(
    date: Annotated[str | None, typer.Option(help="YYYY-MM-DD (UTC); default yesterday, or the run's day with "
                                                  "--run")] = None,
    bot: Annotated[str | None, typer.Option(help="only this bot's runs (hedge, grid, agent)")] = None,
    run: Annotated[str | None, typer.Option(help="only this run")] = None,
) -> None:
    """Build the daily post-mortem report (HTML + Markdown under data/reports/<date>/)."""
    from tasks.report import build_report, parse_date, run_date
    from warehouse.paths import WarehousePaths

    published = WarehousePaths.from_settings().published
    if not published.exists():
        typer.echo(f"error: {published}: no warehouse published yet; run `perpflow warehouse load` first", err=True)
        raise typer.Exit(2)
    try:
        day = parse_date(date) if date or not run else run_date(run, published)
    except ValueError as exc:
        typer.echo(f"error: --{exc}", err=True)
        raise typer.Exit(2) from None
    if day is None:
        typer.echo(f"error: --run: {run!r} is not in the warehouse", err=True)
        raise typer.Exit(2)
    built = build_report(day, bot, run)
    summary = next(s for s in built.report.sections if s.key == "summary")
    typer.echo(built.report.title)
    for line in summary.items or summary.paragraphs:
        typer.echo(f"  {line}")
    typer.echo(f"HTML: {built.files['html']}\nMarkdown: {built.files['markdown']}\n"
               f"built in {built.seconds:.2f}s")
