"""The strategy API: what a bot is to the kernel.

A strategy is a pure object. The kernel (``strategies.kernel``) calls its hooks with a read-only
``Context`` and an event, and the strategy answers with intents: orders to place or cancel, records
to keep, a flatten, a finish. It never talks to a venue, a clock, a journal or Prefect, so the same
strategy runs in a unit test, a backtest on the simulator and a live run unchanged, and the safety
rules (order tracking, exposure, the risk guard, stop and flatten) live once, in the kernel.

Hooks may return a list or be generators. Intents are applied as they are produced: a strategy
written as a generator (``yield PlaceLimit(...)``) sees its new order in ``ctx.open_orders()``
before it continues, which is what a strategy that must never send two orders for one need wants.

Orders carry a free ``tag`` chosen by the strategy (``"primary"``, ``"hedge"``, ``"grid-3"``,
``"entry"``); the kernel never reads meaning into it. Records are ``Record(kind, payload)``: the
runner journals the kinds it knows (``cycle``, ``risk``, ``funding``) and any kind the journal
accepts, so a new bot records its own kinds without touching the kernel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from core.reasons import Reason
from core.records import RiskEvent
from core.types import BBO, Book, Fill, Instrument, Side

if TYPE_CHECKING:
    from strategies.guard import TradingState
    from strategies.orders import TrackedOrder
    from strategies.preflight import VenueSnapshot


# --- intents -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PlaceLimit:
    """A GTC limit order (post-only by default: a maker order never takes by accident)."""

    venue: str
    tag: str
    side: Side
    price: Decimal
    size: Decimal
    client_id: str
    post_only: bool = True
    reduce_only: bool = False


@dataclass(frozen=True, slots=True)
class PlaceMarket:
    """An IOC taker order that never executes beyond ``max_slippage_bps`` from the touch."""

    venue: str
    tag: str
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
    """Cancel every open order, close every position of the run with reduce-only orders, verify flat.

    ``then`` is what follows a verified flatten: ``FAILED``/``CANCELLED``/``COMPLETED`` end the run
    with that status, ``resume`` hands control back to the strategy (``on_start`` again, flat). A
    flatten that ends the run as FAILED or CANCELLED first moves the guard to REDUCING with ``code``.
    """

    reason: str
    code: Reason | None = None
    then: str = "FAILED"


@dataclass(frozen=True, slots=True)
class Record:
    """Something to keep in the run's journal: ``kind`` names the record, ``payload`` is it."""

    kind: str
    payload: Any


@dataclass(frozen=True, slots=True)
class Finish:
    """End the run. Open orders are cancelled first; positions are left as they are."""

    status: str  # COMPLETED | FAILED | CANCELLED
    reason: str
    code: Reason | None = None
    note: str = ""  # what the halt's risk event says (default: ``reason``)


Intent = PlaceLimit | PlaceMarket | Cancel | Lookup | Flatten | Record | Finish
ORDER_INTENTS = (PlaceLimit, PlaceMarket)
FINAL_STATUSES = ("COMPLETED", "FAILED", "CANCELLED")


def risk(ctx: Context, check: str, reason: Reason, detail: str = "", **data: Any) -> Record:
    """A risk event a strategy records (a protection firing, a failure counted, a wait)."""
    return Record("risk", RiskEvent(ctx.run_id, ctx.now, check, reason, None, None, detail,
                                    {k: str(v) if isinstance(v, Decimal) else v for k, v in data.items()}))


# --- what the kernel tells a strategy ------------------------------------------------------------
class Outcome(StrEnum):
    """How an order ended, as far as the kernel can prove."""

    FILLED = "FILLED"  # completely filled
    CANCELLED = "CANCELLED"  # final with less than its size filled (cancelled, expired, IOC remainder)
    REJECTED = "REJECTED"  # the venue refused the request; nothing was placed
    LOST = "LOST"  # the request timed out and the venue has never heard of the order
    DENIED = "DENIED"  # the guard refused it; it never left the process


@dataclass(frozen=True, slots=True)
class Filled:
    """New exposure on an order, or a fill event.

    ``qty`` is the exposure newly shown (from whichever came first, an order update or a fill
    event; zero when a fill event only confirms exposure already counted). ``fill`` is the fill
    event when there is one: prices and fees come from it, never from an order update. ``order``
    is None for a fill of an order this run did not send (the kernel records the mismatch).
    """

    order: TrackedOrder | None
    qty: Decimal
    fill: Fill | None


@dataclass(frozen=True, slots=True)
class Done:
    """An order is final. ``filled`` is what the venue's final answer said was filled, when it said."""

    order: TrackedOrder
    outcome: Outcome
    reason: Reason | str | None = None
    detail: str = ""
    filled: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """What the guard enforces for a strategy, whatever it asks.

    ``max_position`` bounds |position| on every venue, except for an order that reduces the net
    exposure (a hedge is judged by its effect, not its name). ``tolerance`` is the position
    difference reconciliation ignores. ``daily_loss`` is in USD from real fills and fees.
    """

    tolerance: Decimal
    max_position: Decimal | None = None
    daily_loss: Decimal | None = None
    reconcile_confirmations: int = 2
    max_order_size: Decimal | None = None
    max_open_orders: int | None = None


