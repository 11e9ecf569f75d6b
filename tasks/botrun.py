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
import contextvars
import inspect
import logging
import signal
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Protocol, TypeVar

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

from core.errors import ConfigError, ExpectedEnd
from core.reasons import Reason
from core.settings import get_settings
from exchanges import registry
from exchanges.connect import VenueSession, open_venues
from exchanges.settings import venue_settings
from render.tables import markdown_table
from strategies.base import Record, Strategy
from strategies.preflight import PreTradeError
from strategies.runtime.data_end import run_until_data_ends
from strategies.runtime.recorder_guard import GuardedRecorder
from strategies.runtime.runner import Runner, RunOutcome
from tasks.account import (
    AccountBusy,
    AccountRefused,
    hold_account,
    limit_name,
    venue_accounts,
)
from tasks.account import (
    ensure_account_limit as ensure_account_limit,  # re-exported: the flows' tests and CLI create limits here
)
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
# One place makes an account's limit name and takes the account: ``tasks.account`` (re-exported
# here for the flows and tests that read them beside ``run_bot``).
account_limit_name = limit_name


# --- the run -------------------------------------------------------------------------------------
class BotStopped(ExpectedEnd):
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


class Outcome(Protocol):
    """How a run ended: the kernel's ``RunOutcome``, or a bot's own (the agent's, over its runners)."""

    run_id: str
    status: str  # COMPLETED | FAILED | CANCELLED
    reason: str


class Trading(Protocol):
    """What the scaffold drives once the venues are open: a kernel ``Runner``, or several runners
    sharing state behind one object (the agent: one runner per symbol, one desk)."""

    cancel_requested: bool  # a stop that came before trading began (the scaffold's SIGTERM)

    async def preflight(self) -> dict[str, Any]: ...

    async def run(self) -> Any: ...  # an ``Outcome``

    def request_stop(self, *, flatten: bool, status: str = ..., reason: Reason = ..., detail: str = "") -> None: ...


@dataclass
class Opened:
    """What a bot builds its trading from: the open venues, the run's ids, a journal per kernel run
    (guarded: a journal that fails stops the runner it was given to) and the artifacts' hook."""

    session: VenueSession
    run_id: str
    flow_run_id: str | None
    on_record: Callable[[Runner, Record], None]
    journals: list[GuardedRecorder] = field(default_factory=list)
    settings: Any = None

    def journal(self, run_id: str | None = None) -> GuardedRecorder:
        """A new journal for one kernel run (``run_id``: the run's own id by default)."""
        journal = GuardedRecorder(Journal(run_id or self.run_id, self.settings.journal_dir))
        self.journals.append(journal)
        return journal

    def runner(self, strategy: Strategy, run_id: str | None = None) -> Runner:
        """A kernel runner for ``strategy`` on its venues, journalled (a journal that fails stops it)."""
        journal = self.journal(run_id)
        runner = Runner(strategy, run_id or self.run_id, [self.session.venue(v) for v in strategy.venues], journal,
                        self.session.clock, flow_run_id=self.flow_run_id, on_record=self.on_record)
        journal.on_failure = runner.fail
        return runner


@dataclass
class Bot:
    """A bot as the scaffold runs it: what it trades, how it builds its trading once the venues are
    open, and how it reads its summary (after the warehouse load). A one-strategy bot is
    ``strategy_bot(...)``; a bot of several runners (the agent) builds its own ``Trading``."""

    name: str
    venues: tuple[str, ...]
    symbols: tuple[str, ...]
    build: Callable[[Opened], Trading]
    summarize: Callable[[Any, Trading], Summary]  # (outcome, trading) -> the summary
    view: Callable[[Trading], str] | None = None  # the live-state markdown (default: the runner's live state)
    progress: Callable[[Trading], float | None] | None = None  # 0..1 (default: the strategy's)
    live_key: str | None = None  # live-state artifact key (default "<name>-live-state")
    progress_key: str | None = None  # progress artifact key (default "<name>-progress")
    venue_field: str = "venue"  # the parameter a live venue without an adapter is refused on
    fees: Mapping[str, Any] = field(default_factory=dict)  # simulator: the account's fee rates per venue
    replay: Any = None  # simulator: recorded markets

    @property
    def symbol(self) -> str:
        return ",".join(self.symbols)


