"""The agent's desk: every symbol's trade from decision to round trip, as a pure state machine.

Events in (a decision signal, a price, a fill, an order's end, funding), acts out (enter, exit,
cancel, record). Allowed actions are computed here before the LLM is asked, and a decision is
checked against them again when it arrives (the position may have changed while the LLM
thought). Exits are the rules of ``exits.py``; entries are maker first; every closed trade
becomes an ``agent_trade`` record with its rule, hold time, fees, spread paid and mode, and
every mode change a ``mode_change`` record. The kernel strategy and the backtest both drive it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from core.types import BBO, Instrument, Side
from strategies.agent.allowed import Action, Allowed, Held, allowed_actions
from strategies.agent.calibration import Calibration
from strategies.agent.costs import Leg, RoundTrip
from strategies.agent.decision import Accepted, check_allowed
from strategies.agent.entry import plan_entry
from strategies.agent.exits import ExitRule, OpenTrade, exit_due
from strategies.agent.modes import BurnRefused, ModeChange, Modes
from strategies.agent.params import AgentParams

ZERO = Decimal(0)
TEN_PLACES = Decimal("1e-10")


def _q(x: Decimal) -> Decimal:
    """A warehouse decimal (10 places)."""
    return x.quantize(TEN_PLACES)


@dataclass(frozen=True, slots=True)
class Outlook:
    """What the shared insights say at decision time, as the rules need it."""

    blocked: frozenset[str] = frozenset()
    blackout: bool = False
    others: Mapping[str, frozenset[str]] = field(default_factory=dict)  # symbol -> directions held
    calibration: Calibration = field(default_factory=Calibration)


@dataclass(frozen=True, slots=True)
class Signal:
    """A validated decision reaching the desk (from the adviser task)."""

    decision_id: str
    ts: float  # decision time: inputs were data from before it
    accepted: Accepted
    outlook: Outlook


@dataclass(frozen=True, slots=True)
class CloseAll:
    """Close every open trade (of one symbol), naming the rule: the run ends or risk stops it."""

    rule: ExitRule


@dataclass(frozen=True, slots=True)
class Complete:
    """The run's time is up and its trades are closed: verify flat and finish."""


@dataclass(frozen=True, slots=True)
class FundingPaid:
    """A funding settlement the venue charged (positive) or paid (negative) on a symbol's position."""

    symbol: str
    rate: Decimal  # per the venue's interval
    position: Decimal  # signed: long > 0
    payment: Decimal  # paid by us; negative = received
    ts: float


# --- acts ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Enter:
    symbol: str
    side: Side
    size: Decimal
    price: Decimal | None  # post-only price; None: taker with the slippage cap
    client_id: str


@dataclass(frozen=True, slots=True)
class Exit:
    symbol: str
    side: Side
    size: Decimal  # reduce-only taker
    client_id: str
    rule: ExitRule


@dataclass(frozen=True, slots=True)
class CancelEntry:
    symbol: str
    client_id: str


@dataclass(frozen=True, slots=True)
class Note:
    kind: str  # agent_trade | mode_change | signal_refused | entry_dropped
    payload: dict[str, Any]


Act = Enter | Exit | CancelEntry | Note


@dataclass(slots=True)
class _Acc:
    """One leg's fills so far."""

    size: Decimal = ZERO
    notional: Decimal = ZERO
    fee: Decimal = ZERO
    mid_notional: Decimal = ZERO
    maker: Decimal = ZERO

    def add(self, price: Decimal, size: Decimal, fee: Decimal, mid: Decimal, maker: bool) -> None:
        self.size += size
        self.notional += price * size
        self.fee += fee
        self.mid_notional += mid * size
        if maker:
            self.maker += size

    def leg(self, side: Side) -> Leg:
        return Leg(side, self.notional / self.size, self.size, self.fee, self.mid_notional / self.size,
                   self.maker * 2 >= self.size)


@dataclass(slots=True)
class _Trade:
    no: int
    symbol: str
    direction: str
    mode: str
    decision_id: str
    stated: float
    confidence: float
    target: Decimal  # base units wanted
    entry: _Acc = field(default_factory=_Acc)
    exit: _Acc = field(default_factory=_Acc)
    opened_ts: float | None = None
    entry_order: str | None = None
    entry_deadline: float | None = None
    maker_tried: bool = False
    exit_order: str | None = None
    exit_rule: ExitRule | None = None
    funding: Decimal = ZERO
    orders: int = 0
    entry_ids: set[str] = field(default_factory=set)  # every entry order's client id (late fills count)
    exit_ids: set[str] = field(default_factory=set)
    entry_done: Decimal = ZERO  # executed by finished entry orders (the venue's word)
    exit_done: Decimal = ZERO  # executed by finished exit orders

    @property
    def to_exit(self) -> Decimal:
        """What is left to close: entries executed minus exits executed or in flight."""
        return max(self.entry.size, self.entry_done) - max(self.exit.size, self.exit_done)

    @property
    def entry_side(self) -> Side:
        return Side.BUY if self.direction == "LONG" else Side.SELL

    @property
    def position(self) -> Decimal:
        return self.entry.size - self.exit.size


