"""User symbols (SOL, ETH) to each venue's market names and back."""

from __future__ import annotations

from core.errors import ConfigError

VENUE_SYMBOL_FORMATS: dict[str, str] = {
    "paradex": "{base}-USD-PERP",
    "grvt": "{base}_USDT_Perp",
    "backpack": "{base}_USDC_PERP",
    "hibachi": "{base}/USDT-P",
    "extended": "{base}-USD",
}

VENUES = tuple(VENUE_SYMBOL_FORMATS)


def to_venue_symbol(venue: str, symbol: str) -> str:
    try:
        fmt = VENUE_SYMBOL_FORMATS[venue]
    except KeyError:
        raise ConfigError("venue", f"{venue!r} is not supported; allowed: {', '.join(VENUES)}") from None
    return fmt.format(base=symbol.upper())


def from_venue_symbol(venue: str, venue_symbol: str) -> str:
    fmt = VENUE_SYMBOL_FORMATS[venue]
    prefix, suffix = fmt.split("{base}")
    if not (venue_symbol.startswith(prefix) and venue_symbol.endswith(suffix)):
        raise ConfigError("symbol", f"{venue_symbol!r} is not a {venue} perpetual like {fmt.format(base='SOL')}")
    return venue_symbol[len(prefix):len(venue_symbol) - len(suffix)]
