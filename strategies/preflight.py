"""Pre-trade validation: refuse a run before its first order if a venue cannot carry it.

The product notes' failure: 0.5 ETH hedged on GRVT, where market orders above ~0.2 ETH do not
fill although the book shows 172 ETH. Displayed depth lies; what the venue has really executed
recently does not. So the hedge venue's executable size is estimated from its recent trades
(bounded by the displayed top of book), and a size above it is refused with a clear message.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.errors import PerpflowError
from core.reasons import Reason
from core.types import BBO, Balance, Book, Instrument, Trade

MIN_TRADES_FOR_ESTIMATE = 20
TRADE_WINDOW = 200


@dataclass(frozen=True, slots=True)
class VenueSnapshot:
    """What the runner read from one venue before trading."""

    instrument: Instrument
    bbo: BBO
    book: Book
    trades: tuple[Trade, ...]
    balance: Balance


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    reason: Reason
    message: str


class PreTradeError(PerpflowError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p.field}: {p.message}" for p in problems)
        super().__init__(f"pre-trade validation refused the run (no order was sent):\n{lines}")


@dataclass(frozen=True, slots=True)
class ExecutableEstimate:
    size: Decimal | None  # None: not enough trades to tell
    largest_print: Decimal | None
    trades_seen: int
    displayed_top: Decimal


def executable_size(trades: tuple[Trade, ...], book: Book) -> ExecutableEstimate:
    """The size a taker can expect to execute at once: the largest recent print, capped by the
    displayed top of book."""
    recent = trades[-TRADE_WINDOW:]
    top = min(book.bids[0].size, book.asks[0].size) if book.bids and book.asks else Decimal(0)
    if len(recent) < MIN_TRADES_FOR_ESTIMATE:
        return ExecutableEstimate(None, None, len(recent), top)
    largest = max(t.size for t in recent)
    return ExecutableEstimate(min(largest, top), largest, len(recent), top)


def _venue_limits(role: str, size: Decimal, snap: VenueSnapshot) -> list[Problem]:
    ins = snap.instrument
    name = f"{ins.venue} {ins.symbol}"
    out = []
    if not ins.on_lot(size):
        out.append(Problem("size", Reason.OFF_LOT, f"{size} is not a multiple of {name}'s size step {ins.lot}"))
    if size < ins.min_size:
        out.append(Problem("size", Reason.BELOW_MIN_SIZE, f"{size} is below {name}'s minimum size {ins.min_size}"))
    notional = size * snap.bbo.mid
    if notional < ins.min_notional:
        out.append(Problem("size", Reason.BELOW_MIN_NOTIONAL,
                           f"{size} is worth {notional:.2f} USD, below {name}'s minimum order value "
                           f"{ins.min_notional}"))
    if ins.max_order_size is not None and size > ins.max_order_size:
        out.append(Problem("size", Reason.SIZE_ABOVE_MAX,
                           f"{size} is above {name}'s maximum order size {ins.max_order_size}"))
    return out


def basis_problem(primary: VenueSnapshot, hedge: VenueSnapshot, max_basis_bps: Decimal) -> Problem | None:
    """Two venues quoting one asset differ by a few bps; a gap of a percent is a wrong feed, a
    wrong instrument or a replayed file beside a model on another price - never an edge."""
    basis = (primary.bbo.mid - hedge.bbo.mid) / hedge.bbo.mid * 10_000
    if abs(basis) <= max_basis_bps:
        return None
    return Problem("max_basis_bps", Reason.BASIS_TOO_WIDE,
                   f"{primary.instrument.venue} mid {primary.bbo.mid} vs {hedge.instrument.venue} mid {hedge.bbo.mid}: "
                   f"basis {basis:+.1f} bps is beyond the {max_basis_bps} bps tolerance")


def validate(size: Decimal, position_limit: Decimal, margin_fraction: Decimal,
             primary: VenueSnapshot, hedge: VenueSnapshot, max_basis_bps: Decimal | None = None) -> ExecutableEstimate:
    """Raise ``PreTradeError`` listing every problem; return the hedge venue's executable estimate."""
    problems = _venue_limits("primary", size, primary) + _venue_limits("hedge", size, hedge)
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
    for snap in (primary, hedge):
        need = position_limit * snap.bbo.mid * margin_fraction
        if snap.balance.available < need:
            problems.append(Problem(
                "max_position", Reason.INSUFFICIENT_MARGIN,
                f"{snap.instrument.venue} has {snap.balance.available:.2f} USD available; a position of "
                f"{position_limit} {snap.instrument.symbol} needs {need:.2f} at {margin_fraction:.0%} margin"))
    if problems:
        raise PreTradeError(problems)
    return est
