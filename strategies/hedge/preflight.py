"""The hedge bot's pre-trade validation: both venues take the size, the hedge venue really executes it.

The product notes' failure: 0.5 ETH hedged on GRVT, where market orders above ~0.2 ETH do not
fill although the book shows 172 ETH. So the hedge venue's executable size is estimated from its
recent trades (bounded by the displayed top of book), and a size above it is refused with a clear
message before any order.
"""

from __future__ import annotations

from decimal import Decimal

from core.reasons import Reason
from strategies.preflight import (
    MIN_TRADES_FOR_ESTIMATE,
    ExecutableEstimate,
    PreTradeError,
    Problem,
    VenueSnapshot,
    basis_problem,
    executable_size,
    margin_problems,
    venue_limits,
)


def validate(size: Decimal, position_limit: Decimal, margin_fraction: Decimal,
             primary: VenueSnapshot, hedge: VenueSnapshot, max_basis_bps: Decimal | None = None) -> ExecutableEstimate:
    """Raise ``PreTradeError`` listing every problem; return the hedge venue's executable estimate."""
    problems = venue_limits(size, primary) + venue_limits(size, hedge)
    if max_basis_bps is not None:
        basis = basis_problem(primary, hedge, max_basis_bps)
        if basis is not None:
            problems.append(basis)
    est = executable_size(hedge.trades, hedge.book)
    hv = f"{hedge.instrument.venue} {hedge.instrument.symbol}"
    if est.size is None:
        problems.append(Problem("size", Reason.EXECUTABLE_SIZE,
                                f"{hv} printed only {est.trades_seen} trades recently; cannot tell what it "
                                f"really executes (need {MIN_TRADES_FOR_ESTIMATE})"))
    elif size > est.size:
        problems.append(Problem(
            "size", Reason.EXECUTABLE_SIZE,
            f"{size} is above what {hv} really executes: its largest trade among the last {est.trades_seen} "
            f"was {est.largest_print} although {est.displayed_top} is displayed at the top of book; "
            f"use --size {hedge.instrument.round_size(est.size)} or less"))
    problems += margin_problems(position_limit, margin_fraction, [primary, hedge])
    if problems:
        raise PreTradeError(problems)
    return est
