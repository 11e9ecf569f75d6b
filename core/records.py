"""What bots record, and the ``Recorder`` they record it through.

Bots and runners only know this protocol; ``warehouse.journal.Journal`` implements it with an
append-only per-run journal, which the loader moves into DuckDB (tables in warehouse/schema.py).
Every record carries ``run_id`` so a journal line is self-describing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from core.reasons import Reason
from core.types import Fill, Order, Position


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    bot: str  # hedge | grid | agent | ...
    venues: tuple[str, ...]
    symbol: str
    params: dict[str, Any]  # JSON-serialisable, secrets excluded
    started: float
    flow_run_id: str | None = None
    mode: str | None = None  # backtest | paper | live; None: the warehouse derives it from params
    clock: str | None = None  # virtual (simulated timestamps) | real


@dataclass(frozen=True, slots=True)
class RunEnd:
    run_id: str
    ended: float
    status: str  # COMPLETED | FAILED | CANCELLED | CRASHED
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class CycleRecord:
    """One open or close cycle of a hedge bot: a primary maker fill set and its hedge.

    ``edge_bps`` is the gross price advantage of the pair (positive = good for us); ``gross_pnl``
    is that advantage in quote currency, ``pnl = gross_pnl - fees``. Summed over a run that ends
    flat, ``pnl`` is the run's net PnL.
    """

    run_id: str
    bot: str
    cycle_no: int
    iteration: int
    kind: str  # open | close
    direction: str  # long | short: the primary leg's side in this cycle's position
    primary_venue: str
    hedge_venue: str
    symbol: str
    size: Decimal  # base units hedged in this cycle
    primary_price: Decimal | None  # volume-weighted, from fill events
    hedge_price: Decimal | None
    edge_bps: Decimal | None
    primary_fee: Decimal
    hedge_fee: Decimal
    gross_pnl: Decimal
    pnl: Decimal
    net_delta_after: Decimal
    hedge_latency_ms: float | None  # first primary fill -> first hedge fill
    status: str  # ok | hedge_failed | partial | aborted
    started: float
    ended: float
    # What really happened in the cycle (issue 10): the client ids of the orders of each leg (so
    # every fill can be tied to its leg), the maker share of each leg's filled size, and why the
    # hedge turned taker (timeout | adverse_move | hedge_failed | hedge_mode_market), if it did.
    primary_orders: tuple[str, ...] = ()
    hedge_orders: tuple[str, ...] = ()
    primary_maker_share: float | None = None
    hedge_maker_share: float | None = None
    hedge_taker_reason: str | None = None

    @property
    def fees(self) -> Decimal:
        return self.primary_fee + self.hedge_fee


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """A risk denial, a protection firing or a trading-state change."""

    run_id: str
    ts: float
    check: str  # pre_trade | max_position | daily_loss | net_delta | reconcile | hedge | state | ...
    reason: Reason
    state_from: str | None = None  # ACTIVE | REDUCING | HALTED
    state_to: str | None = None
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FundingRecord:
    run_id: str
    venue: str
    symbol: str
    rate: Decimal
    position: Decimal
    payment: Decimal  # paid by us; negative = received
    ts: float


class Recorder(Protocol):
    """Where a bot run records what happened. Calls never block on I/O, except ``fill``, which
    returns once the fill is durable (flushed and fsynced)."""

    def run_started(self, info: RunInfo) -> None: ...

    def run_ended(self, end: RunEnd) -> None: ...

    def order(self, order: Order) -> None:
        """An order state as seen by the bot (sent, acknowledged, updated, final)."""

    async def fill(self, fill: Fill) -> None:
        """Record a fill durably; return only once it would survive a kill -9."""

    def cycle(self, cycle: CycleRecord) -> None: ...

    def position(self, position: Position) -> None: ...

    def risk_event(self, event: RiskEvent) -> None: ...

    def funding(self, record: FundingRecord) -> None: ...

    async def flush(self) -> None:
        """Make everything recorded so far durable."""

    async def close(self) -> None: ...


class MemoryRecorder:
    """Keeps a run's records in memory: for previews, benchmarks and dry runs that need no
    warehouse. Same protocol as the journal, nothing durable."""

    def __init__(self) -> None:
        self.runs: list[RunInfo] = []
        self.ends: list[RunEnd] = []
        self.orders: list[Order] = []
        self.fills: list[Fill] = []
        self.cycles: list[CycleRecord] = []
        self.positions: list[Position] = []
        self.risk_events: list[RiskEvent] = []
        self.funding_records: list[FundingRecord] = []

    def run_started(self, info: RunInfo) -> None:
        self.runs.append(info)

    def run_ended(self, end: RunEnd) -> None:
        self.ends.append(end)

    def order(self, order: Order) -> None:
        self.orders.append(order)

    async def fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    def cycle(self, cycle: CycleRecord) -> None:
        self.cycles.append(cycle)

    def position(self, position: Position) -> None:
        self.positions.append(position)

    def risk_event(self, event: RiskEvent) -> None:
        self.risk_events.append(event)

    def funding(self, record: FundingRecord) -> None:
        self.funding_records.append(record)

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        return None
