"""``perpflow hedge``: run the hedge flow from the command line; its options are ``HedgeConfig``'s fields."""

from __future__ import annotations

from typing import Any

from cli.bots import bot_command, run_flow
from strategies.hedge.config import HedgeConfig


def _flow() -> Any:
    from flows.hedge import hedge_flow

    return hedge_flow


def check_replays(cfg: HedgeConfig) -> None:
    """Read every --replay file whole before the flow starts: a bad file is refused here, naming
    its line and field, before any order (the flow checks again when it opens the venues)."""
    if not cfg.replay:
        return
    from exchanges.sim.replay import load_replays, parse_replay_args

    load_replays(parse_replay_args(cfg.replay), (cfg.ticker,))


def run_hedge(params: dict[str, Any]) -> tuple[str, str, dict[str, Any] | None]:
    """Validate, make sure the account lock exists, run the flow. Returns (status, message, summary)."""
    return run_flow(_flow(), HedgeConfig, params)


hedge_cmd = bot_command(_flow, HedgeConfig, "hedge", """
    Run the delta-neutral hedge bot (a Prefect flow run) and print its summary.

    Posts maker orders on the primary venue, hedges every fill on GRVT at once, keeps net delta
    near zero, and records every order, fill and cycle for the warehouse.
    """, check=check_replays)
