"""The risk layer shared by bots: trading state, daily loss from real fills, reconciliation.

Pure: no I/O. Every denial and state change becomes a ``RiskEvent`` for ``risk_events``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from core.reasons import Reason
from core.records import RiskEvent
from core.types import ZERO, Fill


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"  # may add risk
    REDUCING = "REDUCING"  # only exposure-reducing orders
    HALTED = "HALTED"  # cancels only


def utc_day(ts: float) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


class RiskLog:
    """Collects risk events with a per-run sequence; the runner drains and records them."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.pending: list[RiskEvent] = []

    def add(self, ts: float, check: str, reason: Reason, detail: str = "", *, state_from: str | None = None,
            state_to: str | None = None, **data: Any) -> RiskEvent:
        ev = RiskEvent(self.run_id, ts, check, reason, state_from, state_to, detail,
                       {k: str(v) if isinstance(v, Decimal) else v for k, v in data.items()})
        self.pending.append(ev)
        return ev

    def drain(self) -> list[RiskEvent]:
        out, self.pending = self.pending, []
        return out


class TradingStateMachine:
    """ACTIVE -> REDUCING -> HALTED; back to ACTIVE only when the reason was recoverable."""

    RECOVERABLE = frozenset({Reason.POSITION_UNKNOWN, Reason.MIN_SPREAD})

    def __init__(self, log: RiskLog) -> None:
        self.log = log
        self.state = TradingState.ACTIVE
        self.reason: Reason | None = None

    def move(self, to: TradingState, reason: Reason, ts: float, detail: str = "") -> bool:
        if to == self.state:
            return False
        if self.state is TradingState.HALTED:
            return False  # a halt is final for the run
        if to is TradingState.ACTIVE and self.reason not in self.RECOVERABLE:
            return False
        self.log.add(ts, "state", reason, detail, state_from=self.state, state_to=to)
        self.state, self.reason = to, reason
        return True

    @property
    def may_add_risk(self) -> bool:
        return self.state is TradingState.ACTIVE

    @property
    def may_reduce(self) -> bool:
        return self.state is not TradingState.HALTED


class DailyPnl:
    """Mark-to-market PnL of the current UTC day from fills and fees.

    pnl = cash flows of today's fills (minus fees) + value of positions now - value of the
    positions held at the day's start. Reset at UTC midnight.
    """

    def __init__(self, now: float) -> None:
        self.day = utc_day(now)
        self.cash = ZERO
        self.positions: dict[str, Decimal] = {}
        self.start_positions: dict[str, Decimal] = {}
        self.start_marks: dict[str, Decimal] = {}

    def on_fill(self, fill: Fill) -> None:
        self.cash -= fill.signed_size * fill.price + fill.fee
        self.positions[fill.venue] = self.positions.get(fill.venue, ZERO) + fill.signed_size

    def adopt(self, venue: str, position: Decimal, mark: Decimal) -> None:
        """Positions that existed before the run (a restart): count from their current value."""
        self.positions[venue] = position
        self.start_positions[venue] = position
        self.start_marks[venue] = mark

    def pnl(self, marks: Mapping[str, Decimal]) -> Decimal:
        now_value = sum((p * marks.get(v, ZERO) for v, p in self.positions.items()), ZERO)
        start_value = sum((p * self.start_marks.get(v, ZERO) for v, p in self.start_positions.items()), ZERO)
        return self.cash + now_value - start_value

    def roll(self, now: float, marks: Mapping[str, Decimal]) -> bool:
        """Start a new day at UTC midnight. Returns True when it did."""
        day = utc_day(now)
        if day == self.day:
            return False
        self.day = day
        self.cash = ZERO
        self.start_positions = dict(self.positions)
        self.start_marks = dict(marks)
        return True


class Reconciler:
    """Compares venue position reads with the bot's ledger, debounced.

    One glitchy read never stops a bot: a mismatch counts only when the same venue value is read
    ``confirmations`` times in a row. A read that agrees with the ledger clears it.
    """

    def __init__(self, tolerance: Decimal, confirmations: int) -> None:
        self.tolerance = tolerance
        self.confirmations = confirmations
        self._streak: dict[str, tuple[Decimal, int]] = {}

    def observe(self, venue: str, ledger: Decimal, read: Decimal) -> str:
        """Returns ``ok``, ``suspect`` (unconfirmed mismatch) or ``confirmed``."""
        if abs(read - ledger) <= self.tolerance:
            self._streak.pop(venue, None)
            return "ok"
        last, n = self._streak.get(venue, (None, 0))
        n = n + 1 if last is not None and abs(last - read) <= self.tolerance else 1
        self._streak[venue] = (read, n)
        return "confirmed" if n >= self.confirmations else "suspect"

    def reset(self) -> None:
        self._streak.clear()


def gate(state: TradingState, role: str, side_sign: int, size: Decimal, reduce_only: bool,
         position: Decimal, net: Decimal, position_limit: Decimal) -> tuple[Reason, str] | None:
    """The last check before an order leaves: returns (reason, detail) to deny it, else None.

    HALTED sends nothing. REDUCING sends only what reduces the venue position or the net delta.
    A primary order may not take the position beyond the limit.
    """
    delta = side_sign * size
    reduces_position = abs(position + delta) < abs(position)
    reduces_net = abs(net + delta) < abs(net)
    if state is TradingState.HALTED:
        return Reason.STATE_HALTED, "trading is halted: cancels only"
    if state is TradingState.REDUCING and not (reduce_only or reduces_position or reduces_net):
        return Reason.STATE_REDUCING, f"reducing only: a {role} order of {delta:+} would add exposure"
    if role == "primary" and not reduces_position and abs(position + delta) > position_limit:
        return Reason.MAX_POSITION, f"{role} position would reach {position + delta} (limit {position_limit})"
    return None
