"""The hedge engine: a pure state machine (events in, intents out), no I/O.

A cycle posts one primary maker order (priced by its mode, re-priced when the book moves away,
renewed when stale). Every increase of primary exposure - a fill, a partial fill, an order update
or a cancel answered "already filled" - is hedged at once on the hedge venue; fill events are
deduplicated by trade id, and exposure counts once per order (the larger of what order updates
and fill events have shown). While a hedge is in flight no new primary order is sent, so the
unhedged exposure never exceeds one order size plus the carried residual (a remainder below the
hedge venue's minimum size, hedged once it adds up).

A maker hedge (bbo_minus_1) turns into a taker IOC after ``hedge_timeout`` or an adverse move.
Consecutive hedge failures, a confirmed position mismatch and the daily loss limit move the bot
to REDUCING and flatten everything with reduce-only orders; the run then ends failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from core.reasons import Reason
from core.types import BBO, ZERO, Fill, Instrument, Order, PriceMode, Side
from exchanges.pricing import limit_price
from strategies.hedge.config import HedgeConfig
from strategies.hedge.cycle import CycleState
from strategies.hedge.plan import CyclePlan
from strategies.intents import Cancel, Finish, Flatten, Intent, Lookup, PlaceLimit, PlaceMarket, RecordCycle, RecordRisk
from strategies.risk import DailyPnl, Reconciler, RiskLog, TradingState, TradingStateMachine

BOT = "hedge"
# Order answers that retrying cannot fix: the run stops instead of looping.
FATAL_REJECTS = frozenset({
    Reason.INSUFFICIENT_MARGIN, Reason.SIZE_ABOVE_MAX, Reason.BELOW_MIN_SIZE, Reason.BELOW_MIN_NOTIONAL,
    Reason.OFF_TICK, Reason.OFF_LOT, Reason.UNKNOWN_SYMBOL, Reason.AUTH, Reason.INVALID_SIGNATURE,
    Reason.DUPLICATE_CLIENT_ID,
})
MAX_TRANSIENT_REJECTS = 50
REJECT_COOLDOWN = 0.5
HEDGE_RETRY_COOLDOWN = 0.2
LOOKUP_AFTER = 0.5
FILL_WAIT = 10.0
POSITION_READ_FAILURES = 3


@dataclass(slots=True, eq=False)
class Tracked:
    """An order this run sent, as far as the engine knows."""

    role: str  # primary | hedge
    venue: str
    client_id: str
    side: Side
    size: Decimal
    price: Decimal | None  # None: IOC market order
    reduce_only: bool
    placed_at: float
    cycle_no: int
    ref_mid: Decimal | None = None  # hedge venue mid when a maker hedge was placed
    order_id: str | None = None
    state: str = "sending"  # sending | live | cancelling | unknown | done
    accounted: Decimal = ZERO  # exposure counted so far (order updates or fills)
    fill_qty: Decimal = ZERO  # from fill events only
    escalate: bool = False
    last_check: float = 0.0
    why: str | None = None  # why a hedge is (or was escalated to) taker; see CycleRecord.hedge_taker_reason

    @property
    def live(self) -> bool:
        return self.state != "done"

    @property
    def open_qty(self) -> Decimal:
        return self.size - self.accounted if self.live else ZERO


@dataclass(slots=True)
class Stats:
    hedge_failures: int = 0  # failed hedge attempts in the run
    recoveries: int = 0  # hedges completed after at least one failure
    max_abs_net: Decimal = ZERO
    primary_rejects: int = 0
    reprices: int = 0
    escalations: int = 0
    external_fills: int = 0
    net_samples: list[tuple[float, Decimal]] = field(default_factory=list)


class HedgeEngine:
    def __init__(self, cfg: HedgeConfig, run_id: str, primary: Instrument, hedge: Instrument, now: float) -> None:
        self.cfg = cfg
        self.run_id = run_id
        self.p = primary
        self.h = hedge
        self.pv, self.hv = primary.venue, hedge.venue
        self.tag = "h" + run_id.replace("-", "")[:10]
        self.log = RiskLog(run_id)
        self.sm = TradingStateMachine(self.log)
        self.daily = DailyPnl(now)
        self.tol = max(cfg.net_delta_tolerance * cfg.size, min(primary.lot, hedge.lot) / 2)
        self.reconciler = Reconciler(self.tol, cfg.reconcile_confirmations)
        self.plan = CyclePlan(cfg.iterations, cfg.build_to, cfg.size, cfg.position_limit, cfg.direction)
        self.pos: dict[str, Decimal] = {self.pv: ZERO, self.hv: ZERO}
        self.orders: dict[str, Tracked] = {}
        self._open: dict[str, Tracked] = {}  # the orders still in flight (a subset of ``orders``)
        self._by_oid: dict[tuple[str, str], Tracked] = {}
        self._seen: set[tuple[str, str, str]] = set()
        self.bbo: dict[str, BBO] = {}
        self.cycle: CycleState | None = None
        self.cycle_no = 0
        self.mode = "idle"  # idle | trading | flattening | stopping | done
        self.residual = ZERO
        self.stats = Stats()
        self._seq = 0
        self._consecutive_hedge_failures = 0
        self._failing = False
        self._taker_hedge = cfg.hedge_mode == "market"
        self._taker_why: str | None = "hedge_mode_market" if self._taker_hedge else None
        self._quote_after = 0.0
        self._hedge_after = 0.0
        self._transient_rejects = 0
        self._spread_blocked = False
        self._read_failures = 0
        self._fills_wait_since: float | None = None
        self._stop_status: tuple[str, Reason, str] = ("CANCELLED", Reason.CANCELLED_BY_USER, "")
        self._after_flatten: tuple[str, str, Reason] = ("finish", "FAILED", Reason.REJECTED)

    # --- derived state -----------------------------------------------------------------------
    @property
    def net(self) -> Decimal:
        return self.pos[self.pv] + self.pos[self.hv]

    def _live(self, role: str | None = None) -> list[Tracked]:
        return [t for t in self._open.values() if role is None or t.role == role]

    def _retire(self, t: Tracked) -> None:
        """The order is final (or never reached the venue): it no longer counts as in flight."""
        t.state = "done"
        self._open.pop(t.client_id, None)

    def hedge_need(self) -> Decimal:
        """Signed hedge-venue quantity still to send (positive: buy), net of hedges in flight."""
        inflight = sum((t.side.sign * t.open_qty for t in self._live("hedge")), ZERO)
        return -self.net - inflight

    def _hedge_busy(self) -> bool:
        return bool(self._live("hedge")) or abs(self.hedge_need()) >= self.h.min_size

    def _cid(self, role: str) -> str:
        self._seq += 1
        return f"{self.tag}-{role[0]}{self._seq}"

    def _risk(self, now: float, check: str, reason: Reason, detail: str = "", **data: object) -> None:
        self.log.add(now, check, reason, detail, **data)

    def _drain(self, intents: list[Intent]) -> list[Intent]:
        """Attach the risk events produced while handling an event."""
        return [RecordRisk(e) for e in self.log.drain()] + intents

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self, now: float, positions: dict[str, Decimal]) -> list[Intent]:
        """Begin from the venues' positions, read (and confirmed) by the runner."""
        p, h = positions[self.pv], positions[self.hv]
        self.pos = {self.pv: p, self.hv: h}
        for v, x in self.pos.items():
            if x and v in self.bbo:
                self.daily.adopt(v, x, self.bbo[v].mid)
        if p == 0 and h == 0:
            self.mode = "trading"
            return self._drain(self._next_cycle(now))
        balanced = abs(p + h) <= self.tol
        if balanced and abs(p) <= self.cfg.position_limit:
            self._risk(now, "restart", Reason.RESTART_RECONCILE,
                       f"found a hedged position ({self.pv} {p}, {self.hv} {h}): unwinding it first",
                       primary=p, hedge=h)
            self.plan.adopt(p)
            self.mode = "trading"
            return self._drain(self._next_cycle(now))
        self._risk(now, "restart", Reason.RESTART_RECONCILE,
                   f"found an unhedged position ({self.pv} {p}, {self.hv} {h}): flattening before trading",
                   primary=p, hedge=h)
        self.mode = "flattening"
        self._after_flatten = ("resume", "", Reason.RESTART_RECONCILE)
        return self._drain([Flatten("restart found an unhedged position")])

    def stop(self, now: float, *, flatten: bool, status: str = "CANCELLED",
             reason: Reason = Reason.CANCELLED_BY_USER, detail: str = "") -> list[Intent]:
        """Cancel everything; then flatten or leave positions."""
        if self.mode in ("flattening", "done"):
            return []
        intents: list[Intent] = self._cancel_all()
        # name the orders the stop cancels: one sent just before it is acknowledged just after it
        cancelling = " ".join(f"{c.venue}:{c.client_id}" for c in intents if isinstance(c, Cancel))
        note = "; ".join(p for p in (detail, f"cancelling {cancelling}" if cancelling else "") if p)
        self.sm.move(TradingState.HALTED if not flatten else TradingState.REDUCING, reason, now, note)
        if flatten:
            self.mode = "flattening"
            self._after_flatten = ("finish", status, reason)
            intents.append(Flatten(detail or str(reason)))
        else:
            self.mode = "stopping"
            self._stop_status = (status, reason, detail)
            intents += self._maybe_stopped()
        return self._drain(intents)

    def _cancel_all(self) -> list[Intent]:
        out: list[Intent] = []
        for t in self._live():
            if t.price is not None and t.state in ("live", "sending", "unknown"):
                t.state = "cancelling"
                out.append(Cancel(t.venue, t.client_id))
        return out

    def _maybe_stopped(self) -> list[Intent]:
        if self.mode == "stopping" and not self._live():
            self.mode = "done"
            status, reason, detail = self._stop_status
            return [Finish(status, detail or f"{reason}: positions left as they are")]
        return []

    def _halt_and_flatten(self, reason: Reason, now: float, detail: str) -> list[Intent]:
        if self.mode in ("flattening", "done"):
            return []
        self.sm.move(TradingState.REDUCING, reason, now, detail)
        self.mode = "flattening"
        self._after_flatten = ("finish", "FAILED", reason)
        return [*self._cancel_all(), Flatten(detail)]

    def on_flattened(self, now: float, ok: bool, positions: dict[str, Decimal], detail: str) -> list[Intent]:
        self.pos = dict(positions)
        self._net_changed(now)
        kind, status, reason = self._after_flatten
        for t in self._live():  # whatever was in flight is settled by the flatten
            self._retire(t)
        self.cycle = None
        if not ok:
            self.sm.move(TradingState.HALTED, Reason.POSITION_UNKNOWN, now, detail)
            self.mode = "done"
            return self._drain([Finish("FAILED", f"could not verify both venues flat: {detail}")])
        if kind == "resume":
            self.mode = "trading"
            return self._drain(self._next_cycle(now))
        self.sm.move(TradingState.HALTED, reason, now, detail)
        self.mode = "done"
        text = {Reason.RUN_COMPLETE: "run complete; both venues flat"}.get(reason, f"{reason}: {detail}; flattened")
        return self._drain([Finish(status, text)])

    # --- events ------------------------------------------------------------------------------
    def on_bbo(self, bbo: BBO, now: float) -> list[Intent]:
        self.bbo[bbo.venue] = bbo
        intents: list[Intent] = []
        if self.mode != "trading":
            return intents
        if bbo.venue == self.pv:
            intents += self._reprice(bbo, now)
            if not self._live("primary"):
                intents += self._quote(now)
        if bbo.venue == self.hv:
            intents += self._escalate(now)
        return self._drain(intents)

    def on_fill(self, fill: Fill, now: float) -> list[Intent]:
        if fill.key in self._seen:
            return []
        self._seen.add(fill.key)
        self.daily.on_fill(fill)
        t = self.orders.get(fill.client_id) or self._by_oid.get((fill.venue, fill.order_id))
        intents: list[Intent] = []
        if t is None:
            if fill.venue in self.pos:
                self.pos[fill.venue] += fill.signed_size
                self._net_changed(now)
                if self.mode == "trading":
                    self.stats.external_fills += 1
                    self._risk(now, "ledger", Reason.POSITION_MISMATCH,
                               f"fill {fill.trade_id} on {fill.venue} is not from an order of this run",
                               size=fill.signed_size)
                    intents += self._after_change(now)
            return self._drain(intents)
        t.fill_qty += fill.size
        if self.cycle is not None and t.cycle_no == self.cycle.no:
            self.cycle.add_fill(t.role, fill)
        if t.fill_qty > t.accounted:
            intents += self._exposure(t, t.fill_qty - t.accounted, now)
        intents += self._loss_check(now)
        intents += self._after_change(now)
        return self._drain(intents)

    def on_order(self, order: Order, now: float) -> list[Intent]:
        t = self.orders.get(order.client_id) or self._by_oid.get((order.venue, order.order_id))
        if t is None or t.state == "done":
            return []
        if t.order_id is None and order.order_id:
            t.order_id = order.order_id
            self._by_oid[(t.venue, order.order_id)] = t
        intents: list[Intent] = []
        if order.filled > t.accounted:  # exposure shown by the venue before its fill events
            intents += self._exposure(t, order.filled - t.accounted, now)
        if order.status.is_final:
            self._retire(t)
            intents += self._order_done(t, order.filled, order.reject_reason, now)
        elif t.state in ("sending", "unknown"):
            t.state = "live"
        intents += self._after_change(now)
        return self._drain(intents)

    def on_rejected(self, client_id: str, reason: Reason, detail: str, now: float) -> list[Intent]:
        t = self.orders.get(client_id)
        if t is None or t.state == "done":
            return []
        self._retire(t)
        intents: list[Intent] = []
        if reason is Reason.REDUCE_ONLY_WOULD_INCREASE:  # the venue's position is not the ledger's
            self._risk(now, "reconcile", Reason.POSITION_MISMATCH, f"{t.venue} refused a reduce-only {t.role} order")
            return self._drain(self._halt_and_flatten(
                Reason.POSITION_MISMATCH, now, f"{t.venue} refused a reduce-only {t.role} order: its position "
                                               f"differs from the ledger ({self.pos[t.venue]}): {detail}"))
        if t.role == "primary":
            self.stats.primary_rejects += 1
            if reason in FATAL_REJECTS:
                self._risk(now, "order", reason, f"primary order refused: {detail}")
                return self._drain(self._halt_and_flatten(reason, now, f"primary order refused by {t.venue}: {detail}"))
            self._transient_rejects += 1
            self._quote_after = now + REJECT_COOLDOWN
            if self._transient_rejects > MAX_TRANSIENT_REJECTS:
                return self._drain(self._halt_and_flatten(reason, now, f"{self._transient_rejects} rejects in a row"))
        elif reason is Reason.POST_ONLY_WOULD_CROSS:
            self._taker_hedge = True  # the market ran through the maker hedge: take instead
        else:
            intents += self._hedge_failed(t, reason, f"hedge refused: {detail}", now)
        intents += self._after_change(now)
        return self._drain(intents)

    def on_timeout(self, client_id: str, now: float) -> list[Intent]:
        """A request about this order got no answer: its fate is unknown until looked up."""
        t = self.orders.get(client_id)
        if t is not None and t.live:
            t.state = "unknown"
            t.last_check = now
        return []

    def on_lookup(self, client_id: str, order: Order | None, now: float) -> list[Intent]:
        t = self.orders.get(client_id)
        if t is None or not t.live:
            return []
        if order is None:
            if t.state == "unknown" and t.accounted == 0:  # it never reached the venue
                self._retire(t)
                if t.role == "hedge":
                    return self._drain(self._hedge_failed(t, Reason.TIMEOUT, "hedge request lost", now)
                                       + self._after_change(now))
                return self._drain(self._after_change(now))
            return []
        if not order.status.is_final and t.state == "cancelling":
            t.last_check = now
            return [Cancel(t.venue, t.client_id)]
        return self.on_order(order, now)

    def on_tick(self, now: float) -> list[Intent]:
        intents: list[Intent] = []
        marks = {v: b.mid for v, b in self.bbo.items()}
        if self.daily.roll(now, marks):
            self._risk(now, "daily_loss", Reason.DAILY_LOSS_LIMIT, "UTC midnight: daily PnL reset")
        for t in self._live():
            wait = LOOKUP_AFTER * (4 if t.state == "cancelling" else 1)
            if t.state in ("unknown", "cancelling") and now - t.last_check >= wait:
                t.last_check = now
                intents.append(Lookup(t.venue, t.client_id))
        if self.mode == "trading":
            intents += self._loss_check(now)
            intents += self._escalate(now)
            intents += self._renew_stale(now)
            intents += self._after_change(now)
        elif self.mode == "stopping":
            intents += self._maybe_stopped()
        return self._drain(intents)

    def position_band(self, venue: str) -> tuple[Decimal, Decimal]:
        """The positions the venue may truthfully report now: the ledger, plus whatever orders in
        flight could have filled without the bot knowing yet."""
        buy = sum((t.open_qty for t in self._live() if t.venue == venue and t.side is Side.BUY), ZERO)
        sell = sum((t.open_qty for t in self._live() if t.venue == venue and t.side is Side.SELL), ZERO)
        ledger = self.pos[venue]
        return ledger - sell - self.tol, ledger + buy + self.tol

    def on_positions(self, reads: dict[str, Decimal | None], now: float,
                     before: dict[str, tuple[Decimal, Decimal]] | None = None) -> list[Intent]:
        """Periodic reconciliation: venue reads against the ledger, debounced. ``before`` is the band
        when the read was sent (a fill may land while the read is in flight)."""
        if self.mode != "trading":
            return []
        intents: list[Intent] = []
        failed = [v for v, r in reads.items() if r is None]
        if failed:
            self._read_failures += 1
            if self._read_failures >= POSITION_READ_FAILURES:
                self.sm.move(TradingState.REDUCING, Reason.POSITION_UNKNOWN, now,
                             f"cannot read positions on {', '.join(failed)}: no new risk until it can")
            return self._drain(intents)
        self._read_failures = 0
        for venue, read in reads.items():
            assert read is not None
            lo, hi = self.position_band(venue)
            if before and venue in before:
                lo, hi = min(lo, before[venue][0]), max(hi, before[venue][1])
            ledger = self.pos[venue]
            if lo <= read <= hi:
                self.reconciler.observe(venue, read, read)
                continue
            verdict = self.reconciler.observe(venue, ledger, read)
            if verdict == "confirmed":
                return self._drain(self._halt_and_flatten(
                    Reason.POSITION_MISMATCH, now,
                    f"{venue} reports {read}, the ledger says {ledger} (confirmed by "
                    f"{self.cfg.reconcile_confirmations} reads)"))
            self._risk(now, "reconcile", Reason.POSITION_MISMATCH,
                       f"{venue} read {read} vs ledger {ledger}: unconfirmed, waiting for the next read",
                       read=read, ledger=ledger)
        if self.sm.state is TradingState.REDUCING and self.sm.reason is Reason.POSITION_UNKNOWN:
            self.sm.move(TradingState.ACTIVE, Reason.POSITION_UNKNOWN, now, "positions readable again")
            intents += self._after_change(now)
        return self._drain(intents)

    # --- exposure and hedging ----------------------------------------------------------------
    def _exposure(self, t: Tracked, qty: Decimal, now: float) -> list[Intent]:
        t.accounted += qty
        self.pos[t.venue] += t.side.sign * qty
        if t.role == "primary" and self.cycle is not None and t.cycle_no == self.cycle.no:
            self.cycle.primary_accounted += qty
        self._net_changed(now)
        return self._maybe_hedge(now)

    def _net_changed(self, now: float) -> None:
        net = self.net
        if abs(net) > self.stats.max_abs_net:
            self.stats.max_abs_net = abs(net)
        self.stats.net_samples.append((now, net))

    def _maybe_hedge(self, now: float) -> list[Intent]:
        if self.mode != "trading" or not self.sm.may_reduce:
            return []
        need = self.hedge_need()
        qty = self.h.round_size(abs(need))
        bbo = self.bbo.get(self.hv)
        if qty < self.h.min_size or qty == 0 or bbo is None or qty * bbo.mid < self.h.min_notional:
            self.residual = need
            return []
        if now < self._hedge_after:
            return []
        side = Side.of_delta(need)
        held = self.pos[self.hv]
        reduce_only = held * side.sign < 0 and qty <= abs(held)
        self.residual = need - side.sign * qty
        cid = self._cid("hedge")
        if self._taker_hedge:
            slip = self.cfg.hedge_slippage_bps * (1 + self._consecutive_hedge_failures)
            self._track("hedge", self.hv, cid, side, qty, None, reduce_only, now).why = self._taker_why
            return [PlaceMarket(self.hv, "hedge", side, qty, cid, slip, reduce_only)]
        price = limit_price(PriceMode.BBO_MINUS_1, side, bbo, self.h)
        assert price is not None
        t = self._track("hedge", self.hv, cid, side, qty, price, reduce_only, now)
        t.ref_mid = bbo.mid
        return [PlaceLimit(self.hv, "hedge", side, price, qty, cid, post_only=True, reduce_only=reduce_only)]

    def _escalate(self, now: float) -> list[Intent]:
        bbo = self.bbo.get(self.hv)
        out: list[Intent] = []
        for t in self._live("hedge"):
            if t.price is None or t.state != "live" or t.ref_mid is None or bbo is None:
                continue
            adverse = t.side.sign * (bbo.mid - t.ref_mid) / t.ref_mid * 10_000
            if now - t.placed_at >= self.cfg.hedge_timeout or adverse >= self.cfg.adverse_move_bps:
                t.state = "cancelling"
                t.escalate = True
                t.last_check = now
                t.why = self._taker_why = "timeout" if now - t.placed_at >= self.cfg.hedge_timeout else "adverse_move"
                self._taker_hedge = True
                self.stats.escalations += 1
                out.append(Cancel(t.venue, t.client_id))
        return out

    def _hedge_failed(self, t: Tracked, reason: Reason | str | None, detail: str, now: float) -> list[Intent]:
        self._consecutive_hedge_failures += 1
        self.stats.hedge_failures += 1
        self._failing = True
        self._taker_hedge = True
        self._taker_why = "hedge_failed"
        self._hedge_after = now + HEDGE_RETRY_COOLDOWN
        n, limit = self._consecutive_hedge_failures, self.cfg.max_hedge_failures
        code = Reason(reason) if isinstance(reason, str) and reason in Reason.__members__ else \
            Reason.INSUFFICIENT_LIQUIDITY
        self._risk(now, "hedge", code, f"{detail} (failure {n} of {limit} in a row)", client_id=t.client_id)
        if n >= limit:
            return self._halt_and_flatten(Reason.HEDGE_FAILURES, now,
                                          f"{n} consecutive hedge failures on {self.hv}; last: {detail}")
        return []

    def _order_done(self, t: Tracked, filled: Decimal, reason: str | None, now: float) -> list[Intent]:
        if t.role == "primary":
            if t.accounted > 0:
                self._transient_rejects = 0
            return []
        if t.escalate:
            return []  # the remainder is re-sent as a taker by _after_change
        if filled < t.size:
            return self._hedge_failed(t, reason, f"hedge {t.client_id} filled {filled} of {t.size}", now)
        self._consecutive_hedge_failures = 0
        if self._failing:
            self._failing = False
            self.stats.recoveries += 1
        return []

    # --- cycles and quoting ------------------------------------------------------------------
    def _after_change(self, now: float) -> list[Intent]:
        if self.mode != "trading":
            return self._maybe_stopped()
        intents = self._maybe_hedge(now)
        if not self._hedge_busy() and not self._live("hedge"):
            self._taker_hedge = self.cfg.hedge_mode == "market"  # the hedge episode is over
            self._taker_why = "hedge_mode_market" if self._taker_hedge else None
        c = self.cycle
        if c is None:
            return intents + self._next_cycle(now)
        if c.remaining > 0 and self.sm.may_reduce and not (c.kind == "open" and not self.sm.may_add_risk):
            return intents + self._quote(now)
        if c.remaining <= 0 and not self._live("primary") and not self._hedge_busy():
            intents += self._finish_cycle(now)
        return intents

    def _finish_cycle(self, now: float) -> list[Intent]:
        c = self.cycle
        assert c is not None
        pending_fills = any(t.fill_qty < t.accounted for t in c.orders)
        if pending_fills:
            if self._fills_wait_since is None:
                self._fills_wait_since = now
            if now - self._fills_wait_since < FILL_WAIT:
                return []  # prices come from fill events: wait for them
        status = "fills_missing" if pending_fills else ("recovered" if self._failing_in_cycle(c) else "ok")
        self._fills_wait_since = None
        rec = c.record(run_id=self.run_id, bot=BOT, primary_venue=self.pv, hedge_venue=self.hv,
                       symbol=self.p.symbol, net_delta_after=self.net, ended=now, status=status)
        self.plan.done(c.kind, c.primary_accounted)
        self.cycle = None
        return [RecordCycle(rec), *self._next_cycle(now)]

    def _failing_in_cycle(self, c: CycleState) -> bool:
        hedges = [t for t in c.orders if t.role == "hedge"]
        return sum(1 for t in hedges if t.accounted < t.size and not t.escalate) > 0

    def _next_cycle(self, now: float) -> list[Intent]:
        if self.mode != "trading" or self.cycle is not None or not self.sm.may_add_risk:
            return []
        nxt = self.plan.next(self.pos[self.pv])
        if nxt is None:
            return self._complete(now)
        self.cycle_no += 1
        self.cycle = CycleState(self.cycle_no, nxt.iteration, nxt.kind, nxt.side, nxt.size, now)
        return self._quote(now)

    def _complete(self, now: float) -> list[Intent]:
        """The plan is done. Flat: finish. A residual left (below the hedge minimum): flatten it."""
        if self.pos[self.pv] == 0 and self.pos[self.hv] == 0:
            self.mode = "done"
            self.sm.move(TradingState.HALTED, Reason.RUN_COMPLETE, now, "all cycles done")
            return [Finish("COMPLETED", "run complete; both venues flat")]
        self.mode = "flattening"
        self._after_flatten = ("finish", "COMPLETED", Reason.RUN_COMPLETE)
        return [Flatten(f"closing the residual ({self.pv} {self.pos[self.pv]}, {self.hv} {self.pos[self.hv]})")]

    def _quote(self, now: float) -> list[Intent]:
        c = self.cycle
        if (c is None or c.remaining <= 0 or self.mode != "trading" or self._live("primary")
                or self._hedge_busy() or now < self._quote_after):
            return []
        if (c.kind == "open" and not self.sm.may_add_risk) or not self.sm.may_reduce:
            return []
        bbo_p, bbo_h = self.bbo.get(self.pv), self.bbo.get(self.hv)
        if bbo_p is None or bbo_h is None:
            return []
        size = self.p.round_size(c.remaining)
        if size <= 0:
            c.primary_accounted = c.target  # a sub-lot remainder cannot be quoted
            return []
        reduce_only = c.kind == "close"
        side = c.side
        if self.cfg.primary_mode == "market":
            cid = self._cid("primary")
            self._track("primary", self.pv, cid, side, size, None, reduce_only, now)
            return [PlaceMarket(self.pv, "primary", side, size, cid, self.cfg.hedge_slippage_bps, reduce_only)]
        price = limit_price(self.cfg.primary_price_mode, side, bbo_p, self.p)
        assert price is not None
        if self.cfg.min_spread_bps is not None and c.kind == "open":
            hedge_px = bbo_h.opposite(side.opposite)
            edge = side.sign * (hedge_px - price) / price * 10_000
            if edge < self.cfg.min_spread_bps:
                if not self._spread_blocked:
                    self._spread_blocked = True
                    self._risk(now, "min_spread", Reason.MIN_SPREAD,
                               f"expected edge {edge:.2f} bps < {self.cfg.min_spread_bps} bps: waiting", edge_bps=edge)
                return []
            if self._spread_blocked:
                self._spread_blocked = False
                self._risk(now, "min_spread", Reason.MIN_SPREAD, f"expected edge {edge:.2f} bps: quoting again")
        cid = self._cid("primary")
        self._track("primary", self.pv, cid, side, size, price, reduce_only, now)
        return [PlaceLimit(self.pv, "primary", side, price, size, cid, post_only=True, reduce_only=reduce_only)]

    def _reprice(self, bbo: BBO, now: float) -> list[Intent]:
        out: list[Intent] = []
        for t in self._live("primary"):
            if t.price is None or t.state != "live" or self._hedge_busy():
                continue
            if bbo.best(t.side) == t.price:
                continue  # our order is the touch: the book did not move away from us
            desired = limit_price(self.cfg.primary_price_mode, t.side, bbo, self.p)
            assert desired is not None
            if abs(desired - t.price) / t.price * 10_000 >= self.cfg.reprice_bps:
                t.state = "cancelling"
                t.last_check = now
                self.stats.reprices += 1
                out.append(Cancel(t.venue, t.client_id))
        return out

    def _renew_stale(self, now: float) -> list[Intent]:
        out: list[Intent] = []
        for t in self._live("primary"):
            if t.price is not None and t.state == "live" and now - t.placed_at >= self.cfg.stale_after \
                    and not self._hedge_busy():
                t.state = "cancelling"
                t.last_check = now
                out.append(Cancel(t.venue, t.client_id))
        return out

    def _loss_check(self, now: float) -> list[Intent]:
        marks = {v: b.mid for v, b in self.bbo.items()}
        pnl = self.daily.pnl(marks)
        if pnl < -self.cfg.daily_loss_limit and self.mode == "trading":
            return self._halt_and_flatten(Reason.DAILY_LOSS_LIMIT, now,
                                          f"today's PnL {pnl:.2f} USD breaches the daily loss limit "
                                          f"{self.cfg.daily_loss_limit} USD")
        return []

    def _track(self, role: str, venue: str, cid: str, side: Side, size: Decimal, price: Decimal | None,
               reduce_only: bool, now: float) -> Tracked:
        cycle_no = self.cycle.no if self.cycle is not None else self.cycle_no
        t = Tracked(role, venue, cid, side, size, price, reduce_only, now, cycle_no, last_check=now)
        self.orders[cid] = t
        self._open[cid] = t
        if self.cycle is not None:
            self.cycle.orders.append(t)
        return t

    def denied(self, client_id: str, reason: Reason, detail: str, now: float) -> list[Intent]:
        """The risk gate refused an intent before it reached the venue."""
        t = self.orders.get(client_id)
        if t is not None and t.live:
            self._retire(t)
            self._quote_after = now + REJECT_COOLDOWN
        return self._drain(self._after_change(now))
