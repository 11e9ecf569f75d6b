"""``perpflow sentiment | insights | review``: run the scheduled intelligence flows now, print what they recorded."""

from __future__ import annotations

from typing import Any

import typer
from pydantic import ValidationError

from render.tables import text_table


def checked_settings() -> Any:
    """Settings from the environment, or exit 2 naming each bad setting (as its environment variable)."""
    from core.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        for err in exc.errors():
            name = "PERPFLOW_" + "__".join(str(x).upper() for x in err["loc"])
            typer.echo(f"error: {name}: {err['msg']}", err=True)
        raise typer.Exit(2) from None


def run_flow(flow_fn: Any) -> dict[str, Any]:
    """Run a flow now (a Prefect flow run); exit 1 with its message when it does not complete."""
    from server.flow_api import cli_flow_api

    with cli_flow_api("nothing was recorded"):  # the local server when it runs (its UI), else a temporary one
        state = flow_fn(return_state=True)
    if not state.is_completed():
        typer.echo(f"{state.type.value}: {state.message or ''}".rstrip(), err=True)
        try:
            state.result()
        except Exception as exc:  # the flow's own error, already named by the setting at fault
            typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    return state.result()


def sentiment_cmd() -> None:
    """Read every sentiment source now (fear & greed, long/short ratio, venue funding) and record the scores.

    Sources are settings (PERPFLOW_SENTIMENT__FEAR_GREED_URL, ...); a failing or stale source is
    recorded as neutral with the reason, in the warehouse `sentiment` table.
    """
    from flows.sentiment import sentiment_flow

    checked_settings()
    out = run_flow(sentiment_flow)
    rows = [[sym, score] for sym, score in out["symbols"].items()] + [["(market)", out["market"]]]
    typer.echo(text_table(["symbol", "combined score"], rows, places=3))
    for line in out["unavailable"]:
        typer.echo(f"not available: {line}")
    typer.echo(f"\n{out['rows']} rows recorded (run {out['run_id']}) in the warehouse `sentiment` table")


def insights_cmd() -> None:
    """Compute shared insights from the warehouse now and export data/shared_insights.json."""
    from core.insights import combo, load_insights
    from flows.insights import insights_flow

    settings = checked_settings()
    out = run_flow(insights_flow)
    ins = load_insights(settings.insights_path)
    typer.echo(f"shared insights {out['version']} -> {out['path']}")
    if ins.win_rates:
        typer.echo("\n" + text_table(["bot", "combo", "kind", "n", "win rate", "lower", "upper", "pnl"],
                                     [[r.bot, combo(r.symbol, r.direction), r.kind, r.n, r.win_rate, r.lower,
                                       r.upper, r.pnl] for r in ins.win_rates], places=3))
    for b in ins.blocked:
        typer.echo(f"blocked {b.combo} for {', '.join(b.bots or ['every bot'])} until {b.until:%Y-%m-%d %H:%M} UTC: "
                   f"{b.reason}")
    for w in ins.blackouts:
        typer.echo(f"blackout {w.start_hour:02d}:00-{w.end_hour:02d}:00 UTC until {w.until:%Y-%m-%d %H:%M}: {w.reason}")
    if ins.sentiment is not None:
        typer.echo(f"sentiment {ins.sentiment.market:+.2f} at {ins.sentiment.ts:%Y-%m-%d %H:%M} UTC")
    typer.echo(f"{len(ins.active_positions)} active position(s); {len(ins.calibration)} calibration bucket(s)")


def review_cmd() -> None:
    """Run the cross-bot review now: the LLM endpoint of PERPFLOW_LLM__BASE_URL (Qwen by default), or the
    deterministic statistical reviewer when none is set; recorded in `reviews`, accepted advice in insights."""
    from flows.review import review_flow

    settings = checked_settings()
    out = run_flow(review_flow)
    who = out["model"] or out["reviewer"]
    typer.echo(f"review {out['review_id']} by {who}: {out['verdict']}, {out['recommendations']} recommendation(s)")
    typer.echo(out["summary"])
    if out["error"]:
        typer.echo(f"error: {out['error']}", err=True)
    if out["insights_version"]:
        typer.echo(f"shared insights {out['insights_version']} -> {settings.insights_path}")


def fake_intel_cmd(
    port: int = typer.Option(0, help="port of the LLM endpoint (0: any free port); sentiment on the next free one"),
) -> None:
    """Serve a loopback OpenAI-compatible endpoint and the sentiment sources (offline demos), until Ctrl-C.

    Prints the settings that point perpflow at them. The fake LLM answers every review with an empty,
    valid recommendation list; the sources serve fear & greed 40 and fixed long/short ratios.
    """
    import asyncio
    import contextlib
    import signal

    from tasks.fakes.llm import FakeLlm
    from tasks.fakes.sentiment import FakeSentiment

    async def main() -> None:
        llm = FakeLlm(models=("qwen-plus",), responder=lambda body: {
            "summary": "fake reviewer: nothing to change", "recommendations": []})
        sources = FakeSentiment()
        await llm.start(port=port)
        await sources.start()
        typer.echo(f"PERPFLOW_LLM__BASE_URL={llm.base_url}")
        typer.echo("PERPFLOW_LLM__MODEL=qwen-plus")
        typer.echo(f"PERPFLOW_SENTIMENT__FEAR_GREED_URL={sources.fear_greed_url}")
        typer.echo(f"PERPFLOW_SENTIMENT__LONG_SHORT_URL={sources.long_short_url}")
        typer.echo("serving; Ctrl-C to stop", err=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # explicit: a background job starts with SIGINT ignored
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await llm.stop()
            await sources.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