class Context:
    """A strategy's read-only view of its run (the kernel behind it owns the state)."""

    __slots__ = ("_k",)

    def __init__(self, kernel: Any) -> None:
        self._k = kernel

    @property
    def run_id(self) -> str:
        return self._k.run_id

    @property
    def symbol(self) -> str:
        return self._k.symbol

    @property
    def now(self) -> float:
        return self._k.now

    @property
    def client_prefix(self) -> str:
        """Every client id of the run starts with this (the kernel's flatten uses ``<prefix>-f<n>``)."""
        return self._k.client_prefix

    @property
    def mode(self) -> str:
        """idle | trading | flattening | stopping | done"""
        return self._k.mode

    @property
    def trading(self) -> bool:
        return self._k.mode == "trading"

    @property
    def state(self) -> TradingState:
        return self._k.guard.state

    @property
    def may_add_risk(self) -> bool:
        return self._k.guard.may_add_risk

    @property
    def may_reduce(self) -> bool:
        return self._k.guard.may_reduce

    @property
    def instruments(self) -> Mapping[str, Instrument]:
        return self._k.instruments

    def bbo(self, venue: str) -> BBO | None:
        return self._k.bbos.get(venue)

    def book(self, venue: str) -> Book | None:
        return self._k.books.get(venue)

    def position(self, venue: str) -> Decimal:
        return self._k.ledger.position(venue)

    @property
    def net(self) -> Decimal:
        return self._k.ledger.net

    @property
    def ledger(self) -> Any:
        return self._k.ledger

    def open_orders(self, venue: str | None = None, tag: str | None = None) -> list[TrackedOrder]:
        return self._k.table.open(venue, tag)

    def order(self, client_id: str) -> TrackedOrder | None:
        return self._k.table.get(client_id)


Hook = Iterable[Intent]


class Strategy:
    """Base class of every bot's strategy; override the hooks it needs (all default to nothing).

    ``name`` is the bot's name in the warehouse (``runs.bot``); ``venues`` the venues it trades,
    ``symbol`` the perpetual (one per run).
    """

    name: ClassVar[str] = "strategy"
    venues: tuple[str, ...]
    symbol: str
    wants_books: bool = False  # subscribe to full books (``on_book``), not only the top of book
    flatten_on_cancel: bool = True  # a cancelled run flattens (else it leaves its positions)
    flatten_slippage_bps: Decimal = Decimal(25)
    reconcile_interval: float = 15.0  # seconds between position reads checked against the ledger
    run_mode: tuple[str | None, str | None] = (None, None)  # (backtest|paper|live, virtual|real) for the warehouse

    def limits(self, instruments: Mapping[str, Instrument]) -> Limits:
        """The guard's limits for this run, once the venues' instruments are known."""
        raise NotImplementedError

    def preflight(self, snapshots: Mapping[str, VenueSnapshot]) -> dict[str, Any]:
        """Check the run against what the venues can carry; raise ``PreTradeError`` to refuse it
        before any order. Returns figures worth showing (they go to the run's log)."""
        return {}

    def public_params(self) -> dict[str, Any]:
        """Parameters as recorded in the warehouse (no secrets)."""
        return {}

    def flatten_chunks(self) -> Mapping[str, Decimal | None]:
        """Largest taker order per venue when flattening (a venue that executes less than it shows)."""
        return {}

    def describe(self, record: Record) -> str | None:
        """The log line for one of the strategy's records (None: not logged)."""
        return None

    def progress(self) -> float | None:
        """How far the run is, 0..1, when the strategy has a plan (None: open-ended)."""
        return None

    def on_start(self, ctx: Context) -> Hook:
        """Trading may begin; ``ctx`` holds the positions found on the venues. Also called after a
        ``Flatten(then="resume")`` completes."""
        return ()

    def on_bbo(self, ctx: Context, bbo: BBO) -> Hook:
        return ()

    def on_book(self, ctx: Context, book: Book) -> Hook:
        return ()

    def on_fill(self, ctx: Context, ev: Filled) -> Hook:
        return ()

    def on_order_done(self, ctx: Context, ev: Done) -> Hook:
        return ()

    def on_timer(self, ctx: Context) -> Hook:
        """Called every tick (a quarter second) while trading."""
        return ()

    def on_signal(self, ctx: Context, signal: Any) -> Hook:
        """An outside decision reached the run (an LLM's answer, an operator's instruction)."""
        return ()

    def on_stop(self, ctx: Context) -> Hook:
        """The run is being stopped; the kernel cancels open orders and flattens or leaves positions."""
        return ()
