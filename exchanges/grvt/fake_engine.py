"""The fake GRVT's trading logic: GRVT's order checks in front of the simulator's matching engine.

Requests arrive as decoded JSON and leave as GRVT JSON; refusals are ``GrvtReject`` (an error
code from the spec). The order of checks follows the venue: session, sub-account, signature
(shape, expiry, EIP-712 recovery, registered signer), order shape, instrument, tick, size
step, minimums, then the engine (margin, reduce-only, post-only, matching). A post-only order
that would cross is not an error answer on GRVT: the order is created and immediately REJECTED
with ``reject_reason = FAIL_POST_ONLY`` (the spec has no request error code for it).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.errors import OrderRejected, VenueError
from core.reasons import Reason
from core.types import Order, OrderStatus, OrderType, Side
from exchanges.grvt.fake_codec import (
    CHAIN_IDS,
    MAX_SIGNATURE_TTL_NS,
    NS,
    GrvtReject,
    OrderRecord,
    book_json,
    check_signature_shape,
    d,
    fill_json,
    instrument_display,
    mini_json,
    nanos,
    order_json,
    position_json,
    recover_signer,
)
from exchanges.sim.exchange import SimExchange
from exchanges.sim.world import SimWorld

MARKET_SLIPPAGE_BPS = Decimal(5000)  # a true market order walks the book without a price limit
FEE_UNIT = Decimal("0.000001")  # ClientTier fees in centibeeps (1/100 bp)
_ENGINE_CODES = {
    Reason.DUPLICATE_CLIENT_ID: 2012, Reason.OFF_TICK: 2064, Reason.OFF_LOT: 2065, Reason.BELOW_MIN_SIZE: 2062,
    Reason.BELOW_MIN_NOTIONAL: 2066, Reason.SIZE_ABOVE_MAX: 2081, Reason.REDUCE_ONLY_WOULD_INCREASE: 2401,
    Reason.INSUFFICIENT_MARGIN: 2080, Reason.UNKNOWN_SYMBOL: 2061, Reason.REJECTED: 2082,
}


@dataclass(frozen=True, slots=True)
class FakeAccount:
    """An API key, the signer address registered for it, and the sub-account it trades."""

    api_key: str
    signer: str
    sub_account_id: str
    main_account_id: str = "0x" + "a1" * 20


class FakeGrvtEngine:
    def __init__(self, world: SimWorld, *, env: str = "testnet", pending_acks: bool = True) -> None:
        self.world = world
        self.ex: SimExchange = world.exchanges["grvt"]
        self.chain_id = CHAIN_IDS[env]
        self.pending_acks = pending_acks
        now = world.clock.now()
        self.instruments = {slot.instrument.venue_symbol: instrument_display(slot.instrument, now)
                            for slot in self.ex.slots.values()}
        self.orders: dict[str, OrderRecord] = {}
        self.by_sim: dict[str, str] = {}
        self.by_cloid: dict[str, str] = {}
        self._seq = 0

    # --- helpers -------------------------------------------------------------------------------
    def now(self) -> float:
        self.world.sync()
        return self.world.clock.now()

    def symbol(self, instrument: str) -> str:
        if instrument not in self.instruments:
            raise GrvtReject(1004)
        return self.instruments[instrument]["base"]

    def snapshot(self, rec: OrderRecord) -> Order:
        if rec.sim_id is not None:
            rec.last = self.ex.order_snapshot(self.ex.orders[rec.sim_id])
        assert rec.last is not None
        return rec.last

    def order_view(self, rec: OrderRecord) -> dict[str, Any]:
        return order_json(rec, self.snapshot(rec))

    def order_of_sim(self, snap: Order) -> dict[str, Any] | None:
        """GRVT JSON for an engine order event (or a refusal the fake published itself)."""
        wire = self.by_sim.get(snap.order_id) or (snap.order_id if snap.order_id in self.orders else None)
        return None if wire is None else order_json(self.orders[wire], snap)

    def fill_view(self, fill: Any, account: FakeAccount) -> dict[str, Any]:
        rate = self.ex.profile.taker_fee if fill.liquidity.value == "TAKER" else self.ex.profile.maker_fee
        return fill_json(fill, sub_account=account.sub_account_id, order_id=self.by_sim.get(fill.order_id, ""),
                         fee_rate=rate, signer=account.signer, trade_seq=int(fill.trade_id.rsplit("t", 1)[1]))

    def position_view(self, pos: Any, account: FakeAccount) -> dict[str, Any]:
        return position_json(pos, sub_account=account.sub_account_id, mark=self.ex.marks().get(pos.symbol))

    # --- orders --------------------------------------------------------------------------------
    def create_order(self, account: FakeAccount, body: dict[str, Any]) -> dict[str, Any]:
        order = body.get("order")
        if not isinstance(order, dict):
            raise GrvtReject(1003)
        if str(order.get("sub_account_id")) != account.sub_account_id:
            raise GrvtReject(2003)
        legs = order.get("legs") or []
        if len(legs) != 1:
            raise GrvtReject(2042)
        leg = legs[0]
        if leg.get("instrument") not in self.instruments:
            raise GrvtReject(2061)
        sig = order.get("signature") or {}
        check_signature_shape(sig)
        now = self.now()
        expiration = int(sig.get("expiration") or 0)
        if expiration <= int(now * NS):
            raise GrvtReject(2001)
        try:
            signer = recover_signer(order, self.instruments, self.chain_id)
        except (KeyError, ValueError, TypeError):
            raise GrvtReject(2002) from None
        if signer.lower() != str(sig.get("signer", "")).lower():
            raise GrvtReject(2002)
        if signer.lower() != account.signer.lower():
            raise GrvtReject(2000)
        cloid = str((order.get("metadata") or {}).get("client_order_id") or "")
        if not cloid:
            raise GrvtReject(2011)
        tif, is_market = order.get("time_in_force"), bool(order.get("is_market"))
        post_only, reduce_only = bool(order.get("post_only")), bool(order.get("reduce_only"))
        if tif not in ("GOOD_TILL_TIME", "IMMEDIATE_OR_CANCEL"):
            raise GrvtReject(2030, "this fake venue supports GTT and IOC")
        if post_only and tif != "GOOD_TILL_TIME":
            raise GrvtReject(2032)
        price, size = Decimal(str(leg.get("limit_price") or 0)), Decimal(str(leg["size"]))
        if is_market and price != 0:
            raise GrvtReject(2020)
        if not is_market and price <= 0:
            raise GrvtReject(2021)
        if is_market and tif != "IMMEDIATE_OR_CANCEL":
            raise GrvtReject(2030)
        symbol = self.instruments[leg["instrument"]]["base"]
        ins = self.ex.slots[symbol].instrument
        if not is_market and not ins.on_tick(price):
            raise GrvtReject(2064)
        if size < ins.min_size:
            raise GrvtReject(2062)
        if not ins.on_lot(size):
            raise GrvtReject(2065)
        side = Side.BUY if leg.get("is_buying_asset") else Side.SELL
        rec = OrderRecord(wire_id=self._next_id(), sim_id=None, request=order, created=now, expires_ns=expiration,
                          ioc=tif == "IMMEDIATE_OR_CANCEL")
        if expiration > int(now * NS) + MAX_SIGNATURE_TTL_NS:
            return self._refused(rec, symbol, side, price, size, "EXCEED_MAX_SIGNATURE_EXPIRATION", now)
        try:
            if not rec.ioc:
                snap = self.ex.place_limit(symbol, side, price, size, cloid, post_only, reduce_only, now)
            else:
                bps = MARKET_SLIPPAGE_BPS if is_market else self._bps_for(symbol, side, price)
                snap = self.ex.place_market(symbol, side, size, cloid, bps, reduce_only, now)
        except OrderRejected as exc:
            if exc.reason is Reason.POST_ONLY_WOULD_CROSS:
                return self._refused(rec, symbol, side, price, size, "FAIL_POST_ONLY", now)
            if exc.reason is Reason.REDUCE_ONLY_WOULD_INCREASE and not self.ex.account.positions.get(symbol):
                raise GrvtReject(2400) from None
            raise GrvtReject(_ENGINE_CODES.get(exc.reason, 2082)) from None
        rec.sim_id = snap.order_id
        if rec.ioc and snap.status is OrderStatus.CANCELLED:
            rec.reject_reason = "MARKET_CANCEL" if is_market else "IOC_CANCEL"
        self._register(rec, cloid)
        return order_json(rec, self.snapshot(rec), pending=self.pending_acks)

    def _bps_for(self, symbol: str, side: Side, price: Decimal) -> Decimal:
        """The engine's slippage cap that lands exactly on ``price`` (an IOC limit order)."""
        slot = self.ex.slots[symbol]
        bid, _, ask, _ = slot.market.top()
        touch = ask if side is Side.BUY else bid
        limit = int(price / slot.tick)
        if side is Side.BUY:
            return (Decimal(limit) + Decimal("0.5")) / Decimal(touch) * 10_000 - 10_000
        return 10_000 - (Decimal(limit) - Decimal("0.5")) / Decimal(touch) * 10_000

    def _refused(self, rec: OrderRecord, symbol: str, side: Side, price: Decimal, size: Decimal, why: str,
                 now: float) -> dict[str, Any]:
        rec.reject_reason = why
        rec.last = Order("grvt", rec.wire_id, str(rec.request["metadata"]["client_order_id"]), symbol, side,
                         OrderType.LIMIT, price, size, status=OrderStatus.REJECTED, ts=now,
                         post_only=bool(rec.request.get("post_only")), reduce_only=bool(rec.request.get("reduce_only")))
        self._register(rec, str(rec.request["metadata"]["client_order_id"]))
        self.ex.publish("orders", symbol, rec.last, now)  # GRVT streams the rejection like any update
        return order_json(rec, rec.last, pending=self.pending_acks)

    def _register(self, rec: OrderRecord, cloid: str) -> None:
        self.orders[rec.wire_id] = rec
        self.by_cloid[cloid] = rec.wire_id
        if rec.sim_id is not None:
            self.by_sim[rec.sim_id] = rec.wire_id

    def _next_id(self) -> str:
        self._seq += 1
        return "0x" + f"{self._seq:032x}"

    def find(self, body: dict[str, Any]) -> OrderRecord:
        wire = body.get("order_id") or self.by_cloid.get(str(body.get("client_order_id") or ""))
        if not body.get("order_id") and not body.get("client_order_id"):
            raise GrvtReject(1003, "order_id or client_order_id required")
        rec = self.orders.get(str(wire)) if wire else None
        if rec is None:
            raise GrvtReject(1004)
        return rec

    def cancel(self, rec: OrderRecord, why: str = "CLIENT_CANCEL") -> None:
        if rec.sim_id is None:
            return
        o = self.ex.orders[rec.sim_id]
        if o.status.is_final:
            return  # GRVT acknowledges; the order stays as it ended (filled, cancelled)
        rec.reject_reason = why
        self.ex.cancel(o.symbol, o.order_id, None, self.now())

    def cancel_all(self, body: dict[str, Any]) -> None:
        for rec in list(self.orders.values()):
            if rec.sim_id is not None and rec.sim_id in self.ex.open and self._matches(self.snapshot(rec), body):
                self.cancel(rec, "CLIENT_BULK_CANCEL")

    def expire(self) -> int:
        """Cancel resting orders whose signature expired (GRVT's ``EXPIRED``)."""
        now_ns = int(self.world.clock.now() * NS)
        n = 0
        for sim_id in list(self.ex.open):
            wire = self.by_sim.get(sim_id)
            if wire is not None and self.orders[wire].expires_ns <= now_ns:
                self.cancel(self.orders[wire], "EXPIRED")
                n += 1
        return n

    @staticmethod
    def _matches(o: Order, body: dict[str, Any]) -> bool:
        bases = body.get("base") or []
        return not bases or o.symbol in bases

    # --- queries -------------------------------------------------------------------------------
    def open_orders(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for sim_id in list(self.ex.open):
            wire = self.by_sim.get(sim_id)
            if wire is not None:
                snap = self.snapshot(self.orders[wire])
                if self._matches(snap, body):
                    out.append(order_json(self.orders[wire], snap))
        return out

    def order_history(self, body: dict[str, Any]) -> dict[str, Any]:
        state = _cursor(body)
        start = int(state.get("start_time") or 0) / NS
        recs = sorted(((self.snapshot(r), r) for r in self.orders.values()), key=lambda x: x[0].ts, reverse=True)
        return _page([order_json(r, s) for s, r in recs if (s.ts or r.created) >= start and self._matches(s, state)],
                     state)

    def fill_history(self, account: FakeAccount, body: dict[str, Any]) -> dict[str, Any]:
        state = _cursor(body)
        start = int(state.get("start_time") or 0) / NS
        end = int(state.get("end_time") or 0) / NS or float("inf")
        bases = state.get("base") or []
        views = [self.fill_view(f, account) for f in reversed(self.ex.fill_log)
                 if start <= f.ts <= end and (not bases or f.symbol in bases)]
        return _page(views, state)

    def positions(self, account: FakeAccount, body: dict[str, Any]) -> list[dict[str, Any]]:
        bases = body.get("base") or []
        return [self.position_view(p, account) for p in self.ex.positions(self.now())
                if p.size != 0 and (not bases or p.symbol in bases)]

    def account_summary(self, account: FakeAccount) -> dict[str, Any]:
        now = self.now()
        bal = self.ex.balance(now)
        return {"event_time": nanos(now), "sub_account_id": account.sub_account_id,
                "margin_type": "SIMPLE_CROSS_MARGIN", "settle_currency": "USDT",
                "unrealized_pnl": d(bal.equity - self.ex.account.cash),
                "total_equity": d(bal.equity), "initial_margin": d(bal.equity - bal.available),
                "maintenance_margin": d((bal.equity - bal.available) / 2), "available_balance": d(bal.available),
                "spot_balances": [{"currency": "USDT", "balance": d(self.ex.account.cash), "index_price": "1"}],
                "positions": self.positions(account, {}), "settle_index_price": "1"}

    def funding_account_summary(self, account: FakeAccount) -> dict[str, Any]:
        p = self.ex.profile
        return {"result": {"main_account_id": account.main_account_id, "total_equity": "0", "spot_balances": []},
                "tier": {"tier": 1, "futures_taker_fee": int(p.taker_fee / FEE_UNIT),
                         "futures_maker_fee": int(p.maker_fee / FEE_UNIT), "options_taker_fee": 0,
                         "options_maker_fee": 0, "spot_taker_fee": 0, "spot_maker_fee": 0}}

    # --- market data ---------------------------------------------------------------------------
    def instruments_list(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        bases, kinds = body.get("base") or [], body.get("kind") or []
        limit = int(body.get("limit") or 500)
        return [i for i in self.instruments.values()
                if (not bases or i["base"] in bases) and (not kinds or "PERPETUAL" in kinds)][:limit]

    def mini(self, instrument: str) -> dict[str, Any]:
        symbol = self.symbol(instrument)
        try:
            bbo = self.ex.bbo(symbol, self.now())
        except VenueError:
            raise GrvtReject(1004) from None
        prints = self.ex.slots[symbol].market.prints
        last = prints[-1][1] * self.ex.slots[symbol].tick if prints else None
        return mini_json(bbo, last)

    def book(self, instrument: str, depth: int) -> dict[str, Any]:
        symbol = self.symbol(instrument)
        return book_json(self.ex.book(symbol, depth, self.now()), depth)

    def trades(self, instrument: str, limit: int) -> list[dict[str, Any]]:
        symbol = self.symbol(instrument)
        self.now()
        out = []
        for i, t in enumerate(reversed(self.ex.trades(symbol, limit))):
            out.append({"event_time": nanos(t.ts), "instrument": instrument, "is_taker_buyer": t.taker_side is Side.BUY,
                        "size": d(t.size), "price": d(t.price), "mark_price": d(t.price), "index_price": d(t.price),
                        "interest_rate": "0", "trade_id": f"p{i}-1", "venue": "ORDERBOOK", "is_rpi": False})
        return out


def _cursor(body: dict[str, Any]) -> dict[str, Any]:
    """Filters live in the cursor: grvt-pysdk sends only the cursor for the next page."""
    raw = body.get("cursor")
    if raw:
        try:
            return json.loads(base64.urlsafe_b64decode(raw.encode()))
        except (ValueError, TypeError):
            raise GrvtReject(1003, "bad cursor") from None
    return {k: body.get(k) for k in ("start_time", "end_time", "base", "limit")} | {"offset": 0}


def _page(views: list[dict[str, Any]], state: dict[str, Any]) -> dict[str, Any]:
    limit = min(int(state.get("limit") or 500), 1000)
    offset = int(state.get("offset") or 0)
    page = views[offset:offset + limit]
    nxt = ""
    if offset + limit < len(views):
        nxt = base64.urlsafe_b64encode(json.dumps(state | {"offset": offset + limit}).encode()).decode()
    return {"result": page, "next": nxt}
