"""The ``hedge`` flow: a delta-neutral hedge bot run (primary maker orders hedged on GRVT).

One flow run is one bot run. Prefect orchestrates it - parameters, the account lock, retries of
the coarse steps, progress and summary artifacts - while orders and fills stay in plain async
code inside the run (ARCHITECTURE.md §2).

Cancelling a run (UI, ``prefect flow-run cancel``, ``make stop``): Prefect's worker sends the run's
process SIGTERM, then SIGKILL 30 s later. While the bot trades, the runner's SIGTERM handler stops it
cleanly (open orders cancelled, then flatten or leave as ``on_cancel`` says); the flow then loads
the warehouse and returns a Cancelled state.
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Annotated, Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency
from prefect.runtime import flow_run
from prefect.states import Cancelled, Completed, Failed, State
from pydantic import Field

from core.settings import get_settings
from exchanges.connect import VenueSession, open_venues
from flows.params import Fraction, PositiveDecimal, SpreadBps
from render.tables import markdown_table
from strategies.base import Record
from strategies.hedge.config import (
    Direction,
    HedgeConfig,
    HedgeMode,
    HedgeVenue,
    OnCancel,
    PrimaryMode,
    PrimaryVenue,
    SimClock,
    Ticker,
    VenueMode,
)
from strategies.hedge.result import HedgeSummary, RunResult, hedge_result, summarize, summary_rows
from strategies.hedge.strategy import HedgeStrategy
from strategies.preflight import PreTradeError
from strategies.runtime.runner import Runner
from tasks.warehouse import ensure_loader_limit, load_warehouse
from warehouse.journal import Journal


class BotStopped(Exception):
    """A run that ended FAILED or CANCELLED, with its summary.

    Prefect resolves a failed or cancelled state's data into the exception it raises (the worker's
    engine does so for every run), so that data must be an exception; the summary rides on it.
    """

    def __init__(self, reason: str, summary: dict[str, Any]) -> None:
        super().__init__(reason)
        self.summary = summary


def account_limit_name(cfg: HedgeConfig) -> str:
    """One bot per account pair: the name of its strict Prefect global concurrency limit."""
    return f"account-{cfg.account_key}"


@task(name="pre-trade validation", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE,
      retry_condition_fn=lambda task, run, state: not isinstance(state.result(raise_on_failure=False), PreTradeError))
def pre_trade_validation(session: VenueSession, runner: Runner) -> dict[str, Any]:
    """Read both venues and refuse the run before any order if they cannot carry it."""
    return session.clock.run(runner.preflight)


def _progress_reporter(artifact_id: Any) -> Any:
    def on_record(runner: Runner, record: Record) -> None:
        progress = runner.strategy.progress()
        if record.kind != "cycle" or progress is None:
            return
        loop = asyncio.get_running_loop()  # Prefect I/O off the bot's loop (and its virtual clock)
        loop.run_in_executor(None, lambda: update_progress_artifact(artifact_id, 100.0 * progress, _sync=True))
    return on_record


def publish_artifacts(summary: HedgeSummary, result: RunResult) -> None:
    rows = summary_rows(summary)
    create_markdown_artifact(
        f"# Hedge run {summary.run_id}\n\n{markdown_table(['metric', 'value'], rows)}\n",
        key="hedge-summary", description=f"{summary.status}: {summary.reason}")
    create_table_artifact(
        [{"cycle": c.cycle_no, "kind": c.kind, "direction": c.direction, "size": str(c.size),
          "primary_price": str(c.primary_price), "hedge_price": str(c.hedge_price), "edge_bps": str(c.edge_bps),
          "fees": f"{c.fees:.6f}", "pnl": f"{c.pnl:.6f}", "net_delta_after": str(c.net_delta_after),
          "hedge_latency_ms": None if c.hedge_latency_ms is None else round(c.hedge_latency_ms),
          "status": c.status} for c in result.cycles],
        key="hedge-cycles", description="every cycle of the run, prices from fill events")


@flow(name="hedge", description="Delta-neutral hedge bot: maker orders on the primary venue, every fill hedged on "
                               "GRVT, net delta kept near zero.", log_prints=False)
def hedge_flow(
    primary: PrimaryVenue = "paradex",
    hedge: HedgeVenue = "grvt",
    ticker: Ticker = "SOL",
    size: PositiveDecimal = Decimal("0.1"),
    iterations: Annotated[int, Field(ge=1, le=1_000_000)] = 10,
    primary_mode: PrimaryMode = "bbo_minus_1",
    hedge_mode: HedgeMode = "bbo_minus_1",
    direction: Direction = "long",
    build_to: Annotated[int, Field(ge=1, le=1000)] = 1,
    max_position: PositiveDecimal | None = None,
    daily_loss_limit: PositiveDecimal = Decimal("25"),
    net_delta_tolerance: Fraction = Decimal("0.01"),
    min_spread_bps: SpreadBps | None = None,
    hedge_timeout: Annotated[float, Field(gt=0, le=600)] = 5.0,
    on_cancel: OnCancel = "flatten",
    venue_mode: VenueMode = "sim",
    seed: Annotated[int, Field(ge=0)] = 7,
    lock_timeout: Annotated[float, Field(ge=0)] = 600.0,
    sim_clock: SimClock = "virtual",
) -> dict[str, Any] | State:
    """One hedge bot run; the parameters are the product notes' command line.

    Args:
        primary: primary (maker) venue
        hedge: hedge venue; every primary fill is hedged here at once
        ticker: the perpetual traded on both venues
        size: order size per cycle, in base units (SOL, ETH, BTC)
        iterations: open+close cycle pairs before the run completes
        primary_mode: primary order price: bbo joins the best price, bbo_minus_1 one tick behind it, bbo_plus_1 one
            tick inside a wide spread, market an IOC taker
        hedge_mode: hedge order price: bbo_minus_1 (maker, then taker after hedge_timeout) or market
        direction: the primary's side when opening (alternate switches every cycle)
        build_to: open cycles before closing (bounded by max_position)
        max_position: largest |primary position| in base units; empty = size x build_to
        daily_loss_limit: USD lost today (real fills and fees, UTC day) before the bot reduces and stops
        net_delta_tolerance: unexplained |net delta| allowed, as a fraction of size
        min_spread_bps: quote only when the hedge touch is this many bps better than the primary price
        hedge_timeout: seconds before a maker hedge turns taker
        on_cancel: when the run is cancelled, after its open orders are cancelled: flatten both venues or leave
            the positions
        venue_mode: sim (embedded simulator) or live (real venues, credentials from the environment)
        seed: simulator seed
        lock_timeout: seconds to wait while another run holds this account's lock
        sim_clock: simulator time: virtual runs accelerated (a backtest), real is paper trading in real time
    """
    cfg = HedgeConfig(primary=primary, hedge=hedge, ticker=ticker, size=size, iterations=iterations,
                      primary_mode=primary_mode, hedge_mode=hedge_mode, direction=direction, build_to=build_to,
                      max_position=max_position, daily_loss_limit=daily_loss_limit,
                      net_delta_tolerance=net_delta_tolerance, min_spread_bps=min_spread_bps,
                      hedge_timeout=hedge_timeout, on_cancel=on_cancel, venue_mode=venue_mode, seed=seed,
                      sim_clock=sim_clock)
    logger = get_run_logger()
    settings = get_settings()
    run_id = flow_run.id or str(uuid.uuid4())
    with concurrency(account_limit_name(cfg), occupy=1, strict=True, timeout_seconds=lock_timeout):
        logger.info("account %s locked for run %s", cfg.account_key, run_id)
        session = open_venues(cfg.venue_mode, (cfg.primary, cfg.hedge), (cfg.ticker,), seed=cfg.seed,
                              settings=settings, sim_clock=cfg.sim_clock)
        recorder = Journal(run_id, settings.journal_dir)
        progress = create_progress_artifact(0.0, key="hedge-progress", description="cycles done of total")
        strategy = HedgeStrategy(cfg)
        runner = Runner(strategy, run_id, [session.venue(cfg.primary), session.venue(cfg.hedge)], recorder,
                        session.clock, flow_run_id=flow_run.id, on_record=_progress_reporter(progress))
        try:
            checks = pre_trade_validation(session, runner)
            logger.info("pre-trade checks passed: %s", checks)
            result = hedge_result(session.clock.run(runner.run), strategy)
        finally:
            session.clock.run(session.close)
            recorder.close_sync()
    ensure_loader_limit()
    load_warehouse()
    summary = summarize(result)
    publish_artifacts(summary, result)
    for label, value in summary_rows(summary):
        logger.info("%s: %s", label, value)
    data = _summary_dict(summary)
    data["rows"] = summary_rows(summary)  # what the artifact shows; the CLI prints the same
    if result.status == "FAILED":
        return Failed(message=result.reason, data=BotStopped(result.reason, data))
    if result.status == "CANCELLED":
        return Cancelled(message=result.reason, data=BotStopped(result.reason, data))
    return Completed(message=result.reason, data=data)


def _summary_dict(s: HedgeSummary) -> dict[str, Any]:
    def plain(v: Any) -> Any:
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return {k: plain(v) for k, v in s.__dict__.items()}
