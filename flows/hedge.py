"""The ``hedge`` flow: a delta-neutral hedge bot run (primary maker orders hedged on GRVT).

One flow run is one bot run. Prefect orchestrates it - parameters, the account lock, retries of
the coarse steps, progress and summary artifacts - while orders and fills stay in plain async
code inside the run (ARCHITECTURE.md §2).
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

from core.records import CycleRecord
from core.settings import get_settings
from exchanges.connect import VenueSession, open_venues
from flows.render import markdown_table
from strategies.hedge.config import (
    Direction,
    HedgeConfig,
    HedgeMode,
    HedgeVenue,
    OnCancel,
    PrimaryMode,
    PrimaryVenue,
    Ticker,
    VenueMode,
)
from strategies.hedge.result import HedgeSummary, RunResult, summarize, summary_rows
from strategies.preflight import PreTradeError
from strategies.runtime.hedge_runner import HedgeRunner
from tasks.warehouse import ensure_loader_limit, load_warehouse
from warehouse.journal import Journal


def account_limit_name(cfg: HedgeConfig) -> str:
    """One bot per account pair: the name of its strict Prefect global concurrency limit."""
    return f"account-{cfg.account_key}"


@task(name="pre-trade validation", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE,
      retry_condition_fn=lambda task, run, state: not isinstance(state.result(raise_on_failure=False), PreTradeError))
def pre_trade_validation(session: VenueSession, runner: HedgeRunner) -> dict[str, Any]:
    """Read both venues and refuse the run before any order if they cannot carry it."""
    est = session.clock.run(runner.preflight)
    return {"hedge_executable_size": str(est.size), "largest_print": str(est.largest_print),
            "displayed_top": str(est.displayed_top), "trades_seen": est.trades_seen}


def _progress_reporter(artifact_id: Any) -> Any:
    def on_cycle(done: int, total: int, cycle: CycleRecord) -> None:
        pct = min(100.0, 100.0 * done / max(1, total))
        loop = asyncio.get_running_loop()  # Prefect I/O off the bot's loop (and its virtual clock)
        loop.run_in_executor(None, lambda: update_progress_artifact(artifact_id, pct, _sync=True))
    return on_cycle


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
    size: Annotated[Decimal, Field(gt=0, description="order size per cycle, base units")] = Decimal("0.1"),
    iterations: Annotated[int, Field(ge=1, description="open+close cycle pairs")] = 10,
    primary_mode: PrimaryMode = "bbo_minus_1",
    hedge_mode: HedgeMode = "bbo_minus_1",
    direction: Direction = "long",
    build_to: Annotated[int, Field(ge=1)] = 1,
    max_position: Annotated[Decimal | None, Field(gt=0)] = None,
    daily_loss_limit: Annotated[Decimal, Field(gt=0, description="USD")] = Decimal("25"),
    net_delta_tolerance: Annotated[Decimal, Field(gt=0, le=1, description="fraction of size")] = Decimal("0.01"),
    min_spread_bps: Decimal | None = None,
    hedge_timeout: Annotated[float, Field(gt=0, description="seconds")] = 5.0,
    on_cancel: OnCancel = "flatten",
    venue_mode: VenueMode = "sim",
    seed: Annotated[int, Field(ge=0)] = 7,
    lock_timeout: Annotated[float, Field(ge=0, description="seconds to wait for the account lock")] = 600.0,
) -> dict[str, Any] | State:
    cfg = HedgeConfig(primary=primary, hedge=hedge, ticker=ticker, size=size, iterations=iterations,
                      primary_mode=primary_mode, hedge_mode=hedge_mode, direction=direction, build_to=build_to,
                      max_position=max_position, daily_loss_limit=daily_loss_limit,
                      net_delta_tolerance=net_delta_tolerance, min_spread_bps=min_spread_bps,
                      hedge_timeout=hedge_timeout, on_cancel=on_cancel, venue_mode=venue_mode, seed=seed)
    logger = get_run_logger()
    settings = get_settings()
    run_id = flow_run.id or str(uuid.uuid4())
    with concurrency(account_limit_name(cfg), occupy=1, strict=True, timeout_seconds=lock_timeout):
        logger.info("account %s locked for run %s", cfg.account_key, run_id)
        session = open_venues(cfg.venue_mode, (cfg.primary, cfg.hedge), (cfg.ticker,), seed=cfg.seed,
                              settings=settings, sim_clock=cfg.sim_clock)
        recorder = Journal(run_id, settings.journal_dir)
        progress = create_progress_artifact(0.0, key="hedge-progress", description="cycles done of total")
        runner = HedgeRunner(cfg, run_id, session.venue(cfg.primary), session.venue(cfg.hedge), recorder,
                             session.clock, flow_run_id=flow_run.id, on_cycle=_progress_reporter(progress))
        try:
            checks = pre_trade_validation(session, runner)
            logger.info("pre-trade checks passed: %s", checks)
            result = session.clock.run(runner.run)
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
        return Failed(message=result.reason, data=data)
    if result.status == "CANCELLED":
        return Cancelled(message=result.reason, data=data)
    return Completed(message=result.reason, data=data)


def _summary_dict(s: HedgeSummary) -> dict[str, Any]:
    def plain(v: Any) -> Any:
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return {k: plain(v) for k, v in s.__dict__.items()}
