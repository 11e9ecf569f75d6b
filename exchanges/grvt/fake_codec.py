"""The fake GRVT's wire side: GRVT JSON for simulator objects, GRVT's errors, and EIP-712 checks.

Written from GRVT's published API spec, independently of grvt-pysdk:
the fake re-derives the EIP-712 order message itself, so an SDK signing bug shows up as a
rejected order instead of agreeing with itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data

from core.types import BBO, Book, Fill, Instrument, Order, OrderStatus, Position

NS = 1_000_000_000
PRICE_DECIMALS = 9
CHAIN_IDS = {"prod": 325, "testnet": 326, "staging": 327, "dev": 327}
MAX_SIGNATURE_TTL_NS = 30 * 24 * 3600 * NS
TIME_IN_FORCE = {"GOOD_TILL_TIME": 1, "ALL_OR_NONE": 2, "IMMEDIATE_OR_CANCEL": 3, "FILL_OR_KILL": 4}
EIP712_TYPES = {
    "Order": [
        {"name": "subAccountID", "type": "uint64"},
        {"name": "isMarket", "type": "bool"},
        {"name": "timeInForce", "type": "uint8"},
        {"name": "postOnly", "type": "bool"},
        {"name": "reduceOnly", "type": "bool"},
        {"name": "legs", "type": "OrderLeg[]"},
        {"name": "nonce", "type": "uint32"},
        {"name": "expiration", "type": "int64"},
    ],
    "OrderLeg": [
        {"name": "assetID", "type": "uint256"},
        {"name": "contractSize", "type": "uint64"},
        {"name": "limitPrice", "type": "uint64"},
        {"name": "isBuyingContract", "type": "bool"},
    ],
}
# Currency ids used in instrument hashes (quote, base, kind). Unlisted bases get ids from 0x40.
CURRENCY_IDS = {"USD": 1, "USDC": 2, "USDT": 3, "ETH": 4, "BTC": 5, "SOL": 6}

# GRVT error codes the fake answers with: code -> (HTTP status, message), from the spec.
ERRORS: dict[int, tuple[int, str]] = {
    1000: (401, "You need to authenticate prior to using this functionality"),
    1001: (403, "You are not authorized to access this functionality"),
    1002: (500, "Internal Server Error"),
    1003: (400, "Request could not be processed due to malformed syntax"),
    1004: (404, "Data Not Found"),
    1006: (429, "You have surpassed the allocated rate limit for your tier"),
    1101: (400, "Feed Format must be in the format of <primary>@<secondary>"),
    2000: (403, "Signature is from an unauthorized signer"),
    2001: (403, "Signature has expired"),
    2002: (403, "Signature does not match payload"),
    2003: (403, "Order sub account does not match logged in user"),
    2005: (403, "Signature V must be 27/28"),
    2006: (403, "Signature R/S must have exactly 64 characters long without 0x prefix"),
    2011: (400, "Client Order ID should be supplied when creating an order"),
    2012: (400, "Client Order ID overlaps with existing active order"),
    2020: (400, "Market Order must always be supplied without a limit price"),
    2021: (400, "Limit Order must always be supplied with a limit price"),
    2030: (400, "Orderbook Orders must have a TimeInForce of GTT/IOC/FOK"),
    2032: (400, "Post Only can only be set to true for GTT/AON orders"),
    2042: (400, "Orderbook Orders must contain only one leg"),
    2061: (400, "Unsupported Instrument Requested"),
    2062: (400, "Order size smaller than min size"),
    2064: (400, "Invalid limit price tick"),
    2065: (400, "Order size too granular"),
    2066: (400, "Order below minimum notional. Please try again with a higher price or size."),
    2080: (400, "Insufficient margin to create order"),
    2081: (400, "Order Fill would result in exceeding maximum position size"),
    2082: (400, "Pre-order check failed"),
    2400: (400, "Reduce only order with no position"),
    2401: (400, "Reduce only order must not increase position size"),
    3000: (400, "Instrument is invalid"),
    3020: (400, "Sub account ID must be an uint64 integer"),
}


class GrvtReject(Exception):
    """A request the venue refuses with one of its error codes."""

    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(f"{code} {detail}")
        self.code = code
        self.status, self.message = ERRORS[code]

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "status": self.status}


def d(value: Decimal | None) -> str:
    """A decimal as GRVT prints it (no exponent)."""
    return "0" if value is None else format(value.normalize(), "f")


def nanos(ts: float) -> str:
    return str(int(ts * NS))


def instrument_hash(base: str, quote: str = "USDT", kind: int = 1) -> str:
    base_id = CURRENCY_IDS.get(base, 0x40 + sum(base.encode()) % 0xBF)
    return "0x" + f"{CURRENCY_IDS[quote]:02x}{base_id:02x}{kind:02x}"


def instrument_display(ins: Instrument, created: float) -> dict[str, Any]:
    return {
        "instrument": ins.venue_symbol, "instrument_hash": instrument_hash(ins.symbol),
        "base": ins.symbol, "quote": "USDT", "kind": "PERPETUAL", "venues": ["ORDERBOOK"],
        "settlement_period": "PERPETUAL", "base_decimals": 9, "quote_decimals": 6,
        "tick_size": d(ins.tick), "min_size": d(ins.min_size), "create_time": nanos(created),
        "max_position_size": d(ins.max_order_size) if ins.max_order_size is not None else "0",
        "funding_interval_hours": 8, "min_notional": d(ins.min_notional),
    }


# --- signatures ----------------------------------------------------------------------------------
def signable(order: dict[str, Any], instruments: dict[str, dict[str, Any]], chain_id: int) -> Any:
    """The EIP-712 message GRVT signs for ``order`` (the wire JSON of create_order)."""
    legs = []
    for leg in order["legs"]:
        ins = instruments[leg["instrument"]]
        legs.append({
            "assetID": int(ins["instrument_hash"], 16),
            "contractSize": int(Decimal(leg["size"]) * 10 ** int(ins["base_decimals"])),
            "limitPrice": int(Decimal(leg.get("limit_price") or 0) * 10**PRICE_DECIMALS),
            "isBuyingContract": bool(leg["is_buying_asset"]),
        })
    sig = order["signature"]
    message = {
        "subAccountID": int(order["sub_account_id"]), "isMarket": bool(order.get("is_market")),
        "timeInForce": TIME_IN_FORCE[order["time_in_force"]], "postOnly": bool(order.get("post_only")),
        "reduceOnly": bool(order.get("reduce_only")), "legs": legs, "nonce": int(sig["nonce"]),
        "expiration": int(sig["expiration"]),
    }
    domain = {"name": "GRVT Exchange", "version": "0", "chainId": chain_id}
    return encode_typed_data(domain, EIP712_TYPES, message)


def recover_signer(order: dict[str, Any], instruments: dict[str, dict[str, Any]], chain_id: int) -> str:
    sig = order["signature"]
    return Account.recover_message(signable(order, instruments, chain_id),
                                   vrs=(int(sig["v"]), int(sig["r"], 16), int(sig["s"], 16)))


def check_signature_shape(sig: dict[str, Any]) -> None:
    for part in ("r", "s"):
        raw = str(sig.get(part, ""))
        raw = raw[2:] if raw.startswith("0x") else raw
        if len(raw) != 64 or any(c not in "0123456789abcdefABCDEF" for c in raw):
            raise GrvtReject(2006)
    if int(sig.get("v", 0)) not in (27, 28):
        raise GrvtReject(2005)


# --- records ---------------------------------------------------------------------------------
@dataclass(slots=True)
class OrderRecord:
    """What the fake keeps about one order besides the engine's state."""

    wire_id: str
    sim_id: str | None  # None: refused before reaching the engine (post-only that would cross)
    request: dict[str, Any]  # the create_order "order" object as received
    created: float
    expires_ns: int
    ioc: bool
    reject_reason: str = "UNSPECIFIED"
    last: Order | None = None  # the last engine snapshot
    history: list[float] = field(default_factory=list)


