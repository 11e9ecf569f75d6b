"""What the shared insights mean for one agent at one moment: the rules' inputs.

The insights (``core.insights.SharedInsights``, written hourly by the insights flow from every
bot's trades, and amended by the cross-bot review) say which combos are blocked and until when,
which UTC hours are blackouts, what each bot holds now and how much a stated confidence has been
worth. ``outlook_from`` turns that into the desk's ``Outlook`` for ``now``; positions of this run
are not "another bot's". No insights (missing or corrupt file) is an empty outlook: the rules of
the agent's own parameters still apply.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import Any

from core.insights import SharedInsights
from strategies.agent.calibration import Calibration
from strategies.agent.desk import Outlook

BOT = "agent"


def outlook_from(ins: SharedInsights, *, symbols: Iterable[str], now: float, own_run_ids: Collection[str],
                 bot: str = BOT) -> Outlook:
    if not ins.present:
        return Outlook()
    at = datetime.fromtimestamp(now, UTC)
    symbols = tuple(symbols)
    blocked = frozenset(f"{s}_{d.upper()}" for s in symbols for d in ("long", "short")
                        if ins.blocked_combo(s, d, bot, at) is not None)
    others: dict[str, set[str]] = {}
    for p in ins.active_positions:
        if p.run_id in own_run_ids or p.symbol not in symbols or p.size == 0:
            continue
        others.setdefault(p.symbol, set()).add("LONG" if p.size > 0 else "SHORT")
    calibration = Calibration.of((b.lo, b.hi, b.n, round(b.win_rate * b.n)) for b in ins.calibration)
    return Outlook(blocked=blocked, blackout=ins.blackout_at(at) is not None,
                   others={s: frozenset(d) for s, d in others.items()}, calibration=calibration)


def sentiment_from(ins: SharedInsights, symbols: Iterable[str]) -> dict[str, Any] | None:
    """The latest combined sentiment (-1 fear .. +1 greed) for the adviser's inputs."""
    if not ins.present or ins.sentiment is None:
        return None
    s = ins.sentiment
    return {"ts": s.ts.isoformat(), "market": s.market, "by_symbol": {x: ins.sentiment_for(x) for x in symbols},
            "detail": s.detail}
