"""The ledger: a run's positions on any number of venues, and its money from real fills.

Two kinds of truth, kept apart on purpose:
- positions move with exposure as soon as the venue shows it (an order update or a fill event,
  whichever first), because a strategy must react to exposure before the fill event arrives;
- cash, fees and volume move only with fill events (deduplicated by the order table), because
  prices and fees are the fills' and nothing else's.
Net exposure is tracked over time (every change is sampled) for the run's max and time-weighted
|net| figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from core.types import ZERO, Fill


class Ledger:
    def __init__(self, venues: Iterable[str]) -> None:
        self.venues = tuple(venues)
        self.pos: dict[str, Decimal] = dict.fromkeys(self.venues, ZERO)
        self.cash: dict[str, Decimal] = dict.fromkeys(self.venues, ZERO)  # -signed notional - fee, per fill
        self.fees: dict[str, Decimal] = dict.fromkeys(self.venues, ZERO)
        self.volume: dict[str, Decimal] = dict.fromkeys(self.venues, ZERO)  # traded notional
        self.max_abs_net = ZERO
        self.net_samples: list[tuple[float, Decimal]] = []

    @property
    def net(self) -> Decimal:
        return sum(self.pos.values(), ZERO)

    def position(self, venue: str) -> Decimal:
        return self.pos.get(venue, ZERO)

    def positions(self) -> dict[str, Decimal]:
        return dict(self.pos)

    def move(self, venue: str, delta: Decimal, now: float) -> None:
        """Exposure shown on ``venue`` (signed: a buy is positive). Unknown venues are ignored."""
        if venue not in self.pos:
            return
        self.pos[venue] += delta
        self._sample(now)

    def reset(self, positions: Mapping[str, Decimal], now: float) -> None:
        """Positions read (and confirmed) from the venues: a start, or after a flatten."""
        for venue, size in positions.items():
            if venue in self.pos:
                self.pos[venue] = size
        self._sample(now)

    def account(self, fill: Fill) -> None:
        """Money of one fill event (the caller passes each trade once)."""
        if fill.venue not in self.cash:
            return
        self.cash[fill.venue] -= fill.signed_size * fill.price + fill.fee
        self.fees[fill.venue] += fill.fee
        self.volume[fill.venue] += fill.notional

    def pnl(self, marks: Mapping[str, Decimal], positions: Mapping[str, Decimal] | None = None) -> Decimal:
        """Net PnL of the run's fills: cash plus what the positions are worth at ``marks``."""
        held = self.pos if positions is None else positions
        return sum(self.cash.values(), ZERO) + sum((p * marks.get(v, ZERO) for v, p in held.items()), ZERO)

    def _sample(self, now: float) -> None:
        net = self.net
        if abs(net) > self.max_abs_net:
            self.max_abs_net = abs(net)
        self.net_samples.append((now, net))
