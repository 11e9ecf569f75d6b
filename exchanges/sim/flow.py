"""The seeded market model: one fair value per asset, and the order flow of each venue's book.

Time is event-driven: each venue's book moves only when something happens to it - a maker
re-pricing to the fair value, a size update, a taker's print - and the engine jumps from one
event to the next instead of stepping through quiet time.

- ``FairValue``: the asset's true price on a fine grid (``GRID_S``), drawn in blocks with numpy
  (a random walk at the asset's volatility, shaped by the world's ``Regime``: drift, mean
  reversion, jumps). A venue reads it at any instant, or ``lag`` seconds ago (lead/lag).
- ``ModelSource``: one venue's book. Makers re-price at ``quote_rate_per_s`` (and soon after a
  taker empties the best level) to the lagged fair value with the venue's basis and
  mean-reverting noise; the spread is a whole number of ticks (tick-constrained books sit at one
  tick most of the time). Between re-pricings the best price holds while sizes churn. Takers
  arrive by the profile's flow model (Hawkes: bursty), keep their side with
  ``sign_persistence``, lean toward where the fair value is going, draw sizes from the size
  model (heavy-tailed), and pick off a quote the fair value has moved through before makers
  re-price it: adverse selection for resting orders comes out of the model.

``FairValue`` and ``ModelSource`` (with ``Arrivals`` and ``Sizes``, ``models.py``) are written once,
in ``hotpath.py`` next to the book they drive: plain Python with Cython's pure-Python-mode types,
run as it is by the pure-Python engine and compiled from the same file into the default engine
(``engine.py``, ``build_core.py``); a seed gives the same event sequence either way
(``tests/test_sim_core.py``).
"""

from __future__ import annotations

import hashlib
import math

from exchanges.sim.hotpath import BLOCK, GRID_S, FairValue, ModelSource

__all__ = ["BLOCK", "GRID_S", "FairValue", "ModelSource", "StaticSource", "seed_int"]
INF = math.inf


def seed_int(*parts: object) -> int:
    """A stable 64-bit seed from named parts (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "big")


class StaticSource:
    """A market that holds still: its book changes only when a scenario or test changes it."""

    next_t = INF
    next_visible_t = INF

    def advance(self, t: float, hook: object = None) -> None:
        return None
