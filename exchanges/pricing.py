"""The order price modes shared by every bot (bbo, bbo_minus_1, bbo_plus_1, market)."""

from __future__ import annotations

from decimal import Decimal

from core.types import BBO, Instrument, PriceMode, Side


def limit_price(mode: PriceMode, side: Side, bbo: BBO, instrument: Instrument) -> Decimal | None:
    """The maker price for ``mode``, or ``None`` for ``market`` (send an IOC instead).

    - ``bbo``: join the best price on our side.
    - ``bbo_minus_1``: one tick behind best (buy at best bid - tick; sell at best ask + tick).
    - ``bbo_plus_1``: one tick inside the spread when it is wider than one tick, else join.
    """
    tick = instrument.tick
    best = bbo.best(side)
    if mode is PriceMode.MARKET:
        return None
    if mode is PriceMode.BBO:
        return best
    if mode is PriceMode.BBO_MINUS_1:
        return best - side.sign * tick
    if mode is PriceMode.BBO_PLUS_1:
        return best + side.sign * tick if bbo.spread > tick else best
    raise ValueError(f"unknown price mode {mode!r}")


def slippage_limit(side: Side, bbo: BBO, max_slippage_bps: Decimal, instrument: Instrument) -> Decimal:
    """The worst price an IOC on ``side`` may execute at, rounded to the tick conservatively."""
    touch = bbo.opposite(side)
    raw = touch * (1 + side.sign * max_slippage_bps / Decimal(10_000))
    return instrument.round_price(raw, side)
