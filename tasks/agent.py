"""The agent adviser's question as a Prefect task, over the project's LLM client.

``llm_ask(settings)`` is the ``Ask`` the agent session uses: one ``ask_json`` of the
``Decision`` schema with the rules' check (the client repairs once), run as the ``agent-advise``
task, which retries transient failures (429, 5xx, timeouts) only. Whatever still fails becomes
an abstention with its reason (naming the setting for a configuration error), recorded in the
decision row; the run goes on. ``policy_ask(name)`` serves the deterministic policies (backtests,
the offline demo) through the same validation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from core.insights import SharedInsights, load_insights
from core.settings import LlmSettings
from strategies.agent.adviser import Ask, AskOutcome, Check, Message, local_ask
from strategies.agent.decision import Decision
from strategies.agent.desk import Outlook
from strategies.agent.outlook import outlook_from, sentiment_from
from strategies.agent.policies import POLICIES

if TYPE_CHECKING:
    from tasks.llm import LlmAnswer

log = logging.getLogger("perpflow.agent")


def _transient_only(task_: Any, run: Any, state: Any) -> bool:
    """Retry a failed question only when its error is transient (the openai client loads lazily:
    importing it costs seconds, and most commands that import this module never ask)."""
    from tasks.llm import transient_only

    return transient_only(task_, run, state)


@task(name="agent-advise", retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=_transient_only,
      cache_policy=NO_CACHE)
def advise_task(client: Any, messages: list[Message], check: Check) -> LlmAnswer[Decision]:
    """One validated decision from the endpoint (the client repairs a bad answer once)."""
    return client.ask_json(messages, Decision, check=check)


def llm_ask(settings: LlmSettings, api_key: Any = None, *, as_task: bool = True) -> Ask:
    """An ``Ask`` over the OpenAI-compatible endpoint of ``settings`` (one client for the run)."""
    from tasks.llm import LlmClient, LlmError

    client = LlmClient(settings, api_key)

    def ask(messages: list[Message], check: Check) -> AskOutcome:
        try:
            answer = advise_task(client, messages, check) if as_task else client.ask_json(messages, Decision,
                                                                                          check=check)
        except LlmError as err:
            log.warning("adviser abstains: %s", err)
            return AskOutcome(None, err.raws, err.errors, err.usage.prompt_tokens, err.usage.completion_tokens,
                              err.latency_s, failure=str(err))
        return AskOutcome(answer.parsed, answer.raws, answer.errors, answer.usage.prompt_tokens,
                          answer.usage.completion_tokens, answer.latency_s)

    return ask


def policy_ask(name: str) -> Ask:
    """A deterministic policy (``trend``, ``quick``) in the LLM's place."""
    try:
        return local_ask(POLICIES[name])
    except KeyError:
        raise ValueError(f"policy: {name!r}; allowed: {', '.join(POLICIES)}") from None


class InsightsFeed:
    """The shared insights as the agent session reads them: the exported file, read once per
    decision (the outlook first, then the sentiment of the same read). A missing or corrupt file
    is "no insights": the agent's own rules still apply. Why there are none is logged once, and
    again only when the reason changes (it is read every decision: not a warning a minute)."""

    def __init__(self, path: Path, symbols: Collection[str], now: Callable[[], float],
                 own_run_ids: Collection[str]) -> None:
        self.path, self.symbols, self.now, self.own = path, tuple(symbols), now, set(own_run_ids)
        self.last: SharedInsights | None = None
        self.problem: str | None = None  # the last "no insights" reason logged

    def _read(self) -> SharedInsights:
        insights = load_insights(self.path, warn=False)
        if insights.problem is not None and insights.problem != self.problem:
            log.warning("no insights: %s", insights.problem)
        elif insights.problem is None and self.problem is not None:
            log.info("shared insights %s read", insights.version)
        self.problem = insights.problem
        return insights

    def outlook(self) -> Outlook:
        self.last = self._read()
        return outlook_from(self.last, symbols=self.symbols, now=self.now(), own_run_ids=self.own)

    def sentiment(self) -> dict[str, Any] | None:
        return sentiment_from(self.last or self._read(), self.symbols)
