"""Turn records into journal lines: one compact JSON object per line, Decimals as exact strings.

Encoding happens on the caller's thread so a record that cannot be serialised fails at the call
that made it, with the field named; the writer thread only moves bytes. ``scrub_params`` keeps
credentials out of journals (and so out of the warehouse): a run's params lose every key that
looks like one, every pydantic secret and every string shaped like a private key.
"""

from __future__ import annotations

import re
from dataclasses import asdict, is_dataclass
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any

import orjson
from pydantic import SecretBytes, SecretStr

from core.records import CycleRecord, FundingRecord, RiskEvent, RunEnd, RunInfo
from core.types import Fill, Order, Position

CREDENTIAL_KEY = re.compile(
    r"secret|passw|passphrase|private|priv_?key|api_?key|access_?key|signing_?key|token|mnemonic|seed_?phrase"
    r"|credential|auth|bearer|cookie|session_?key|jwt",
    re.IGNORECASE)
PRIVATE_KEY_VALUE = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
REDACTED = "<dropped: looks like a credential>"


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"cannot journal a value of type {type(value).__name__}")


def dumps(record: dict[str, Any]) -> bytes:
    """One journal line (with its newline). Raises ``TypeError`` naming the unserialisable field."""
    try:
        return orjson.dumps(record, default=_default, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError as err:
        for key, value in record.items():
            try:
                orjson.dumps(value, default=_default)
            except TypeError:
                raise TypeError(f"{record.get('kind')}.{key}: {err}") from None
        raise


def scrub_params(params: Any, path: str = "params") -> tuple[Any, list[str]]:
    """A copy of ``params`` without credentials, and the paths of what was dropped (never values)."""
    dropped: list[str] = []
    if isinstance(params, dict):
        out: dict[str, Any] = {}
        for key, value in params.items():
            where = f"{path}.{key}"
            if CREDENTIAL_KEY.search(str(key)) or isinstance(value, (SecretStr, SecretBytes)):
                dropped.append(where)
                continue
            clean, more = scrub_params(value, where)
            dropped += more
            if clean is not REDACTED:
                out[str(key)] = clean
        return out, dropped
    if isinstance(params, (list, tuple)):
        items = []
        for i, value in enumerate(params):
            clean, more = scrub_params(value, f"{path}[{i}]")
            dropped += more
            if clean is not REDACTED:
                items.append(clean)
        return items, dropped
    if isinstance(params, (SecretStr, SecretBytes)) or (isinstance(params, str) and PRIVATE_KEY_VALUE.match(params)):
        return REDACTED, [path]
    return params, dropped


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def run_start(info: RunInfo, params: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "run_start", "run_id": info.run_id, "bot": info.bot, "venues": list(info.venues),
            "symbol": info.symbol, "params": params, "started": info.started, "flow_run_id": info.flow_run_id,
            **{k: v for k, v in (("mode", info.mode), ("clock", info.clock)) if v is not None}}


def run_end(end: RunEnd) -> dict[str, Any]:
    return {"kind": "run_end", "run_id": end.run_id, "ended": end.ended, "status": end.status, "reason": end.reason}


def order(run_id: str, o: Order) -> dict[str, Any]:
    return {"kind": "order", "run_id": run_id, "venue": o.venue, "order_id": o.order_id, "client_id": o.client_id,
            "symbol": o.symbol, "side": str(o.side), "type": str(o.type), "price": _dec(o.price),
            "size": str(o.size), "filled": str(o.filled), "avg_price": _dec(o.avg_price),
            "status": str(o.status), "post_only": o.post_only, "reduce_only": o.reduce_only, "ts": o.ts,
            "reject_reason": o.reject_reason}


def fill(run_id: str, f: Fill) -> dict[str, Any]:
    return {"kind": "fill", "run_id": run_id, "venue": f.venue, "order_id": f.order_id, "client_id": f.client_id,
            "trade_id": f.trade_id, "symbol": f.symbol, "side": str(f.side), "price": str(f.price),
            "size": str(f.size), "fee": str(f.fee), "liquidity": str(f.liquidity), "ts": f.ts,
            "bid": _dec(f.bid), "ask": _dec(f.ask)}


def cycle(c: CycleRecord) -> dict[str, Any]:
    return {"kind": "cycle", "run_id": c.run_id, "bot": c.bot, "cycle_no": c.cycle_no, "iteration": c.iteration,
            "cycle_kind": c.kind, "direction": c.direction, "primary_venue": c.primary_venue,
            "hedge_venue": c.hedge_venue, "symbol": c.symbol, "size": str(c.size),
            "primary_price": _dec(c.primary_price), "hedge_price": _dec(c.hedge_price),
            "edge_bps": _dec(c.edge_bps), "primary_fee": str(c.primary_fee), "hedge_fee": str(c.hedge_fee),
            "gross_pnl": str(c.gross_pnl), "pnl": str(c.pnl), "net_delta_after": str(c.net_delta_after),
            "hedge_latency_ms": c.hedge_latency_ms, "status": c.status, "started": c.started, "ended": c.ended,
            "primary_orders": list(c.primary_orders), "hedge_orders": list(c.hedge_orders),
            "primary_maker_share": c.primary_maker_share, "hedge_maker_share": c.hedge_maker_share,
            "hedge_taker_reason": c.hedge_taker_reason}


def position(run_id: str, p: Position) -> dict[str, Any]:
    return {"kind": "position", "run_id": run_id, "venue": p.venue, "symbol": p.symbol, "size": str(p.size),
            "entry_price": _dec(p.entry_price), "ts": p.ts, "source": p.source, "mark": _dec(p.mark)}


def risk(e: RiskEvent) -> dict[str, Any]:
    data, _ = scrub_params(e.data, "data")
    return {"kind": "risk", "run_id": e.run_id, "ts": e.ts, "check": e.check, "reason": str(e.reason),
            "state_from": e.state_from, "state_to": e.state_to, "detail": e.detail, "data": data}


def funding(r: FundingRecord) -> dict[str, Any]:
    return {"kind": "funding", "run_id": r.run_id, "venue": r.venue, "symbol": r.symbol, "rate": str(r.rate),
            "position": str(r.position), "payment": str(r.payment), "ts": r.ts}
