"""Measure a simulated market as the product notes measured real ones: spread, depth, and
how often market orders of each size really fill (the GRVT market-order table of the product notes)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from decimal import Decimal

from core.types import Side
from exchanges.sim.world import SimWorld


@dataclass(frozen=True, slots=True)
class MarketStats:
    venue: str
    symbol: str
    spread_bps_median: float
    spread_bps_p90: float
    top_depth_median: float  # displayed size at the best bid/ask, base units
    depth_5bps_median: float  # displayed size within 5 bps of the touch, per side


@dataclass(frozen=True, slots=True)
class FillRate:
    venue: str
    symbol: str
    size: Decimal
    orders: int
    full: int
    partial: int
    none: int

    @property
    def fill_rate(self) -> float:
        return self.full / self.orders if self.orders else 0.0


async def market_stats(world: SimWorld, venue: str, symbol: str, seconds: float = 300,
                       every: float = 1.0) -> MarketStats:
    v = world.venue(venue)
    spreads, tops, depths = [], [], []
    t_end = world.clock.now() + seconds
    while world.clock.now() < t_end:
        book = await v.book(symbol, 30)
        bbo = book.bbo()
        spreads.append(float(bbo.spread_bps))
        tops.append(float(bbo.bid_size + bbo.ask_size) / 2)
        depths.append(float(book.depth(Side.BUY, Decimal(5)) + book.depth(Side.SELL, Decimal(5))) / 2)
        await world.clock.sleep(every)
    q = statistics.quantiles(spreads, n=10)
    return MarketStats(venue, symbol, statistics.median(spreads), q[-1], statistics.median(tops),
                       statistics.median(depths))


async def fill_rates(world: SimWorld, venue: str, symbol: str, sizes: list[Decimal], orders_per_size: int = 20,
                     max_slippage_bps: Decimal = Decimal(10), pause: float = 5.0) -> list[FillRate]:
    """Send ``orders_per_size`` IOC market orders of each size (alternating buy/sell so the
    position stays flat) and count full, partial and empty fills."""
    v = world.venue(venue)
    out = []
    n = 0
    for size in sizes:
        full = partial = none = 0
        for i in range(orders_per_size):
            n += 1
            side = Side.BUY if i % 2 == 0 else Side.SELL
            o = await v.place_market(symbol, side, size, client_id=f"probe-{venue}-{n}",
                                     max_slippage_bps=max_slippage_bps)
            if o.filled >= size:
                full += 1
            elif o.filled > 0:
                partial += 1
            else:
                none += 1
            await world.clock.sleep(pause)
        out.append(FillRate(venue, symbol, size, orders_per_size, full, partial, none))
        pos = (await v.position(symbol)).size
        if pos:
            await v.place_market(symbol, Side.SELL if pos > 0 else Side.BUY, abs(pos), client_id=f"probe-flat-{n}",
                                 max_slippage_bps=Decimal(50), reduce_only=True)
    return out
