"""Deterministic stand-ins for the LLM: they read the same prompt and write answer text.

Used by backtests and baselines (and the offline demo): their answers go through the same
validation, repair, calibration and rules as an endpoint's. ``trend`` is a slow momentum reader
(what profit mode is for: hold a move for hours to days); ``quick`` is the product notes' old
quick trader (an hour's move, stated confidence 0.8 whatever it is worth). Both state more
confidence than they have, as the notes measured of the real model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

Message = dict[str, str]
Policy = Callable[[list[Message]], str]


def _inputs(messages: list[Message]) -> dict[str, Any]:
    user = next(m["content"] for m in messages if m["role"] == "user")
    return json.loads(user.split("\n", 1)[1])


def _hold(why: str) -> str:
    return json.dumps({"action": "hold", "confidence": 0.5, "thesis": why})


def _answer(action: str, symbol: str, confidence: float, size_usd: float, thesis: str) -> str:
    return json.dumps({"action": action, "symbol": symbol, "size_usd": size_usd, "confidence": round(confidence, 3),
                       "stop_loss_pct": 4.0, "take_profit_pct": 10.0, "thesis": thesis})


def trend(messages: list[Message]) -> str:
    """Follow a multi-day move when the last day and the last three days agree; leave exits to
    the rules (closing on every wobble pays the round trip again)."""
    x = _inputs(messages)
    allowed = x["allowed_actions"]
    held = {p["symbol"] for p in x["positions"]}
    best: tuple[float, str, str] | None = None
    for m in x["markets"]:
        s, r = m["symbol"], m["returns_pct"]
        r4, r24, r72, vol = r.get("4h"), r.get("24h"), r.get("72h"), m.get("vol_24h_pct")
        if s in held or r4 is None or r24 is None or r72 is None or not vol:
            continue
        z = r72 / (vol * math.sqrt(72))
        action = "open_long" if z > 0 else "open_short"
        if (r24 > 0) != (z > 0) or (r4 > 0) != (z > 0) or action not in allowed.get(s, []):
            continue
        if best is None or abs(z) > best[0]:
            best = (abs(z), s, action)
    if best is None or best[0] < 1.0:
        return _hold("no trend worth the round-trip cost")
    z, s, action = best
    return _answer(action, s, min(0.95, 0.55 + 0.12 * z), x["max_size_usd"] / 2,
                   f"{s} moved {z:.1f} sigmas over three days; the last day and 4 h agree")


def quick(messages: list[Message]) -> str:
    """The notes' old quick trader: chase any hourly move above 0.15%, always 'confident'."""
    x = _inputs(messages)
    allowed = x["allowed_actions"]
    best: tuple[float, str, str] | None = None
    for m in x["markets"]:
        s, r1 = m["symbol"], m["returns_pct"].get("1h")
        if r1 is None or abs(r1) < 0.15:
            continue
        action = "open_long" if r1 > 0 else "open_short"
        if action in allowed.get(s, []) and (best is None or abs(r1) > best[0]):
            best = (abs(r1), s, action)
    if best is None:
        return _hold("no move")
    return _answer(best[2], best[1], 0.8, x["max_size_usd"] / 2, "hourly momentum")


POLICIES: dict[str, Policy] = {"trend": trend, "quick": quick}
