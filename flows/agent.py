"""The ``agent`` flow: an LLM-advised directional bot on one account (Hibachi or Extended).

One flow run trades the account's symbols for ``days`` (virtual days on the simulator): one kernel
runner per symbol, one shared desk, an adviser call every decision interval (the ``agent-advise``
task; without an endpoint configured, the deterministic policy of the mode, said so in the log),
exits by rules. Then the warehouse is loaded and the summary is SQL on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import uuid
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Cancelled, Completed, Failed, State

from core.errors import ConfigError
from core.settings import get_settings
from exchanges import registry
from exchanges.connect import VenueSession, open_venues
from exchanges.settings import venue_settings
from render.tables import markdown_table
from strategies.agent.adviser import Ask
from strategies.agent.params import AgentParams
from strategies.agent.session import AgentSession
from strategies.preflight import PreTradeError
from tasks.account import AccountBusy, hold_account, limit_name, venue_accounts
from tasks.agent import InsightsFeed, llm_ask, policy_ask
from tasks.agent_report import agent_summary, summary_rows
from tasks.warehouse import ensure_loader_limit, load_warehouse
from warehouse.journal import Journal
from warehouse.paths import WarehousePaths

DEFAULT_POLICY = {"profit": "trend", "volume": "quick"}


class AgentStopped(Exception):
    """A run that ended FAILED or CANCELLED, with its summary (Prefect needs an exception as data)."""

    def __init__(self, reason: str, summary: dict[str, Any]) -> None:
        super().__init__(reason)
        self.summary = summary


def account_limit_name(params: AgentParams) -> str:
    """One bot per account: the strict Prefect global concurrency limit of the agent's account."""
    return limit_name(params.account_key)


def choose_ask(params: AgentParams) -> tuple[Ask, str]:
    """The adviser's LLM: the configured endpoint, else the mode's deterministic policy."""
    settings = get_settings()
    if params.policy == "llm" and settings.llm.base_url:
        return llm_ask(settings.llm), f"LLM {settings.llm.model} at {settings.llm.base_url}"
    name = DEFAULT_POLICY[params.mode]
    why = "no LLM endpoint configured (PERPFLOW_LLM__BASE_URL)" if params.policy == "llm" else f"policy={params.policy}"
    return policy_ask(name), f"deterministic '{name}' policy ({why})"


