"""``perpflow hedge``: run the hedge flow from the command line; its options are ``HedgeConfig``'s fields."""

from __future__ import annotations

from typing import Any

from cli.bots import bot_command, run_flow
from strategies.hedge.config import HedgeConfig


def _flow() -> Any:
    from flows.hedge import hedge_flow

    return hedge_flow


def run_hedge(params: dict[str, Any]) -> tuple[str, str, dict[str, Any] | None]:
    """Validate, make sure the account lock exists, run the flow. Returns (status, message, summary)."""
    return run_flow(_flow(), HedgeConfig, params)


hedge_cmd = bot_command(_flow, HedgeConfig, "hedge", """
    Run the delta-neutral hedge bot (a Prefect flow run) and print its summary.

    Posts maker orders on the primary venue, hedges every fill on GRVT at once, keeps net delta
    near zero, and records every order, fill and cycle for the warehouse.
    """)
