"""What the adviser shows the LLM: only data from before the decision time.

Per symbol: the last price, returns over several horizons, 24 h volatility, funding and spread,
all computed from price points stamped at or before ``now`` (a point from after it is a bug, and
``market_view`` refuses it). Then the sentiment, the insights that concern the symbols, the
actions allowed and the bot's own positions and PnL. ``digest`` fingerprints the inputs so a
decision row says exactly what the model saw.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

HORIZONS_H = (1, 4, 24, 72)


@dataclass(frozen=True, slots=True)
class MarketView:
    symbol: str
    ts: float
    price: float
    returns_pct: dict[str, float | None]  # "1h": +0.4, ... (None: not enough history)
    vol_24h_pct: float | None  # std of hourly returns over 24 h, in %
    funding_hourly_pct: float | None
    spread_bps: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "ts": self.ts, "price": self.price, "returns_pct": dict(self.returns_pct),
                "vol_24h_pct": self.vol_24h_pct, "funding_hourly_pct": self.funding_hourly_pct,
                "spread_bps": self.spread_bps}


def market_view(symbol: str, now: float, ts: Sequence[float], mids: Sequence[float], *,
                funding_hourly: float | None = None, spread_bps: float | None = None) -> MarketView:
    """Figures of one symbol at ``now`` from its price history (``ts`` ascending)."""
    end = bisect.bisect_right(ts, now)
    if end == 0:
        raise ValueError(f"{symbol}: no price at or before the decision time")
    price = mids[end - 1]

    def at(t: float) -> float | None:
        i = bisect.bisect_right(ts, t, 0, end) - 1
        return mids[i] if i >= 0 and ts[i] >= t - 3600 else None

    rets: dict[str, float | None] = {}
    for h in HORIZONS_H:
        past = at(now - h * 3600)
        rets[f"{h}h"] = round((price / past - 1) * 100, 3) if past else None
    hourly = [at(now - k * 3600) for k in range(25)]
    vol = None
    if all(x is not None for x in hourly):
        lr = [math.log(hourly[k] / hourly[k + 1]) for k in range(24)]  # type: ignore[operator]
        mean = sum(lr) / len(lr)
        vol = round(math.sqrt(sum((x - mean) ** 2 for x in lr) / (len(lr) - 1)) * 100, 4)
    return MarketView(symbol, ts[end - 1], price, rets, vol,
                      None if funding_hourly is None else round(funding_hourly * 100, 5),
                      None if spread_bps is None else round(spread_bps, 2))


def _plain(x: Any) -> Any:
    if isinstance(x, Decimal):
        return float(x)
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    return x


def build_inputs(now: float, views: Sequence[MarketView], *, allowed: Mapping[str, list[str]], mode: str,
                 positions: Sequence[Mapping[str, Any]], pnl_today_usd: float, sentiment: Mapping[str, Any] | None,
                 insights: Mapping[str, Any] | None, max_size_usd: float) -> dict[str, Any]:
    """The JSON-ready inputs of one decision."""
    for v in views:
        if v.ts > now:
            raise ValueError(f"{v.symbol}: a price from after the decision time ({v.ts} > {now})")
    return _plain({
        "decision_time": now,
        "mode": mode,
        "markets": [v.as_dict() for v in views],
        "allowed_actions": dict(allowed),
        "max_size_usd": max_size_usd,
        "positions": list(positions),
        "pnl_today_usd": round(pnl_today_usd, 2),
        "sentiment": dict(sentiment) if sentiment else None,
        "insights": dict(insights) if insights else None,
    })


def digest(inputs: Mapping[str, Any]) -> str:
    """A short fingerprint of the inputs (sha256 of their canonical JSON)."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:16]
