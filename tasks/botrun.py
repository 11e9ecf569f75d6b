"""The scaffold every bot flow runs in: one flow run is one bot run.

``run_bot`` does, for any strategy, what a bot flow needs around the kernel's runner:
the account lock (one bot per account), the venue session, the journal, the pre-trade task,
progress, live-state and summary artifacts, the warehouse load and the final state - Completed,
Failed or Cancelled with the summary. A bot's flow is its parameter model, its strategy and its
summary; nothing else (see ``flows/hedge.py``).

Expected refusals are not crashes. A pre-trade refusal, a busy account, a missing account limit:
the run ends Failed with the reasons as its message, logged as one line, with no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import signal
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from prefect import get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Cancelled, Completed, Failed, State
from pydantic import BaseModel, Field, ValidationError

from core.errors import PerpflowError
from core.reasons import Reason
from core.settings import get_settings
from exchanges.connect import VenueSession, open_venues
from render.tables import markdown_table
from strategies.base import Record, Strategy
from strategies.preflight import PreTradeError
from strategies.runtime.data_end import run_until_data_ends
from strategies.runtime.recorder_guard import GuardedRecorder
from strategies.runtime.runner import Runner, RunOutcome
from tasks.account import AccountBusy, limit_name, venue_accounts
from tasks.account import hold_account as hold_accounts
from tasks.warehouse import ensure_loader_limit, load_warehouse
from warehouse.journal import Journal

F = TypeVar("F", bound=Callable[..., Any])
LIVE_STATE_EVERY_S = 5.0  # wall seconds between two live-state artifact updates


# --- parameters ----------------------------------------------------------------------------------
def params_flow(model: type[BaseModel]) -> Callable[[F], F]:
    """Give a flow function (``def f(**params)``) the flat signature of its bot's parameter model.

    Prefect builds the deployment schema and the UI run form from a flow's signature and docstring:
    both come from the model here, so every field shows with its description and bounds, and the
    model stays the only declaration. The function receives the validated values as keywords.
    """
    def wrap(fn: F) -> F:
        params = []
        for name, f in model.model_fields.items():
            default = f.default if f.default_factory is None else f.default_factory()  # type: ignore[call-arg]
            # A Decimal default would reach the form's schema as a string ("0.2") beside "type: number",
            # and the UI refuses to submit its own defaults: the schema shows it as the number it is.
            extra = {"default": float(default)} if isinstance(default, Decimal) else None
            annotation = Annotated[(f.annotation, *f.metadata,  # type: ignore[misc]
                                    Field(description=f.description, json_schema_extra=extra))]
            params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                            annotation=annotation))
        fn.__signature__ = inspect.Signature(params, return_annotation=Any)  # type: ignore[attr-defined]
        fn.__annotations__ = {p.name: p.annotation for p in params} | {"return": Any}
        doc = (inspect.getdoc(fn) or "").strip()
        args = "\n".join(f"    {name}: {f.description or name}" for name, f in model.model_fields.items())
        fn.__doc__ = f"{doc}\n\nArgs:\n{args}\n"
        fn.params_model = model  # type: ignore[attr-defined]
        return fn
    return wrap


# --- the account ---------------------------------------------------------------------------------
class AccountRefused(PerpflowError):
    """The account's lock cannot be taken (its Prefect limit is missing): nothing was sent."""


def account_limit_name(account_key: str) -> str:
    """The strict Prefect global concurrency limit (limit 1) of an account: one bot per account."""
    return limit_name(account_key)


def ensure_account_limit(account_key: str) -> str:
    """Create the account's strict limit if it does not exist yet; returns its name."""
    from prefect.client.orchestration import get_client

    name = account_limit_name(account_key)
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, 1)
    return name


def _tag(account_key: str) -> str:
    return f"account:{account_key}"


def _holders(account_key: str) -> list[str]:
    """Running flow runs that hold the account (they tag themselves when they take it)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            tags=FlowRunFilterTags(all_=[_tag(account_key)]),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING]))))
    return [f"run {r.name} ({r.id})" for r in runs if str(r.id) != str(flow_run.id)]


def _slot_busy(name: str) -> bool:
    """True when the account's Prefect slot is taken; raises ``AccountRefused`` when the limit is missing."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            limit = client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        raise AccountRefused(f"the account's concurrency limit {name} does not exist (`make serve` creates it, "
                             f"as does `perpflow <bot>`); refusing to trade unlocked") from None
    return limit.active_slots >= limit.limit