class Desk:
    def __init__(self, params: AgentParams, instruments: Mapping[str, Instrument], *, run_id: str,
                 client_prefix: str, now: float) -> None:
        self.p = params
        self.instruments = dict(instruments)
        self.run_id = run_id
        self.prefix = client_prefix
        self.modes = Modes(params.mode, params.burn_threshold_usd, params.burn_budget_usd)
        self.trades: dict[str, _Trade] = {}
        self.bbos: dict[str, BBO] = {}
        self.round_trips: list[RoundTrip] = []
        self.closed: list[dict[str, Any]] = []
        self.day_pnl: dict[str, Decimal] = {}
        self._n = 0
        self._orders = 0
        self.start_notes: list[Act] = [self._mode_note(self.modes.start(now))]

    # --- what may be done --------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self.modes.mode

    @property
    def decision_interval_s(self) -> float:
        return self.p.rules(self.mode).decision_interval_s

    def _today(self, now: float) -> str:
        return datetime.fromtimestamp(now, UTC).date().isoformat()

    def worst_trade_usd(self) -> Decimal:
        """What one trade of the current mode can lose by its rules: the stop loss plus the notes'
        0.35% fee and spread drag on the largest entry (a gap through the stop can lose more)."""
        sl = Decimal(str(self.p.rules(self.mode).stop_loss_pct))
        return self.p.max_size_usd * (sl + Decimal("0.35")) / 100

    def may_open(self, now: float) -> bool:
        """Today's realised loss is inside the limit, and a burn's budget can pay the worst trade."""
        if self.day_pnl.get(self._today(now), ZERO) <= -self.p.daily_loss_limit_usd:
            return False
        return self.modes.may_open(self.worst_trade_usd())

    def open_notional(self) -> Decimal:
        """Notional of open trades at entry (an entry still resting counts at its target)."""
        total = ZERO
        for t in self.trades.values():
            if t.position > 0:
                total += t.position * t.entry.notional / t.entry.size
            else:
                total += t.target * self._mark(t.symbol)
        return total

    def _mark(self, symbol: str) -> Decimal:
        b = self.bbos.get(symbol)
        return b.mid if b else ZERO

    def held(self, now: float) -> dict[str, Held]:
        return {s: Held(t.direction, now - t.opened_ts if t.opened_ts is not None else 0.0)
                for s, t in self.trades.items()}

    def pnl_today(self, now: float) -> Decimal:
        """Realised net PnL of trades closed today (UTC)."""
        return self.day_pnl.get(self._today(now), ZERO)

    def positions_view(self, now: float) -> list[dict[str, Any]]:
        """Open trades as the adviser shows them to the LLM (and the progress artifact)."""
        out = []
        for s, t in self.trades.items():
            if t.position <= 0 or t.opened_ts is None:
                continue
            entry = t.entry.notional / t.entry.size
            mark = self._mark(s) or entry
            sign = 1 if t.direction == "LONG" else -1
            out.append({"symbol": s, "direction": t.direction, "size": t.position, "entry_price": entry,
                        "mark": mark, "held_h": round((now - t.opened_ts) / 3600, 2), "mode": t.mode,
                        "open_pnl_usd": round(float((mark - entry) * t.position * sign), 2),
                        "pnl_pct": round(float((mark / entry - 1) * 100 * sign), 3)})
        return out

    def allowed(self, now: float, outlook: Outlook, *, guard_allows: bool = True) -> Allowed:
        """The actions the LLM may choose from now (computed before it is asked)."""
        room = self.p.max_total_usd - self.open_notional()
        return allowed_actions(self.p.symbols, held=self.held(now), min_hold_s=self.p.rules(self.mode).min_hold_s,
                               max_open_positions=self.p.max_open_positions, blocked=outlook.blocked,
                               blackout=outlook.blackout, others=outlook.others,
                               may_open=guard_allows and self.may_open(now), open_room_usd=float(room),
                               min_entry_usd=10.0)

    # --- events ------------------------------------------------------------------------------------
    def on_signal(self, sig: Signal, now: float, *, guard_allows: bool = True) -> list[Act]:
        """A decision arrives: checked again against what is allowed now, then acted on."""
        out: list[Act] = []
        if self.p.burn and self.mode == "profit":
            try:
                self.modes.check_burn()
            except BurnRefused:
                pass
            else:
                out.append(self._mode_note(self.modes.request_burn(now)))
        a = sig.accepted
        if a.action is Action.HOLD:
            return out
        allowed = self.allowed(now, sig.outlook, guard_allows=guard_allows)
        again = check_allowed(a.decision, allowed, raw="", max_size_usd=self.p.max_size_usd,
                              default_size_usd=self.p.size_usd, min_size_usd=Decimal(10))
        if not isinstance(again, Accepted):
            return [*out, Note("signal_refused", {"decision_id": sig.decision_id, "reason": again.reason})]
        assert a.symbol is not None
        if a.action is Action.CLOSE:
            t = self.trades[a.symbol]
            return [*out, *self._exit(t, ExitRule.ADVISER_CLOSE)]
        calibrated = sig.outlook.calibration.apply(a.decision.confidence)
        if calibrated < self.p.min_confidence:
            return [*out, Note("signal_refused", {
                "decision_id": sig.decision_id,
                "reason": f"confidence: calibrated {calibrated:.2f} (stated {a.decision.confidence:.2f}) "
                          f"is below min_confidence {self.p.min_confidence}"})]
        bbo = self.bbos.get(a.symbol)
        if bbo is None:
            return [*out, Note("signal_refused", {"decision_id": sig.decision_id,
                                                  "reason": f"symbol: no price for {a.symbol} yet"})]
        room = self.p.max_total_usd - self.open_notional()
        usd = min(a.size_usd, room)
        side = Side.BUY if a.action is Action.OPEN_LONG else Side.SELL
        plan = plan_entry(side, usd, bbo, self.instruments[a.symbol], maker_first=self.p.maker_first)
        if plan.size <= 0:
            return [*out, Note("signal_refused", {"decision_id": sig.decision_id,
                                                  "reason": f"size_usd: {usd} is below {a.symbol}'s minimum order"})]
        self._n += 1
        t = _Trade(self._n, a.symbol, "LONG" if side is Side.BUY else "SHORT", self.mode, sig.decision_id,
                   a.decision.confidence, calibrated, plan.size)
        self.trades[a.symbol] = t
        cid = self._cid()
        t.entry_order = cid
        t.entry_ids.add(cid)
        t.orders += 1
        if plan.maker:
            t.maker_tried = True
            t.entry_deadline = now + self.p.maker_timeout_s
        return [*out, Enter(a.symbol, side, plan.size, plan.price, cid)]

    def on_bbo(self, bbo: BBO, now: float) -> list[Act]:
        """Prices move: exit rules, and maker entries that waited long enough."""
        self.bbos[bbo.symbol] = bbo
        t = self.trades.get(bbo.symbol)
        if t is None:
            return []
        if t.entry_order is not None and t.entry_deadline is not None and now >= t.entry_deadline:
            t.entry_deadline = None
            return [CancelEntry(t.symbol, t.entry_order)]
        if t.opened_ts is None or t.exit_order is not None or t.entry_order is not None:
            return []
        if t.exit_rule is not None:  # a rule fired and its exit ended short: finish the job
            return self._exit(t, t.exit_rule) if t.to_exit > 0 else []
        exit_price = bbo.bid if t.direction == "LONG" else bbo.ask
        rule = exit_due(self._open_trade(t), exit_price, now)
        return self._exit(t, rule) if rule is not None else []

    def on_fill(self, client_id: str, symbol: str, price: Decimal, size: Decimal, fee: Decimal, *, maker: bool,
                mid: Decimal | None, now: float) -> list[Act]:
        t = self.trades.get(symbol)
        if t is None:
            return []
        m = mid if mid is not None else (self._mark(symbol) or price)
        if client_id in t.entry_ids:
            t.entry.add(price, size, fee, m, maker)
            if t.opened_ts is None:
                t.opened_ts = now
            return []
        if client_id in t.exit_ids:
            t.exit.add(price, size, fee, m, maker)
            if t.position <= 0:
                return self._close(t, now)
        return []

    def on_order_done(self, client_id: str, symbol: str, now: float, filled: Decimal | None = None) -> list[Act]:
        """An order of the desk is final (filled, cancelled, rejected, lost, denied). ``filled`` is the
        size the venue says it executed (its fill events may still be on their way)."""
        t = self.trades.get(symbol)
        if t is None:
            return []
        if client_id == t.entry_order:
            t.entry_order = None
            t.entry_deadline = None
            t.entry_done += filled if filled is not None else t.entry.size
            left = t.target - t.entry_done
            if left > 0 and t.maker_tried and t.orders == 1 and self.p.maker_fallback == "taker":
                inst = self.instruments[symbol]
                bbo = self.bbos.get(symbol)
                left = inst.round_size(left)
                if bbo is not None and left >= inst.min_size and left * bbo.mid >= inst.min_notional:
                    cid = self._cid()
                    t.entry_order = cid
                    t.entry_ids.add(cid)
                    t.orders += 1
                    return [Enter(symbol, t.entry_side, left, None, cid)]
            if t.entry_done == 0 and t.entry.size == 0:
                del self.trades[symbol]
                return [Note("entry_dropped", {"decision_id": t.decision_id, "symbol": symbol,
                                               "reason": "entry not filled"})]
            return []
        if client_id == t.exit_order:
            t.exit_order = None
            t.exit_done += filled if filled is not None else t.exit.size - t.exit_done
            # what the venue executed closes the trade as its fills arrive; a short exit is
            # retried on the next price for the rest only
        return []

    def on_funding(self, symbol: str, payment: Decimal) -> None:
        """Funding paid (positive) or received on the symbol's open trade."""
        t = self.trades.get(symbol)
        if t is not None and t.position > 0:
            t.funding += payment

    def close_all(self, rule: ExitRule, symbol: str | None = None) -> list[Act]:
        """The run ends (or risk stops it): every open trade (of ``symbol``) exits, naming why."""
        out: list[Act] = []
        for t in list(self.trades.values()):
            if symbol is not None and t.symbol != symbol:
                continue
            if t.entry_order is not None:
                out.append(CancelEntry(t.symbol, t.entry_order))
                t.entry_deadline = None
            if t.to_exit > 0 and t.exit_order is None:
                out += self._exit(t, rule)
        return out

    # --- internals ---------------------------------------------------------------------------------
    def _cid(self) -> str:
        self._orders += 1
        return f"{self.prefix}-{self._orders}"

    def _open_trade(self, t: _Trade) -> OpenTrade:
        assert t.opened_ts is not None
        return OpenTrade(t.symbol, t.direction, t.entry.notional / t.entry.size, t.opened_ts, t.confidence,
                         self.p.rules(t.mode))

    def _exit(self, t: _Trade, rule: ExitRule) -> list[Act]:
        if t.to_exit <= 0 or t.exit_order is not None:
            return []
        t.exit_rule = rule
        cid = self._cid()
        t.exit_order = cid
        t.exit_ids.add(cid)
        return [Exit(t.symbol, t.entry_side.opposite, t.to_exit, cid, rule)]

    def _close(self, t: _Trade, now: float) -> list[Act]:
        del self.trades[t.symbol]
        rt = RoundTrip(t.entry.leg(t.entry_side), t.exit.leg(t.entry_side.opposite))
        self.round_trips.append(rt)
        net = rt.net_pnl - t.funding
        day = self._today(now)
        self.day_pnl[day] = self.day_pnl.get(day, ZERO) + net
        assert t.opened_ts is not None and t.exit_rule is not None
        row = {
            "trade_no": t.no, "venue": self.p.venue, "symbol": t.symbol, "direction": t.direction, "mode": t.mode,
            "decision_id": t.decision_id, "confidence": t.stated, "calibrated_confidence": t.confidence,
            "opened": t.opened_ts, "closed_at": now, "hold_s": now - t.opened_ts, "size": _q(rt.entry.size),
            "entry_price": _q(rt.entry.price), "exit_price": _q(rt.exit.price), "notional": _q(rt.notional),
            "entry_maker": rt.entry.maker, "exit_rule": str(t.exit_rule), "gross_pnl": _q(rt.gross_pnl),
            "fees": _q(rt.fees), "spread_cost": _q(rt.spread_cost), "funding_paid": _q(t.funding),
            "pnl": _q(net), "drag_pct": float(rt.drag_pct), "win": net > 0,
        }
        self.closed.append(row)
        out: list[Act] = [Note("agent_trade", row)]
        change = self.modes.on_trade_closed(now, net, t.mode)
        if change is not None:
            out.append(self._mode_note(change))
        return out

    def _mode_note(self, c: ModeChange) -> Note:
        return Note("mode_change", {"ts": c.ts, "mode_from": c.mode_from,
                                    "mode_to": c.mode_to, "reason": c.reason, "banked_usd": c.banked_usd,
                                    "burn_spent_usd": c.burn_spent_usd})
