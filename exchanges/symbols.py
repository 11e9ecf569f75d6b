"""User symbols (SOL, ETH) to each venue's market names and back, by the venue's registered format."""

from __future__ import annotations

from core.errors import ConfigError
from exchanges import registry


def _format(venue: str) -> str:
    return registry.get(venue).symbol_format


def to_venue_symbol(venue: str, symbol: str) -> str:
    return _format(venue).format(base=symbol.upper())


def from_venue_symbol(venue: str, venue_symbol: str) -> str:
    fmt = _format(venue)
    prefix, suffix = fmt.split("{base}")
    if not (venue_symbol.startswith(prefix) and venue_symbol.endswith(suffix)):
        raise ConfigError("symbol", f"{venue_symbol!r} is not a {venue} perpetual like {fmt.format(base='SOL')}")
    return venue_symbol[len(prefix):len(venue_symbol) - len(suffix)]
