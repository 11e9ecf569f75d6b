"""The venue registry: every venue package under ``exchanges/``, found by looking, not by name.

A venue package is a folder ``exchanges/<venue>/`` with a ``settings.py`` whose ``__init__``
exports ``SPEC`` (an ``exchanges.spec.VenueSpec``); other packages (the simulator, the fakes
launcher) are not imported. Connecting, settings, the fakes launcher, the CLI and the hedge bot's
venue choices iterate this registry, so adding a venue is adding a folder.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from pathlib import Path

import exchanges
from core.errors import ConfigError
from exchanges.spec import VenueSpec


@lru_cache(maxsize=1)
def _specs() -> dict[str, VenueSpec]:
    found: dict[str, VenueSpec] = {}
    for info in sorted(pkgutil.iter_modules(exchanges.__path__), key=lambda i: i.name):
        if not info.ispkg or not any((Path(p) / info.name / "settings.py").is_file() for p in exchanges.__path__):
            continue
        module = importlib.import_module(f"exchanges.{info.name}")
        spec = getattr(module, "SPEC", None)
        if isinstance(spec, VenueSpec):
            found[spec.name] = spec
    return found


def specs() -> list[VenueSpec]:
    """Every venue, in name order."""
    return list(_specs().values())


def names(*, role: str | None = None, live: bool = False, fake: bool = False) -> tuple[str, ...]:
    """Venue names, optionally only those with a hedge-bot ``role``, a live adapter, or a protocol fake."""
    return tuple(s.name for s in specs() if (role is None or role in s.roles) and (not live or s.adapter)
                 and (not fake or s.fake))


def default(role: str) -> str:
    """The venue a run uses for ``role`` when it names none (the venue whose spec says so)."""
    found = [s.name for s in specs() if role in s.defaults]
    if len(found) != 1:
        raise ConfigError("venue", f"no single default venue for role {role!r} (found {found or 'none'})")
    return found[0]


def get(name: str, *, field: str = "venue", live: bool = False, fake: bool = False) -> VenueSpec:
    """The spec of ``name``; an unknown name (or one without the asked-for part) is a ``ConfigError``
    on ``field`` listing the allowed names."""
    spec = _specs().get(name.lower()) if isinstance(name, str) else None
    if spec is None or (live and spec.adapter is None) or (fake and spec.fake is None):
        allowed = names(live=live, fake=fake)
        what = "a venue with a live adapter" if live else "a venue with a protocol fake" if fake else "a venue"
        raise ConfigError(field, f"{name!r} is not {what}; allowed: {', '.join(allowed) or 'none'}")
    return spec