@task(name="pre-trade validation", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def agent_preflight(session: VenueSession, agent: AgentSession) -> dict[str, Any]:
    """Read the venue for every symbol and let the run be refused before any order.

    A refusal is an answer, not a failure of this task: it comes back as ``{"refused": reasons}``
    (no traceback, no retry); a venue that does not answer is retried.
    """
    try:
        return {"checks": session.clock.run(agent.preflight)}
    except PreTradeError as exc:
        return {"refused": str(exc)}


def _progress(agent: AgentSession) -> Any:
    def on_decision(rec: dict[str, Any]) -> None:
        now = rec["ts"]
        rows = [[p["symbol"], p["direction"], str(p["size"]), str(p["entry_price"]), f"{p['open_pnl_usd']:.2f}",
                 f"{p['held_h']:.1f}"] for p in agent.desk.positions_view(now)]
        why = rec["reason"] or (rec.get("parsed") or {}).get("thesis") or "-"
        text = (f"# Agent {agent.run_id} ({agent.p.venue}, {agent.desk.mode} mode)\n\n"
                f"{markdown_table(['symbol', 'side', 'size', 'entry', 'open PnL', 'held h'], rows) if rows else 'flat'}"
                f"\n\nLast decision: **{rec['verdict']}** {rec['action']} {rec['symbol'] or ''} — {why}\n")
        loop = asyncio.get_running_loop()  # Prefect I/O off the bot's loop (and its virtual clock),
        ctx = contextvars.copy_context()  # in the flow run's context (the artifact belongs to the run)
        loop.run_in_executor(None, ctx.run, lambda: create_markdown_artifact(
            text, key="agent-progress", description="positions and last decision"))
    return on_decision


@flow(name="agent", description="LLM-advised directional bot on one account: allowed actions in code, one adviser "
                                "call per interval, exits by rules, shared insights.", log_prints=False)
def agent_flow(params: AgentParams = AgentParams()) -> dict[str, Any] | State:  # noqa: B008
    """One agent run.

    Args:
        params: the agent's parameters (venue, symbols, mode, sizes, exit tables, burn, execution, lock timeout)
    """
    logger = get_run_logger()
    settings = get_settings()
    run_id = flow_run.id or str(uuid.uuid4())
    ask, source = choose_ask(params)
    logger.info("agent %s on %s (%s), symbols %s, %s mode; adviser: %s", run_id, params.venue, params.venue_mode,
                ",".join(params.symbols), params.mode, source)
    journals: dict[str, Journal] = {}

    def recorder(rid: str) -> Journal:
        journals[rid] = Journal(rid, settings.journal_dir)
        return journals[rid]

    if params.venue_mode == "live":
        try:
            spec = registry.get(params.venue, field="venue", live=True)
            spec.check(venue_settings(settings, spec.name))  # credentials, before anything connects
        except ConfigError as exc:  # before the account is even taken: one line, no traceback
            logger.error("%s", exc)
            return Failed(message=str(exc), data=AgentStopped(str(exc), {}))
    held = contextlib.ExitStack()  # the account (OS lock + Prefect slot) until the venues are closed
    try:
        held.enter_context(hold_account([params.account_key], {"run_id": run_id, "flow_run_id": flow_run.id},
                                        timeout=params.lock_timeout, logger=logger,
                                        venue_accounts=venue_accounts(params.venue_mode, [params.venue])))
    except AccountBusy as busy:  # before any order: one clear line, no traceback
        logger.error("%s", busy)
        return Failed(message=str(busy))
    with held:
        logger.info("account %s locked for run %s", params.account_key, run_id)
        session = open_venues(params.venue_mode, (params.venue,), params.symbols, seed=params.seed, settings=settings)
        own = {f"{run_id}-{s.lower()}" for s in params.symbols}
        feed = InsightsFeed(settings.insights_path, params.symbols, session.clock.now, own)
        agent = AgentSession(params, run_id, session.venue(params.venue), session.clock, recorder, ask,
                             outlook=feed.outlook, sentiment=feed.sentiment, flow_run_id=flow_run.id)
        agent.on_decision = _progress(agent)
        try:
            checks = agent_preflight(session, agent)
            if "refused" in checks:  # an expected refusal before any order: one line, no traceback
                logger.error("%s", checks["refused"])
                return Failed(message=checks["refused"], data=AgentStopped(checks["refused"], {}))
            logger.info("pre-trade checks passed: %s", checks["checks"])
            result = session.clock.run(agent.run)
        finally:
            session.clock.run(session.close)
            for j in journals.values():
                j.close_sync()
    ensure_loader_limit()
    load_warehouse()
    summary = agent_summary(WarehousePaths.from_settings().published, run_id)
    rows = summary_rows(summary)
    create_markdown_artifact(f"# Agent run {run_id}\n\n{markdown_table(['metric', 'value'], rows)}\n",
                             key="agent-summary", description=f"{result.status}")
    create_table_artifact(summary["by_symbol_direction"] or [{"symbol": "-", "trades": 0}], key="agent-combos",
                          description="trades and win rate by symbol and direction")
    for label, value in rows:
        logger.info("%s: %s", label, value)
    summary["rows"] = rows
    summary["status"] = result.status
    reason = "; ".join(f"{s}: {o.reason}" for s, o in result.outcomes.items())
    if result.status == "FAILED":
        return Failed(message=reason, data=AgentStopped(reason, summary))
    if result.status == "CANCELLED":
        return Cancelled(message=reason, data=AgentStopped(reason, summary))
    return Completed(message=reason, data=summary)
