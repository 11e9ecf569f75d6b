"""The agent as a kernel strategy: one per symbol of the run, all sharing one ``Desk``.

The kernel runs one perpetual per strategy; the agent trades a list of symbols on one account, so
the agent flow runs one runner per symbol and every strategy hands its events to the shared desk
(one position limit, one total cap, one mode, one bank across symbols). The desk's acts become
kernel intents: entries as post-only limits (maker first) or capped taker orders, exits as
reduce-only taker orders, records as ``Record(kind, payload)``. Decisions arrive with
``on_signal``; the guard's state (``ctx.may_add_risk``) is part of what is allowed.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from core.reasons import Reason
from core.records import FundingRecord
from core.types import BBO, Instrument, Liquidity
from strategies.agent.desk import CancelEntry, CloseAll, Complete, Desk, Enter, Exit, FundingPaid, Note, Signal
from strategies.agent.exits import ExitRule
from strategies.agent.params import AgentParams
from strategies.base import (
    Cancel,
    Context,
    Done,
    Filled,
    Flatten,
    Intent,
    Limits,
    PlaceLimit,
    PlaceMarket,
    Record,
    Strategy,
)
from strategies.preflight import PreTradeError, Problem, VenueSnapshot

HISTORY_STEP_S = 60.0
HISTORY_KEEP_S = 80 * 3600.0


class PriceHistory:
    """One mid a minute per symbol, the last 80 hours: what the adviser's inputs are computed from."""

    def __init__(self) -> None:
        self.ts: list[float] = []
        self.mid: list[float] = []

    def add(self, ts: float, mid: float) -> None:
        if self.ts and ts - self.ts[-1] < HISTORY_STEP_S:
            return
        self.ts.append(ts)
        self.mid.append(mid)
        if ts - self.ts[0] > HISTORY_KEEP_S * 1.1:
            cut = bisect.bisect_left(self.ts, ts - HISTORY_KEEP_S)
            del self.ts[:cut], self.mid[:cut]


