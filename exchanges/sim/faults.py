"""Fault injection, switchable per simulated venue at any time (tests flip them mid-run)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(slots=True)
class Faults:
    reject_prob: float = 0.0  # an order is refused with reason REJECTED
    timeout_prob: float = 0.0  # a request gets no answer within request_timeout_s
    timeout_after_accept_prob: float = 0.5  # of order timeouts: the order was placed anyway
    request_timeout_s: float = 2.0
    stream_drop_per_hour: float = 0.0  # random disconnects of every stream of the venue
    stale_until: float = 0.0  # market data frozen (REST and streams) until this epoch time
    wrong_position_prob: float = 0.0  # a REST position read returns a wrong size
    wrong_position_next: int = 0  # the next N position reads return a wrong size (one-shot glitches)
    wrong_position_offset: Decimal | None = None  # wrong reads are off by this much (default: random)
    exec_size_cap: Decimal | None = None  # taker orders above this find nothing executable

    def stale(self, now: float) -> bool:
        return now < self.stale_until
