"""Small statistics the shared insights need: Wilson score bounds and one-sided z critical values."""

from __future__ import annotations

from math import sqrt
from statistics import NormalDist


def z_two_sided(level: float) -> float:
    """z of a two-sided interval at ``level`` (0.95 → 1.96)."""
    return NormalDist().inv_cdf(1 - (1 - level) / 2)


def z_one_sided(level: float) -> float:
    """z of a one-sided test at ``level`` (0.95 → 1.645)."""
    return NormalDist().inv_cdf(level)


def wilson(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion: honest at small n and at 0 % or 100 %, unlike p ± z·se."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError(f"successes {successes} outside 0..{n}")
    z = z_two_sided(level)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi
