"""The ``grid`` flow: a grid market maker run (two-sided maker quotes whose skew reduces inventory).

One flow run is one bot run, in the bot scaffold (``tasks/botrun.py``): account lock (one bot per
account), pre-trade task, progress and summary artifacts, warehouse load, final state. Quotes,
cancels and fills stay in plain async code inside the run (the kernel's runner). The parameters are
``GridParams``' fields; ``scenario`` picks the simulator's market regime, ``replay`` a recorded
market instead (the run then completes when the file ends).

Cancelling a run (UI, ``prefect flow-run cancel``): the runner cancels every quote, then flattens
the inventory or leaves it as ``on_cancel`` says; the flow loads the warehouse and ends Cancelled
with the summary.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from pydantic import ValidationError

from core.types import ZERO
from exchanges.sim.replay import parse_replay_args
from strategies.base import Strategy
from strategies.grid.params import GridParams
from strategies.grid.result import progress_markdown, summary_rows
from strategies.grid.strategy import GridStrategy
from strategies.runtime.runner import Runner, RunOutcome
from tasks.botrun import Summary, bad_params, params_flow, run_bot


def grid_summary(outcome: RunOutcome, strategy: Strategy) -> Summary:
    assert isinstance(strategy, GridStrategy)
    s = strategy.summary(outcome.run_id, outcome.status, outcome.reason,
                         outcome.positions.get(strategy.venue, ZERO))
    hours = [{"hour_utc": h, "fills": x.fills, "spread_capture": f"{x.spread_capture:.6f}",
              "inventory_pnl": f"{x.inventory_pnl:.6f}", "fees": f"{x.fees:.6f}", "funding": f"{x.funding:.6f}",
              "total": f"{x.total:.6f}"} for h, x in (strategy.split_hourly() or {}).items()]
    return Summary([(k, str(v)) for k, v in summary_rows(s)], s.as_dict(), hours, "grid-pnl-hourly",
                   "PnL split per UTC hour: spread capture + inventory + fees + funding = total")


def grid_view(runner: Runner) -> str:
    """The live-state artifact: inventory, quotes resting, fills, PnL split, paused or not."""
    strategy, kernel = runner.strategy, runner.kernel
    assert isinstance(strategy, GridStrategy)
    if kernel is None:
        return f"# Grid run {runner.run_id}\n\nstarting\n"
    return progress_markdown(strategy.state(kernel.ledger.position(strategy.venue), kernel.table.open(strategy.venue)),
                             runner.run_id)


@flow(name="grid", description="Grid market maker: two-sided maker quotes whose skew reduces inventory, a momentum "
                              "filter that pauses against trends, fast cancels; naive mode for comparison.",
      log_prints=False)
@params_flow(GridParams)
def grid_flow(**params: Any) -> Any:
    """Run the grid market maker on one venue until its duration is up (or it is cancelled)."""
    try:
        cfg = GridParams(**params)
    except ValidationError as exc:
        return bad_params(exc)
    return run_bot(cfg, GridStrategy(cfg), grid_summary, view=grid_view, replay=parse_replay_args(cfg.replay))
