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
import contextlib
import uuid
from datetime import datetime
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
from prefect.runtime import flow_run
from prefect.states import Cancelled, Completed, Failed, State
from pydantic import Field

from core.records import CycleRecord
from core.settings import get_settings
from exchanges.connect import VenueSession, open_venues
from exchanges.sim.replay import parse_replay_args
from flows.params import BasisBps, Count, FeeBps, Fraction, PositiveDecimal, Seconds, SpreadBps
from render.summary import summary_rows
from render.tables import markdown_table
from strategies.hedge.config import (
    DEFAULT_HEDGE,
    DEFAULT_PRIMARY,
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
from strategies.hedge.result import RunResult, summarize
from strategies.hedge.result import summary_rows as fallback_rows
from strategies.preflight import PreTradeError
from strategies.runtime.data_end import run_until_data_ends
from strategies.runtime.hedge_runner import HedgeRunner
from strategies.runtime.recorder_guard import GuardedRecorder
from tasks.account import AccountBusy, hold_account, limit_name
from tasks.warehouse import ensure_loader_limit, load_warehouse
from warehouse.journal import Journal
from warehouse.summary import run_figures


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
    return limit_name(cfg.account_key)


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


def publish_artifacts(summary: dict[str, Any], result: RunResult) -> None:
    rows = summary["rows"]
    create_markdown_artifact(
        f"# Hedge run {summary['run_id']}\n\n{markdown_table(['metric', 'value'], rows)}\n",
        key="hedge-summary", description=f"{summary['status']}: {summary['reason']}")
    create_table_artifact(
        [{"cycle": c.cycle_no, "kind": c.kind, "direction": c.direction, "size": str(c.size),
          "primary_price": str(c.primary_price), "hedge_price": str(c.hedge_price), "edge_bps": str(c.edge_bps),
          "fees": f"{c.fees:.6f}", "pnl": f"{c.pnl:.6f}", "net_delta_after": str(c.net_delta_after),
          "hedge_latency_ms": None if c.hedge_latency_ms is None else round(c.hedge_latency_ms),
          "primary_maker_share": c.primary_maker_share, "hedge_maker_share": c.hedge_maker_share,
          "hedge_taker_reason": c.hedge_taker_reason, "orders": " ".join(c.primary_orders + c.hedge_orders),
          "status": c.status} for c in result.cycles],
        key="hedge-cycles", description="every cycle of the run, prices from fill events")


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def run_summary(result: RunResult) -> dict[str, Any]:
    """The run's summary from the warehouse (``warehouse/summary.sql``), read after the final load:
    the same figures as the cookbook's. If the warehouse does not hold the run (its load failed), the
    bot's own accounting stands in, and the summary says so."""
    try:
        figures = run_figures(result.run_id)
    except FileNotFoundError:
        figures = None
    if figures is not None:
        data = _plain(figures.row)
        data["venues"] = _plain(figures.venues)
        data["source"] = "warehouse"
        data["rows"] = summary_rows(figures.row, figures.venues)
        return data
    fallback = summarize(result)
    data = _plain(fallback.__dict__)
    data["source"] = "memory"
    data["rows"] = [*fallback_rows(fallback),
                    ("figures", "from the bot's memory: the warehouse holds no load of this run")]
    return data


@flow(name="hedge", description="Delta-neutral hedge bot: maker orders on the primary venue, every fill hedged on "
                               "GRVT, net delta kept near zero.", log_prints=False)
def hedge_flow(
    primary: PrimaryVenue = DEFAULT_PRIMARY,
    hedge: HedgeVenue = DEFAULT_HEDGE,
    ticker: Ticker = "SOL",
    size: PositiveDecimal = Decimal("0.1"),
    iterations: Annotated[int, Field(ge=1, le=1_000_000), Count] = 10,
    primary_mode: PrimaryMode = "bbo_minus_1",
    hedge_mode: HedgeMode = "bbo_minus_1",
    direction: Direction = "long",
    build_to: Annotated[int, Field(ge=1, le=1000), Count] = 1,
    max_position: PositiveDecimal | None = None,
    daily_loss_limit: PositiveDecimal = Decimal("25"),
    net_delta_tolerance: Fraction = Decimal("0.01"),
    min_spread_bps: SpreadBps | None = None,
    hedge_timeout: Annotated[float, Field(gt=0, le=600), Seconds] = 5.0,
    on_cancel: OnCancel = "flatten",
    venue_mode: VenueMode = "sim",
    seed: Annotated[int, Field(ge=0), Count] = 7,
    lock_timeout: Annotated[float, Field(ge=0), Seconds] = 600.0,
    sim_clock: SimClock = "virtual",
    primary_fees: FeeBps | None = None,
    hedge_fees: FeeBps | None = None,
    replay: list[str] | None = None,
    max_basis_bps: BasisBps = Decimal("50"),
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
        primary_fees: the primary account's fee rates for the simulator, maker/taker in bps (e.g. 0.3/4.5); empty =
            the venue's fees setting, else the simulator's profile; live runs read the account's own rates
        hedge_fees: the hedge account's fee rates for the simulator, maker/taker in bps (e.g. -0.3/1.9)
        replay: VENUE=FILE items: a recorded market file (exchanges/sim/replay.py) drives that simulated venue;
            the run starts at the file's start and completes when it ends
        max_basis_bps: refuse to start when the two venues' mids differ by more than this (bps)
    """
    cfg = HedgeConfig(primary=primary, hedge=hedge, ticker=ticker, size=size, iterations=iterations,
                      primary_mode=primary_mode, hedge_mode=hedge_mode, direction=direction, build_to=build_to,
                      max_position=max_position, daily_loss_limit=daily_loss_limit,
                      net_delta_tolerance=net_delta_tolerance, min_spread_bps=min_spread_bps,
                      hedge_timeout=hedge_timeout, on_cancel=on_cancel, venue_mode=venue_mode, seed=seed,
                      sim_clock=sim_clock, primary_fees=primary_fees, hedge_fees=hedge_fees,
                      replay=tuple(replay or ()), max_basis_bps=max_basis_bps)
    logger = get_run_logger()
    settings = get_settings()
    run_id = flow_run.id or str(uuid.uuid4())
    held = contextlib.ExitStack()  # the account (OS lock + Prefect slot) until the venues are closed
    try:
        held.enter_context(hold_account([cfg.account_key], {"run_id": run_id, "flow_run_id": flow_run.id},
                                        timeout=lock_timeout, logger=logger))
    except AccountBusy as busy:  # before any order: one clear line, no traceback
        logger.error("%s", busy)
        return Failed(message=str(busy))
    with held:
        logger.info("account %s locked for run %s", cfg.account_key, run_id)
        session = open_venues(cfg.venue_mode, (cfg.primary, cfg.hedge), (cfg.ticker,), seed=cfg.seed,
                              settings=settings, sim_clock=cfg.sim_clock, fees=cfg.fee_rates(),
                              replay=parse_replay_args(cfg.replay))
        recorder = GuardedRecorder(Journal(run_id, settings.journal_dir))  # a journal that fails stops the bot
        progress = create_progress_artifact(0.0, key="hedge-progress", description="cycles done of total")
        runner = HedgeRunner(cfg, run_id, session.venue(cfg.primary), session.venue(cfg.hedge), recorder,
                             session.clock, flow_run_id=flow_run.id, on_cycle=_progress_reporter(progress))
        recorder.on_failure = runner.fail
        try:
            checks = pre_trade_validation(session, runner)
            logger.info("pre-trade checks passed: %s", checks)
            result = session.clock.run(lambda: run_until_data_ends(runner, session.data_end))
        finally:
            session.clock.run(session.close)
            recorder.close_sync()
    ensure_loader_limit()
    try:
        load_warehouse()
    except Exception as exc:  # the run is over: still report it, from the bot's own accounting
        logger.error("warehouse load failed after its retries: %r; the summary comes from the bot's memory", exc)
    data = run_summary(result)  # rows: what the artifact shows; the CLI prints the same
    publish_artifacts(data, result)
    for label, value in data["rows"]:
        logger.info("%s: %s", label, value)
    if result.status == "FAILED":
        return Failed(message=result.reason, data=BotStopped(result.reason, data))
    if result.status == "CANCELLED":
        return Cancelled(message=result.reason, data=BotStopped(result.reason, data))
    return Completed(message=result.reason, data=data)

