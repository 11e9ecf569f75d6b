"""The grid's decisions, as a pure state machine: book in, quote actions and records out.

``GridQuoter`` knows nothing of venues, runners or journals. On every book update it samples the
volatility and the trend, plans the target quotes (``quoting.plan_quotes``) and compares them with
the quotes resting now (``requote.requote_reason``): a quote that must go is cancelled, and its
level is quoted again only once the cancel is confirmed (the order is no longer open), so a
replaced quote and its replacement never rest at once. An adding order is never sent beyond the
room the inventory limit leaves after counting every adding order still open (a quote being
cancelled can still fill). A post-only reject needs no special case: the order is gone, and the
next book update re-prices the level against the new book.

Quotes are tagged ``grid:<BUY|SELL>:<level>``; the caller maps tags to its orders.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.types import ZERO, Fill, Instrument, Side
from strategies.grid.params import GridParams
from strategies.grid.pnl import PnlTracker
from strategies.grid.quoting import QuotePlan, plan_quotes
from strategies.grid.requote import LiveQuote, requote_reason
from strategies.grid.signals import MomentumEvent, MomentumFilter, VolEstimator

SAMPLE_S = 1.0  # a book sample at least this often (markouts have 1 s resolution) ...
SAMPLE_MOVE_BPS = Decimal("0.5")  # ... and whenever the mid moved this much since the last one


def tag_of(side: Side, level: int) -> str:
    return f"grid:{side.value}:{level}"


def parse_tag(tag: str) -> tuple[Side, int] | None:
    parts = tag.split(":")
    if len(parts) != 3 or parts[0] != "grid" or parts[1] not in ("BUY", "SELL") or not parts[2].isdigit():
        return None
    return Side(parts[1]), int(parts[2])


@dataclass(frozen=True, slots=True)
class OpenQuote:
    """One of our orders still open at the venue, as the caller's order table knows it."""

    tag: str
    client_id: str
    side: Side
    price: Decimal
    remaining: Decimal
    cancelling: bool = False  # a cancel was sent and is not answered yet


@dataclass(frozen=True, slots=True)
class Place:
    tag: str
    side: Side
    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class Cancel:
    tag: str
    client_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Note:
    """A record for the journal: ``kind`` is ``book_sample`` or ``strategy_event`` (contract.KINDS)."""

    kind: str
    fields: dict[str, Any]


Action = Place | Cancel | Note


@dataclass(slots=True)
class _Placed:
    price: Decimal
    size: Decimal
    ts: float
    mid: Decimal


