"""Which simulator engine runs: the compiled core or the pure-Python reference.

The reference is ``market.py`` (``SimMarket``), ``flow.py`` (``FairValue``, ``ModelSource``) and
``models.py`` (``Arrivals``, ``Sizes``): the readable source of truth. ``_core.pyx`` is the same
classes compiled with Cython (built at install by ``build_core.py``); for a seed it gives the
same event sequence, bit for bit (``tests/test_sim_core.py``), 4-5x faster engine-only
(``bench/sim_throughput.py``; with a bot on the streams the Python layers around it dominate).

``SimWorld(engine=...)`` picks one: ``"compiled"``, ``"python"``, or None (the default: compiled
when built from the current ``_core.pyx``, else the reference). ``PERPFLOW_SIM_ENGINE=python``
makes the reference the default.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from core.errors import ConfigError

ENGINES = ("compiled", "python")
log = logging.getLogger(__name__)
_PYX = Path(__file__).with_name("_core.pyx")


def _load_core() -> tuple[ModuleType | None, str]:
    """The compiled module, or None and why not."""
    try:
        from exchanges.sim import _core
    except ImportError as exc:
        return None, f"not built ({exc}); `make install` builds it"
    if _PYX.exists() and hashlib.sha256(_PYX.read_bytes()).hexdigest() != _core.SOURCE_SHA:
        log.warning("the simulator's compiled core is older than exchanges/sim/_core.pyx: the pure-Python "
                    "engine runs; `make install` rebuilds it")
        return None, "built from another _core.pyx; `make install` rebuilds it"
    return _core, ""


CORE, CORE_MISSING = _load_core()


def default_engine() -> str:
    if os.environ.get("PERPFLOW_SIM_ENGINE", "").strip().lower() == "python" or CORE is None:
        return "python"
    return "compiled"


def classes(engine: str | None = None) -> tuple[Any, Any, Any]:
    """(SimMarket, FairValue, ModelSource) of ``engine`` (None: the default)."""
    engine = engine or default_engine()
    if engine == "compiled":
        if CORE is None:
            raise ConfigError("engine", f"the compiled simulator core is {CORE_MISSING}")
        return CORE.SimMarket, CORE.FairValue, CORE.ModelSource
    if engine == "python":
        from exchanges.sim.flow import FairValue, ModelSource
        from exchanges.sim.market import SimMarket
        return SimMarket, FairValue, ModelSource
    raise ConfigError("engine", f"{engine!r} is not an engine; allowed: {', '.join(ENGINES)}")
