"""Hibachi: an LLM agents' venue. Simulator profile only so far (no live adapter)."""

from __future__ import annotations

from exchanges.hibachi.settings import HibachiSettings
from exchanges.spec import VenueSpec

SPEC = VenueSpec(name="hibachi", label="Hibachi", settings=HibachiSettings, symbol_format="{base}/USDT-P",
                 roles=frozenset({"agent"}), defaults=frozenset({"agent"}),
                 account_label=lambda s: s.account_id)