def order_json(rec: OrderRecord, snap: Order, *, pending: bool = False) -> dict[str, Any]:
    req = rec.request
    if pending:
        status, traded, book = "PENDING", "0", d(snap.size)
    else:
        status = {OrderStatus.OPEN: "OPEN", OrderStatus.PARTIALLY_FILLED: "OPEN", OrderStatus.FILLED: "FILLED",
                  OrderStatus.CANCELLED: "CANCELLED", OrderStatus.EXPIRED: "CANCELLED",
                  OrderStatus.REJECTED: "REJECTED", OrderStatus.NEW: "PENDING"}[snap.status]
        traded = d(snap.filled)
        book = d(snap.remaining) if not snap.status.is_final else "0"
    return {
        "order_id": rec.wire_id, "sub_account_id": req["sub_account_id"],
        "is_market": bool(req.get("is_market")), "time_in_force": req["time_in_force"],
        "post_only": bool(req.get("post_only")), "reduce_only": bool(req.get("reduce_only")),
        "legs": req["legs"], "signature": req["signature"],
        "metadata": {"client_order_id": str(req["metadata"]["client_order_id"]), "create_time": nanos(rec.created)},
        "state": {"status": status, "reject_reason": "UNSPECIFIED" if pending else rec.reject_reason,
                  "book_size": [book], "traded_size": [traded], "update_time": nanos(snap.ts or rec.created),
                  "avg_fill_price": [d(snap.avg_price) if snap.avg_price is not None and not pending else "0"]},
    }


