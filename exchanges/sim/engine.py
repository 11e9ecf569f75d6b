"""Which simulator engine runs: the compiled one or the pure-Python one. Both run the same source.

The simulator's hot path - ``SimMarket``, ``FairValue``, ``ModelSource``, ``Arrivals``, ``Sizes``
(explained in ``market.py``, ``flow.py`` and ``models.py``) - is written once, in ``hotpath.py``:
plain Python carrying Cython's pure-Python-mode types (``import cython``; Python ignores them). The
pure-Python engine is that module, ``exchanges.sim.hotpath``, as Python runs it. The compiled
engine is the same file compiled with Cython at install (``build_core.py``) into
``exchanges.sim._hotpath``, used only when built from the current source (the module records the
sha256 of ``hotpath.py`` and ``_hotpath.pxd``). For a seed both give the same event sequence, bit for
bit (``tests/test_sim_core.py``); the compiled one is several times faster engine-only
(``bench/sim_throughput.py``; with a bot on the streams the Python layers around it dominate).

``SimWorld(engine=...)`` picks one: ``"compiled"``, ``"python"``, or None (the default: compiled
when built from the current source, else pure Python). ``PERPFLOW_SIM_ENGINE=python`` makes pure
Python the default.
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
_SOURCES = (Path(__file__).with_name("hotpath.py"), Path(__file__).with_name("_hotpath.pxd"))


def source_sha() -> str:
    """sha256 of the compiled engine's source, as ``build_core.py`` records it in the module."""
    h = hashlib.sha256()
    for f in _SOURCES:
        h.update(f.read_bytes())
    return h.hexdigest()


def _load_core() -> tuple[ModuleType | None, str]:
    """The compiled module, or None and why not."""
    try:
        from exchanges.sim import _hotpath
    except ImportError as exc:
        return None, f"not built ({exc}); `make install` builds it"
    if all(f.exists() for f in _SOURCES) and source_sha() != _hotpath.SOURCE_SHA:
        log.warning("the simulator's compiled core is older than exchanges/sim/hotpath.py: the pure-Python "
                    "engine runs; `make install` rebuilds it")
        return None, "built from another hotpath.py; `make install` rebuilds it"
    return _hotpath, ""


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
        from exchanges.sim import hotpath
        return hotpath.SimMarket, hotpath.FairValue, hotpath.ModelSource
    raise ConfigError("engine", f"{engine!r} is not an engine; allowed: {', '.join(ENGINES)}")
