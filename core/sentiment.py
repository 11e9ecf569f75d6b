"""Market sentiment as one number per symbol: the product notes' combined score, pure and typed.

Each source gives a component in [-1, 1] (positive: conditions favour longs, 0: neutral):

- **fear & greed** (0..100, 50 neutral), normalised: ``(index - 50) / 50``;
- **long/short account ratio** r, inverted and capped at 2, then centred: ``min(1 / r, 2) - 1``
  (a crowd of longs, r > 1, is a contrarian short signal; r = 0.5 or fewer longs saturates at +1);
- **funding**, contrarian: longs paying (positive rate) is crowded long, so
  ``-clip(hourly_rate / FUNDING_SATURATION_HOURLY, -1, 1)``; venues settle on different intervals,
  so the hourly rate is compared (0.05 % per 8 h, five times the usual 0.01 %, saturates).

The combined score is the mean of the components that are *available* (fresh); a stale or
unreachable source contributes nothing to the mean and its component reads neutral (0) with the
reason beside it, never a silent zero. With no component available the score is neutral, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import fmean

NEUTRAL = 0.0
LS_CAP = 2.0
FUNDING_SATURATION_HOURLY = 0.0005 / 8  # 0.05 % per 8 h


def _clip(x: float, lo: float = -1.0, hi: float = 1.0) -> float:
    return max(lo, min(hi, x))


def fear_greed_component(index: float) -> float:
    return _clip((float(index) - 50.0) / 50.0)


def long_short_component(ratio: float) -> float:
    if ratio <= 0:
        raise ValueError(f"long/short ratio {ratio} is not positive")
    return min(1.0 / float(ratio), LS_CAP) - 1.0


def funding_component(hourly_rate: float) -> float:
    return -_clip(float(hourly_rate) / FUNDING_SATURATION_HOURLY)


@dataclass(frozen=True, slots=True)
class Component:
    """One source's reading: its raw value, its component score, when it was published and how old it is."""

    source: str  # fear_greed | long_short | funding:<venue>
    metric: str  # the raw value's name: index | ratio | hourly_rate
    symbol: str | None  # None: market-wide (fear & greed)
    raw: float | None  # None when the source gave nothing usable
    score: float  # in [-1, 1]; NEUTRAL when not available
    ts: float | None  # when the source published it (epoch s)
    age_s: float | None  # at the observation time
    available: bool  # fresh and usable; False: stale or unreachable, score is NEUTRAL
    detail: str  # where it came from, or why it is not available


@dataclass(frozen=True, slots=True)
class Combined:
    symbol: str | None
    score: float
    used: tuple[str, ...]  # "source[:symbol]" of the components in the mean
    missing: tuple[str, ...]  # those that were not available

    @property
    def detail(self) -> str:
        if not self.used:
            return "neutral: no source available (" + ", ".join(self.missing) + ")"
        text = f"mean of {len(self.used)} of {len(self.used) + len(self.missing)}: " + ", ".join(self.used)
        return text + (f"; not available: {', '.join(self.missing)}" if self.missing else "")


def _label(c: Component) -> str:
    return f"{c.source}:{c.symbol}" if c.symbol else c.source


def combine(components: list[Component], symbol: str | None) -> Combined:
    """The combined score for ``symbol`` (market-wide components count for every symbol); ``symbol``
    None combines every component, one mean per source kind first so many symbols do not outvote one index."""
    mine = [c for c in components if c.symbol is None or symbol is None or c.symbol == symbol]
    used = [c for c in mine if c.available]
    missing = tuple(_label(c) for c in mine if not c.available)
    if symbol is None:
        kinds: dict[str, list[float]] = {}
        for c in used:
            kinds.setdefault(c.source.split(":")[0], []).append(c.score)
        score = fmean(fmean(v) for v in kinds.values()) if kinds else NEUTRAL
    else:
        score = fmean(c.score for c in used) if used else NEUTRAL
    return Combined(symbol, score, tuple(_label(c) for c in used), missing)
