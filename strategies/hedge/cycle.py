"""One cycle's fills, and the ``CycleRecord`` they add up to (prices from fill events only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.records import CycleRecord
from core.types import ZERO, Fill, Liquidity, Side


@dataclass(slots=True)
class Leg:
    qty: Decimal = ZERO
    notional: Decimal = ZERO
    fee: Decimal = ZERO
    first_ts: float | None = None
    maker_qty: Decimal = ZERO

    def add(self, fill: Fill) -> None:
        self.qty += fill.size
        if fill.liquidity is Liquidity.MAKER:
            self.maker_qty += fill.size
        self.notional += fill.size * fill.price
        self.fee += fill.fee
        if self.first_ts is None or fill.ts < self.first_ts:
            self.first_ts = fill.ts

    @property
    def vwap(self) -> Decimal | None:
        return self.notional / self.qty if self.qty else None

    @property
    def maker_share(self) -> float | None:
        return float(self.maker_qty / self.qty) if self.qty else None


@dataclass(slots=True)
class CycleState:
    no: int
    iteration: int
    kind: str
    side: Side  # primary side
    target: Decimal
    started: float
    primary_accounted: Decimal = ZERO  # by order updates or fills, whichever showed it first
    primary: Leg = field(default_factory=Leg)
    hedge: Leg = field(default_factory=Leg)
    orders: list[Any] = field(default_factory=list)  # the engine's tracked orders of this cycle

    @property
    def remaining(self) -> Decimal:
        return self.target - self.primary_accounted

    def add_fill(self, role: str, fill: Fill) -> None:
        (self.primary if role == "primary" else self.hedge).add(fill)

    def record(self, *, run_id: str, bot: str, primary_venue: str, hedge_venue: str, symbol: str,
               net_delta_after: Decimal, ended: float, status: str) -> CycleRecord:
        pp, hp = self.primary.vwap, self.hedge.vwap
        matched = min(self.primary.qty, self.hedge.qty)
        if pp is not None and hp is not None:
            edge = self.side.sign * (hp - pp)
            edge_bps = (edge / pp * 10_000).quantize(Decimal("0.0001"))
            gross = edge * matched
        else:
            edge_bps, gross = None, ZERO
        fees = self.primary.fee + self.hedge.fee
        latency = None
        if self.primary.first_ts is not None and self.hedge.first_ts is not None:
            latency = max(0.0, (self.hedge.first_ts - self.primary.first_ts) * 1000)
        return CycleRecord(
            run_id=run_id, bot=bot, cycle_no=self.no, iteration=self.iteration, kind=self.kind,
            direction="long" if (self.side is Side.BUY) == (self.kind == "open") else "short",
            primary_venue=primary_venue, hedge_venue=hedge_venue, symbol=symbol, size=self.primary.qty,
            primary_price=pp, hedge_price=hp, edge_bps=edge_bps, primary_fee=self.primary.fee,
            hedge_fee=self.hedge.fee, gross_pnl=gross, pnl=gross - fees, net_delta_after=net_delta_after,
            hedge_latency_ms=latency, status=status, started=self.started, ended=ended,
            primary_orders=tuple(t.client_id for t in self.orders if t.tag == "primary"),
            hedge_orders=tuple(t.client_id for t in self.orders if t.tag == "hedge"),
            primary_maker_share=self.primary.maker_share, hedge_maker_share=self.hedge.maker_share,
            hedge_taker_reason=self.taker_reason(),
        )

    def taker_reason(self) -> str | None:
        """Why this cycle's hedge went taker: the distinct reasons of its taker hedge orders that traded."""
        why = sorted({t.meta["why"] for t in self.orders
                      if t.tag == "hedge" and t.price is None and t.accounted > 0 and t.meta.get("why")})
        return ",".join(why) or None
