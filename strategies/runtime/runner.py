"""Runs one strategy against any number of venues: streams in, intents out, everything recorded.

The pure ``Kernel`` decides; this module does the I/O. Per-order work is plain async code (no
Prefect task per order). A fill goes to the kernel and the orders it causes are sent before the
fill is made durable in the journal, so the warehouse never slows a reaction. Venue answers become
kernel events: an ack, a reject with its reason, or a timeout - after which the order is looked up
by client id, never re-sent blindly.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from core.clock import Clock
from core.errors import OrderRejected, VenueError, VenueTimeout
from core.reasons import Reason
from core.records import CycleRecord, FundingRecord, Recorder, RiskEvent, RunEnd, RunInfo
from core.types import ZERO, FillDeduper, Instrument, Order, OrderStatus, OrderType, Position
from exchanges.base import Venue
from strategies.base import Cancel, Finish, Flatten, Intent, Lookup, PlaceLimit, PlaceMarket, Record, Strategy
from strategies.kernel import Kernel
from strategies.preflight import VenueSnapshot
from strategies.runtime.flatten import FlattenResult, confirmed_position, flatten
from strategies.runtime.retry import idempotent

TICK = 0.25
# flattens that end a run as asked (the user's stop, the plan done, a replayed market's end)
PLANNED_ENDS = frozenset({Reason.CANCELLED_BY_USER, Reason.RUN_COMPLETE, Reason.REPLAY_ENDED})


@dataclass
class RunOutcome:
    """How a run ended and what it did, for any strategy (a bot's own result is built from it)."""

    run_id: str
    bot: str
    status: str  # COMPLETED | FAILED | CANCELLED
    reason: str
    symbol: str
    venues: tuple[str, ...]
    records: dict[str, list[Any]]  # by kind, in the order recorded
    risk_events: list[RiskEvent]
    positions: dict[str, Decimal]  # final, read from the venues
    marks: dict[str, Decimal]  # final mid prices
    cash: dict[str, Decimal]  # sum of -signed notional - fee over every fill of the run
    fees: dict[str, Decimal]
    volume: dict[str, Decimal]  # traded notional
    max_abs_net: Decimal
    net_samples: list[tuple[float, Decimal]]
    started: float
    ended: float
    tolerance: Decimal
    external_fills: int = 0
    reaction_s: list[float] = field(default_factory=list)  # fill received -> order sent in response (wall)
    reaction_cpu_s: list[float] = field(default_factory=list)  # the same span in this thread's CPU time
    preflight: dict[str, Any] = field(default_factory=dict)
    instruments: dict[str, Instrument] = field(default_factory=dict)


Observer = Callable[["Runner", Record], None]


class Runner:
    def __init__(self, strategy: Strategy, run_id: str, venues: Mapping[str, Venue] | list[Venue],
                 recorder: Recorder, clock: Clock, *, flow_run_id: str | None = None,
                 on_record: Observer | None = None) -> None:
        self.strategy = strategy
        self.log = logging.getLogger(f"perpflow.{strategy.name}")  # the bot's own logger: perpflow.hedge, ...
        self.run_id = run_id
        self.venues = dict(venues) if isinstance(venues, Mapping) else {v.name: v for v in venues}
        self.recorder = recorder
        self.clock = clock
        self.flow_run_id = flow_run_id
        self.on_record = on_record
        self.symbol = strategy.symbol
        self.kernel: Kernel | None = None
        self.preflight_figures: dict[str, Any] | None = None
        self._instruments: dict[str, Instrument] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tick: asyncio.TimerHandle | None = None  # the ticker's next call
        self._done = asyncio.Event()
        self._finish: Finish | None = None
        self.records: dict[str, list[Any]] = {}  # by kind, as recorded
        self._risk: list[RiskEvent] = []
        self.reaction_s: list[float] = []
        self.reaction_cpu_s: list[float] = []  # wall minus CPU = time the OS ran something else
        self._stop_requested = False
        self.cancel_requested = False  # set by a stop that came before the run began (the scaffold's SIGTERM)
        self._failure: str | None = None  # set by fail(): no new risk from then on
        self._fills = FillDeduper()
        self._marks: dict[str, Decimal] = {}  # final positions' marks, as recorded
        self._unrecorded: set[str] = set()  # record kinds the recorder has no place for (warned once)

    # --- pre-trade -------------------------------------------------------------------------------
    async def _snapshot(self, venue: Venue) -> VenueSnapshot:
        s = self.symbol
        ins, bbo, book, trades, bal = await asyncio.gather(
            idempotent(lambda: venue.instrument(s), f"{venue.name} instrument"),
            idempotent(lambda: venue.bbo(s), f"{venue.name} bbo"),
            idempotent(lambda: venue.book(s, 10), f"{venue.name} book"),
            idempotent(lambda: venue.trades(s, 200), f"{venue.name} trades"),
            idempotent(venue.balance, f"{venue.name} balance"))
        return VenueSnapshot(ins, bbo, book, tuple(trades), bal)

    async def preflight(self) -> dict[str, Any]:
        """Read every venue and let the strategy refuse the run (``PreTradeError``) before any order."""
        snaps = await asyncio.gather(*(self._snapshot(v) for v in self.venues.values()))
        by_venue = dict(zip(self.venues, snaps, strict=True))
        self._instruments = {v: s.instrument for v, s in by_venue.items()}
        self.preflight_figures = self.strategy.preflight(by_venue)
        return self.preflight_figures

    # --- main loop -------------------------------------------------------------------------------
    async def run(self) -> RunOutcome:
        started = self.clock.now()
        if self.preflight_figures is None:
            await self.preflight()
        mode, clock = self.strategy.run_mode
        self.recorder.run_started(RunInfo(self.run_id, self.strategy.name, tuple(self.venues), self.symbol,
                                          self._run_params(), started, self.flow_run_id, mode, clock))
        self.kernel = kernel = Kernel(self.strategy, self.run_id, self._instruments, started, self.symbol)
        restore = self._install_signal_handlers()
        try:
            for v in self.venues.values():
                self._spawn(self._pump_bbo(v))
                if self.strategy.wants_books:
                    self._spawn(self._pump_books(v))
                self._spawn(self._pump_fills(v))
                self._spawn(self._pump_orders(v))
            await self._wait_for_books()
            try:
                positions = await self._startup_positions()
            except VenueError as exc:  # cannot prove the position: add no risk at all
                self._finish = Finish("FAILED", f"could not start: {exc}")
            else:
                if self.cancel_requested:
                    self.request_stop(flatten=self.strategy.flatten_on_cancel)
                if self._failure is None:  # the recorder failed already: add no risk at all
                    self._apply(kernel.start(self.clock.now(), positions))
                self._start_ticker()
                self._spawn(self._reconcile_loop())
                await self._done.wait()
        except asyncio.CancelledError:
            self.request_stop(flatten=self.strategy.flatten_on_cancel)
            await asyncio.shield(self._done.wait())
        finally:
            restore()
            await self._sync_fills(started)
            final = await self._final_positions()
            if self._tick is not None:
                self._tick.cancel()
                self._tick = None
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        fin = self._finish or Finish("FAILED", "stopped without a verdict")
        ended = self.clock.now()
        self.recorder.run_ended(RunEnd(self.run_id, ended, fin.status, fin.reason))
        await self.recorder.flush()
        led = kernel.ledger
        return RunOutcome(
            run_id=self.run_id, bot=self.strategy.name, status=fin.status, reason=fin.reason, symbol=self.symbol,
            venues=tuple(self.venues), records=self.records, risk_events=self._risk, positions=final,
            marks=kernel.marks() | self._marks, cash=dict(led.cash), fees=dict(led.fees), volume=dict(led.volume),
            max_abs_net=led.max_abs_net, net_samples=led.net_samples, started=started, ended=ended,
            tolerance=kernel.tolerance, external_fills=kernel.external_fills, reaction_s=self.reaction_s,
            reaction_cpu_s=self.reaction_cpu_s,
            preflight=self.preflight_figures or {}, instruments=dict(self._instruments))

    def _run_params(self) -> dict[str, Any]:
        """The run's parameters, and each venue's instrument steps and fee rates: the warehouse prints
        sizes in the venue's precision and judges net delta with the run's own tolerance."""
        params = self.strategy.public_params()
        if self.preflight_figures:  # what the pre-trade checks found (what a venue really executes, ...)
            params["preflight"] = self.preflight_figures
        params["instruments"] = {
            i.venue: {"venue_symbol": i.venue_symbol, "tick": str(i.tick), "lot": str(i.lot),
                      "min_size": str(i.min_size), "maker_fee": str(i.maker_fee), "taker_fee": str(i.taker_fee)}
            for i in self._instruments.values()}
        return params

    def request_stop(self, *, flatten: bool, status: str = "CANCELLED", reason: Reason = Reason.CANCELLED_BY_USER,
                     detail: str = "") -> None:
        """Cancel open orders, then flatten or leave positions (a user cancelling the run; the end
        of a replayed market, which completes the run)."""
        if self.kernel is None or self._stop_requested:
            return
        self._stop_requested = True
        self.log.warning("stop requested (%s): cancelling open orders, then %s", detail or reason,
                    "flattening" if flatten else "leaving positions")
        self._apply(self.kernel.stop(self.clock.now(), flatten=flatten, status=status, reason=reason, detail=detail))

    def fail(self, detail: str, reason: Reason = Reason.RECORD_FAILED) -> None:
        """Stop adding risk now: cancel everything, flatten with reduce-only orders, end FAILED with ``detail``.

        Safe to call from inside a recorder call (it runs on the loop's next turn) and more than once."""
        self._failure = self._failure or detail

        def stop() -> None:
            if self.kernel is None:
                self._finish = self._finish or Finish("FAILED", detail)
                self._done.set()
            elif not self._done.is_set():
                self._apply(self.kernel.stop(self.clock.now(), flatten=True, status="FAILED", reason=reason,
                                             detail=detail))
        asyncio.get_running_loop().call_soon(stop)

    def signal(self, payload: Any) -> None:
        """Hand an outside decision (an LLM's answer, an operator's instruction) to the strategy."""
        if self.kernel is not None:
            self._apply(self.kernel.on_signal(payload, self.clock.now()))

    def live_state(self) -> dict[str, Any]:
        """What the run holds now: positions per venue, net, volume, PnL so far, open orders."""
        k = self.kernel
        if k is None:
            return {"mode": "starting"}
        led = k.ledger
        return {"mode": k.mode, "state": str(k.guard.state), "positions": led.positions(), "net": led.net,
                "volume": sum(led.volume.values(), ZERO), "fees": sum(led.fees.values(), ZERO),
                "pnl": led.pnl(k.marks()), "open_orders": len(k.table.open()), "max_abs_net": led.max_abs_net}

    def _install_signal_handlers(self) -> Callable[[], None]:
        """SIGTERM/SIGINT (Prefect cancelling the run, Ctrl-C) stop the bot cleanly."""
        loop = asyncio.get_running_loop()
        installed: list[tuple[int, Any]] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                previous = signal.getsignal(sig)
                loop.add_signal_handler(sig, lambda: self.request_stop(flatten=self.strategy.flatten_on_cancel))
                installed.append((sig, previous))
            except (ValueError, RuntimeError, NotImplementedError):  # not the main thread
                pass

        def restore() -> None:
            for sig, previous in installed:
                loop.remove_signal_handler(sig)
                signal.signal(sig, previous)
        return restore

    async def _wait_for_books(self) -> None:
        assert self.kernel is not None
        for _ in range(400):
            if all(v in self.kernel.bbos for v in self.venues):
                return
            await asyncio.sleep(0.05)
        for v in self.venues.values():  # streams silent: fall back to REST once
            if v.name not in self.kernel.bbos:
                bbo = await idempotent(lambda v=v: v.bbo(self.symbol), f"{v.name} bbo")
                self.kernel.on_bbo(bbo, self.clock.now())

    async def _startup_positions(self) -> dict[str, Decimal]:
        """Before trading: cancel orders a dead run may have left, then read confirmed positions."""
        out = {}
        for v in self.venues.values():
            await idempotent(lambda v=v: v.cancel_all(self.symbol), f"{v.name} cancel-all")
            pos = await confirmed_position(v, self.symbol)
            if pos is None:
                raise VenueError(Reason.POSITION_UNKNOWN, f"cannot read a confirmed {self.symbol} position", v.name)
            out[v.name] = pos
            self.recorder.position(Position(v.name, self.symbol, pos, None, self.clock.now(), "rest"))
        return out

    async def _sync_fills(self, since: float) -> None:
        """Last word on fills: whatever the streams missed is taken from the venue's history."""
        for v in self.venues.values():
            try:
                history = await idempotent(lambda v=v: v.fills(since, self.symbol), f"{v.name} fills")
                missed = [f for f in history if self._fills.first_time(f)]
            except VenueError as exc:
                self.log.warning("%s: final fill sync failed (%s)", v.name, exc.reason)
                continue
            for f in missed:
                self.log.warning("%s: fill %s was missing from the streams; recorded from history", v.name, f.trade_id)
                if self.kernel is not None:
                    self.kernel.account_late_fill(f)
                await self.recorder.fill(f)

    async def _final_positions(self) -> dict[str, Decimal]:
        out = {}
        for v in self.venues.values():
            try:
                p = await idempotent(lambda v=v: v.position(self.symbol), f"{v.name} position")
                bbo = self.kernel.bbos.get(v.name) if self.kernel else None
                if bbo is not None:
                    self._marks[v.name] = bbo.mid
                self.recorder.position(replace(p, mark=bbo.mid if bbo else None))  # what the summary marks it at
                out[v.name] = p.size
            except VenueError:
                out[v.name] = self.kernel.ledger.position(v.name) if self.kernel else ZERO
        return out

    # --- streams ---------------------------------------------------------------------------------
    async def _pump_bbo(self, venue: Venue) -> None:
        async for bbo in venue.stream_bbo(self.symbol):
            if self.kernel is not None:
                self._apply(self.kernel.on_bbo(bbo, self.clock.now()))

    async def _pump_books(self, venue: Venue) -> None:
        async for book in venue.stream_book(self.symbol):
            if self.kernel is not None:
                self._apply(self.kernel.on_book(book, self.clock.now()))

    async def _pump_fills(self, venue: Venue) -> None:
        async for fill in venue.stream_fills():
            if fill.symbol != self.symbol or self.kernel is None:
                continue
            received = (time.perf_counter(), time.thread_time())
            self._apply(self.kernel.on_fill(fill, self.clock.now()), received)
            if self._fills.first_time(fill):
                self._spawn(self.recorder.fill(fill))  # durable, after the reaction is on its way

    async def _pump_orders(self, venue: Venue) -> None:
        async for order in venue.stream_orders():
            if order.symbol != self.symbol or self.kernel is None:
                continue
            if self.kernel.table.get(order.client_id) is not None:
                self.recorder.order(order)
                self._apply(self.kernel.on_order(order, self.clock.now()))

    def _start_ticker(self) -> None:
        """``kernel.on_tick`` every ``TICK``, each tick scheduled when the last is handled (as a task
        sleeping between ticks would), from a plain timer: one loop turn a tick instead of two, and no
        future - a simulated day is 345,600 ticks. A tick that raises stops the ticker and the run,
        as a failed task does."""
        kernel = self.kernel
        assert kernel is not None
        loop = asyncio.get_running_loop()

        def tick() -> None:
            try:
                self._apply(kernel.on_tick(self.clock.now()))
            except Exception as exc:
                self._tick = None
                self._failed(exc)
                return
            self._tick = loop.call_later(TICK, tick)

        self._tick = loop.call_later(TICK, tick)

    async def _reconcile_loop(self) -> None:
        assert self.kernel is not None
        while True:
            await asyncio.sleep(self.strategy.reconcile_interval)
            before = {v: self.kernel.position_band(v) for v in self.venues}
            reads: dict[str, Decimal | None] = {}
            for v in self.venues.values():
                try:
                    p = await v.position(self.symbol)
                    reads[v.name] = p.size
                    self.recorder.position(p)
                except VenueError:
                    reads[v.name] = None
            self._apply(self.kernel.on_positions(reads, self.clock.now(), before))

    # --- intents ---------------------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, Any] | Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._failed(task.exception())

    def _failed(self, exc: BaseException | None) -> None:
        """A runner task (or the ticker) failed: flatten and end the run FAILED."""
        self.log.error("runner task failed: %r", exc)
        if self.kernel is not None and not self._done.is_set():
            self._apply(self.kernel.stop(self.clock.now(), flatten=True, status="FAILED",
                                         reason=Reason.INTERNAL_ERROR, detail=f"internal error: {exc!r}"))

    def _apply(self, intents: list[Intent], received: tuple[float, float] | None = None) -> None:
        for it in intents:
            if isinstance(it, PlaceLimit | PlaceMarket):
                self._spawn(self._place(it, received))
            elif isinstance(it, Cancel):
                self._spawn(self._cancel(it))
            elif isinstance(it, Lookup):
                self._spawn(self._lookup(it))
            elif isinstance(it, Flatten):
                self._spawn(self._flatten(it))
            elif isinstance(it, Record):
                self._record(it)
            elif isinstance(it, Finish):
                self._finish = it
                self._done.set()

    def _record(self, it: Record) -> None:
        self.records.setdefault(it.kind, []).append(it.payload)
        if it.kind == "risk":
            ev: RiskEvent = it.payload
            self._risk.append(ev)
            self.recorder.risk_event(ev)
            if ev.reason is Reason.RUN_COMPLETE:
                self.log.info("run complete: %s", ev.detail)
            elif ev.state_to or ev.check in ("hedge", "restart", "gate"):
                self.log.warning("risk %s %s: %s", ev.check, ev.reason, ev.detail)
        elif it.kind == "cycle" and isinstance(it.payload, CycleRecord):
            self.recorder.cycle(it.payload)
        elif it.kind == "funding" and isinstance(it.payload, FundingRecord):
            self.recorder.funding(it.payload)
        else:
            record = getattr(self.recorder, "record", None)
            if record is not None and isinstance(it.payload, dict):
                record(it.kind, **it.payload)
            elif it.kind not in self._unrecorded:
                self._unrecorded.add(it.kind)
                self.log.warning("records of kind %r are not journaled by this recorder (kept in the run's result)",
                            it.kind)
        line = self.strategy.describe(it)
        if line:
            self.log.info("%s", line)
        if self.on_record is not None:
            self.on_record(self, it)

    def _record_sent(self, it: PlaceLimit | PlaceMarket, order: Order | None, reject: str | None = None) -> None:
        if order is None:
            order = Order(venue=it.venue, order_id=f"cid:{it.client_id}", client_id=it.client_id, symbol=self.symbol,
                          side=it.side, type=OrderType.LIMIT if isinstance(it, PlaceLimit) else OrderType.MARKET,
                          price=it.price if isinstance(it, PlaceLimit) else None, size=it.size,
                          status=OrderStatus.REJECTED, post_only=isinstance(it, PlaceLimit) and it.post_only,
                          reduce_only=it.reduce_only, ts=self.clock.now(), reject_reason=reject)
        self.recorder.order(order)

    async def _place(self, it: PlaceLimit | PlaceMarket, received: tuple[float, float] | None) -> None:
        kernel = self.kernel
        assert kernel is not None
        venue = self.venues[it.venue]
        if received is not None:
            self.reaction_s.append(time.perf_counter() - received[0])
            self.reaction_cpu_s.append(time.thread_time() - received[1])
        try:
            if isinstance(it, PlaceLimit):
                order = await venue.place_limit(self.symbol, it.side, it.price, it.size, client_id=it.client_id,
                                                post_only=it.post_only, reduce_only=it.reduce_only)
            else:
                order = await venue.place_market(self.symbol, it.side, it.size, client_id=it.client_id,
                                                 max_slippage_bps=it.max_slippage_bps, reduce_only=it.reduce_only)
        except OrderRejected as exc:
            self._record_sent(it, None, str(exc.reason))
            self._apply(kernel.on_rejected(it.client_id, exc.reason, exc.detail, self.clock.now()))
            return
        except (VenueTimeout, VenueError) as exc:  # fate unknown: look it up, never resend blindly
            self.log.warning("%s %s order %s: %s; looking it up", it.venue, it.tag, it.client_id, exc.reason)
            self._apply(kernel.on_timeout(it.client_id, self.clock.now()))
            return
        self._record_sent(it, order)
        self._apply(kernel.on_order(order, self.clock.now()))

    async def _cancel(self, it: Cancel) -> None:
        kernel = self.kernel
        assert kernel is not None
        try:
            order = await self.venues[it.venue].cancel(self.symbol, client_id=it.client_id)
        except OrderRejected as exc:
            if exc.reason is Reason.UNKNOWN_ORDER:
                self._apply(kernel.on_lookup(it.client_id, None, self.clock.now()))
            return
        except VenueError:
            self._apply(kernel.on_timeout(it.client_id, self.clock.now()))
            return
        self.recorder.order(order)
        self._apply(kernel.on_order(order, self.clock.now()))

    async def _lookup(self, it: Lookup) -> None:
        kernel = self.kernel
        assert kernel is not None
        try:
            order = await self.venues[it.venue].order(self.symbol, client_id=it.client_id)
        except VenueError:
            return  # the kernel asks again on a later tick
        if order is not None:
            self.recorder.order(order)
        self._apply(kernel.on_lookup(it.client_id, order, self.clock.now()))

    async def _flatten(self, it: Flatten) -> None:
        kernel = self.kernel
        assert kernel is not None
        # an end the user or the plan asked for is news, not a warning; a risk stop is a warning
        level = logging.INFO if it.code in PLANNED_ENDS else logging.WARNING
        self.log.log(level, "flattening %s on %s: %s", self.symbol, ", ".join(self.venues), it.reason)
        try:
            result = await flatten(list(self.venues.values()), self.symbol, client_prefix=kernel.client_prefix,
                                   chunk=dict(self.strategy.flatten_chunks()),
                                   slippage_bps=self.strategy.flatten_slippage_bps, on_order=self.recorder.order)
        except Exception as exc:  # never leave the kernel waiting for a flatten that died
            self.log.exception("flatten failed")
            result = FlattenResult(False, kernel.ledger.positions(), f"flatten error: {exc!r}", 0)
        for name, size in result.positions.items():
            self.recorder.position(Position(name, self.symbol, size, None, self.clock.now(), "rest"))
        self._apply(kernel.on_flattened(self.clock.now(), result.ok, result.positions, result.detail))

