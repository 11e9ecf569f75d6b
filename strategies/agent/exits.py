"""Exit rules, in code: the LLM opens positions, rules close them.

The notes' profit-mode table: stop loss 4%, take profit 10%, max hold 48 h, min hold 60 min (the
stop loss applies from the first second), and a loser is cut after 4 h when its calibrated
confidence is below 0.7. A position keeps the table of the mode it was opened in. Each exit
names the rule that fired; the warehouse counts exits by rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from strategies.agent.params import ExitRules


class ExitRule(StrEnum):
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    MAX_HOLD = "max_hold"
    CUT_LOSER = "cut_loser"
    ADVISER_CLOSE = "adviser_close"  # the LLM chose close, allowed only after the min hold
    RUN_END = "run_end"  # the run finished or was stopped with the position open
    RISK = "risk"  # the guard flattened (daily loss, mismatch)


@dataclass(frozen=True, slots=True)
class OpenTrade:
    """An open position of the agent, as the exit rules see it."""

    symbol: str
    direction: str  # LONG | SHORT
    entry_price: Decimal
    opened_ts: float
    confidence: float  # calibrated, at entry
    rules: ExitRules

    @property
    def sign(self) -> int:
        return 1 if self.direction == "LONG" else -1

    def pnl_pct(self, price: Decimal) -> float:
        """Unrealised move in percent of entry, positive when in our favour (before fees)."""
        return float((price / self.entry_price - 1) * 100 * self.sign)


def exit_due(trade: OpenTrade, exit_price: Decimal, now: float) -> ExitRule | None:
    """The rule that closes ``trade`` now, if any; ``exit_price`` is what closing would get
    (the bid for a long, the ask for a short)."""
    r = trade.rules
    move = trade.pnl_pct(exit_price)
    held = now - trade.opened_ts
    if move <= -r.stop_loss_pct:
        return ExitRule.STOP_LOSS
    if held < r.min_hold_s:
        return None
    if move >= r.take_profit_pct:
        return ExitRule.TAKE_PROFIT
    if held >= r.max_hold_s:
        return ExitRule.MAX_HOLD
    if r.cut_loser_after_s is not None and held >= r.cut_loser_after_s and move < 0 \
            and trade.confidence < r.cut_loser_confidence:
        return ExitRule.CUT_LOSER
    return None
