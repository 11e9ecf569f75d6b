"""The grid market maker as a kernel strategy: ``GridQuoter``'s decisions on the generic runner.

The kernel owns the orders (tags ``grid:<side>:<level>``), the ledger, the guard (``max_position``
is the grid's inventory limit, counted with every order in flight) and the lifecycle; this class
only translates. It quotes against the others' book: our own resting orders are taken out of the
book before the mid is computed (a grid whose mid includes its own quotes chases itself when it
skews). It records ``book_sample`` and ``strategy_event`` records (instrument facts, pauses and
resumes) beside the kernel's orders and fills, which is what ``fill_diagnostics`` and
``pnl_split`` read. After ``duration_s`` it ends the run: flattened or left as ``on_cancel`` says.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from core.reasons import Reason
from core.types import BBO, ZERO, Book, Instrument, Liquidity, Side
from strategies.base import (
    Cancel,
    Context,
    Done,
    Filled,
    Finish,
    Flatten,
    Intent,
    Limits,
    Outcome,
    PlaceLimit,
    Record,
    Strategy,
    risk,
)
from strategies.grid import quoter as gq
from strategies.grid.params import GridParams, check_instrument
from strategies.grid.pnl import Split
from strategies.grid.result import GridSummary, summarize
from strategies.orders import OrderState, TrackedOrder
from strategies.preflight import PreTradeError, Problem, VenueSnapshot

TIMER_S = 1.0  # re-evaluate the quotes at least this often without a book update (age, pauses)
DENIED_COOLDOWN_S = 5.0


def others_top(book: Book, own: list[TrackedOrder]) -> tuple[Decimal, Decimal] | None:
    """Best bid and ask of everyone else: the book's levels less our own resting sizes."""
    mine: dict[tuple[Side, Decimal], Decimal] = {}
    for t in own:
        if t.price is not None and t.state is not OrderState.SENDING:
            key = (t.side, t.price)
            mine[key] = mine.get(key, ZERO) + t.open_qty
    bid = next((lv.price for lv in book.bids if lv.size - mine.get((Side.BUY, lv.price), ZERO) > 0), None)
    ask = next((lv.price for lv in book.asks if lv.size - mine.get((Side.SELL, lv.price), ZERO) > 0), None)
    if bid is None or ask is None or ask <= bid:
        return None
    return bid, ask


