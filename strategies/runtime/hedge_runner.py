"""Runs the hedge engine against two venues: streams in, intents out, everything recorded.

Per-order work is plain async code (no Prefect task per order). A fill goes to the engine and
its hedge order is sent before the fill is made durable in the journal, so the warehouse never
slows a hedge. Venue answers become engine events: an ack, a reject with its reason, or a
timeout - after which the order is looked up by client id, never re-sent blindly.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from decimal import Decimal
from typing import Any

from core.clock import Clock
from core.errors import OrderRejected, VenueError, VenueTimeout
from core.reasons import Reason
from core.records import CycleRecord, Recorder, RiskEvent, RunEnd, RunInfo
from core.types import ZERO, Fill, FillDeduper, Order, OrderStatus, OrderType, Position
from exchanges.base import Venue
from strategies.hedge.config import HedgeConfig
from strategies.hedge.engine import BOT, HedgeEngine
from strategies.hedge.result import RunResult
from strategies.intents import (
    Cancel,
    Finish,
    Flatten,
    Intent,
    Lookup,
    PlaceLimit,
    PlaceMarket,
    RecordCycle,
    RecordRisk,
)
from strategies.preflight import ExecutableEstimate, VenueSnapshot, validate
from strategies.risk import gate
from strategies.runtime.flatten import FlattenResult, confirmed_position, flatten
from strategies.runtime.retry import idempotent

log = logging.getLogger("perpflow.hedge")
TICK = 0.25


class HedgeRunner:
    def __init__(self, cfg: HedgeConfig, run_id: str, primary: Venue, hedge: Venue, recorder: Recorder,
                 clock: Clock, *, flow_run_id: str | None = None,
                 on_cycle: Callable[[int, int, CycleRecord], None] | None = None) -> None:
        self.cfg = cfg
        self.run_id = run_id
        self.primary = primary
        self.hedge = hedge
        self.venues = {primary.name: primary, hedge.name: hedge}
        self.recorder = recorder
        self.clock = clock
        self.flow_run_id = flow_run_id
        self.on_cycle = on_cycle
        self.symbol = cfg.ticker
        self.engine: HedgeEngine | None = None
        self.estimate: ExecutableEstimate | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._done = asyncio.Event()
        self._finish: Finish | None = None
        self._cycles: list[CycleRecord] = []
        self._risk: list[RiskEvent] = []
        self.reaction_s: list[float] = []
        self._stop_requested = False
        self._failure: str | None = None  # set by fail(): no new risk from then on
        self._fills = FillDeduper()
        self._cash = {v: ZERO for v in self.venues}
        self._fees = {v: ZERO for v in self.venues}
        self._volume = {v: ZERO for v in self.venues}
        self._marks: dict[str, Decimal] = {}  # final positions' marks, as recorded

    # --- pre-trade ---------------------------------------------------------------------------
    async def _snapshot(self, venue: Venue) -> VenueSnapshot:
        s = self.symbol
        ins, bbo, book, trades, bal = await asyncio.gather(
            idempotent(lambda: venue.instrument(s), f"{venue.name} instrument"),
            idempotent(lambda: venue.bbo(s), f"{venue.name} bbo"),
            idempotent(lambda: venue.book(s, 10), f"{venue.name} book"),
            idempotent(lambda: venue.trades(s, 200), f"{venue.name} trades"),
            idempotent(venue.balance, f"{venue.name} balance"))
        return VenueSnapshot(ins, bbo, book, tuple(trades), bal)

    async def preflight(self) -> ExecutableEstimate:
        """Validate the run against both venues; raises ``PreTradeError`` before any order."""
        p, h = await asyncio.gather(self._snapshot(self.primary), self._snapshot(self.hedge))
        self._instruments = (p.instrument, h.instrument)
        self.estimate = validate(self.cfg.size, self.cfg.position_limit, self.cfg.margin_fraction, p, h,
                                 self.cfg.max_basis_bps)
        return self.estimate

    # --- main loop ---------------------------------------------------------------------------
    async def run(self) -> RunResult:
        started = self.clock.now()
        if self.estimate is None:
            await self.preflight()
        pins, hins = self._instruments
        self.recorder.run_started(RunInfo(self.run_id, BOT, (pins.venue, hins.venue), self.symbol,
                                          self._run_params(), started, self.flow_run_id, *self.cfg.run_mode))
        self.engine = engine = HedgeEngine(self.cfg, self.run_id, pins, hins, started)
        restore = self._install_signal_handlers()
        try:
            for v in self.venues.values():
                self._spawn(self._pump_bbo(v))
                self._spawn(self._pump_fills(v))
                self._spawn(self._pump_orders(v))
            await self._wait_for_books()
            try:
                positions = await self._startup_positions()
            except VenueError as exc:  # cannot prove the position: add no risk at all
                self._finish = Finish("FAILED", f"could not start: {exc}")
            else:
                if self._failure is None:  # the recorder failed already: add no risk at all
                    self._apply(engine.start(self.clock.now(), positions))
                self._spawn(self._ticker())
                self._spawn(self._reconcile_loop())
                await self._done.wait()
        except asyncio.CancelledError:
            self.request_stop(flatten=self.cfg.on_cancel == "flatten")
            await asyncio.shield(self._done.wait())
        finally:
            restore()
            await self._sync_fills(started)
            final = await self._final_positions()
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        fin = self._finish or Finish("FAILED", "stopped without a verdict")
        ended = self.clock.now()
        self.recorder.run_ended(RunEnd(self.run_id, ended, fin.status, fin.reason))
        await self.recorder.flush()
        return RunResult(
            run_id=self.run_id, status=fin.status, reason=fin.reason, symbol=self.symbol,
            venues=(self.primary.name, self.hedge.name), cycles=self._cycles, risk_events=self._risk,
            positions=final, marks={v: b.mid for v, b in engine.bbo.items()} | self._marks, cash=self._cash,
            fees=self._fees,
            volume=self._volume, residual=engine.residual, hedge_failures=engine.stats.hedge_failures,
            recoveries=engine.stats.recoveries, max_abs_net=engine.stats.max_abs_net,
            net_samples=engine.stats.net_samples, started=started, ended=ended, tolerance=engine.tol,
            reaction_s=self.reaction_s, fee_rates={i.venue: (i.maker_fee, i.taker_fee) for i in self._instruments})

    def _run_params(self) -> dict[str, Any]:
        """The run's parameters, and each venue's instrument steps and fee rates: the warehouse prints
        sizes in the venue's precision and judges net delta with the run's own tolerance."""
        params = self.cfg.public_params()
        params["instruments"] = {
            i.venue: {"venue_symbol": i.venue_symbol, "tick": str(i.tick), "lot": str(i.lot),
                      "min_size": str(i.min_size), "maker_fee": str(i.maker_fee), "taker_fee": str(i.taker_fee)}
            for i in self._instruments}
        if self.estimate is not None:  # what the hedge venue could execute vs what its book displayed
            e = self.estimate
            params["preflight"] = {"venue": self.hedge.name, "displayed_top": str(e.displayed_top),
                                   "executable_size": None if e.size is None else str(e.size),
                                   "largest_print": None if e.largest_print is None else str(e.largest_print),
                                   "trades_seen": e.trades_seen}
        return params

    def request_stop(self, *, flatten: bool, status: str = "CANCELLED", reason: Reason = Reason.CANCELLED_BY_USER,
                     detail: str = "") -> None:
        """Cancel open orders, then flatten or leave positions (a user cancelling the run; the end
        of a replayed market, which completes the run)."""
        if self.engine is None or self._stop_requested:
            return
        self._stop_requested = True
        log.warning("stop requested (%s): cancelling open orders, then %s", detail or reason,
                    "flattening" if flatten else "leaving positions")
        self._apply(self.engine.stop(self.clock.now(), flatten=flatten, status=status, reason=reason, detail=detail))

    def fail(self, detail: str, reason: Reason = Reason.RECORD_FAILED) -> None:
        """Stop adding risk now: cancel everything, flatten with reduce-only orders, end FAILED with ``detail``.

        Safe to call from inside a recorder call (it runs on the loop's next turn) and more than once."""
        self._failure = self._failure or detail

        def stop() -> None:
            if self.engine is None:
                self._finish = self._finish or Finish("FAILED", detail)
                self._done.set()
            elif not self._done.is_set():
                self._apply(self.engine.stop(self.clock.now(), flatten=True, status="FAILED", reason=reason,
                                             detail=detail))
        asyncio.get_running_loop().call_soon(stop)

    def _install_signal_handlers(self) -> Callable[[], None]:
        """SIGTERM/SIGINT (Prefect cancelling the run, Ctrl-C) stop the bot cleanly."""
        loop = asyncio.get_running_loop()
        installed: list[tuple[int, Any]] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                previous = signal.getsignal(sig)
                loop.add_signal_handler(sig, lambda: self.request_stop(flatten=self.cfg.on_cancel == "flatten"))
                installed.append((sig, previous))
            except (ValueError, RuntimeError, NotImplementedError):  # not the main thread
                pass

        def restore() -> None:
            for sig, previous in installed:
                loop.remove_signal_handler(sig)
                signal.signal(sig, previous)
        return restore

    async def _wait_for_books(self) -> None:
        assert self.engine is not None
        for _ in range(400):
            if all(v in self.engine.bbo for v in self.venues):
                return
            await asyncio.sleep(0.05)
        for v in self.venues.values():  # streams silent: fall back to REST once
            if v.name not in self.engine.bbo:
                bbo = await idempotent(lambda v=v: v.bbo(self.symbol), f"{v.name} bbo")
                self.engine.on_bbo(bbo, self.clock.now())

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
                log.warning("%s: final fill sync failed (%s)", v.name, exc.reason)
                continue
            for f in missed:
                log.warning("%s: fill %s was missing from the streams; recorded from history", v.name, f.trade_id)
                self._account(f)
                await self.recorder.fill(f)

    def _account(self, fill: Fill) -> None:
        self._cash[fill.venue] -= fill.signed_size * fill.price + fill.fee
        self._fees[fill.venue] += fill.fee
        self._volume[fill.venue] += fill.notional

    async def _final_positions(self) -> dict[str, Decimal]:
        out = {}
        for v in self.venues.values():
            try:
                p = await idempotent(lambda v=v: v.position(self.symbol), f"{v.name} position")
                bbo = self.engine.bbo.get(v.name) if self.engine else None
                if bbo is not None:
                    self._marks[v.name] = bbo.mid
                self.recorder.position(replace(p, mark=bbo.mid if bbo else None))  # what the summary marks it at
                out[v.name] = p.size
            except VenueError:
                out[v.name] = self.engine.pos.get(v.name, ZERO) if self.engine else ZERO
        return out

    # --- streams -----------------------------------------------------------------------------
    async def _pump_bbo(self, venue: Venue) -> None:
        async for bbo in venue.stream_bbo(self.symbol):
            if self.engine is not None:
                self._apply(self.engine.on_bbo(bbo, self.clock.now()))

    async def _pump_fills(self, venue: Venue) -> None:
        async for fill in venue.stream_fills():
            if fill.symbol != self.symbol or self.engine is None:
                continue
            received = time.perf_counter()
            self._apply(self.engine.on_fill(fill, self.clock.now()), received)
            if self._fills.first_time(fill):
                self._account(fill)
                self._spawn(self.recorder.fill(fill))  # durable, after the hedge is on its way

    async def _pump_orders(self, venue: Venue) -> None:
        async for order in venue.stream_orders():
            if order.symbol != self.symbol or self.engine is None:
                continue
            if order.client_id in self.engine.orders:
                self.recorder.order(order)
                self._apply(self.engine.on_order(order, self.clock.now()))

    async def _ticker(self) -> None:
        assert self.engine is not None
        while True:
            await asyncio.sleep(TICK)
            self._apply(self.engine.on_tick(self.clock.now()))

    async def _reconcile_loop(self) -> None:
        assert self.engine is not None
        while True:
            await asyncio.sleep(self.cfg.reconcile_interval)
            before = {v: self.engine.position_band(v) for v in self.venues}
            reads: dict[str, Decimal | None] = {}
            for v in self.venues.values():
                try:
                    p = await v.position(self.symbol)
                    reads[v.name] = p.size
                    self.recorder.position(p)
                except VenueError:
                    reads[v.name] = None
            self._apply(self.engine.on_positions(reads, self.clock.now(), before))

    # --- intents -----------------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, Any] | Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("hedge runner task failed: %r", exc)
            if self.engine is not None and not self._done.is_set():
                self._apply(self.engine.stop(self.clock.now(), flatten=True, status="FAILED",
                                             reason=Reason.INTERNAL_ERROR, detail=f"internal error: {exc!r}"))

    def _apply(self, intents: list[Intent], received: float | None = None) -> None:
        engine = self.engine
        assert engine is not None
        for it in intents:
            if isinstance(it, PlaceLimit | PlaceMarket):
                denial = gate(engine.sm.state, it.role, it.side.sign, it.size, it.reduce_only,
                              engine.pos[it.venue], engine.net, self.cfg.position_limit)
                if denial is not None:
                    reason, detail = denial
                    engine.log.add(self.clock.now(), "gate", reason, detail, client_id=it.client_id)
                    self._apply(engine.denied(it.client_id, reason, detail, self.clock.now()))
                    continue
                self._spawn(self._place(it, received if it.role == "hedge" else None))
            elif isinstance(it, Cancel):
                self._spawn(self._cancel(it))
            elif isinstance(it, Lookup):
                self._spawn(self._lookup(it))
            elif isinstance(it, Flatten):
                self._spawn(self._flatten(it))
            elif isinstance(it, RecordCycle):
                self._cycles.append(it.cycle)
                self.recorder.cycle(it.cycle)
                log.info("cycle %d %s %s %s: edge %s bps, pnl %s, net delta %s", it.cycle.cycle_no, it.cycle.kind,
                         it.cycle.size, it.cycle.status, it.cycle.edge_bps, f"{it.cycle.pnl:.4f}",
                         it.cycle.net_delta_after)
                if self.on_cycle is not None:
                    self.on_cycle(engine.plan.cycles_done, engine.plan.total_cycles, it.cycle)
            elif isinstance(it, RecordRisk):
                self._risk.append(it.event)
                self.recorder.risk_event(it.event)
                if it.event.reason is Reason.RUN_COMPLETE:
                    log.info("run complete: %s", it.event.detail)
                elif it.event.state_to or it.event.check in ("hedge", "restart", "gate"):
                    log.warning("risk %s %s: %s", it.event.check, it.event.reason, it.event.detail)
            elif isinstance(it, Finish):
                self._finish = it
                self._done.set()

    def _record_sent(self, it: PlaceLimit | PlaceMarket, order: Order | None, reject: str | None = None) -> None:
        if order is None:
            order = Order(venue=it.venue, order_id=f"cid:{it.client_id}", client_id=it.client_id, symbol=self.symbol,
                          side=it.side, type=OrderType.LIMIT if isinstance(it, PlaceLimit) else OrderType.MARKET,
                          price=it.price if isinstance(it, PlaceLimit) else None, size=it.size,
                          status=OrderStatus.REJECTED, post_only=isinstance(it, PlaceLimit) and it.post_only,
                          reduce_only=it.reduce_only, ts=self.clock.now(), reject_reason=reject)
        self.recorder.order(order)

    async def _place(self, it: PlaceLimit | PlaceMarket, received: float | None) -> None:
        engine = self.engine
        assert engine is not None
        venue = self.venues[it.venue]
        if received is not None:
            self.reaction_s.append(time.perf_counter() - received)
        try:
            if isinstance(it, PlaceLimit):
                order = await venue.place_limit(self.symbol, it.side, it.price, it.size, client_id=it.client_id,
                                                post_only=it.post_only, reduce_only=it.reduce_only)
            else:
                order = await venue.place_market(self.symbol, it.side, it.size, client_id=it.client_id,
                                                 max_slippage_bps=it.max_slippage_bps, reduce_only=it.reduce_only)
        except OrderRejected as exc:
            self._record_sent(it, None, str(exc.reason))
            self._apply(engine.on_rejected(it.client_id, exc.reason, exc.detail, self.clock.now()))
            return
        except (VenueTimeout, VenueError) as exc:  # fate unknown: look it up, never resend blindly
            log.warning("%s %s order %s: %s; looking it up", it.venue, it.role, it.client_id, exc.reason)
            self._apply(engine.on_timeout(it.client_id, self.clock.now()))
            return
        self._record_sent(it, order)
        self._apply(engine.on_order(order, self.clock.now()))

    async def _cancel(self, it: Cancel) -> None:
        engine = self.engine
        assert engine is not None
        try:
            order = await self.venues[it.venue].cancel(self.symbol, client_id=it.client_id)
        except OrderRejected as exc:
            if exc.reason is Reason.UNKNOWN_ORDER:
                self._apply(engine.on_lookup(it.client_id, None, self.clock.now()))
            return
        except VenueError:
            self._apply(engine.on_timeout(it.client_id, self.clock.now()))
            return
        self.recorder.order(order)
        self._apply(engine.on_order(order, self.clock.now()))

    async def _lookup(self, it: Lookup) -> None:
        engine = self.engine
        assert engine is not None
        try:
            order = await self.venues[it.venue].order(self.symbol, client_id=it.client_id)
        except VenueError:
            return  # the engine asks again on a later tick
        if order is not None:
            self.recorder.order(order)
        self._apply(engine.on_lookup(it.client_id, order, self.clock.now()))

    async def _flatten(self, it: Flatten) -> None:
        engine = self.engine
        assert engine is not None
        log.warning("flattening both venues: %s", it.reason)
        chunk = {self.hedge.name: self.estimate.size if self.estimate else None}
        try:
            result = await flatten([self.primary, self.hedge], self.symbol, client_prefix=engine.tag, chunk=chunk,
                                   slippage_bps=self.cfg.flatten_slippage_bps, on_order=self.recorder.order)
        except Exception as exc:  # never leave the engine waiting for a flatten that died
            log.exception("flatten failed")
            result = FlattenResult(False, dict(engine.pos), f"flatten error: {exc!r}", 0)
        for name, size in result.positions.items():
            self.recorder.position(Position(name, self.symbol, size, None, self.clock.now(), "rest"))
        self._apply(engine.on_flattened(self.clock.now(), result.ok, result.positions, result.detail))
