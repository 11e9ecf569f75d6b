"""Profit and volume modes, and the volume burn that spends banked profit.

Profit mode is the default. A burn (volume mode for farming volume) starts only when asked and
when the profit banked since the last reset reaches the threshold; it spends at most its budget
(fees and losses net of wins during the burn) and then returns to profit mode, resetting the
bank. A run started in volume mode (the notes' old quick-trade behaviour) stays there. Every
change is a ``ModeChange``, recorded by the strategy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ModeChange:
    ts: float
    mode_from: str
    mode_to: str
    reason: str
    banked_usd: Decimal
    burn_spent_usd: Decimal


class BurnRefused(ValueError):
    """A burn request the rules refuse; the message names the field."""


@dataclass(slots=True)
class Modes:
    mode: str
    burn_threshold_usd: Decimal
    burn_budget_usd: Decimal
    banked_usd: Decimal = ZERO  # realised net PnL since the last reset (profit mode trades)
    burn_spent_usd: Decimal = ZERO  # net cost of the current burn
    burning: bool = False
    changes: list[ModeChange] = field(default_factory=list)

    def _change(self, ts: float, to: str, reason: str) -> ModeChange:
        change = ModeChange(ts, self.mode, to, reason, self.banked_usd, self.burn_spent_usd)
        self.mode = to
        self.changes.append(change)
        return change

    def start(self, ts: float) -> ModeChange:
        """Record the starting mode (a run's first mode is a change from nothing)."""
        change = ModeChange(ts, "", self.mode, "start", self.banked_usd, ZERO)
        self.changes.append(change)
        return change

    def check_burn(self, banked_usd: Decimal | None = None) -> None:
        """Raise ``BurnRefused`` unless a burn may start now."""
        banked = self.banked_usd if banked_usd is None else banked_usd
        if self.burning or self.mode == "volume":
            raise BurnRefused("mode: already in volume mode")
        if banked < self.burn_threshold_usd:
            raise BurnRefused(f"burn_threshold_usd: banked profit {banked:.2f} is below the threshold "
                              f"{self.burn_threshold_usd}")
        if self.burn_budget_usd > banked:
            raise BurnRefused(f"burn_budget_usd: {self.burn_budget_usd} is above the banked profit {banked:.2f}")

    def request_burn(self, ts: float) -> ModeChange:
        """Start a volume burn (raises ``BurnRefused`` with the reason when not allowed)."""
        self.check_burn()
        self.burning = True
        self.burn_spent_usd = ZERO
        return self._change(ts, "volume", f"burn: banked {self.banked_usd:.2f} >= threshold "
                                          f"{self.burn_threshold_usd}, budget {self.burn_budget_usd}")

    @property
    def burn_left_usd(self) -> Decimal:
        return self.burn_budget_usd - self.burn_spent_usd

    def on_trade_closed(self, ts: float, net_pnl_usd: Decimal, trade_mode: str) -> ModeChange | None:
        """Book a closed trade's net PnL (after fees); ends a burn whose budget is spent."""
        if self.burning and trade_mode == "volume":
            self.burn_spent_usd -= net_pnl_usd
            if self.burn_spent_usd >= self.burn_budget_usd:
                return self.end_burn(ts, f"burn budget spent ({self.burn_spent_usd:.2f} of {self.burn_budget_usd})")
            return None
        if trade_mode == "profit":
            self.banked_usd += net_pnl_usd
        return None

    def end_burn(self, ts: float, reason: str) -> ModeChange:
        """Back to profit mode; the bank restarts from what the burn left of it."""
        self.burning = False
        self.banked_usd = max(ZERO, self.banked_usd - self.burn_spent_usd)
        change = self._change(ts, "profit", reason)
        self.burn_spent_usd = ZERO
        return change

    def may_open(self, worst_trade_usd: Decimal) -> bool:
        """In a burn, open only while what is left of the budget covers the worst trade the rules
        allow: so a burn spends at most its budget."""
        return not self.burning or self.burn_left_usd >= worst_trade_usd