def fill_json(fill: Fill, *, sub_account: str, order_id: str, fee_rate: Decimal, signer: str,
              trade_seq: int) -> dict[str, Any]:
    return {
        "event_time": nanos(fill.ts), "sub_account_id": sub_account, "instrument": f"{fill.symbol}_USDT_Perp",
        "is_buyer": fill.side.value == "BUY", "is_taker": fill.liquidity.value == "TAKER",
        "size": d(fill.size), "price": d(fill.price), "mark_price": d(fill.price), "index_price": d(fill.price),
        "interest_rate": "0", "realized_pnl": "0", "fee": d(fill.fee), "fee_rate": d(fee_rate),
        "trade_id": f"{trade_seq}-1", "order_id": order_id, "venue": "ORDERBOOK", "is_liquidation": False,
        "client_order_id": fill.client_id, "signer": signer, "is_rpi": False, "fee_currency": "USDT",
    }


def position_json(pos: Position, *, sub_account: str, mark: Decimal | None) -> dict[str, Any]:
    entry = pos.entry_price or Decimal(0)
    mark = mark if mark is not None else entry
    upnl = (mark - entry) * pos.size if pos.size else Decimal(0)
    return {
        "event_time": nanos(pos.ts), "sub_account_id": sub_account, "instrument": f"{pos.symbol}_USDT_Perp",
        "size": d(pos.size), "notional": d(pos.size * mark), "entry_price": d(entry), "exit_price": "0",
        "mark_price": d(mark), "unrealized_pnl": d(upnl), "realized_pnl": "0", "total_pnl": d(upnl), "roi": "0",
        "quote_index_price": "1", "est_liquidation_price": "0", "leverage": "10", "cumulative_fee": "0",
        "cumulative_realized_funding_payment": "0", "margin_type": "CROSS",
    }


def mini_json(bbo: BBO, last: Decimal | None) -> dict[str, Any]:
    mid = bbo.mid
    return {
        "event_time": nanos(bbo.ts), "instrument": f"{bbo.symbol}_USDT_Perp", "mark_price": d(mid),
        "index_price": d(mid), "last_price": d(last if last is not None else mid), "last_size": "0",
        "mid_price": d(mid), "best_bid_price": d(bbo.bid), "best_bid_size": d(bbo.bid_size),
        "best_ask_price": d(bbo.ask), "best_ask_size": d(bbo.ask_size),
    }


def book_json(book: Book, depth: int) -> dict[str, Any]:
    return {
        "event_time": nanos(book.ts), "instrument": f"{book.symbol}_USDT_Perp",
        "bids": [{"price": d(lv.price), "size": d(lv.size), "num_orders": 1} for lv in book.bids[:depth]],
        "asks": [{"price": d(lv.price), "size": d(lv.size), "num_orders": 1} for lv in book.asks[:depth]],
    }
