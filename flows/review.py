"""Prefect flow ``review`` (every 6 hours, prefect.yaml): the cross-bot review.

Load the warehouse, read the current shared insights, ask the reviewer (the OpenAI-compatible
endpoint of ``PERPFLOW_LLM__*``, Qwen by default; the statistical reviewer when none is set),
record the review in ``reviews`` whatever its verdict, and when accepted record its
recommendations in ``insights`` (review id as provenance) and export a new shared-insights
version that carries them. The artifact shows the verdict and the recommendations.

A review that could not reach a usable endpoint is recorded as ``failed`` and the flow fails with
the error, which names the setting to fix; nothing recorded before is touched.

Retries sit on the tasks, not the flow: the endpoint call retries transient failures only (429,
5xx, timeouts; tasks/review_task.py) and the warehouse load retries on its own. A flow-level retry
would also repeat a wrong key or an unknown model, recording one more failed review each time.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.states import Failed, State

from core.errors import ExpectedEnd
from core.insights import load_insights, write_insights
from core.settings import Settings
from tasks.insights import rows as insight_rows
from tasks.insights_task import compute_insights
from tasks.records import flow_run_name, journal_records, load_now, settings_for
from tasks.review import REVIEW_HOURS, ReviewOutcome, insight_records, review_record
from tasks.review_task import ReviewUnavailable, review_task

TIMEOUT_S = 1800


class ReviewFailed(ExpectedEnd):
    """The review could not be done (recorded as failed); the message names the setting to fix."""


@flow(name="review", retries=0, timeout_seconds=TIMEOUT_S)
def review_flow(data_dir: str | None = None, hours: float = REVIEW_HOURS) -> dict[str, Any] | State:
    """Cross-bot review of the last hours: bounded recommendations, recorded and shared."""
    log = get_run_logger()
    settings = settings_for(data_dir)
    run_id = flow_run_name("review")
    load_now(settings)
    insights = load_insights(settings.insights_path)
    if not insights.present:
        insights = compute_insights(settings)
    state = review_task(settings, insights, hours, return_state=True)
    if state.is_completed():
        outcome: ReviewOutcome = state.result()
    else:
        err = state.result(raise_on_failure=False)
        if not isinstance(err, ReviewUnavailable):
            raise err if isinstance(err, BaseException) else RuntimeError(str(err))
        outcome = err.outcome
    journal_records(run_id, "review", [review_record(outcome)], str(settings.journal_dir))
    accepted = insight_records(outcome)
    version = None
    if accepted:
        journal_records(run_id, "insight", accepted, str(settings.journal_dir))
        version = _share(settings, run_id)
    load_now(settings)
    create_markdown_artifact(markdown(outcome, version), key="review",
                             description=f"{outcome.review_id}: {outcome.verdict} ({outcome.reviewer})")
    log.info("review %s by %s: %s, %d recommendation(s), %d+%d tokens, %.0f ms", outcome.review_id,
             outcome.model or outcome.reviewer, outcome.verdict, len(accepted), outcome.prompt_tokens,
             outcome.completion_tokens, outcome.latency_ms)
    if outcome.verdict == "failed":  # an expected outcome, named by its setting: a Failed run, not a traceback
        message = f"review {outcome.review_id} failed (recorded): {outcome.error}"
        log.error("%s", message)
        return Failed(message=message, data=ReviewFailed(message))
    if outcome.verdict == "rejected":
        log.warning("review %s rejected (recorded): %s", outcome.review_id, outcome.error)
    return {"review_id": outcome.review_id, "reviewer": outcome.reviewer, "model": outcome.model,
            "verdict": outcome.verdict, "recommendations": len(accepted), "insights_version": version,
            "summary": outcome.summary, "error": outcome.error}


def _share(settings: Settings, run_id: str) -> str:
    """Load the review's rows, then export a shared-insights version that carries them."""
    load_now(settings)
    ins = compute_insights(settings)
    journal_records(run_id, "insight", insight_rows(ins), str(settings.journal_dir))
    write_insights(ins, settings.insights_path)
    return ins.version


def markdown(o: ReviewOutcome, version: str | None) -> str:
    lines = [f"# Review {o.review_id}: {o.verdict}", "",
             f"- reviewer: {o.reviewer}{' (' + o.model + ')' if o.model else ''}",
             f"- period: {o.period_start:%Y-%m-%d %H:%M} to {o.period_end:%Y-%m-%d %H:%M} UTC",
             f"- prompt: {o.prompt.version} (sha256 {o.prompt.hash[:12]}), inputs sha256 {o.inputs_digest[:12]}",
             f"- tokens: {o.prompt_tokens} in, {o.completion_tokens} out; latency {o.latency_ms:.0f} ms; "
             f"answers: {len(o.raws)}"]
    if o.error:
        lines.append(f"- error: {o.error}")
    if version:
        lines.append(f"- shared insights version: {version}")
    lines += ["", f"{o.summary}", ""]
    if o.answer is not None and o.answer.recommendations:
        lines += ["| action | what | until (UTC) | confidence | rationale |", "|---|---|---|---:|---|"]
        for r in o.answer.recommendations:
            what = {"block_combo": lambda x: f"{x.symbol}_{x.direction.upper()} for {','.join(x.bots or ['all'])}",
                    "unblock_combo": lambda x: f"{x.symbol}_{x.direction.upper()} for {','.join(x.bots or ['all'])}",
                    "blackout": lambda x: f"{x.start_hour_utc:02d}:00-{x.end_hour_utc:02d}:00",
                    "set_parameter": lambda x: f"{x.bot}.{x.param} = {x.value:g}"}[r.action](r)
            lines.append(f"| {r.action} | {what} | {r.until:%Y-%m-%d %H:%M} | {r.confidence:.2f} | "
                         f"{r.rationale.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
