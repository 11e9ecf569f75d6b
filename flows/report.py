"""Prefect flow ``daily-report``: a day's post-mortem rebuilt from the warehouse (prefect.yaml runs it
daily after midnight UTC for the day before).

Idempotent: the same date gives the same files, so a retry or a rebuild of any past date is safe.
Artifacts: a Markdown summary (with a small chart), a table per bot and a link to the HTML file.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from render.tables import markdown_table
from tasks.report import Built, build_report_task, parse_date


def publish_artifacts(built: Built) -> None:
    d = built.day
    lines = [f"# {built.report.title}", ""]
    summary = next(s for s in built.report.sections if s.key == "summary")
    lines += [f"- {i}" for i in summary.items] or [p for p in summary.paragraphs]
    recs = next((s for s in built.report.sections if s.key == "recommendations"), None)
    if recs and recs.items:
        lines += ["", "## Recommendations", "", *[f"- {i}" for i in recs.items]]
    small = next((c for c in built.report.charts if c.name in ("pnl_by_run", "net_delta")), None)
    if small is not None:
        lines += ["", f"![{small.title}](data:image/png;base64,{small.b64})"]
    if not d.bots.empty:
        lines += ["", markdown_table(["bot", "mode", "runs", "volume", "net PnL", "cost per $1M"],
                                     [[b.bot, b.mode, b.runs, b.volume, b.net_pnl, b.cost_per_1m]
                                      for b in d.bots.itertuples()])]
    lines += ["", f"HTML: `{built.files['html']}`  Markdown: `{built.files['markdown']}`"]
    key = f"daily-report-{d.date.isoformat()}"
    create_markdown_artifact("\n".join(lines), key=key, description=built.report.title)
    for bot, rows in d.runs.groupby("bot"):
        cols = ["run_id", "symbol", "mode", "status", "cycles", "volume", "fees", "net_pnl", "cost_per_1m",
                "net_delta_state"]
        create_table_artifact([{c: (v.item() if hasattr(v, "item") else v) for c, v in r.items()}
                               for r in rows[cols].to_dict("records")],
                              key=f"daily-report-{bot}", description=f"{bot} runs on {d.date.isoformat()}")
    create_link_artifact(built.files["html"].resolve().as_uri(), link_text=f"{built.report.title} (HTML)",
                         key="daily-report-html", description="the self-contained HTML report")


@flow(name="daily-report", retries=2, retry_delay_seconds=300, timeout_seconds=1800)
def daily_report(date: str | None = None, bot: str | None = None, run: str | None = None,
                 data_dir: str | None = None) -> dict[str, Any]:
    """Build the post-mortem report of one UTC day from the published warehouse snapshot.

    Args:
        date: YYYY-MM-DD (UTC); empty = yesterday
        bot: only this bot's runs (hedge, grid, agent, ...)
        run: only this run
        data_dir: the data folder (default: settings)
    """
    day = parse_date(date)
    built = build_report_task(day, bot, run, data_dir)
    publish_artifacts(built)
    out = built.summary()
    get_run_logger().info("report %s: %d run(s), %s in %.2fs", day.isoformat(), out["runs"], out["html"],
                          out["seconds"])
    return out
