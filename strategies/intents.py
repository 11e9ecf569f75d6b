"""What a strategy asks its runner to do. Strategies return intents; runners execute them
(through the risk layer, then the venue) and feed the outcome back as events."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.records import CycleRecord, RiskEvent
from core.types import Side


@dataclass(frozen=True, slots=True)
class PlaceLimit:
    venue: str
    role: str  # primary | hedge
    side: Side
    price: Decimal
    size: Decimal
    client_id: str
    post_only: bool = True
    reduce_only: bool = False


@dataclass(frozen=True, slots=True)
class PlaceMarket:
    venue: str
    role: str
    side: Side
    size: Decimal
    client_id: str
    max_slippage_bps: Decimal
    reduce_only: bool = False


@dataclass(frozen=True, slots=True)
class Cancel:
    venue: str
    client_id: str


@dataclass(frozen=True, slots=True)
class Lookup:
    """Find out what became of an order whose request timed out (never resend blindly)."""

    venue: str
    client_id: str


@dataclass(frozen=True, slots=True)
class Flatten:
    """Close every position of the run on both venues with reduce-only orders, verify flat."""

    reason: str


@dataclass(frozen=True, slots=True)
class RecordCycle:
    cycle: CycleRecord


@dataclass(frozen=True, slots=True)
class RecordRisk:
    event: RiskEvent


@dataclass(frozen=True, slots=True)
class Finish:
    status: str  # COMPLETED | FAILED | CANCELLED
    reason: str


Intent = PlaceLimit | PlaceMarket | Cancel | Lookup | Flatten | RecordCycle | RecordRisk | Finish
ORDER_INTENTS = (PlaceLimit, PlaceMarket)