class GridStrategy(Strategy):
    name = "grid"
    wants_books = True

    def __init__(self, params: GridParams) -> None:
        self.p = params
        self.venue = params.venue
        self.venues = (params.venue,)
        self.symbol = params.symbol
        self.flatten_on_cancel = params.on_cancel == "flatten"
        self.flatten_slippage_bps = params.flatten_slippage_bps
        self.quoter: gq.GridQuoter | None = None
        self.started: float | None = None
        self.fills = 0
        self.maker_fills = 0
        self.taker_fills = 0
        self.max_abs_inventory = ZERO
        self.denied = 0
        self._seq = 0
        self._top: tuple[Decimal, Decimal] | None = None
        self._last_eval = float("-inf")
        self._now = 0.0
        self._cooldown: dict[str, float] = {}

    # --- the kernel's questions ------------------------------------------------------------------
    def limits(self, instruments: Mapping[str, Instrument]) -> Limits:
        ins = instruments[self.venue]
        return Limits(tolerance=ins.lot / 2, max_position=self.p.max_position, daily_loss=self.p.daily_loss_limit,
                      max_order_size=self.p.size * 2)

    def preflight(self, snapshots: Mapping[str, VenueSnapshot]) -> dict[str, Any]:
        snap = snapshots[self.venue]
        try:
            check_instrument(self.p, snap.instrument, snap.bbo.mid)
        except Exception as exc:  # ConfigError names the field
            field = getattr(exc, "field", "params")
            raise PreTradeError([Problem(field, Reason.INVALID_CONFIG, str(exc).removeprefix(f"{field}: "))]) \
                from None
        return {"mid": str(snap.bbo.mid), "spread_bps": f"{snap.bbo.spread_bps:.3f}",
                "tick": str(snap.instrument.tick), "maker_fee": str(snap.instrument.maker_fee)}

    def public_params(self) -> dict[str, Any]:
        return self.p.public_params()

    def describe(self, record: Record) -> str | None:
        if record.kind == "strategy_event" and isinstance(record.payload, dict):
            ev = record.payload.get("event")
            if ev in ("pause", "resume"):
                return f"grid {ev}: {record.payload.get('detail')}"
        return None

    def progress(self) -> float | None:
        """Market time elapsed as a share of ``duration_s``."""
        if self.started is None:
            return None
        return min(1.0, max(0.0, (self._now - self.started) / self.p.duration_s))

    # --- hooks -------------------------------------------------------------------------------------
    def on_start(self, ctx: Context) -> Iterator[Intent]:
        if self.quoter is None:
            self.started = ctx.now
            self.quoter = gq.GridQuoter(self.p, ctx.instruments[self.venue], initial_position=ctx.position(self.venue))
            for note in self.quoter.start_notes(ctx.now):
                yield Record(note.kind, note.fields)
        yield from self._evaluate(ctx)

    def on_book(self, ctx: Context, book: Book) -> Iterator[Intent]:
        yield from self._evaluate(ctx, book)

    def on_bbo(self, ctx: Context, bbo: BBO) -> Iterator[Intent]:
        if ctx.book(self.venue) is None:  # no book stream (yet): quote from the top of book
            yield from self._evaluate(ctx)

    def on_timer(self, ctx: Context) -> Iterator[Intent]:
        self._now = ctx.now
        if self.started is not None and ctx.now - self.started >= self.p.duration_s:
            yield from self._end(ctx)
            return
        if ctx.now - self._last_eval >= TIMER_S:
            yield from self._evaluate(ctx)

    def on_fill(self, ctx: Context, ev: Filled) -> Iterator[Intent]:
        if ev.fill is not None and self.quoter is not None:
            self.fills += 1
            if ev.fill.liquidity is Liquidity.MAKER:
                self.maker_fills += 1
            else:
                self.taker_fills += 1
            self.quoter.on_fill(ev.fill)
            self.max_abs_inventory = max(self.max_abs_inventory, abs(ctx.position(self.venue)))
        if ctx.trading:
            yield from self._evaluate(ctx)

    def on_order_done(self, ctx: Context, ev: Done) -> Iterator[Intent]:
        if self.quoter is not None:
            self.quoter.order_done(ev.order.client_id)
        if ev.outcome is Outcome.DENIED:
            self.denied += 1
            self._cooldown[ev.order.tag] = ctx.now + DENIED_COOLDOWN_S
            yield risk(ctx, "grid", ev.reason if isinstance(ev.reason, Reason) else Reason.REJECTED,
                       f"{ev.order.tag} denied: {ev.detail}")
            return
        if ctx.trading:
            yield from self._evaluate(ctx)

    def on_stop(self, ctx: Context) -> Iterator[Intent]:
        yield from self._final_sample(ctx)

    # --- internals -------------------------------------------------------------------------------
    def _end(self, ctx: Context) -> Iterator[Intent]:
        yield from self._final_sample(ctx)
        if self.p.on_cancel == "flatten":
            yield Flatten(f"duration of {self.p.duration_s:.0f}s reached", Reason.RUN_COMPLETE, then="COMPLETED")
        else:
            yield Finish("COMPLETED", f"duration of {self.p.duration_s:.0f}s reached; inventory left as it is",
                         Reason.RUN_COMPLETE)

    def _final_sample(self, ctx: Context) -> Iterator[Intent]:
        top = self._market(ctx)
        if self.quoter is not None and top is not None:
            for note in self.quoter.final_notes(ctx.now, *top):
                yield Record(note.kind, note.fields)

    def _market(self, ctx: Context, book: Book | None = None) -> tuple[Decimal, Decimal] | None:
        book = book or ctx.book(self.venue)
        if book is not None:
            top = others_top(book, ctx.open_orders(self.venue))
            if top is not None:
                self._top = top
                return top
        bbo = ctx.bbo(self.venue)
        if bbo is not None and book is None:
            return bbo.bid, bbo.ask
        return self._top

    def _evaluate(self, ctx: Context, book: Book | None = None) -> Iterator[Intent]:
        q = self.quoter
        if q is None or not ctx.trading:
            return
        top = self._market(ctx, book)
        if top is None:
            return
        now = self._now = ctx.now
        self._last_eval = now
        bid, ask = top
        mine = [t for t in ctx.open_orders(self.venue) if t.tag.startswith("grid:")]
        quotes = [gq.OpenQuote(t.tag, t.client_id, t.side, t.price or ZERO, t.open_qty,
                               t.state in (OrderState.CANCELLING, OrderState.UNKNOWN)) for t in mine]
        may_add = ctx.may_add_risk
        for a in q.on_book(now, bid, ask, ctx.position(self.venue), quotes):
            if isinstance(a, gq.Note):
                yield Record(a.kind, a.fields)
            elif isinstance(a, gq.Cancel):
                yield Cancel(self.venue, a.client_id)
            elif isinstance(a, gq.Place):
                if self._cooldown.get(a.tag, 0.0) > now:
                    continue
                adds = a.side.sign * ctx.position(self.venue) >= 0
                if adds and not may_add:
                    continue
                self._seq += 1
                cid = f"{ctx.client_prefix}-q{self._seq}"
                q.placed_order(cid, a, now, (bid + ask) / 2)
                yield PlaceLimit(self.venue, a.tag, a.side, a.price, a.size, cid, post_only=True)

    # --- what the artifacts show ---------------------------------------------------------------------
    def split(self) -> Split | None:
        return self.quoter.pnl.split() if self.quoter is not None else None

    def split_hourly(self) -> dict[str, Split]:
        """The split per UTC hour, keyed by the hour's start (``YYYY-MM-DD HH:00``)."""
        if self.quoter is None:
            return {}
        return {datetime.fromtimestamp(h, UTC).strftime("%Y-%m-%d %H:00"): x
                for h, x in self.quoter.pnl.split_hourly().items()}

    def _market_source(self) -> str | None:
        """What the simulated market was: a replayed file (named) or the model's regime; None when live."""
        if self.p.venue_mode != "sim":
            return None
        if self.p.replay:
            return "replay " + ", ".join(item.partition("=")[2].strip().rsplit("/", 1)[-1] for item in self.p.replay)
        return self.p.scenario

    def summary(self, run_id: str, status: str, reason: str, final_position: Decimal) -> GridSummary:
        q = self.quoter
        return summarize(run_id=run_id, status=status, reason=reason, mode=self.p.mode, venue=self.venue,
                         symbol=self.symbol, scenario=self._market_source(),
                         split=self.split(), maker_fills=self.maker_fills, taker_fills=self.taker_fills,
                         max_abs_inventory=self.max_abs_inventory, max_position=self.p.max_position,
                         pauses=q.pauses if q else 0, final_position=final_position)

    def state(self, ctx_position: Decimal, open_orders: list[TrackedOrder]) -> dict[str, Any]:
        """Inventory, live quotes, fills, PnL split and pause state, for the progress artifact."""
        q = self.quoter
        split = self.split()
        quotes = sorted((t.tag, str(t.price), str(t.open_qty)) for t in open_orders if t.tag.startswith("grid:"))
        return {
            "inventory": ctx_position,
            "max_position": self.p.max_position,
            "quotes": quotes,
            "fills": split.fills if split else 0,
            "split": split,
            "paused": sorted(s.value for s in q.paused_sides) if q else [],
            "pauses": q.pauses if q else 0,
            "paused_seconds": q.paused_seconds if q else 0.0,
            "requotes": dict(q.requotes) if q else {},
        }