@dataclass(slots=True)
class GridQuoter:
    p: GridParams
    ins: Instrument
    initial_position: Decimal = ZERO
    vol: VolEstimator = field(init=False)
    momentum: MomentumFilter | None = field(init=False)
    pnl: PnlTracker = field(init=False)
    plan: QuotePlan | None = None
    placed: dict[str, _Placed] = field(default_factory=dict)  # client_id -> what it was placed at
    requotes: Counter[str] = field(default_factory=Counter)
    pauses: int = 0
    quoting_seconds: float = 0.0  # time with at least one quote resting
    _last_sample: float = float("-inf")
    _sample_mid: Decimal | None = None
    _last_ts: float | None = None

    def __post_init__(self) -> None:
        self.vol = VolEstimator(self.p.vol_prior_bps, self.p.vol_half_life_s)
        self.momentum = None if self.p.mode == "naive" else MomentumFilter(
            horizon_s=self.p.momentum_horizon_s, enter_z=self.p.momentum_enter_z, exit_z=self.p.momentum_exit_z,
            min_pause_s=self.p.momentum_min_pause_s, pause=self.p.momentum_pause)
        self.pnl = PnlTracker(initial_position=self.initial_position)

    # --- records -----------------------------------------------------------------------------
    def start_notes(self, ts: float) -> list[Note]:
        ins = self.ins
        return [Note("strategy_event", {
            "ts": ts, "event": "instrument", "detail": f"{ins.venue} {ins.symbol} {self.p.mode} grid",
            "data": {"venue": ins.venue, "symbol": ins.symbol, "tick": str(ins.tick), "lot": str(ins.lot),
                     "maker_fee": str(ins.maker_fee), "taker_fee": str(ins.taker_fee),
                     "initial_position": str(self.initial_position), "mode": self.p.mode}})]

    def _sample(self, ts: float, bid: Decimal, ask: Decimal, force: bool = False) -> list[Note]:
        """A book sample: the reference of spread capture (last one before a fill) and markouts."""
        mid = (bid + ask) / 2
        if self._sample_mid is not None and round(ts * 1e6) <= round(self._last_sample * 1e6):
            return []  # one sample per instant: the warehouse keys samples by time (the first one stays)
        moved = self._sample_mid is None or abs(mid - self._sample_mid) * 10_000 >= SAMPLE_MOVE_BPS * self._sample_mid
        if not force and ts - self._last_sample < SAMPLE_S and not moved:
            return []
        self._last_sample = ts
        self._sample_mid = mid
        self.pnl.mark(ts, bid, ask)
        return [Note("book_sample", {"venue": self.ins.venue, "symbol": self.ins.symbol, "bid": bid, "ask": ask,
                                     "ts": ts})]

    def _momentum_note(self, e: MomentumEvent) -> Note:
        if e.action == "pause":
            self.pauses += 1
        return Note("strategy_event", {"ts": e.ts, "event": e.action, "detail": e.reason,
                                       "data": {"direction": e.direction, "z": round(e.z, 4),
                                                "trend_bps": round(e.trend_bps, 4), "sides": list(e.paused_sides)}})

    # --- events ------------------------------------------------------------------------------
    @property
    def paused_sides(self) -> frozenset[Side]:
        return self.momentum.paused_sides() if self.momentum else frozenset()

    @property
    def paused_seconds(self) -> float:
        return self.momentum.paused_seconds if self.momentum else 0.0

    def on_book(self, ts: float, bid: Decimal, ask: Decimal, position: Decimal,
                open_quotes: Iterable[OpenQuote]) -> list[Action]:
        """A new best bid/ask: what to cancel, what to place and what to record."""
        if bid <= 0 or ask <= bid:
            return []
        quotes = list(open_quotes)
        if self._last_ts is not None and any(not q.cancelling for q in quotes):
            self.quoting_seconds += max(0.0, ts - self._last_ts)
        self._last_ts = ts
        mid = (bid + ask) / 2
        out: list[Action] = list(self._sample(ts, bid, ask))
        sigma = self.vol.update(ts, float(mid))
        if self.momentum is not None:
            out += [self._momentum_note(e) for e in self.momentum.update(ts, float(mid), sigma)]
        plan = plan_quotes(self.p, self.ins, bid=bid, ask=ask, position=position, vol_bps_per_sqrt_s=sigma,
                           paused=self.paused_sides)
        self.plan = plan
        targets = {tag_of(t.side, t.level): t for t in plan.quotes}
        busy: set[str] = set()
        for q in quotes:
            busy.add(q.tag)
            if q.cancelling:
                continue
            placed = self.placed.get(q.client_id)
            key = parse_tag(q.tag)
            if placed is None or key is None:  # not ours to judge (e.g. left from a restart): replace it
                out.append(Cancel(q.tag, q.client_id, "unknown"))
                continue
            live = LiveQuote(q.side, key[1], q.price, q.remaining, placed.ts, placed.mid)
            reason = requote_reason(self.p, live, targets.get(q.tag), mid, ts)
            if reason is not None:
                self.requotes[reason] += 1
                out.append(Cancel(q.tag, q.client_id, reason))
        room = self._room(position, quotes)
        for tag, t in targets.items():
            if tag in busy:
                continue
            # never more than the limit leaves after every open order on this side (a quote being
            # cancelled can still fill)
            size = min(t.size, self.ins.round_size(room[t.side]))
            if size < self.ins.min_size or size * t.price < self.ins.min_notional:
                continue
            room[t.side] -= size
            out.append(Place(tag, t.side, t.price, size))
        return out

    def _room(self, position: Decimal, quotes: list[OpenQuote]) -> dict[Side, Decimal]:
        """Per side: how much more may be bought (sold) before |position| could pass the limit, if
        every open order on that side filled."""
        room = {}
        for side in (Side.BUY, Side.SELL):
            open_size = sum((q.remaining for q in quotes if q.side is side), ZERO)
            room[side] = max(ZERO, self.p.max_position - side.sign * position - open_size)
        return room

    def placed_order(self, client_id: str, place: Place, ts: float, mid: Decimal) -> None:
        """The caller sent ``place`` as ``client_id``: remember where the market was."""
        self.placed[client_id] = _Placed(place.price, place.size, ts, mid)

    def order_done(self, client_id: str) -> None:
        self.placed.pop(client_id, None)

    def on_fill(self, fill: Fill) -> None:
        self.pnl.fill(fill)

    def on_funding(self, payment: Decimal, ts: float) -> None:
        self.pnl.funding(payment, ts)

    def final_notes(self, ts: float, bid: Decimal, ask: Decimal) -> list[Note]:
        """The last book sample (the mark of the run's end)."""
        return self._sample(ts, bid, ask, force=True)
