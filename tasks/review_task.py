"""Prefect task ``cross-bot-review``: one review over the published warehouse snapshot.

An endpoint that is only unavailable for now (429, 5xx, timeouts, unreachable) fails the task so
Prefect retries it later (``ReviewUnavailable``, transient only); every other outcome — accepted,
rejected, failed on a setting — is returned, to be recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
from prefect import task
from prefect.cache_policies import NONE

from core.insights import SharedInsights
from core.settings import Settings
from tasks.llm import LlmUnavailable, transient_only
from tasks.review import REVIEW_HOURS, ReviewOutcome, review
from warehouse.paths import WarehousePaths
from warehouse.query import connect


class ReviewUnavailable(LlmUnavailable):
    """The endpoint was unavailable; ``outcome`` is the failed review, to record if retries run out."""

    def __init__(self, outcome: ReviewOutcome) -> None:
        super().__init__(outcome.error or "endpoint unavailable")
        self.outcome = outcome


@task(name="cross-bot-review", retries=2, retry_delay_seconds=[30, 120], retry_condition_fn=transient_only,
      cache_policy=NONE)
def review_task(settings: Settings, insights: SharedInsights, hours: float = REVIEW_HOURS,
                now: datetime | None = None) -> ReviewOutcome:
    now = now or datetime.now(UTC)
    published = WarehousePaths.from_settings(settings).published
    if published.exists():
        with connect(published) as con:
            outcome = review(settings, con, insights, now, hours=hours)
    else:
        con = duckdb.connect()
        try:
            outcome = review(settings, con, insights, now, hours=hours)
        finally:
            con.close()
    if outcome.verdict == "failed" and outcome.transient:
        raise ReviewUnavailable(outcome)
    return outcome
