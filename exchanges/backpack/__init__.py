"""Backpack: the DN alternate bot's primary venue. Simulator profile only so far (no live adapter)."""

from __future__ import annotations

from exchanges.backpack.settings import BackpackSettings
from exchanges.spec import VenueSpec

SPEC = VenueSpec(name="backpack", label="Backpack", settings=BackpackSettings,
                 symbol_format="{base}_USDC_PERP", roles=frozenset({"primary"}),
                 account_label=lambda s: s.api_key)
