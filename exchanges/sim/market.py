"""One venue's L2 book for one asset, with our resting orders queued inside it.

Hot path of the simulator: prices are integer ticks and sizes integer lots. "Others" is the
displayed liquidity of everyone else (a dict per side, price -> lots); our resting orders sit in
FIFO lists per price with ``ahead`` = others' lots queued before them. A market source (the
seeded model in ``flow.py`` or a replay in ``replay.py``) moves the book and sends trades;
``SimMarket`` applies them and counts every level change and trade print as one book event.

Matching rules of ``SimMarket``:
- queue position: an order joining a level has the level's displayed size ahead of it; trades
  at that price consume what is ahead first, cancellations ahead shrink it;
- per-level liquidity consumption: our taker orders eat displayed lots, so one displayed lot
  cannot fill two orders;
- trade-through: when the market moves through a resting order it fills at its own price.

``SimMarket`` is written once, in ``hotpath.py`` (with the model that drives it): plain Python with
Cython's pure-Python-mode types, run as it is by the pure-Python engine and compiled from the same
file into the default engine (``engine.py``, ``build_core.py``).
"""

from exchanges.sim.hotpath import MakerFill, Print, SimMarket

__all__ = ["MakerFill", "Print", "SimMarket"]
