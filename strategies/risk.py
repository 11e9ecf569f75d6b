"""The risk layer shared by bots: trading state, daily loss from real fills, reconciliation.

Pure: no I/O. Every denial and state change becomes a ``RiskEvent`` for ``risk_events``.
"""

from __future__ import annotations

from decimal import Decimal

from core.reasons import Reason
from strategies.guard import DailyPnl, Reconciler, RiskLog, TradingState, TradingStateMachine, utc_day

__all__ = ["DailyPnl", "Reconciler", "RiskLog", "TradingState", "TradingStateMachine", "gate", "utc_day"]


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