class AgentStrategy(Strategy):
    name = "agent"

    def __init__(self, params: AgentParams, symbol: str, desk: Desk, adviser: Mapping[str, str] | None = None) -> None:
        self.p = params
        self.adviser = dict(adviser) if adviser else None  # who advises (recorded with the parameters)
        self.venues = (params.venue,)
        self.symbol = symbol
        self.desk = desk
        self.history = PriceHistory()
        self.ref_price: Decimal | None = None

    # --- the kernel's questions ----------------------------------------------------------------
    def preflight(self, snapshots: Mapping[str, VenueSnapshot]) -> dict[str, Any]:
        snap = snapshots[self.p.venue]
        self.ref_price = snap.bbo.mid
        self.desk.instruments[self.symbol] = snap.instrument
        self.desk.bbos[self.symbol] = snap.bbo
        smallest = max(snap.instrument.min_notional, snap.instrument.min_size * snap.bbo.ask)
        if self.p.max_size_usd < smallest:
            raise PreTradeError([Problem("max_size_usd", Reason.BELOW_MIN_NOTIONAL,
                                         f"{self.p.max_size_usd} USD is below the smallest {self.symbol} order on "
                                         f"{self.p.venue} ({smallest:.2f} USD)")])
        return {"symbol": self.symbol, "mid": _plain(snap.bbo.mid), "maker_fee": _plain(snap.instrument.maker_fee),
                "taker_fee": _plain(snap.instrument.taker_fee)}

    def limits(self, instruments: Mapping[str, Instrument]) -> Limits:
        inst = instruments[self.p.venue]
        ref = self.ref_price or Decimal(1)
        # the largest entry the desk can make, plus the lot it may round to
        max_position = inst.round_size(self.p.max_size_usd * Decimal("1.05") / ref) + inst.lot
        return Limits(tolerance=inst.lot / 2, max_position=max_position, daily_loss=self.p.daily_loss_limit_usd)

    def public_params(self) -> dict[str, Any]:
        params = {**self.p.model_dump(mode="json"), "symbol": self.symbol}
        if self.adviser is not None:
            params["adviser"] = self.adviser
        return params

    def describe(self, record: Record) -> str | None:
        if record.kind == "agent_trade":
            t = record.payload
            return (f"{t['symbol']} {t['direction']} closed by {t['exit_rule']} after {t['hold_s'] / 3600:.1f} h: "
                    f"pnl {t['pnl']:.2f} USD (fees {t['fees']:.2f})")
        if record.kind == "mode_change":
            m = record.payload
            return f"mode {m['mode_from'] or '-'} -> {m['mode_to']}: {m['reason']}"
        return None

    # --- events --------------------------------------------------------------------------------
    def on_start(self, ctx: Context) -> Iterator[Intent]:
        if ctx.position(self.p.venue) != 0 and self.symbol not in self.desk.trades:
            # a position this run has no record of: it cannot be managed by rules it never opened
            yield Flatten(f"{self.symbol} position {ctx.position(self.p.venue)} found at start with no agent "
                          "trade behind it", Reason.RESTART_RECONCILE, then="resume")

    def on_bbo(self, ctx: Context, bbo: BBO) -> Iterator[Intent]:
        self.history.add(bbo.ts if bbo.ts else ctx.now, float(bbo.mid))
        yield from self._intents(ctx, self.desk.on_bbo(bbo, ctx.now))

    def on_fill(self, ctx: Context, ev: Filled) -> Iterator[Intent]:
        f = ev.fill
        if f is None or ev.order is None:  # prices and fees come from fill events only
            return
        mid = (f.bid + f.ask) / 2 if f.bid is not None and f.ask is not None else None
        yield from self._intents(ctx, self.desk.on_fill(f.client_id, self.symbol, f.price, f.size, f.fee,
                                                        maker=f.liquidity is Liquidity.MAKER, mid=mid, now=ctx.now))

    def on_order_done(self, ctx: Context, ev: Done) -> Iterator[Intent]:
        yield from self._intents(ctx, self.desk.on_order_done(ev.order.client_id, self.symbol, ctx.now,
                                                              filled=ev.order.accounted))

    def on_signal(self, ctx: Context, signal: Any) -> Iterator[Intent]:
        if isinstance(signal, Signal) and signal.accepted.symbol in (None, self.symbol):
            yield from self._intents(ctx, self.desk.on_signal(signal, ctx.now, guard_allows=ctx.may_add_risk))
        elif isinstance(signal, CloseAll):
            yield from self._intents(ctx, self.desk.close_all(signal.rule, self.symbol))
        elif isinstance(signal, Complete):
            yield Flatten("run complete", Reason.RUN_COMPLETE, then="COMPLETED")
        elif isinstance(signal, FundingPaid) and signal.symbol == self.symbol:
            # the open trade's PnL carries it (agent_trades), the run's funding table records it
            self.desk.on_funding(self.symbol, signal.payment)
            yield Record("funding", FundingRecord(ctx.run_id, self.p.venue, self.symbol, signal.rate,
                                                  signal.position, signal.payment, signal.ts))

    def on_stop(self, ctx: Context) -> Iterator[Intent]:
        # exits by rule before the kernel's flatten (reduce-only both: nothing is closed twice)
        yield from self._intents(ctx, self.desk.close_all(ExitRule.RUN_END, self.symbol))

    def _intents(self, ctx: Context, acts: list[Any]) -> Iterator[Intent]:
        venue = self.p.venue
        for act in acts:
            if isinstance(act, Enter | Exit | CancelEntry) and act.symbol != self.symbol:
                raise AssertionError(f"the {self.symbol} strategy was handed an order for {act.symbol}")
            if isinstance(act, Enter):
                if act.price is not None:
                    yield PlaceLimit(venue, "entry", act.side, act.price, act.size, act.client_id, post_only=True)
                else:
                    yield PlaceMarket(venue, "entry", act.side, act.size, act.client_id, self.p.slippage_bps)
            elif isinstance(act, Exit):
                yield PlaceMarket(venue, f"exit:{act.rule}", act.side, act.size, act.client_id, self.p.slippage_bps,
                                  reduce_only=True)
            elif isinstance(act, CancelEntry):
                yield Cancel(venue, act.client_id)
            elif isinstance(act, Note):
                yield Record(act.kind, act.payload)


def _plain(x: Decimal) -> str:
    """A venue's number as people write it: ``0`` and ``0.00045``, not ``0E-8`` and ``0.00045000``."""
    return format(x.normalize(), "f") if x else "0"
