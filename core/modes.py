"""Backtest, paper or live: what kind of run this is, and whether its timestamps are real.

A run on the simulator's virtual clock is a backtest: its timestamps are simulated (accelerated),
so its "duration" is simulated time, and it must never mix with live figures in a "today" query.
On the real clock the simulator is paper trading. Real venues are live. The warehouse stores both
(``runs.mode``, ``runs.clock``) and the cookbook's daily queries filter on ``mode``.
"""

from __future__ import annotations

from typing import Literal

Mode = Literal["backtest", "paper", "live"]
ClockKind = Literal["virtual", "real"]


def run_mode(venue_mode: str, sim_clock: str = "virtual") -> tuple[Mode, ClockKind]:
    """(mode, clock) of a run from its venue mode (sim | live) and simulator clock (virtual | real)."""
    if venue_mode == "live":
        return "live", "real"
    if sim_clock == "real":
        return "paper", "real"
    return "backtest", "virtual"
