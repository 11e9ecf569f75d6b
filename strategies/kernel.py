"""The kernel: one strategy, its order table, ledger and guard, and the run's lifecycle. Pure.

Venue events go in (``on_bbo``, ``on_fill``, ``on_order``, ``on_rejected``, ``on_timeout``,
``on_lookup``, ``on_tick``, ``on_positions``, ``on_flattened``); venue-level intents come out,
for the runner to execute. Between the two, the kernel does what every bot needs and no strategy
should re-implement:

- every order a strategy asks for is tracked, then passes the guard's gate (a denial is recorded
  and told back to the strategy as ``Outcome.DENIED``);
- exposure is counted once per order, fills once per trade id; the ledger moves with it;
- a timed-out request is looked up, never resent; an unanswered cancel is looked up and re-sent;
- the daily loss limit, a confirmed position mismatch and a reduce-only order the venue refuses
  (its position is not the ledger's) halt the strategy and flatten with reduce-only orders;
- the lifecycle: start from the positions found (the strategy decides how to treat them), stop
  (cancel, then flatten or leave), halt-and-flatten, finish. A flatten that was not verified ends
  the run FAILED with the trading state HALTED.

Modes: idle -> trading -> (flattening | stopping) -> done. Strategy hooks that could trade are
called only while trading; fills and order outcomes always reach the strategy (its records need
them), and it must check ``ctx.trading`` before it adds orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from core.reasons import Reason
from core.types import BBO, Book, Fill, Instrument, Order, Side
from strategies.base import (
    FINAL_STATUSES,
    Cancel,
    Context,
    Done,
    Filled,
    Finish,
    Flatten,
    Intent,
    Lookup,
    Outcome,
    PlaceLimit,
    PlaceMarket,
    Record,
    Strategy,
)
from strategies.guard import Guard, TradingState, Verdict
from strategies.ledger import Ledger
from strategies.orders import OrderState, OrderTable, TrackedOrder

POSITION_READ_FAILURES = 3  # consecutive failed position reads before the run stops adding risk


def client_prefix(strategy: Strategy, run_id: str) -> str:
    """Client ids of a run: the bot's initial and the run id's first characters (unique per run)."""
    return strategy.name[:1] + run_id.replace("-", "")[:10]


def _flat_text(venues: tuple[str, ...]) -> str:
    return {1: "flat", 2: "both venues flat"}.get(len(venues), "every venue flat")


class Kernel:
    def __init__(self, strategy: Strategy, run_id: str, instruments: Mapping[str, Instrument], now: float,
                 symbol: str | None = None) -> None:
        self.strategy = strategy
        self.run_id = run_id
        self.instruments = dict(instruments)
        self.venues = tuple(self.instruments)
        self.symbol = symbol or next(iter(self.instruments.values())).symbol
        self.now = now
        self.client_prefix = client_prefix(strategy, run_id)
        self.limits = strategy.limits(self.instruments)
        self.guard = Guard(run_id, self.limits, now)
        self.ledger = Ledger(self.venues)
        self.table = OrderTable()
        self.bbos: dict[str, BBO] = {}
        self._marks: dict[str, Decimal] | None = None  # mids of ``bbos``, until the next BBO
        self.books: dict[str, Book] = {}
        self.mode = "idle"  # idle | trading | flattening | stopping | done
        self.external_fills = 0
        self.ctx = Context(self)
        self._read_failures = 0
        self._deferred: list[Done] = []
        self._stop_status: tuple[str, Reason, str] = ("CANCELLED", Reason.CANCELLED_BY_USER, "")
        self._after_flatten: tuple[str, Reason | None] = ("FAILED", Reason.REJECTED)

    # --- derived state ---------------------------------------------------------------------------
    @property
    def net(self) -> Decimal:
        return self.ledger.net

    @property
    def tolerance(self) -> Decimal:
        return self.limits.tolerance

    def marks(self) -> dict[str, Decimal]:
        """Each venue's mid (computed once per BBO: the loss check asks every tick)."""
        if self._marks is None:
            self._marks = {v: b.mid for v, b in self.bbos.items()}
        return dict(self._marks)

    def position_band(self, venue: str) -> tuple[Decimal, Decimal]:
        """The positions the venue may truthfully report now: the ledger, plus whatever orders in
        flight could have filled without the run knowing yet."""
        ledger = self.ledger.position(venue)
        return (ledger - self.table.open_qty(venue, Side.SELL) - self.tolerance,
                ledger + self.table.open_qty(venue, Side.BUY) + self.tolerance)

    # --- applying what the strategy asks -----------------------------------------------------------
    def _hook(self, produced: Iterable[Intent], out: list[Intent]) -> list[Intent]:
        """Apply a hook's intents as they come, then tell the strategy what its denied orders became."""
        for it in produced:
            self._take(it, out)
        while self._deferred:
            ev = self._deferred.pop(0)
            for it in self.strategy.on_order_done(self.ctx, ev):
                self._take(it, out)
        return out

    def _take(self, it: Intent, out: list[Intent]) -> None:
        if isinstance(it, PlaceLimit | PlaceMarket):
            self._place(it, out)
        elif isinstance(it, Cancel):
            t = self.table.get(it.client_id)
            if t is not None and self.table.cancelling(t, self.now):
                out.append(it)
        elif isinstance(it, Flatten):
            out += self._halt_and_flatten(it.code, it.reason, it.then)
        elif isinstance(it, Finish):
            out += self._finish(it)
        else:  # Lookup, Record: the runner's business
            out.append(it)

    def _place(self, it: PlaceLimit | PlaceMarket, out: list[Intent]) -> None:
        price = it.price if isinstance(it, PlaceLimit) else None
        t = self.table.track(it.venue, it.tag, it.client_id, it.side, it.size, price, it.reduce_only, self.now)
        if self.mode != "trading":
            denial: tuple[Reason, str] | None = (Reason.STATE_HALTED, f"the run is {self.mode}: no new orders")
        else:
            pending = self.table.open_qty(it.venue, it.side) - it.size  # the venue's other open orders, this side
            denial = self.guard.check(it.side.sign, it.size, it.reduce_only, self.ledger.position(it.venue),
                                      self.ledger.net, len(self.table.open(it.venue)) - 1, f"a {it.tag}", pending)
        if denial is None:
            out.append(it)
            return
        reason, detail = denial
        self.guard.note(self.now, "gate", reason, detail, client_id=it.client_id)
        self.table.retire(t, Outcome.DENIED)
        self._deferred.append(Done(t, Outcome.DENIED, reason, detail))

    def _drain(self, intents: list[Intent]) -> list[Intent]:
        """The risk events produced while handling an event come first."""
        if not self.guard.log.pending:  # the usual case: nothing to put first
            return intents
        return [Record("risk", e) for e in self.guard.drain()] + intents

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self, now: float, positions: Mapping[str, Decimal]) -> list[Intent]:
        """Begin from the venues' positions, read (and confirmed) by the runner. A run stopped before it
        began (a cancel while it was starting) does not begin."""
        self.now = now
        self.ledger.reset(positions, now)
        if self.mode != "idle":
            return []
        for v, x in self.ledger.positions().items():
            if x and v in self.bbos:
                self.guard.daily.adopt(v, x, self.bbos[v].mid)
        self.mode = "trading"
        return self._drain(self._hook(self.strategy.on_start(self.ctx), []))

    def stop(self, now: float, *, flatten: bool, status: str = "CANCELLED",
             reason: Reason = Reason.CANCELLED_BY_USER, detail: str = "") -> list[Intent]:
        """Cancel everything; then flatten or leave positions."""
        self.now = now
        if self.mode in ("flattening", "done"):
            return []
        out = self._hook(self.strategy.on_stop(self.ctx), []) if self.mode == "trading" else []
        cancels = self._cancel_all()
        # name the orders the stop cancels: one sent just before it is acknowledged just after it
        cancelling = " ".join(f"{c.venue}:{c.client_id}" for c in cancels)
        note = "; ".join(p for p in (detail, f"cancelling {cancelling}" if cancelling else "") if p)
        self.guard.move(TradingState.HALTED if not flatten else TradingState.REDUCING, reason, now, note)
        out += cancels
        if flatten:
            self.mode = "flattening"
            self._after_flatten = (status, reason)
            out.append(Flatten(detail or str(reason), reason, status))
        else:
            self.mode = "stopping"
            self._stop_status = (status, reason, detail)
            out += self._maybe_stopped()
        return self._drain(out)

    def _cancel_all(self) -> list[Cancel]:
        out = []
        for t in self.table.open():
            if t.price is not None and t.state in (OrderState.LIVE, OrderState.SENDING, OrderState.UNKNOWN):
                self.table.cancelling(t, self.now)
                t.withdrawn = True
                out.append(Cancel(t.venue, t.client_id))
        return out

    def _maybe_stopped(self) -> list[Intent]:
        if self.mode == "stopping" and not self.table.open():
            self.mode = "done"
            status, reason, detail = self._stop_status
            return [Finish(status, detail or f"{reason}: positions left as they are", reason)]
        return []

    def _halt_and_flatten(self, code: Reason | None, detail: str, then: str = "FAILED") -> list[Intent]:
        if self.mode in ("flattening", "done"):
            return []
        if then in ("FAILED", "CANCELLED"):
            self.guard.move(TradingState.REDUCING, code or Reason.REJECTED, self.now, detail)
        self.mode = "flattening"
        self._after_flatten = (then, code)
        return [*self._cancel_all(), Flatten(detail, code, then)]

    def _finish(self, it: Finish) -> list[Intent]:
        if self.mode == "done":
            return []
        code = it.code or (Reason.RUN_COMPLETE if it.status == "COMPLETED" else Reason.REJECTED)
        cancels = self._cancel_all()
        self.guard.move(TradingState.HALTED, code, self.now, it.note or it.reason)
        if cancels or self.table.open():
            self.mode = "stopping"
            self._stop_status = (it.status, code, it.reason)
            return [*cancels, *self._maybe_stopped()]
        self.mode = "done"
        return [it]

    def on_flattened(self, now: float, ok: bool, positions: Mapping[str, Decimal], detail: str) -> list[Intent]:
        self.now = now
        self.ledger.reset(positions, now)
        then, code = self._after_flatten
        for t in self.table.open():  # whatever was in flight is settled by the flatten
            self.table.retire(t, Outcome.CANCELLED)
        if not ok:
            self.guard.move(TradingState.HALTED, Reason.POSITION_UNKNOWN, now, detail)
            self.mode = "done"
            return self._drain([Finish("FAILED", f"could not verify {_flat_text(self.venues)}: {detail}",
                                       Reason.POSITION_UNKNOWN)])
        if then == "resume":
            self.mode = "trading"
            return self._drain(self._hook(self.strategy.on_start(self.ctx), []))
        reason = code or Reason.REJECTED
        self.guard.move(TradingState.HALTED, reason, now, detail)
        self.mode = "done"
        text = (f"run complete; {_flat_text(self.venues)}" if reason is Reason.RUN_COMPLETE
                else f"{reason}: {detail}; flattened")
        status = then if then in FINAL_STATUSES else "FAILED"
        return self._drain([Finish(status, text, reason)])

    # --- market events ---------------------------------------------------------------------------
    def on_bbo(self, bbo: BBO, now: float) -> list[Intent]:
        self.now = now
        self.bbos[bbo.venue] = bbo
        self._marks = None
        if self.mode != "trading":
            return []
        return self._drain(self._hook(self.strategy.on_bbo(self.ctx, bbo), []))

    def on_book(self, book: Book, now: float) -> list[Intent]:
        self.now = now
        self.books[book.venue] = book
        if self.mode != "trading":
            return []
        return self._drain(self._hook(self.strategy.on_book(self.ctx, book), []))

    def on_signal(self, signal: Any, now: float) -> list[Intent]:
        self.now = now
        if self.mode != "trading":
            return []
        return self._drain(self._hook(self.strategy.on_signal(self.ctx, signal), []))

    # --- order events ----------------------------------------------------------------------------
    def on_fill(self, fill: Fill, now: float) -> list[Intent]:
        self.now = now
        if not self.table.first_fill(fill):
            return []
        self.guard.daily.on_fill(fill)
        self.ledger.account(fill)
        t = self.table.find(fill.venue, fill.client_id, fill.order_id)
        out: list[Intent] = []
        if t is None:
            if fill.venue not in self.ledger.pos:
                return []
            self.ledger.move(fill.venue, fill.signed_size, now)
            if self.mode == "trading":
                self.external_fills += 1
                self.guard.note(now, "ledger", Reason.POSITION_MISMATCH,
                                f"fill {fill.trade_id} on {fill.venue} is not from an order of this run",
                                size=fill.signed_size)
            qty = fill.size
        else:
            qty = self.table.on_fill(t, fill)
            if qty:
                self.ledger.move(t.venue, t.side.sign * qty, now)
        out += self._loss_check()
        self._hook(self.strategy.on_fill(self.ctx, Filled(t, qty, fill)), out)
        out += self._maybe_stopped()
        return self._drain(out)

    def account_late_fill(self, fill: Fill) -> None:
        """A fill found in the venue's history after the run stopped: its money counts, nothing reacts."""
        if self.table.first_fill(fill):
            self.guard.daily.on_fill(fill)
            self.ledger.account(fill)

    def on_order(self, order: Order, now: float) -> list[Intent]:
        self.now = now
        t = self.table.find(order.venue, order.client_id, order.order_id)
        if t is None or not t.live:
            return []
        return self._drain(self._update(t, order, []))

    def _update(self, t: TrackedOrder, order: Order, out: list[Intent]) -> list[Intent]:
        qty = self.table.on_update(t, order)
        if qty:
            self.ledger.move(t.venue, t.side.sign * qty, self.now)
            out += self._loss_check()
            self._hook(self.strategy.on_fill(self.ctx, Filled(t, qty, None)), out)
        if order.status.is_final and t.live:
            outcome = Outcome.FILLED if t.accounted >= t.size else Outcome.CANCELLED
            self.table.retire(t, outcome)
            done = Done(t, outcome, order.reject_reason, "", order.filled)
            self._hook(self.strategy.on_order_done(self.ctx, done), out)
        out += self._maybe_stopped()
        return out

    def on_rejected(self, client_id: str, reason: Reason, detail: str, now: float) -> list[Intent]:
        """The venue refused the request: nothing was placed."""
        self.now = now
        t = self.table.get(client_id)
        if t is None or not t.live:
            return []
        self.table.retire(t, Outcome.REJECTED)
        if reason is Reason.REDUCE_ONLY_WOULD_INCREASE:  # the venue's position is not the ledger's
            self.guard.note(now, "reconcile", Reason.POSITION_MISMATCH,
                            f"{t.venue} refused a reduce-only {t.tag} order")
            return self._drain(self._halt_and_flatten(
                Reason.POSITION_MISMATCH, f"{t.venue} refused a reduce-only {t.tag} order: its position differs "
                                          f"from the ledger ({self.ledger.position(t.venue)}): {detail}"))
        out = self._hook(self.strategy.on_order_done(self.ctx, Done(t, Outcome.REJECTED, reason, detail)), [])
        out += self._maybe_stopped()
        return self._drain(out)

    def on_timeout(self, client_id: str, now: float) -> list[Intent]:
        """A request about this order got no answer: its fate is unknown until looked up."""
        self.now = now
        self.table.timed_out(client_id, now)
        return []

    def on_lookup(self, client_id: str, order: Order | None, now: float) -> list[Intent]:
        self.now = now
        t = self.table.get(client_id)
        if t is None or not t.live:
            return []
        if order is None:
            if t.state is OrderState.UNKNOWN and t.accounted == 0:  # it never reached the venue
                self.table.retire(t, Outcome.LOST)
                out = self._hook(self.strategy.on_order_done(
                    self.ctx, Done(t, Outcome.LOST, Reason.TIMEOUT, "request lost")), [])
                out += self._maybe_stopped()
                return self._drain(out)
            return []
        if not order.status.is_final and t.state is OrderState.CANCELLING:
            t.last_check = now
            return [Cancel(t.venue, t.client_id)]
        return self.on_order(order, now)

    # --- time and reconciliation -----------------------------------------------------------------
    def on_tick(self, now: float) -> list[Intent]:
        self.now = now
        out: list[Intent] = []
        daily = self.guard.daily
        if daily.may_roll(now) and daily.roll(now, self.marks()):  # marks only near midnight
            self.guard.note(now, "daily_loss", Reason.DAILY_LOSS_LIMIT, "UTC midnight: daily PnL reset")
        out += [Lookup(t.venue, t.client_id) for t in self.table.due_lookups(now)]
        if self.mode == "trading":
            out += self._loss_check()
        if self.mode == "trading":
            self._hook(self.strategy.on_timer(self.ctx), out)
        out += self._maybe_stopped()
        return self._drain(out)

    def _loss_check(self) -> list[Intent]:
        if self.mode != "trading":
            return []
        marks = self._marks
        if marks is None:
            marks = self._marks = {v: b.mid for v, b in self.bbos.items()}
        pnl = self.guard.loss_breach(marks)  # reads the marks, no copy: asked every tick
        if pnl is None:
            return []
        return self._halt_and_flatten(Reason.DAILY_LOSS_LIMIT,
                                      f"today's PnL {pnl:.2f} USD breaches the daily loss limit "
                                      f"{self.limits.daily_loss} USD")

    def on_positions(self, reads: Mapping[str, Decimal | None], now: float,
                     before: Mapping[str, tuple[Decimal, Decimal]] | None = None) -> list[Intent]:
        """Periodic reconciliation: venue reads against the ledger, debounced. ``before`` is the band
        when the read was sent (a fill may land while the read is in flight)."""
        self.now = now
        if self.mode != "trading":
            return []
        failed = [v for v, r in reads.items() if r is None]
        if failed:
            self._read_failures += 1
            if self._read_failures >= POSITION_READ_FAILURES:
                self.guard.move(TradingState.REDUCING, Reason.POSITION_UNKNOWN, now,
                                f"cannot read positions on {', '.join(failed)}: no new risk until it can")
            return self._drain([])
        self._read_failures = 0
        confirmations = self.limits.reconcile_confirmations
        for venue, read in reads.items():
            assert read is not None
            lo, hi = self.position_band(venue)
            if before and venue in before:
                lo, hi = min(lo, before[venue][0]), max(hi, before[venue][1])
            ledger = self.ledger.position(venue)
            if lo <= read <= hi:
                self.guard.reconciler.observe(venue, read, read)
                continue
            if self.guard.reconciler.observe(venue, ledger, read) is Verdict.CONFIRMED:
                return self._drain(self._halt_and_flatten(
                    Reason.POSITION_MISMATCH,
                    f"{venue} reports {read}, the ledger says {ledger} (confirmed by {confirmations} reads)"))
            self.guard.note(now, "reconcile", Reason.POSITION_MISMATCH,
                            f"{venue} read {read} vs ledger {ledger}: unconfirmed, waiting for the next read",
                            read=read, ledger=ledger)
        out: list[Intent] = []
        if self.guard.state is TradingState.REDUCING and self.guard.reason is Reason.POSITION_UNKNOWN:
            self.guard.move(TradingState.ACTIVE, Reason.POSITION_UNKNOWN, now, "positions readable again")
            self._hook(self.strategy.on_timer(self.ctx), out)
        return self._drain(out)