def _mark_holder(account_key: str) -> None:
    """Tag this flow run with the account, so a run waiting for it can say which run it waits for."""
    if flow_run.id is None:
        return
    from prefect.client.orchestration import get_client

    with contextlib.suppress(Exception), get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run.id)
        client.update_flow_run(flow_run.id, tags=sorted({*run.tags, _tag(account_key)}))


@contextlib.contextmanager
def hold_account(account_key: str, run_id: str, timeout: float, logger: Any,
                 venues: Sequence[str] = ()) -> Iterator[None]:
    """Hold the account for the whole trading part of a run, or raise ``AccountBusy``/``AccountRefused``.

    The single place a bot takes its account: ``tasks.account.hold_account`` (an OS lock per account
    that a killed process releases, then the strict Prefect limit ``account-<key>``). A run that finds
    the account busy logs that it waits and for which run. ``venues``: the venue accounts a live run
    trades (``tasks.account.venue_accounts``), OS-locked too, so two pairs never share one.
    """
    name = account_limit_name(account_key)
    if _slot_busy(name):
        held_by = ", ".join(_holders(account_key)) or "another run"
        logger.info("account %s is busy: waiting up to %.0f s for %s", account_key, timeout, held_by)
    with hold_accounts([account_key], {"run_id": run_id, "flow_run_id": str(flow_run.id) if flow_run.id else None},
                       timeout=timeout, logger=logger, venue_accounts=venues):
        _mark_holder(account_key)
        logger.info("account %s locked for run %s", account_key, run_id)
        yield


# --- the run -------------------------------------------------------------------------------------
class BotStopped(Exception):
    """A run that ended FAILED or CANCELLED, with its summary.

    Prefect resolves a failed or cancelled state's data into the exception it raises (the worker's
    engine does so for every run), so that data must be an exception; the summary rides on it.
    """

    def __init__(self, reason: str, summary: dict[str, Any]) -> None:
        super().__init__(reason)
        self.summary = summary


@dataclass
class Summary:
    """A bot's summary of a run: rows for the artifact and the CLI, plus figures and a detail table."""

    rows: list[tuple[str, str]]
    data: dict[str, Any]
    table: list[dict[str, Any]] = field(default_factory=list)
    table_key: str | None = None
    table_description: str = ""


