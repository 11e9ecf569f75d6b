"""The guard: the risk layer every strategy trades through.

Pure: no I/O. It holds the trading state (ACTIVE -> REDUCING -> HALTED), the day's PnL from real
fills and fees (reset at UTC midnight), debounced reconciliation verdicts, and the gate every
order passes before it leaves. The gate knows exposure and the strategy's limits, never what an
order is for: an order that reduces the net exposure is a hedge whatever its tag. Every denial
and state change becomes a ``RiskEvent`` for ``risk_events``.
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
from strategies.base import Limits


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"  # may add risk
    REDUCING = "REDUCING"  # only exposure-reducing orders
    HALTED = "HALTED"  # cancels only


class Verdict(StrEnum):
    OK = "ok"
    SUSPECT = "suspect"  # a mismatch not (yet) confirmed by another read
    CONFIRMED = "confirmed"


def utc_day(ts: float) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


class RiskLog:
    """Collects risk events; the kernel drains them into records."""

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
        self._inside = self._bounds(self.day)
        self.cash = ZERO
        self.positions: dict[str, Decimal] = {}
        self.start_positions: dict[str, Decimal] = {}
        self.start_marks: dict[str, Decimal] = {}
        self._start_value: Decimal | None = None  # of start_positions at start_marks (the loss check asks often)

    def on_fill(self, fill: Fill) -> None:
        self.cash -= fill.signed_size * fill.price + fill.fee
        self.positions[fill.venue] = self.positions.get(fill.venue, ZERO) + fill.signed_size

    def adopt(self, venue: str, position: Decimal, mark: Decimal) -> None:
        """Positions that existed before the run (a restart): count from their current value."""
        self.positions[venue] = position
        self.start_positions[venue] = position
        self.start_marks[venue] = mark
        self._start_value = None

    def pnl(self, marks: Mapping[str, Decimal]) -> Decimal:
        now_value = sum((p * marks.get(v, ZERO) for v, p in self.positions.items()), ZERO)
        if self._start_value is None:
            self._start_value = sum((p * self.start_marks.get(v, ZERO) for v, p in self.start_positions.items()),
                                    ZERO)
        return self.cash + now_value - self._start_value

    @staticmethod
    def _bounds(day: date) -> tuple[float, float]:
        """Epoch seconds safely inside ``day`` (a second from either midnight, so timestamp rounding
        cannot put one of them in another day)."""
        start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        return start + 1.0, start + 86_399.0

    def may_roll(self, now: float) -> bool:
        """False when ``now`` is surely today (no date arithmetic: a bot asks every tick)."""
        lo, hi = self._inside
        return not lo <= now < hi

    def roll(self, now: float, marks: Mapping[str, Decimal]) -> bool:
        """Start a new day at UTC midnight. Returns True when it did."""
        if not self.may_roll(now):
            return False
        day = utc_day(now)
        if day == self.day:
            return False
        self.day = day
        self._inside = self._bounds(day)
        self.cash = ZERO
        self.start_positions = dict(self.positions)
        self.start_marks = dict(marks)
        self._start_value = None
        return True


class Reconciler:
    """Compares venue position reads with the ledger, debounced.

    One glitchy read never stops a bot: a mismatch counts only when the same venue value is read
    ``confirmations`` times in a row. A read that agrees with the ledger clears it.
    """

    def __init__(self, tolerance: Decimal, confirmations: int) -> None:
        self.tolerance = tolerance
        self.confirmations = confirmations
        self._streak: dict[str, tuple[Decimal, int]] = {}

    def observe(self, venue: str, ledger: Decimal, read: Decimal) -> Verdict:
        if abs(read - ledger) <= self.tolerance:
            self._streak.pop(venue, None)
            return Verdict.OK
        last, n = self._streak.get(venue, (None, 0))
        n = n + 1 if last is not None and abs(last - read) <= self.tolerance else 1
        self._streak[venue] = (read, n)
        return Verdict.CONFIRMED if n >= self.confirmations else Verdict.SUSPECT

    def reset(self) -> None:
        self._streak.clear()


def gate(state: TradingState, side_sign: int, size: Decimal, reduce_only: bool, position: Decimal, net: Decimal,
         limits: Limits, open_orders: int = 0, label: str = "the",
         pending: Decimal = ZERO) -> tuple[Reason, str] | None:
    """The last check before an order leaves: returns (reason, detail) to deny it, else None.

    HALTED sends nothing. REDUCING sends only what reduces the venue position or the net exposure.
    An order may not take a venue's position beyond ``max_position`` - counting ``pending``, what
    the venue's other open orders on the same side could still fill - unless it reduces the net
    exposure (a hedge); nor exceed the order size or open-order limits.
    """
    delta = side_sign * size
    reduces_position = abs(position + delta) < abs(position)
    reduces_net = abs(net + delta) < abs(net)
    if state is TradingState.HALTED:
        return Reason.STATE_HALTED, "trading is halted: cancels only"
    if state is TradingState.REDUCING and not (reduce_only or reduces_position or reduces_net):
        return Reason.STATE_REDUCING, f"reducing only: {label} order of {delta:+} would add exposure"
    reach = position + delta + side_sign * pending
    if (limits.max_position is not None and not reduces_position and not reduces_net
            and abs(reach) > limits.max_position):
        with_open = f" with {pending} open" if pending else ""
        return Reason.MAX_POSITION, f"{label} position would reach {reach}{with_open} (limit {limits.max_position})"
    if limits.max_order_size is not None and size > limits.max_order_size:
        return Reason.SIZE_ABOVE_MAX, f"{label} order of {size} is above the strategy's limit {limits.max_order_size}"
    if limits.max_open_orders is not None and open_orders >= limits.max_open_orders and not reduce_only:
        return Reason.MAX_POSITION, f"{open_orders} orders already open (limit {limits.max_open_orders})"
    return None


class Guard:
    """Trading state, daily loss, reconciliation and the gate, for one run."""

    def __init__(self, run_id: str, limits: Limits, now: float) -> None:
        self.limits = limits
        self.log = RiskLog(run_id)
        self.sm = TradingStateMachine(self.log)
        self.daily = DailyPnl(now)
        self.reconciler = Reconciler(limits.tolerance, limits.reconcile_confirmations)

    @property
    def state(self) -> TradingState:
        return self.sm.state

    @property
    def reason(self) -> Reason | None:
        return self.sm.reason

    @property
    def may_add_risk(self) -> bool:
        return self.sm.may_add_risk

    @property
    def may_reduce(self) -> bool:
        return self.sm.may_reduce

    def move(self, to: TradingState, reason: Reason, ts: float, detail: str = "") -> bool:
        return self.sm.move(to, reason, ts, detail)

    def note(self, ts: float, check: str, reason: Reason, detail: str = "", **data: Any) -> RiskEvent:
        return self.log.add(ts, check, reason, detail, **data)

    def drain(self) -> list[RiskEvent]:
        return self.log.drain()

    def check(self, side_sign: int, size: Decimal, reduce_only: bool, position: Decimal, net: Decimal,
              open_orders: int = 0, label: str = "the", pending: Decimal = ZERO) -> tuple[Reason, str] | None:
        return gate(self.sm.state, side_sign, size, reduce_only, position, net, self.limits, open_orders, label,
                    pending)

    def loss_breach(self, marks: Mapping[str, Decimal]) -> Decimal | None:
        """Today's PnL when it breaches the daily loss limit, else None."""
        if self.limits.daily_loss is None:
            return None
        pnl = self.daily.pnl(marks)
        return pnl if pnl < -self.limits.daily_loss else None
