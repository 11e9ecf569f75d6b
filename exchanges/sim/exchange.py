"""One simulated venue's matching engine and account: validates, matches, fills, publishes.

Everything here is synchronous and runs at the moment a request reaches the venue (the client
in ``venue.py`` adds the network latency around it). Rules follow the venue profile: tick, lot,
min size, min notional, max order size, post-only, reduce-only, margin, maker/taker fees, and
for taker orders the really executable size (GRVT's displayed book is mostly not executable).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import functools
import math
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.errors import OrderRejected, VenueError
from core.reasons import Reason
from core.types import (
    BBO,
    ZERO,
    Balance,
    Book,
    BookLevel,
    Fill,
    Instrument,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    Trade,
)
from exchanges.sim.account import SimAccount
from exchanges.sim.faults import Faults
from exchanges.sim.market import SimMarket
from exchanges.sim.orders import SimOrder
from exchanges.sim.profiles import MarketProfile, VenueProfile

DISCONNECTED = object()  # queued to a subscription when its stream drops
_CACHE_MAX = 4096  # distinct prices a market slot keeps as Decimals


class Inbox:
    """A subscription's unbounded message queue: the part of ``asyncio.Queue`` a stream uses
    (``put_nowait``, ``get``, ``get_nowait``, ``empty``), without its task accounting and
    generic waiter bookkeeping - a simulated bot gets tens of thousands of messages an hour.
    A reader waiting in ``get`` is woken exactly as by ``asyncio.Queue`` (its future's result)."""

    __slots__ = ("_items", "_waiters")

    def __init__(self) -> None:
        self._items: deque[Any] = deque()
        self._waiters: deque[asyncio.Future[None]] = deque()

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        if self._waiters:
            self._wake_next()

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    def get_nowait(self) -> Any:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.popleft()

    async def get(self) -> Any:
        items = self._items
        while not items:
            w = asyncio.get_running_loop().create_future()
            self._waiters.append(w)
            try:
                await w
            except BaseException:
                w.cancel()
                with contextlib.suppress(ValueError):
                    self._waiters.remove(w)
                if items and not w.cancelled():  # woken, then cancelled: pass the wake-up on
                    self._wake_next()
                raise
        return items.popleft()

    def _wake_next(self) -> None:
        while self._waiters:
            w = self._waiters.popleft()
            if not w.done():
                w.set_result(None)
                break


@dataclass(slots=True, eq=False)
class Subscription:
    channel: str  # bbo | book | trades | orders | fills | positions
    symbol: str | None
    queue: Inbox = field(default_factory=Inbox)
    last_at: float = 0.0


@dataclass(slots=True)
class FundingPayment:
    venue: str
    symbol: str
    rate: Decimal
    mark: Decimal
    position: Decimal
    payment: Decimal  # paid by us; negative = received
    ts: float


class MarketSlot:
    """A market with its Decimal scale, so conversions happen once, at the edge."""

    __slots__ = ("_px", "hook", "instrument", "last_top", "lot", "market", "profile", "source", "symbol",
                 "tick", "tick_f")

    def __init__(self, instrument: Instrument, profile: MarketProfile, market: SimMarket) -> None:
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.profile = profile
        self.market = market
        self.tick = instrument.tick
        self.lot = instrument.lot
        self.tick_f = float(instrument.tick)
        self.source: Any = None  # ModelSource or ReplaySource
        self.last_top: tuple[int, int, int, int] | None = None
        self.hook: Any = None  # called after each market event while someone listens or we rest orders
        self._px: dict[int, Decimal] = {}  # ticks -> price: a BBO's prices, made once each (sizes vary too much)

    def price(self, ticks: int) -> Decimal:
        d = self._px.get(ticks)
        if d is None:
            if len(self._px) > _CACHE_MAX:
                self._px.clear()
            d = self._px[ticks] = ticks * self.tick
        return d


class SimExchange:
    def __init__(self, profile: VenueProfile, seed: int, now: float, faults: Faults | None = None) -> None:
        self.name = profile.name
        self.profile = profile
        self.faults = faults or Faults()
        self.rng = random.Random(f"{seed}/{self.name}/engine")
        self.slots: dict[str, MarketSlot] = {}
        self.orders: dict[str, SimOrder] = {}
        self.open: dict[str, SimOrder] = {}
        self.by_client: dict[str, SimOrder] = {}
        self.fill_log: list[Fill] = []
        self._fill_ts: list[float] = []
        self.funding_log: list[FundingPayment] = []
        self.account = SimAccount(cash=profile.account_equity)
        self.subs: list[Subscription] = []
        self._by_channel: dict[str, list[Subscription]] = {}  # ``subs`` by channel, in subscription order
        self._watch_book = False  # someone subscribes to a whole book: every event is visible
        self.drops = 0  # stream disconnects injected so far
        self._oid = 0
        self._tid = 0
        # Order and trade ids are unique per simulated session (seed, venue, start), as a real venue's
        # are for ever: runs of different sessions recorded in one warehouse never share a natural key.
        self._ids = f"{self.name[:3]}-{random.Random(f'{seed}/{self.name}/{now}/ids').getrandbits(32):08x}"
        self.next_funding = (math.floor(now / profile.funding_interval_s) + 1) * profile.funding_interval_s
        self._feed_latency = self.feed_latency = profile.feed_latency_ms / 1000
        self.published: dict[str, BBO] = {}
        self._next_drop: float | None = None
        self.clock: Any = None  # the world's clock, set by the world: message arrival times

    # --- market plumbing ---------------------------------------------------------------------
    def add_market(self, symbol: str, market: SimMarket, source: Any) -> None:
        slot = MarketSlot(self.profile.instrument(symbol), self.profile.market(symbol), market)
        slot.source = source
        slot.hook = functools.partial(self._after_event, symbol, slot)
        self.slots[symbol] = slot

    def slot(self, symbol: str) -> MarketSlot:
        try:
            return self.slots[symbol]
        except KeyError:
            raise OrderRejected(Reason.UNKNOWN_SYMBOL, f"{symbol!r}; this venue lists "
                                f"{', '.join(sorted(self.slots))}", self.name) from None

    @property
    def events(self) -> int:
        return sum(s.market.events for s in self.slots.values())

    def next_event(self) -> float:
        """When the next market event of this venue happens (inf: none scheduled)."""
        return min((s.source.next_t for s in self.slots.values()), default=math.inf)

    def next_visible(self) -> float:
        """When the next event a subscriber could see happens: any event while someone watches a
        whole book, else the next that can move a top of book or fill us."""
        if self._watch_book:
            return self.next_event()
        n = math.inf
        for s in self.slots.values():
            v = s.source.next_visible_t
            if v < n:
                n = v
        return n

    def advance(self, t: float) -> None:
        """Move every market to ``t`` event by event: settle our maker fills the instant they happen,
        pay funding at its settlement time, publish what changed."""
        while self.next_funding <= t:
            self._advance_slots(self.next_funding)
            self._pay_funding(self.next_funding)
        self._advance_slots(t)
        drops = self.faults.stream_drop_per_hour
        if drops and self.subs:
            if self._next_drop is None:
                self._next_drop = t + self.rng.expovariate(drops / 3600)
            elif self._next_drop <= t:
                self._next_drop = None
                self.drop_streams()

    def _advance_slots(self, t: float) -> None:
        for symbol, slot in self.slots.items():
            m = slot.market
            if self.subs or m.own_bids or m.own_asks:
                slot.source.advance(t, slot.hook)
            else:
                slot.source.advance(t)
            if t >= self.faults.stale_until:
                self._publish_market(symbol, slot, t)

    def _after_event(self, symbol: str, slot: MarketSlot, t: float) -> None:
        """After each market event while someone listens or we rest orders (``slot.hook``)."""
        m = slot.market
        if m.maker_fills:
            fills, m.maker_fills = m.maker_fills, []
            for o, price, lots, ts in fills:
                self._settle(slot, o, price, lots, ts, Liquidity.MAKER)
        if self.subs and t >= self.faults.stale_until:
            self._publish_market(symbol, slot, t)

    def step(self, t: float, dt: float = 0.0) -> None:
        """Advance to ``t`` and settle what a test moved by hand (trades applied directly)."""
        self.advance(t)
        for symbol, slot in self.slots.items():
            self._after_event(symbol, slot, t)
            if not self.faults.stale(t):
                self._publish_market(symbol, slot, t)

    def _publish_market(self, symbol: str, slot: MarketSlot, t: float) -> None:
        m = slot.market
        if m.own_bids or m.own_asks:
            top = m.top()
        else:  # nobody's orders of ours in the book: the top is others' best levels
            top = (m.best_bid, m.bids.get(m.best_bid, 0), m.best_ask, m.asks.get(m.best_ask, 0))
        if top == slot.last_top:
            return
        slot.last_top = top
        bbo = self._bbo_of(symbol, slot, top, t)
        self.published[symbol] = bbo
        if self.subs:
            self.publish("bbo", symbol, bbo, t)
            if self._watch_book and any(s.channel == "book" and s.symbol == symbol for s in self.subs):
                self.publish("book", symbol, self.book(symbol, 20, t), t)

    def _bbo_of(self, symbol: str, slot: MarketSlot, top: tuple[int, int, int, int], t: float) -> BBO:
        bid, bid_lots, ask, ask_lots = top
        lot = slot.lot
        return BBO(self.name, symbol, slot.price(bid), bid_lots * lot, slot.price(ask), ask_lots * lot, t)

    # --- subscriptions -----------------------------------------------------------------------
    def subscribe(self, channel: str, symbol: str | None = None) -> Subscription:
        sub = Subscription(channel, symbol)
        self.subs.append(sub)
        self._by_channel.setdefault(channel, []).append(sub)
        self._watch_book = self._watch_book or channel == "book"
        if channel == "bbo" and symbol in self.published:  # a venue sends the current BBO on subscribe
            sub.queue.put_nowait((self.published[symbol].ts + self._feed_latency, self.published[symbol]))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self.subs:
            self.subs.remove(sub)
            self._by_channel[sub.channel].remove(sub)
            self._watch_book = any(s.channel == "book" for s in self.subs)

    def publish(self, channel: str, symbol: str | None, item: Any, t: float) -> None:
        """Send ``item`` (published at ``t``) to matching subscribers, arriving ``t`` + feed latency.

        On a running loop the message is handed over at its arrival time by a timer, so a reader
        wakes once, exactly when it arrives; each subscription's arrival times strictly increase,
        which keeps its messages in publishing order."""
        subs = self._by_channel.get(channel)
        if not subs:
            return
        lat = self._feed_latency
        loop = asyncio._get_running_loop()
        now = self.clock.now() if loop is not None and self.clock is not None else None
        for sub in subs:
            if sub.symbol is None or sub.symbol == symbol:
                at = t + lat
                if at <= sub.last_at:
                    at = sub.last_at + 1e-7
                sub.last_at = at
                if now is None or at <= now:
                    sub.queue.put_nowait((at, item))
                else:
                    # call_later's own sum, without its call: the same time, one frame less per message
                    loop.call_at(loop.time() + (at - now), sub.queue.put_nowait, (at, item))  # type: ignore[union-attr]

    def drop_streams(self) -> None:
        """Fault: every stream of this venue disconnects; messages in flight are lost."""
        subs, self.subs = self.subs, []
        self._by_channel = {}
        self._watch_book = False
        self.drops += 1
        for sub in subs:
            while not sub.queue.empty():
                sub.queue.get_nowait()
            sub.queue.put_nowait((0.0, DISCONNECTED))

    # --- orders ------------------------------------------------------------------------------
    def _new_id(self) -> str:
        self._oid += 1
        return f"{self._ids}-o{self._oid}"

    def _check(self, slot: MarketSlot, side: Side, price: Decimal | None, size: Decimal, reduce_only: bool,
               client_id: str, ref_price: Decimal) -> int:
        """Validate like the venue does; returns size in lots."""
        ins = slot.instrument
        if not client_id:
            raise OrderRejected(Reason.REJECTED, "client id is required", self.name)
        if client_id in self.by_client:
            raise OrderRejected(Reason.DUPLICATE_CLIENT_ID, f"client id {client_id!r} already used", self.name)
        if price is not None and not ins.on_tick(price):
            raise OrderRejected(Reason.OFF_TICK, f"price {price} is not a multiple of tick {ins.tick}", self.name)
        if not ins.on_lot(size):
            raise OrderRejected(Reason.OFF_LOT, f"size {size} is not a multiple of step {ins.lot}", self.name)
        if size < ins.min_size:
            raise OrderRejected(Reason.BELOW_MIN_SIZE, f"size {size} < min {ins.min_size}", self.name)
        pos = self.account.positions.get(slot.instrument.symbol, ZERO)
        if ins.below_min_notional(size, ref_price, reduce_only=reduce_only, position=pos):
            raise OrderRejected(Reason.BELOW_MIN_NOTIONAL,
                                f"notional {size * ref_price:.2f} < min {ins.min_notional}", self.name)
        if ins.max_order_size is not None and size > ins.max_order_size:
            raise OrderRejected(Reason.SIZE_ABOVE_MAX, f"size {size} > max {ins.max_order_size}", self.name)
        if reduce_only and (pos == 0 or (pos > 0) == (side is Side.BUY)):
            raise OrderRejected(Reason.REDUCE_ONLY_WOULD_INCREASE,
                                f"position {pos}; a reduce-only {side} would increase it", self.name)
        if not reduce_only:
            self._check_margin(slot, side, size, ref_price)
        if self.faults.reject_prob and self.rng.random() < self.faults.reject_prob:
            raise OrderRejected(Reason.REJECTED, "simulated venue reject", self.name)
        lots = int(size / ins.lot)
        if reduce_only:
            lots = min(lots, int(abs(pos) / ins.lot))
        return lots

    def _check_margin(self, slot: MarketSlot, side: Side, size: Decimal, price: Decimal) -> None:
        pos = self.account.positions.get(slot.instrument.symbol, ZERO)
        if (pos > 0 and side is Side.SELL and size <= pos) or (pos < 0 and side is Side.BUY and size <= -pos):
            return  # reduces exposure
        marks = self.marks()
        exposure = sum((abs(p) * marks.get(s, ZERO) for s, p in self.account.positions.items()), ZERO)
        resting = sum((o.remaining * self.slots[o.symbol].lot * (o.price or 0) * self.slots[o.symbol].tick
                       for o in self.open.values()), ZERO)
        need = (exposure + resting + size * price) * self.profile.initial_margin
        equity = self.account.cash + self.account.unrealized(marks)
        if need > equity:
            raise OrderRejected(Reason.INSUFFICIENT_MARGIN, f"needs {need:.2f} margin, equity {equity:.2f}",
                                self.name)

    def place_limit(self, symbol: str, side: Side, price: Decimal, size: Decimal, client_id: str,
                    post_only: bool, reduce_only: bool, t: float) -> Order:
        slot = self.slot(symbol)
        lots = self._check(slot, side, price, size, reduce_only, client_id, price)
        m = slot.market
        px = int(price / slot.tick)
        bid, _, ask, _ = m.top()
        crosses = px >= ask if side is Side.BUY else px <= bid
        if post_only and crosses:
            raise OrderRejected(Reason.POST_ONLY_WOULD_CROSS,
                                f"{side} {price} would cross the {'ask' if side is Side.BUY else 'bid'} "
                                f"{(ask if side is Side.BUY else bid) * slot.tick}", self.name)
        o = self._register(symbol, side, OrderType.LIMIT, px, lots, post_only, reduce_only, client_id, t)
        if crosses:
            for p, x in m.take(o.sign, lots, px, t):
                o.filled += x
                o.notional += p * x
                self._settle(slot, o, p, x, t, Liquidity.TAKER)
        if o.filled >= o.size:
            o.status = OrderStatus.FILLED
            self.open.pop(o.order_id, None)
        else:
            o.status = OrderStatus.PARTIALLY_FILLED if o.filled else OrderStatus.OPEN
            m.rest(o)
        self._order_event(slot, o, t)
        return o.snapshot(slot.tick, slot.lot)

    def place_market(self, symbol: str, side: Side, size: Decimal, client_id: str, max_slippage_bps: Decimal,
                     reduce_only: bool, t: float) -> Order:
        slot = self.slot(symbol)
        m = slot.market
        bid, _, ask, _ = m.top()
        touch = ask if side is Side.BUY else bid
        lots = self._check(slot, side, None, size, reduce_only, client_id, touch * slot.tick)
        factor = 1 + side.sign * float(max_slippage_bps) / 10_000
        limit = math.floor(touch * factor) if side is Side.BUY else math.ceil(touch * factor)
        o = self._register(symbol, side, OrderType.MARKET, None, lots, False, reduce_only, client_id, t)
        executable = self._executable_lots(slot, lots)
        for p, x in m.take(o.sign, executable, limit, t):
            o.filled += x
            o.notional += p * x
            self._settle(slot, o, p, x, t, Liquidity.TAKER)
        self.open.pop(o.order_id, None)
        if o.filled >= o.size:
            o.status = OrderStatus.FILLED
        else:
            o.status = OrderStatus.CANCELLED  # IOC: the rest expires
            o.reject_reason = (Reason.INSUFFICIENT_LIQUIDITY if executable < lots else Reason.SLIPPAGE_EXCEEDED)
        self._order_event(slot, o, t)
        return o.snapshot(slot.tick, slot.lot)

    def _executable_lots(self, slot: MarketSlot, lots: int) -> int:
        """How much of a taker order the venue really executes (all of it on most venues)."""
        cap_fault = self.faults.exec_size_cap
        if cap_fault is not None and lots * slot.lot > cap_fault:
            return 0
        p = slot.profile
        if p.exec_cap_median is None:
            return lots
        rng = self.rng
        if rng.random() < p.exec_fail_prob:
            return 0
        cap = p.exec_cap_median * math.exp(p.exec_cap_sigma * rng.gauss(0.0, 1.0))
        if lots * float(slot.lot) <= cap:
            return lots
        if rng.random() < p.oversize_partial_prob:
            return min(lots, max(1, int(p.oversize_partial_size / float(slot.lot))))
        return 0

    def _register(self, symbol: str, side: Side, type_: OrderType, px: int | None, lots: int, post_only: bool,
                  reduce_only: bool, client_id: str, t: float) -> SimOrder:
        o = SimOrder(venue=self.name, order_id=self._new_id(), client_id=client_id, symbol=symbol, side=side,
                     sign=side.sign, type=type_, price=px, size=lots, post_only=post_only,
                     reduce_only=reduce_only, arrival=t, updated=t)
        self.orders[o.order_id] = o
        self.open[o.order_id] = o
        self.by_client[client_id] = o
        return o

    def find(self, order_id: str | None, client_id: str | None) -> SimOrder | None:
        if order_id is not None:
            return self.orders.get(order_id)
        if client_id is not None:
            return self.by_client.get(client_id)
        return None

    def cancel(self, symbol: str, order_id: str | None, client_id: str | None, t: float) -> Order:
        slot = self.slot(symbol)
        o = self.find(order_id, client_id)
        if o is None or o.symbol != symbol:
            raise OrderRejected(Reason.UNKNOWN_ORDER, f"no order {order_id or client_id!r} on {symbol}", self.name)
        if not o.status.is_final:
            slot.market.unrest(o)
            o.status = OrderStatus.CANCELLED
            self.open.pop(o.order_id, None)
            self._order_event(slot, o, t)
        return o.snapshot(slot.tick, slot.lot)

    def cancel_all(self, symbol: str | None, t: float) -> list[Order]:
        return [self.cancel(o.symbol, o.order_id, None, t) for o in list(self.open.values())
                if symbol is None or o.symbol == symbol]

    # --- settlement --------------------------------------------------------------------------
    def _settle(self, slot: MarketSlot, o: SimOrder, price: int, lots: int, t: float, liq: Liquidity) -> None:
        self._tid += 1
        px = price * slot.tick
        size = lots * slot.lot
        ins = slot.instrument
        fee = ins.fee(px * size, liq)
        bid, _, ask, _ = slot.market.top()
        fill = Fill(venue=self.name, order_id=o.order_id, client_id=o.client_id,
                    trade_id=f"{self._ids}-t{self._tid}", symbol=o.symbol, side=o.side, price=px,
                    size=size, fee=fee, liquidity=liq, ts=t,
                    bid=bid * slot.tick, ask=ask * slot.tick)
        self.account.apply_fill(o.symbol, fill.signed_size, px, fee)
        self.fill_log.append(fill)
        self._fill_ts.append(t)
        self.publish("fills", None, fill, t)
        if o.status is OrderStatus.FILLED:
            self.open.pop(o.order_id, None)
        if liq is Liquidity.MAKER:
            self._order_event(slot, o, t)
        self.publish("positions", None, self._position(o.symbol, t, "ws"), t)
        flat = self.account.positions.get(o.symbol, ZERO) == 0
        if liq is Liquidity.MAKER and o.reduce_only and flat and not o.status.is_final:
            slot.market.unrest(o)  # nothing left to reduce
            o.status = OrderStatus.CANCELLED
            self.open.pop(o.order_id, None)
            self._order_event(slot, o, t)

    def _order_event(self, slot: MarketSlot, o: SimOrder, t: float) -> None:
        o.updated = t
        self.publish("orders", None, o.snapshot(slot.tick, slot.lot), t)

    def _pay_funding(self, t: float) -> None:
        marks = self.marks()
        for symbol, pos in self.account.positions.items():
            if pos and symbol in marks:
                paid = self.account.apply_funding(symbol, marks[symbol], self.profile.funding_rate)
                self.funding_log.append(FundingPayment(self.name, symbol, self.profile.funding_rate,
                                                       marks[symbol], pos, paid, t))
        self.next_funding += self.profile.funding_interval_s

    def external_position_change(self, symbol: str, delta: Decimal, t: float) -> None:
        """Fault: the position moves without a fill on our streams (ADL, a liquidation, a trade
        from another session the bot cannot see). Only a position read reveals it."""
        mark = self.marks()[symbol]
        self.account.apply_fill(symbol, delta, mark, ZERO)

    # --- queries -----------------------------------------------------------------------------
    def marks(self) -> dict[str, Decimal]:
        out = {}
        for s, slot in self.slots.items():
            m = slot.market
            if m.best_bid and m.best_ask:
                out[s] = Decimal(m.best_bid + m.best_ask) * slot.tick / 2
        return out

    def bbo(self, symbol: str, t: float) -> BBO:
        slot = self.slot(symbol)
        if self.faults.stale(t) and symbol in self.published:
            return self.published[symbol]
        top = slot.market.top()
        if not (top[0] and top[2]):
            raise VenueError(Reason.INSUFFICIENT_LIQUIDITY, f"{symbol} has an empty book side", self.name)
        return self._bbo_of(symbol, slot, top, t)

    def book(self, symbol: str, depth: int, t: float) -> Book:
        slot = self.slot(symbol)
        bids, asks = slot.market.levels_view(depth)
        tk, lt = slot.tick, slot.lot
        return Book(self.name, symbol, tuple(BookLevel(p * tk, q * lt) for p, q in bids),
                    tuple(BookLevel(p * tk, q * lt) for p, q in asks), t)

    def trades(self, symbol: str, limit: int) -> list[Trade]:
        slot = self.slot(symbol)
        prints = list(slot.market.prints)[-limit:]
        return [Trade(self.name, symbol, p * slot.tick, q * slot.lot, Side.BUY if s > 0 else Side.SELL, ts)
                for ts, p, q, s in prints]

    def _position(self, symbol: str, t: float, source: str) -> Position:
        return Position(self.name, symbol, self.account.positions.get(symbol, ZERO),
                        self.account.entries.get(symbol), t, source)

    def positions(self, t: float) -> list[Position]:
        return [self._position(s, t, "rest") for s in self.slots]

    def balance(self, t: float) -> Balance:
        marks = self.marks()
        equity = self.account.cash + self.account.unrealized(marks)
        used = sum((abs(p) * marks.get(s, ZERO) for s, p in self.account.positions.items()), ZERO)
        return Balance(self.name, "USD", equity, equity - used * self.profile.initial_margin, t)

    def open_orders(self, symbol: str | None) -> list[Order]:
        return [self.order_snapshot(o) for o in self.open.values() if symbol is None or o.symbol == symbol]

    def order_snapshot(self, o: SimOrder) -> Order:
        slot = self.slots[o.symbol]
        return o.snapshot(slot.tick, slot.lot)

    def fills_since(self, since: float, symbol: str | None) -> list[Fill]:
        i = bisect.bisect_left(self._fill_ts, since)
        return [f for f in self.fill_log[i:] if symbol is None or f.symbol == symbol]

    def iter_orders_since(self, since: float) -> Iterator[Order]:
        for o in self.orders.values():
            if o.updated >= since:
                yield self.order_snapshot(o)
