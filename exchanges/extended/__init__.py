"""Extended (X10): an LLM agents' venue. Simulator profile only so far (no live adapter)."""

from __future__ import annotations

from exchanges.extended.settings import ExtendedSettings
from exchanges.spec import VenueSpec

SPEC = VenueSpec(name="extended", label="Extended", settings=ExtendedSettings, symbol_format="{base}-USD",
                 roles=frozenset({"agent"}),
                 account_label=lambda s: s.vault_id)
