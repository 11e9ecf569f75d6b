"""The hedge strategy: maker orders on the primary venue, every fill hedged at once on the hedge venue.

Only the hedging logic lives here; order tracking, exposure, the guard, reconciliation, stop and
flatten are the kernel's (``strategies.kernel``).

A cycle posts one primary maker order (priced by its mode, re-priced when the book moves away,
renewed when stale). Every increase of primary exposure - a fill, a partial fill, an order update
or a cancel answered "already filled" - is hedged at once on the hedge venue. While a hedge is in
flight no new primary order is sent, so the unhedged exposure never exceeds one order size plus
the carried residual (a remainder below the hedge venue's minimum size, hedged once it adds up).

A maker hedge (bbo_minus_1) turns into a taker IOC after ``hedge_timeout`` or an adverse move.
Consecutive hedge failures and fatal primary rejects flatten everything with reduce-only orders
and end the run failed. A hedge the kernel withdrew to stop the run is not a hedge failure.

Hooks are generators: each order is tracked by the kernel as soon as it is yielded, so the code
that follows sees it in flight (never two hedges for one need).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.reasons import Reason
from core.types import BBO, ZERO, Instrument, PriceMode, Side
from exchanges.pricing import limit_price
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
    PlaceMarket,
    Record,
    Strategy,
    risk,
)
from strategies.hedge.config import HedgeConfig
from strategies.hedge.cycle import CycleState
from strategies.hedge.plan import CyclePlan
from strategies.hedge.preflight import validate
from strategies.orders import OrderState, TrackedOrder
from strategies.preflight import ExecutableEstimate, VenueSnapshot

PRIMARY, HEDGE = "primary", "hedge"  # the two tags this strategy gives its orders
# Order answers that retrying cannot fix: the run stops instead of looping.
FATAL_REJECTS = frozenset({
    Reason.INSUFFICIENT_MARGIN, Reason.SIZE_ABOVE_MAX, Reason.BELOW_MIN_SIZE, Reason.BELOW_MIN_NOTIONAL,
    Reason.OFF_TICK, Reason.OFF_LOT, Reason.UNKNOWN_SYMBOL, Reason.AUTH, Reason.INVALID_SIGNATURE,
    Reason.DUPLICATE_CLIENT_ID,
})
MAX_TRANSIENT_REJECTS = 50
REJECT_COOLDOWN = 0.5
HEDGE_RETRY_COOLDOWN = 0.2
FILL_WAIT = 10.0

Hook = Iterator[Intent]


@dataclass(slots=True)
class Stats:
    hedge_failures: int = 0  # failed hedge attempts in the run
    recoveries: int = 0  # hedges completed after at least one failure
    primary_rejects: int = 0
    reprices: int = 0
    escalations: int = 0


class HedgeStrategy(Strategy):
    name = "hedge"

    def __init__(self, cfg: HedgeConfig) -> None:
        self.cfg = cfg
        self.pv, self.hv = cfg.primary, cfg.hedge
        self.venues = (cfg.primary, cfg.hedge)
        self.symbol = cfg.ticker
        self.flatten_on_cancel = cfg.on_cancel == "flatten"
        self.flatten_slippage_bps = cfg.flatten_slippage_bps
        self.reconcile_interval = cfg.reconcile_interval
        self.run_mode = cfg.run_mode
        self.plan = CyclePlan(cfg.iterations, cfg.build_to, cfg.size, cfg.position_limit, cfg.direction)
        self.cycle: CycleState | None = None
        self.cycle_no = 0
        self.residual = ZERO
        self._quiet_need: Decimal | None = None  # the need _maybe_hedge found when it sent nothing
        self.stats = Stats()
        self.estimate: ExecutableEstimate | None = None
        self.tol = ZERO
        self._seq = 0
        self._consecutive_hedge_failures = 0
        self._failing = False
        self._taker_hedge = cfg.hedge_mode == "market"
        self._taker_why: str | None = "hedge_mode_market" if self._taker_hedge else None  # see CycleRecord
        self._quote_after = 0.0
        self._hedge_after = 0.0
        self._transient_rejects = 0
        self._spread_blocked = False
        self._fills_wait_since: float | None = None

    # --- set-up ----------------------------------------------------------------------------------
    def limits(self, instruments: Mapping[str, Instrument]) -> Limits:
        self.p, self.h = instruments[self.pv], instruments[self.hv]
        self.tol = max(self.cfg.net_delta_tolerance * self.cfg.size, min(self.p.lot, self.h.lot) / 2)
        return Limits(tolerance=self.tol, max_position=self.cfg.position_limit,
                      daily_loss=self.cfg.daily_loss_limit, reconcile_confirmations=self.cfg.reconcile_confirmations)

    def preflight(self, snapshots: Mapping[str, VenueSnapshot]) -> dict[str, Any]:
        est = validate(self.cfg.size, self.cfg.position_limit, self.cfg.margin_fraction,
                       snapshots[self.pv], snapshots[self.hv], self.cfg.max_basis_bps)
        self.estimate = est  # what the hedge venue could execute vs what its book displayed
        return {"venue": self.hv, "displayed_top": str(est.displayed_top),
                "executable_size": None if est.size is None else str(est.size),
                "largest_print": None if est.largest_print is None else str(est.largest_print),
                "trades_seen": est.trades_seen}

    def public_params(self) -> dict[str, Any]:
        return self.cfg.public_params()

    def flatten_chunks(self) -> Mapping[str, Decimal | None]:
        return {self.hv: self.estimate.size if self.estimate else None}

    def progress(self) -> float:
        return min(1.0, self.plan.cycles_done / max(1, self.plan.total_cycles))

    def describe(self, record: Record) -> str | None:
        if record.kind != "cycle":
            return None
        c = record.payload
        return (f"cycle {c.cycle_no} {c.kind} {c.size} {c.status}: edge {c.edge_bps} bps, pnl {c.pnl:.4f}, "
                f"net delta {c.net_delta_after}")

    # --- helpers ---------------------------------------------------------------------------------
    def hedge_need(self, ctx: Context) -> Decimal:
        """Signed hedge-venue quantity still to send (positive: buy), net of hedges in flight."""
        hedges = ctx.open_orders(tag=HEDGE)
        inflight = sum((t.side.sign * t.open_qty for t in hedges), ZERO) if hedges else ZERO
        return -ctx.net - inflight

    def hedge_busy(self, ctx: Context) -> bool:
        return bool(ctx.open_orders(tag=HEDGE)) or abs(self.hedge_need(ctx)) >= self.h.min_size

    def _cid(self, ctx: Context, tag: str) -> str:
        self._seq += 1
        return f"{ctx.client_prefix}-{tag[0]}{self._seq}"

    def _tracked(self, ctx: Context, cid: str) -> TrackedOrder:
        """Note the cycle of an order the kernel has just tracked."""
        t = ctx.order(cid)
        assert t is not None
        t.meta["cycle"] = self.cycle.no if self.cycle is not None else self.cycle_no
        if self.cycle is not None:
            self.cycle.orders.append(t)
        return t

    # --- lifecycle -------------------------------------------------------------------------------
    def on_start(self, ctx: Context) -> Hook:
        """Begin from the venues' positions (also after a restart's flatten, then flat)."""
        self.cycle = None
        p, h = ctx.position(self.pv), ctx.position(self.hv)
        if p == 0 and h == 0:
            yield from self._next_cycle(ctx)
            return
        if abs(p + h) <= self.tol and abs(p) <= self.cfg.position_limit:
            yield risk(ctx, "restart", Reason.RESTART_RECONCILE,
                       f"found a hedged position ({self.pv} {p}, {self.hv} {h}): unwinding it first",
                       primary=p, hedge=h)
            self.plan.adopt(p)
            yield from self._next_cycle(ctx)
            return
        yield risk(ctx, "restart", Reason.RESTART_RECONCILE,
                   f"found an unhedged position ({self.pv} {p}, {self.hv} {h}): flattening before trading",
                   primary=p, hedge=h)
        yield Flatten("restart found an unhedged position", Reason.RESTART_RECONCILE, then="resume")

    # --- events ----------------------------------------------------------------------------------
    def on_bbo(self, ctx: Context, bbo: BBO) -> Hook:
        if bbo.venue == self.pv:
            yield from self._reprice(ctx, bbo)
            if not ctx.open_orders(tag=PRIMARY):
                yield from self._quote(ctx)
        if bbo.venue == self.hv:
            yield from self._escalate(ctx)

    def on_fill(self, ctx: Context, ev: Filled) -> Hook:
        t = ev.order
        if t is not None:
            in_cycle = self.cycle is not None and t.meta.get("cycle") == self.cycle.no
            if in_cycle and ev.fill is not None:
                self.cycle.add_fill(t.tag, ev.fill)
            if in_cycle and ev.qty and t.tag == PRIMARY:
                self.cycle.primary_accounted += ev.qty
        yield from self._after_change(ctx)

    def on_order_done(self, ctx: Context, ev: Done) -> Hook:
        t = ev.order
        if ev.outcome is Outcome.DENIED:
            self._quote_after = ctx.now + REJECT_COOLDOWN
        elif ev.outcome is Outcome.REJECTED:
            yield from self._rejected(ctx, t, ev.reason, ev.detail)
            if not ctx.trading:
                return
        elif ev.outcome is Outcome.LOST:
            if t.tag == HEDGE:
                yield from self._hedge_failed(ctx, t, Reason.TIMEOUT, "hedge request lost")
        elif t.tag == PRIMARY:
            if t.accounted > 0:
                self._transient_rejects = 0
        elif t.meta.get("escalate") or t.withdrawn:
            pass  # escalated: the remainder is re-sent as a taker; withdrawn by a stop: not a failure
        elif (filled := t.accounted if ev.filled is None else ev.filled) < t.size:
            yield from self._hedge_failed(ctx, t, ev.reason, f"hedge {t.client_id} filled {filled} of {t.size}")
        else:
            self._consecutive_hedge_failures = 0
            if self._failing:
                self._failing = False
                self.stats.recoveries += 1
        yield from self._after_change(ctx)

    def _rejected(self, ctx: Context, t: TrackedOrder, reason: Reason | str | None, detail: str) -> Hook:
        if t.tag == PRIMARY:
            self.stats.primary_rejects += 1
            if reason in FATAL_REJECTS:
                yield risk(ctx, "order", Reason(reason), f"primary order refused: {detail}")
                yield Flatten(f"primary order refused by {t.venue}: {detail}", Reason(reason))
                return
            self._transient_rejects += 1
            self._quote_after = ctx.now + REJECT_COOLDOWN
            if self._transient_rejects > MAX_TRANSIENT_REJECTS:
                code = Reason(reason) if isinstance(reason, str) and reason in Reason.__members__ else Reason.REJECTED
                yield Flatten(f"{self._transient_rejects} rejects in a row", code)
        elif reason is Reason.POST_ONLY_WOULD_CROSS:
            self._taker_hedge = True  # the market ran through the maker hedge: take instead
        else:
            yield from self._hedge_failed(ctx, t, reason, f"hedge refused: {detail}")

    def on_timer(self, ctx: Context) -> Hook:
        yield from self._escalate(ctx)
        yield from self._renew_stale(ctx)
        yield from self._after_change(ctx)

    # --- hedging ---------------------------------------------------------------------------------
    def _maybe_hedge(self, ctx: Context) -> Hook:
        if not ctx.trading or not ctx.may_reduce:
            return
        need = self.hedge_need(ctx)
        if not need:  # nothing to hedge (it would round to 0 below): most ticks and changes
            self.residual = self._quiet_need = need
            return
        qty = self.h.round_size(abs(need))
        bbo = ctx.bbo(self.hv)
        if qty < self.h.min_size or qty == 0 or bbo is None or qty * bbo.mid < self.h.min_notional:
            self.residual = self._quiet_need = need
            return
        if ctx.now < self._hedge_after:
            self._quiet_need = need
            return
        side = Side.of_delta(need)
        held = ctx.position(self.hv)
        reduce_only = held * side.sign < 0 and qty <= abs(held)
        self.residual = need - side.sign * qty
        cid = self._cid(ctx, HEDGE)
        if self._taker_hedge:
            slip = self.cfg.hedge_slippage_bps * (1 + self._consecutive_hedge_failures)
            yield PlaceMarket(self.hv, HEDGE, side, qty, cid, slip, reduce_only)
            self._tracked(ctx, cid).meta["why"] = self._taker_why
            return
        price = limit_price(PriceMode.BBO_MINUS_1, side, bbo, self.h)
        assert price is not None
        yield PlaceLimit(self.hv, HEDGE, side, price, qty, cid, post_only=True, reduce_only=reduce_only)
        self._tracked(ctx, cid).meta["ref_mid"] = bbo.mid

    def _escalate(self, ctx: Context) -> Hook:
        bbo = ctx.bbo(self.hv)
        for t in ctx.open_orders(tag=HEDGE):
            ref = t.meta.get("ref_mid")
            if t.price is None or t.state is not OrderState.LIVE or ref is None or bbo is None:
                continue
            adverse = t.side.sign * (bbo.mid - ref) / ref * 10_000
            if ctx.now - t.placed_at >= self.cfg.hedge_timeout or adverse >= self.cfg.adverse_move_bps:
                t.meta["escalate"] = True
                t.meta["why"] = self._taker_why = ("timeout" if ctx.now - t.placed_at >= self.cfg.hedge_timeout
                                                   else "adverse_move")
                self._taker_hedge = True
                self.stats.escalations += 1
                yield Cancel(t.venue, t.client_id)

    def _hedge_failed(self, ctx: Context, t: TrackedOrder, reason: Reason | str | None, detail: str) -> Hook:
        self._consecutive_hedge_failures += 1
        self.stats.hedge_failures += 1
        self._failing = True
        self._taker_hedge = True
        self._taker_why = "hedge_failed"
        self._hedge_after = ctx.now + HEDGE_RETRY_COOLDOWN
        n, limit = self._consecutive_hedge_failures, self.cfg.max_hedge_failures
        code = Reason(reason) if isinstance(reason, str) and reason in Reason.__members__ else \
            Reason.INSUFFICIENT_LIQUIDITY
        yield risk(ctx, "hedge", code, f"{detail} (failure {n} of {limit} in a row)", client_id=t.client_id)
        if n >= limit:
            yield Flatten(f"{n} consecutive hedge failures on {self.hv}; last: {detail}", Reason.HEDGE_FAILURES)

    # --- cycles and quoting ----------------------------------------------------------------------
    def _after_change(self, ctx: Context) -> Hook:
        if not ctx.trading:
            return
        self._quiet_need = None
        yield from self._maybe_hedge(ctx)
        # hedge_busy, with the need _maybe_hedge computed when it sent nothing (nothing changed since)
        need = self._quiet_need
        busy = (self.hedge_busy(ctx) if need is None
                else bool(ctx.open_orders(tag=HEDGE)) or abs(need) >= self.h.min_size)
        if not busy:
            self._taker_hedge = self.cfg.hedge_mode == "market"  # the hedge episode is over
            self._taker_why = "hedge_mode_market" if self._taker_hedge else None
        c = self.cycle
        if c is None:
            yield from self._next_cycle(ctx)
            return
        if c.remaining > 0 and ctx.may_reduce and not (c.kind == "open" and not ctx.may_add_risk):
            yield from self._quote(ctx)
            return
        if c.remaining <= 0 and not ctx.open_orders(tag=PRIMARY) and not self.hedge_busy(ctx):
            yield from self._finish_cycle(ctx)

    def _finish_cycle(self, ctx: Context) -> Hook:
        c = self.cycle
        assert c is not None
        now = ctx.now
        pending_fills = any(t.fill_qty < t.accounted for t in c.orders)
        if pending_fills:
            if self._fills_wait_since is None:
                self._fills_wait_since = now
            if now - self._fills_wait_since < FILL_WAIT:
                return  # prices come from fill events: wait for them
        status = "fills_missing" if pending_fills else ("recovered" if self._failing_in_cycle(c) else "ok")
        self._fills_wait_since = None
        rec = c.record(run_id=ctx.run_id, bot=self.name, primary_venue=self.pv, hedge_venue=self.hv,
                       symbol=self.symbol, net_delta_after=ctx.net, ended=now, status=status)
        self.plan.done(c.kind, c.primary_accounted)
        self.cycle = None
        yield Record("cycle", rec)
        yield from self._next_cycle(ctx)

    @staticmethod
    def _failing_in_cycle(c: CycleState) -> bool:
        return any(t.tag == HEDGE and t.accounted < t.size and not t.meta.get("escalate") for t in c.orders)

    def _next_cycle(self, ctx: Context) -> Hook:
        if not ctx.trading or self.cycle is not None or not ctx.may_add_risk:
            return
        nxt = self.plan.next(ctx.position(self.pv))
        if nxt is None:
            yield from self._complete(ctx)
            return
        self.cycle_no += 1
        self.cycle = CycleState(self.cycle_no, nxt.iteration, nxt.kind, nxt.side, nxt.size, ctx.now)
        yield from self._quote(ctx)

    def _complete(self, ctx: Context) -> Hook:
        """The plan is done. Flat: finish. A residual left (below the hedge minimum): flatten it."""
        p, h = ctx.position(self.pv), ctx.position(self.hv)
        if p == 0 and h == 0:
            yield Finish("COMPLETED", "run complete; both venues flat", Reason.RUN_COMPLETE, note="all cycles done")
            return
        yield Flatten(f"closing the residual ({self.pv} {p}, {self.hv} {h})", Reason.RUN_COMPLETE, then="COMPLETED")

    def _quote(self, ctx: Context) -> Hook:
        c = self.cycle
        if (c is None or c.remaining <= 0 or not ctx.trading or ctx.open_orders(tag=PRIMARY)
                or self.hedge_busy(ctx) or ctx.now < self._quote_after):
            return
        if (c.kind == "open" and not ctx.may_add_risk) or not ctx.may_reduce:
            return
        bbo_p, bbo_h = ctx.bbo(self.pv), ctx.bbo(self.hv)
        if bbo_p is None or bbo_h is None:
            return
        size = self.p.round_size(c.remaining)
        reduce_only = c.kind == "close"
        held = ctx.position(self.pv)
        if size <= 0 or size < self.p.min_size or self.p.below_min_notional(size, bbo_p.mid, reduce_only=reduce_only,
                                                                              position=held):
            if c.kind == "close" and c.primary_accounted == 0 and held != 0:
                # nothing of this close can be sent (the whole position is below the venue's minimum
                # and the venue allows no exception): no cycle can ever close it, so stop here
                # instead of recording empty cycles forever
                yield Flatten(f"{self.pv} position {held} {self.symbol} is below the venue's minimum order "
                              f"({self.p.min_size} {self.symbol}, {self.p.min_notional} USD): no cycle can close it",
                              Reason.BELOW_MIN_NOTIONAL)
                return
            # a remainder the venue would refuse (sub-lot, below its minimum size or notional) is not
            # quoted: the cycle ends at what filled, and the hedge carries its own residual
            c.primary_accounted = c.target
            return
        side = c.side
        if self.cfg.primary_mode == "market":
            cid = self._cid(ctx, PRIMARY)
            yield PlaceMarket(self.pv, PRIMARY, side, size, cid, self.cfg.hedge_slippage_bps, reduce_only)
            self._tracked(ctx, cid)
            return
        price = limit_price(self.cfg.primary_price_mode, side, bbo_p, self.p)
        assert price is not None
        if self.cfg.min_spread_bps is not None and c.kind == "open":
            hedge_px = bbo_h.opposite(side.opposite)
            edge = side.sign * (hedge_px - price) / price * 10_000
            if edge < self.cfg.min_spread_bps:
                if not self._spread_blocked:
                    self._spread_blocked = True
                    yield risk(ctx, "min_spread", Reason.MIN_SPREAD,
                               f"expected edge {edge:.2f} bps < {self.cfg.min_spread_bps} bps: waiting", edge_bps=edge)
                return
            if self._spread_blocked:
                self._spread_blocked = False
                yield risk(ctx, "min_spread", Reason.MIN_SPREAD, f"expected edge {edge:.2f} bps: quoting again")
        cid = self._cid(ctx, PRIMARY)
        yield PlaceLimit(self.pv, PRIMARY, side, price, size, cid, post_only=True, reduce_only=reduce_only)
        self._tracked(ctx, cid)

    def _reprice(self, ctx: Context, bbo: BBO) -> Hook:
        for t in ctx.open_orders(tag=PRIMARY):
            if t.price is None or t.state is not OrderState.LIVE or bbo.best(t.side) == t.price:
                continue  # (equal: our order is the touch, the book did not move away from us)
            if self.hedge_busy(ctx):  # after the cheap checks: it sums in Decimal, and skips alike
                continue
            desired = limit_price(self.cfg.primary_price_mode, t.side, bbo, self.p)
            assert desired is not None
            if abs(desired - t.price) / t.price * 10_000 >= self.cfg.reprice_bps:
                self.stats.reprices += 1
                yield Cancel(t.venue, t.client_id)

    def _renew_stale(self, ctx: Context) -> Hook:
        for t in ctx.open_orders(tag=PRIMARY):
            if (t.price is not None and t.state is OrderState.LIVE and ctx.now - t.placed_at >= self.cfg.stale_after
                    and not self.hedge_busy(ctx)):
                yield Cancel(t.venue, t.client_id)
