"""``perpflow grid``: run the grid flow from the command line; its options are ``GridParams``' fields."""

from __future__ import annotations

from typing import Any

from cli.bots import bot_command
from strategies.grid.params import GridParams


def _flow() -> Any:
    from flows.grid import grid_flow

    return grid_flow


grid_cmd = bot_command(_flow, GridParams, "grid", """
    Run the grid market maker (a Prefect flow run) and print its summary.

    Quotes both sides maker-only with a skew that reduces inventory, pauses the side against a
    trend, re-quotes when the book moves; --mode naive runs the original grid for comparison.
    Records every order, fill, book sample and pause for the warehouse (fill_diagnostics, pnl_split).
    """)
