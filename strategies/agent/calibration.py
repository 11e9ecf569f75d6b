"""Confidence calibration: what a stated confidence has really been worth.

The product notes measured an LLM that said 0.8 and was right 44% of the time. So no threshold
ever reads the model's number directly: it reads the realised win rate of the model's confidence
bucket (from the shared insights), shrunk toward the stated value when the bucket has few
trades (a Beta prior worth ``prior_weight`` trades), so one lucky trade does not move it much.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bucket:
    """Confidence in [lo, hi) (the last bucket includes 1.0): trades taken and trades won."""

    lo: float
    hi: float
    trades: int
    wins: int

    def holds(self, confidence: float) -> bool:
        return self.lo <= confidence < self.hi or confidence == self.hi == 1.0


@dataclass(frozen=True, slots=True)
class Calibration:
    buckets: tuple[Bucket, ...] = ()
    prior_weight: float = 10.0

    @classmethod
    def of(cls, buckets: Iterable[tuple[float, float, int, int]], prior_weight: float = 10.0) -> Calibration:
        return cls(tuple(Bucket(lo, hi, n, w) for lo, hi, n, w in buckets), prior_weight)

    def apply(self, confidence: float) -> float:
        """The calibrated confidence (0-1) of a stated ``confidence``."""
        stated = min(1.0, max(0.0, confidence))
        for b in self.buckets:
            if b.holds(stated):
                return (b.wins + self.prior_weight * stated) / (b.trades + self.prior_weight)
        return stated

    def as_rows(self) -> list[dict[str, float | int]]:
        """The table as rows (summary artifacts)."""
        return [{"lo": b.lo, "hi": b.hi, "trades": b.trades, "wins": b.wins,
                 "realised": (b.wins / b.trades) if b.trades else float("nan")} for b in self.buckets]


BUCKET_EDGES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def bucket_of(confidence: float, edges: tuple[float, ...] = BUCKET_EDGES) -> tuple[float, float]:
    """The [lo, hi) bucket a stated confidence falls in (the warehouse groups trades by it)."""
    c = min(1.0, max(0.0, confidence))
    for lo, hi in itertools.pairwise(edges):
        if c < hi:
            return lo, hi
    return edges[-2], edges[-1]
