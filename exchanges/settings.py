"""Settings with every venue's section: ``core.settings.Settings`` plus one field per registered venue.

Each venue package declares its own settings model (``exchanges/<venue>/settings.py``); this module
adds them to the core settings as fields named after the venue, so ``PERPFLOW_<VENUE>__<FIELD>``
(environment or ``.env``) fills them and the core stays ignorant of venues.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field, ValidationError, create_model

from core.errors import ConfigError
from core.settings import Settings as CoreSettings
from core.settings import settings_error
from exchanges import registry


def _with_venues() -> type[CoreSettings]:
    fields: dict[str, Any] = {s.name: (s.settings, Field(default_factory=s.settings)) for s in registry.specs()}
    return create_model("Settings", __base__=CoreSettings, __module__=__name__,  # type: ignore[call-overload]
                        __doc__="perpflow's settings with every venue's section.", **fields)


Settings: type[CoreSettings] = _with_venues()


@lru_cache(maxsize=1)
def get_settings() -> CoreSettings:
    """Every section's settings; a malformed one raises ``ConfigError`` naming its variable."""
    try:
        return Settings()
    except ValidationError as exc:
        raise settings_error(exc) from None


def venue_settings(settings: CoreSettings | None, venue: str) -> BaseModel:
    """``venue``'s section of ``settings``; read from the environment when ``settings`` has none
    (a plain ``core.settings.Settings``)."""
    section = getattr(settings, venue, None)
    if isinstance(section, BaseModel):
        return section
    try:
        return getattr(Settings(), venue)  # type: ignore[no-any-return]
    except ValidationError as exc:  # a malformed setting: named, never a traceback
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"])
        raise ConfigError(name, str(first["msg"]).removeprefix("Value error, ")) from None