@task(name="pre-trade validation", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def pre_trade_validation(session: VenueSession, runner: Runner) -> dict[str, Any]:
    """Read every venue and let the strategy refuse the run before any order.

    A refusal is an answer, not a failure of this task: it comes back as ``{"refused": reasons}``
    (so no traceback is logged and nothing is retried); a venue that does not answer is retried.
    """
    try:
        return {"checks": session.clock.run(runner.preflight)}
    except PreTradeError as exc:
        return {"refused": str(exc)}


def plain(v: Any) -> Any:
    """JSON-friendly: Decimals as strings, datetimes in ISO form, recursively."""
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [plain(x) for x in v]
    return v


def live_state_markdown(state: dict[str, Any], symbol: str) -> str:
    rows = [("mode / trading state", f"{state.get('mode')} / {state.get('state', '-')}")]
    rows += [(f"position {v}", f"{p} {symbol}") for v, p in state.get("positions", {}).items()]
    if "net" in state:
        rows += [("net delta", f"{state['net']} {symbol}"), ("volume", f"{state['volume']:,.2f} USD"),
                 ("fees", f"{state['fees']:.4f} USD"), ("PnL so far (marked at mid)", f"{state['pnl']:+.4f} USD"),
                 ("open orders", str(state["open_orders"])), ("max |net delta|", f"{state['max_abs_net']} {symbol}")]
    return f"# Live state\n\n{markdown_table(['', 'now'], rows)}\n"


class _Reporter:
    """Progress and live-state artifacts, updated off the bot's event loop (and its virtual clock)."""

    def __init__(self, bot: str, symbol: str, view: Callable[[Runner], str] | None = None) -> None:
        self.bot, self.symbol, self.view = bot, symbol, view
        self.progress = create_progress_artifact(0.0, key=f"{bot}-progress", description="progress of the run")
        self._last_live = 0.0
        self._shown = 0.0

    def __call__(self, runner: Runner, record: Record) -> None:
        progress = runner.strategy.progress()
        # after each cycle, or (bots without cycles) whenever the run got another percent further
        if progress is not None and (record.kind == "cycle" or progress - self._shown >= 0.01 or
                                     (progress >= 1.0 > self._shown)):
            self._shown = progress
            self._off_loop(lambda: update_progress_artifact(self.progress, 100.0 * progress, _sync=True))
        if time.monotonic() - self._last_live >= LIVE_STATE_EVERY_S:
            self._last_live = time.monotonic()
            self.live(runner)

    def markdown(self, runner: Runner) -> str:
        """The live-state view: the bot's own (``view``) or the generic one."""
        return self.view(runner) if self.view is not None else live_state_markdown(runner.live_state(), self.symbol)

    def live(self, runner: Runner) -> None:
        markdown = self.markdown(runner)
        self._off_loop(lambda: create_markdown_artifact(
            markdown, key=f"{self.bot}-live-state", description="positions, net delta, PnL and open orders as the "
                                                                  "run goes", _sync=True))

    @staticmethod
    def _off_loop(call: Callable[[], Any]) -> None:
        """Run a Prefect API call on a thread, in this flow run's context (artifacts belong to the run)."""
        ctx = contextvars.copy_context()
        asyncio.get_running_loop().run_in_executor(None, ctx.run, call)


def run_bot(params: BaseModel, strategy: Strategy, summarize: Callable[[RunOutcome, Strategy], Summary], *,
            fees: Mapping[str, Any] | None = None, replay: Any = None,
            view: Callable[[Runner], str] | None = None) -> Any:
    """Run ``strategy`` as this flow run; returns the flow's final state (or its summary when completed).

    ``params`` is the bot's parameter model: ``account_key``, ``venue_mode``, ``seed``, ``sim_clock``
    and ``lock_timeout`` are read from it, and ``sim_regime`` when it has one (the simulator's market
    regime). ``fees`` and ``replay`` go to the simulator (an account's fee rates, recorded markets);
    a replayed market that ends stops the run like a user stop does. ``view``: the bot's own markdown
    for the live-state artifact (default: positions, net delta, volume, PnL, open orders).
    """
    logging.getLogger("perpflow").setLevel(logging.INFO)  # Prefect drops records below the logger's level
    logger = get_run_logger()
    cancel = _CancelIsAStop(logger)
    with cancel:
        return _run_bot(params, strategy, summarize, logger, cancel, fees, replay, view)


class _CancelIsAStop:
    """While a bot flow runs, SIGTERM (Prefect cancelling the run, ``make stop``) is a request to
    stop, never an exception: before trading the run ends Cancelled having sent nothing; while it
    trades the runner's own handler stops it cleanly (orders cancelled, then flatten or leave);
    after, the run finishes recording. So a cancel ends Cancelled with its summary and no traceback."""

    def __init__(self, logger: Any) -> None:
        self.logger = logger
        self.requested = False
        self.runner: Runner | None = None
        self._previous: Any = None

    def _on_term(self, signum: int, frame: Any) -> None:
        self.requested = True
        if self.runner is not None:
            self.runner.cancel_requested = True
        self.logger.warning("cancel requested: stopping the run (no new order)")

    def __enter__(self) -> _CancelIsAStop:
        try:
            self._previous = signal.signal(signal.SIGTERM, self._on_term)
        except ValueError:  # not the main thread: Prefect's own handling stays
            self._previous = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


def _run_bot(params: BaseModel, strategy: Strategy, summarize: Callable[[RunOutcome, Strategy], Summary],
             logger: Any, cancel: _CancelIsAStop, fees: Mapping[str, Any] | None, replay: Any,
             view: Callable[[Runner], str] | None = None) -> Any:
    settings = get_settings()
    run_id = str(flow_run.id or uuid.uuid4())
    bot = strategy.name
    account_key: str = params.account_key  # type: ignore[attr-defined]
    try:
        with hold_account(account_key, run_id, params.lock_timeout, logger,  # type: ignore[attr-defined]
                          venue_accounts(params.venue_mode, strategy.venues)):  # type: ignore[attr-defined]
            session = open_venues(params.venue_mode, strategy.venues, (strategy.symbol,),  # type: ignore[attr-defined]
                                  seed=params.seed, settings=settings, sim_clock=params.sim_clock,  # type: ignore
                                  fees=dict(fees or {}), replay=replay,
                                  regime=getattr(params, "sim_regime", "base"))
            journal = GuardedRecorder(Journal(run_id, settings.journal_dir))  # a journal that fails stops the bot
            reporter = _Reporter(bot, strategy.symbol, view)
            runner = Runner(strategy, run_id, [session.venue(v) for v in strategy.venues], journal, session.clock,
                            flow_run_id=str(flow_run.id) if flow_run.id else None, on_record=reporter)
            cancel.runner = runner
            journal.on_failure = runner.fail
            try:
                checks = pre_trade_validation(session, runner)
                if "refused" in checks:
                    return _refused(logger, checks["refused"])
                logger.info("pre-trade checks passed: %s", checks["checks"])
                if cancel.requested:
                    reason = f"{Reason.CANCELLED_BY_USER}: cancelled before trading began; no order was sent"
                    logger.info("%s", reason)
                    return Cancelled(message=reason, data=BotStopped(reason, {}))
                outcome = session.clock.run(lambda: run_until_data_ends(runner, session.data_end))
            finally:
                session.clock.run(session.close)
                journal.close_sync()
    except (AccountBusy, AccountRefused) as busy:
        return _refused(logger, str(busy))
    create_markdown_artifact(reporter.markdown(runner), key=f"{bot}-live-state",
                             description=f"at the end of the run: {outcome.status}")
    ensure_loader_limit()
    try:
        load_warehouse()
    except Exception as exc:  # the run is over: still report it, from the bot's own accounting
        logger.error("warehouse load failed after its retries: %r; the summary comes from the bot's memory", exc)
    summary = summarize(outcome, strategy)
    publish(bot, outcome, summary)
    for label, value in summary.rows:
        logger.info("%s: %s", label, value)
    data = plain(summary.data) | {"rows": summary.rows}  # what the artifact shows; the CLI prints the same
    if outcome.status == "FAILED":
        return Failed(message=outcome.reason, data=BotStopped(outcome.reason, data))
    if outcome.status == "CANCELLED":
        return Cancelled(message=outcome.reason, data=BotStopped(outcome.reason, data))
    return Completed(message=outcome.reason, data=data)


def bad_params(exc: ValidationError) -> State:
    """A flow's parameters the model refuses (a check across fields the deployment schema cannot
    see): the run fails with each field and its reason, no traceback, nothing sent."""
    reasons = "; ".join(f"{'.'.join(str(x) for x in e['loc']) or 'parameters'}: "
                        f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors())
    return _refused(get_run_logger(), f"invalid parameters (no order was sent): {reasons}")


def _refused(logger: Any, reason: str) -> State:
    """An expected refusal before any order: one ERROR line with the reasons, no traceback."""
    logger.error("%s", reason)
    return Failed(message=reason, data=BotStopped(reason, {}))


def publish(bot: str, outcome: RunOutcome, summary: Summary) -> None:
    create_markdown_artifact(f"# {bot.capitalize()} run {outcome.run_id}\n\n"
                             f"{markdown_table(['metric', 'value'], summary.rows)}\n",
                             key=f"{bot}-summary", description=f"{outcome.status}: {outcome.reason}")
    if summary.table_key:
        create_table_artifact(summary.table, key=summary.table_key, description=summary.table_description)


def result_of(state: State) -> tuple[str, str, dict[str, Any] | None]:
    """(status, message, summary) of a bot flow's final state."""
    data = state.result(raise_on_failure=False)
    if isinstance(data, BotStopped):
        data = data.summary
    return state.type.value, state.message or "", data if isinstance(data, dict) else None
