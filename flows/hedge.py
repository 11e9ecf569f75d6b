"""The ``hedge`` flow: a delta-neutral hedge bot run (primary maker orders hedged on GRVT).

One flow run is one bot run, in the bot scaffold (``tasks/botrun.py``): account lock, pre-trade
task, artifacts, warehouse load, final state. Orders and fills stay in plain async code inside the
run (the kernel's runner). The parameters are ``HedgeConfig``'s fields.

Cancelling a run (UI, ``prefect flow-run cancel``, ``make stop``): Prefect's worker sends the run's
process SIGTERM, then SIGKILL 30 s later. While the bot trades, the runner's SIGTERM handler stops it
cleanly (open orders cancelled, then flatten or leave as ``on_cancel`` says); the flow then loads
the warehouse and returns a Cancelled state with the summary.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from exchanges.sim.replay import parse_replay_args
from render.summary import summary_rows
from strategies.base import Strategy
from strategies.hedge.config import HedgeConfig
from strategies.hedge.result import RunResult, hedge_result, summarize
from strategies.hedge.result import summary_rows as fallback_rows
from strategies.hedge.strategy import HedgeStrategy
from strategies.runtime.runner import RunOutcome
from tasks.botrun import Summary, params_flow, plain, run_bot
from warehouse.summary import run_figures


def run_summary(result: RunResult) -> dict[str, Any]:
    """The run's summary from the warehouse (``warehouse/summary.sql``), read after the final load:
    the same figures as the cookbook's. If the warehouse does not hold the run (its load failed), the
    bot's own accounting stands in, and the summary says so."""
    try:
        figures = run_figures(result.run_id)
    except FileNotFoundError:
        figures = None
    if figures is not None:
        data = plain(figures.row)
        data["venues"] = plain(figures.venues)
        data["source"] = "warehouse"
        data["rows"] = summary_rows(figures.row, figures.venues)
        return data
    fallback = summarize(result)
    data = plain(fallback.__dict__)
    data["source"] = "memory"
    data["rows"] = [*fallback_rows(fallback),
                    ("figures", "from the bot's memory: the warehouse holds no load of this run")]
    return data


def hedge_summary(outcome: RunOutcome, strategy: Strategy) -> Summary:
    assert isinstance(strategy, HedgeStrategy)
    result = hedge_result(outcome, strategy)
    data = run_summary(result)
    cycles = [{"cycle": c.cycle_no, "kind": c.kind, "direction": c.direction, "size": str(c.size),
               "primary_price": str(c.primary_price), "hedge_price": str(c.hedge_price), "edge_bps": str(c.edge_bps),
               "fees": f"{c.fees:.6f}", "pnl": f"{c.pnl:.6f}", "net_delta_after": str(c.net_delta_after),
               "hedge_latency_ms": None if c.hedge_latency_ms is None else round(c.hedge_latency_ms),
               "primary_maker_share": c.primary_maker_share, "hedge_maker_share": c.hedge_maker_share,
               "hedge_taker_reason": c.hedge_taker_reason, "orders": " ".join(c.primary_orders + c.hedge_orders),
               "status": c.status} for c in result.cycles]
    return Summary(data.pop("rows"), data, cycles, "hedge-cycles", "every cycle of the run, prices from fill events")


@flow(name="hedge", description="Delta-neutral hedge bot: maker orders on the primary venue, every fill hedged on "
                               "GRVT, net delta kept near zero.", log_prints=False)
@params_flow(HedgeConfig)
def hedge_flow(**params: Any) -> Any:
    """One hedge bot run; the parameters are the product notes' command line."""
    cfg = HedgeConfig(**params)
    return run_bot(cfg, HedgeStrategy(cfg), hedge_summary, fees=cfg.fee_rates(),
                   replay=parse_replay_args(cfg.replay))