def strategy_bot(strategy: Strategy, summarize: Callable[[RunOutcome, Strategy], Summary], *,
                 fees: Mapping[str, Any] | None = None, replay: Any = None,
                 view: Callable[[Runner], str] | None = None) -> Bot:
    """The bot of one strategy on one kernel runner (the hedge, the grid, the tests' toy)."""
    def live(trading: Trading) -> str:
        assert isinstance(trading, Runner)
        return view(trading) if view is not None else live_state_markdown(trading.live_state(), strategy.symbol)

    return Bot(strategy.name, tuple(strategy.venues), (strategy.symbol,), build=lambda opened: opened.runner(strategy),
               summarize=lambda outcome, _: summarize(outcome, strategy), view=live,
               progress=lambda _: strategy.progress(), fees=dict(fees or {}), replay=replay)


@task(name="pre-trade validation", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def pre_trade_validation(session: VenueSession, trading: Trading) -> dict[str, Any]:
    """Read every venue and let the bot refuse the run before any order.

    A refusal is an answer, not a failure of this task: it comes back as ``{"refused": reasons}``
    (so no traceback is logged and nothing is retried); a venue that does not answer is retried.
    """
    try:
        return {"checks": session.clock.run(trading.preflight)}
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

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.live_key = bot.live_key or f"{bot.name}-live-state"
        self.trading: Trading | None = None
        self.progress = create_progress_artifact(0.0, key=bot.progress_key or f"{bot.name}-progress",
                                                 description="progress of the run")
        self._last_live = 0.0
        self._shown = 0.0

    def __call__(self, runner: Runner, record: Record) -> None:
        if self.trading is None:
            return
        progress = self.bot.progress(self.trading) if self.bot.progress is not None else None
        # after each cycle, or (bots without cycles) whenever the run got another percent further
        if progress is not None and (record.kind == "cycle" or progress - self._shown >= 0.01 or
                                     (progress >= 1.0 > self._shown)):
            self._shown = progress
            self._off_loop(lambda: update_progress_artifact(self.progress, 100.0 * progress, _sync=True))
        if time.monotonic() - self._last_live >= LIVE_STATE_EVERY_S:
            self._last_live = time.monotonic()
            self.live()

    def markdown(self) -> str:
        """The live-state view: the bot's own (``view``) or the generic one."""
        if self.trading is None:
            return f"# {self.bot.name.capitalize()}\n\nstarting\n"
        if self.bot.view is not None:
            return self.bot.view(self.trading)
        assert isinstance(self.trading, Runner)
        return live_state_markdown(self.trading.live_state(), self.bot.symbol)

    def live(self) -> None:
        markdown = self.markdown()
        self._off_loop(lambda: create_markdown_artifact(
            markdown, key=self.live_key, description="positions, PnL and open orders as the run goes", _sync=True))

    @staticmethod
    def _off_loop(call: Callable[[], Any]) -> None:
        """Run a Prefect API call on a thread, in this flow run's context (artifacts belong to the run)."""
        ctx = contextvars.copy_context()
        asyncio.get_running_loop().run_in_executor(None, ctx.run, call)


def run_bot(params: BaseModel, bot: Strategy | Bot,
            summarize: Callable[[RunOutcome, Strategy], Summary] | None = None, *,
            fees: Mapping[str, Any] | None = None, replay: Any = None,
            view: Callable[[Runner], str] | None = None) -> Any:
    """Run ``bot`` as this flow run; returns the flow's final state (or its summary when completed).

    ``bot``: a ``Bot``, or one strategy with its ``summarize`` (``strategy_bot``). ``params`` is the
    bot's parameter model: ``account_key``, ``venue_mode``, ``seed`` and ``lock_timeout`` are read
    from it, and ``sim_clock`` and ``sim_regime`` when it has them (the simulator's clock and market
    regime). ``fees`` and ``replay`` go to the simulator (an account's fee rates, recorded markets);
    a replayed market that ends stops the run like a user stop does. ``view``: the strategy's own
    markdown for the live-state artifact (default: positions, net delta, volume, PnL, open orders).
    """
    if not isinstance(bot, Bot):
        assert summarize is not None, "a strategy runs with its summarize"
        bot = strategy_bot(bot, summarize, fees=fees, replay=replay, view=view)
    logging.getLogger("perpflow").setLevel(logging.INFO)  # Prefect drops records below the logger's level
    logger = get_run_logger()
    cancel = _CancelIsAStop(logger)
    with cancel:
        return _run_bot(params, bot, logger, cancel)


class _CancelIsAStop:
    """While a bot flow runs, SIGTERM (Prefect cancelling the run, ``make stop``) is a request to
    stop, never an exception: before trading the run ends Cancelled having sent nothing; while it
    trades the runner's own handler stops it cleanly (orders cancelled, then flatten or leave);
    after, the run finishes recording. So a cancel ends Cancelled with its summary and no traceback."""

    def __init__(self, logger: Any) -> None:
        self.logger = logger
        self.requested = False
        self.trading: Trading | None = None
        self._previous: Any = None

    def _on_term(self, signum: int, frame: Any) -> None:
        self.requested = True
        if self.trading is not None:
            self.trading.cancel_requested = True
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


def _live_venues(params: BaseModel, bot: Bot) -> None:
    """A live run's venues must have a live adapter and their credentials: refused naming the
    field or the setting, before the account is taken and before anything connects."""
    if getattr(params, "venue_mode", "sim") == "live":
        for v in bot.venues:
            spec = registry.get(v, field=bot.venue_field, live=True)
            spec.check(venue_settings(get_settings(), spec.name))


def _run_bot(params: BaseModel, bot: Bot, logger: Any, cancel: _CancelIsAStop) -> Any:
    settings = get_settings()
    run_id = str(flow_run.id or uuid.uuid4())
    flow_run_id = str(flow_run.id) if flow_run.id else None
    account_key: str = params.account_key  # type: ignore[attr-defined]
    venue_mode: str = params.venue_mode  # type: ignore[attr-defined]
    reporter = _Reporter(bot)
    try:
        _live_venues(params, bot)
        with hold_account([account_key], {"run_id": run_id, "flow_run_id": flow_run_id},
                          timeout=params.lock_timeout, logger=logger,  # type: ignore[attr-defined]
                          venue_accounts=venue_accounts(venue_mode, bot.venues)):
            session = open_venues(venue_mode, bot.venues, bot.symbols, seed=params.seed,  # type: ignore
                                  settings=settings, sim_clock=getattr(params, "sim_clock", "virtual"),
                                  fees=dict(bot.fees), replay=bot.replay,
                                  regime=getattr(params, "sim_regime", "base"))
            opened = Opened(session, run_id, flow_run_id, reporter, settings=settings)
            try:
                trading = reporter.trading = cancel.trading = bot.build(opened)
                checks = pre_trade_validation(session, trading)
                if "refused" in checks:
                    return _refused(logger, checks["refused"])
                logger.info("pre-trade checks passed: %s", checks["checks"])
                if cancel.requested:
                    reason = f"{Reason.CANCELLED_BY_USER}: cancelled before trading began; no order was sent"
                    logger.info("%s", reason)
                    return Cancelled(message=reason, data=BotStopped(reason, {}))
                outcome = session.clock.run(lambda: run_until_data_ends(trading, session.data_end))
            finally:
                session.clock.run(session.close)
                for journal in opened.journals:
                    journal.close_sync()
    except (AccountBusy, AccountRefused, ConfigError) as refused:
        return _refused(logger, str(refused))
    create_markdown_artifact(reporter.markdown(), key=reporter.live_key,
                             description=f"at the end of the run: {outcome.status}")
    ensure_loader_limit()
    try:
        load_warehouse()
    except Exception as exc:  # the run is over: still report it, from the bot's own accounting
        logger.error("warehouse load failed after its retries: %r; the summary comes from the bot's memory", exc)
    summary = bot.summarize(outcome, trading)
    publish(bot.name, outcome, summary)
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


def publish(bot: str, outcome: Outcome, summary: Summary) -> None:
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
