"""Pre-trade checks every strategy can use: refuse a run before its first order if a venue cannot carry it.

A strategy's ``preflight`` composes these (the hedge bot's is ``strategies.hedge.preflight``) and
raises ``PreTradeError`` listing every problem, each naming the parameter to change. Displayed
depth lies; what a venue has really executed recently does not, so ``executable_size`` estimates
what a taker can expect to execute at once from recent trades, bounded by the top of book.
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


def venue_limits(size: Decimal, snap: VenueSnapshot) -> list[Problem]:
    """Every way ``size`` breaks the venue's order rules (step, minimums, maximum)."""
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




def margin_problems(position_limit: Decimal, margin_fraction: Decimal, snaps: list[VenueSnapshot]) -> list[Problem]:
    """Venues whose free margin cannot carry a position of ``position_limit``."""
    out = []
    for snap in snaps:
        need = position_limit * snap.bbo.mid * margin_fraction
        if snap.balance.available < need:
            out.append(Problem(
                "max_position", Reason.INSUFFICIENT_MARGIN,
                f"{snap.instrument.venue} has {snap.balance.available:.2f} USD available; a position of "
                f"{position_limit} {snap.instrument.symbol} needs {need:.2f} at {margin_fraction:.0%} margin"))
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
