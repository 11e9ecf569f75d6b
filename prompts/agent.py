"""The agent adviser's prompt: versioned text, its hash stored with every decision.

The model is told the rules it cannot change (allowed actions are computed before it is asked;
exits are rules in code; its confidence is calibrated against its own record) and is shown only
data from before the decision time. It answers one JSON object of the ``Decision`` schema.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

VERSION = "agent-v1"

SYSTEM = """You are the adviser of a crypto perpetual-futures trading bot on {venue}, in {mode} mode.
Fees plus spread cost about 0.25-0.35% of notional per round trip: trade rarely, only with an edge.
Rules you cannot change:
- Choose only among the allowed actions listed per symbol; anything else is refused.
- Exits are rules in code ({exit_table}); your stop-loss and take-profit are recorded, not used.
- Your confidence is calibrated against your past record before any threshold uses it.
- size_usd is capped at {max_size_usd} USD.
Answer with one JSON object only: {{"action": "open_long|open_short|close|hold", "symbol": "...",
"size_usd": number, "confidence": 0..1, "stop_loss_pct": number, "take_profit_pct": number,
"thesis": "one or two sentences"}}."""

USER = "Decision inputs (JSON; every figure is from before decision_time):\n{inputs}"


def messages(inputs: dict[str, Any], *, venue: str, mode: str, exit_table: str,
             max_size_usd: float) -> list[dict[str, str]]:
    system = SYSTEM.format(venue=venue, mode=mode, exit_table=exit_table, max_size_usd=max_size_usd)
    return [{"role": "system", "content": system},
            {"role": "user", "content": USER.format(inputs=json.dumps(inputs, sort_keys=True, default=str))}]


def prompt_hash() -> str:
    """Fingerprint of the template (not of one filled prompt): changes whenever the text does."""
    return hashlib.sha256(f"{VERSION}\n{SYSTEM}\n{USER}".encode()).hexdigest()[:16]
