"""Which actions the LLM may choose from, computed in code before it is asked.

The rules (the product notes' lessons): a combo the shared insights block (``SOL_SHORT``) loses
that side; in a blackout window only hold or close; a symbol the other bot already holds in one
direction is not doubled in that direction; with the bot's positions full, only hold or close; a
position younger than its minimum hold cannot be closed at will (the stop loss still applies,
as a rule, not a choice). When only hold remains, the LLM is not called at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Action(StrEnum):
    OPEN_LONG = "open_long"
    OPEN_SHORT = "open_short"
    CLOSE = "close"
    HOLD = "hold"

    @property
    def direction(self) -> str | None:
        return {Action.OPEN_LONG: "LONG", Action.OPEN_SHORT: "SHORT"}.get(self)


OPENS = (Action.OPEN_LONG, Action.OPEN_SHORT)


@dataclass(frozen=True, slots=True)
class Held:
    """One open position of this bot: its direction and how long it has been held."""

    direction: str  # LONG | SHORT
    held_s: float


@dataclass(frozen=True, slots=True)
class Allowed:
    """Allowed actions per symbol (hold is always allowed) and why each one was removed."""

    by_symbol: Mapping[str, frozenset[Action]]
    removed: tuple[str, ...] = field(default=())  # "SOL open_short: blocked combo SOL_SHORT", ...

    @property
    def needs_llm(self) -> bool:
        """False when hold is the only choice anywhere: then nobody is asked."""
        return any(acts - {Action.HOLD} for acts in self.by_symbol.values())

    def allows(self, symbol: str, action: Action) -> bool:
        if action is Action.HOLD:
            return True
        return action in self.by_symbol.get(symbol, frozenset())

    def as_dict(self) -> dict[str, list[str]]:
        """A JSON-friendly view (prompt input and the decision record)."""
        return {s: sorted(str(a) for a in acts) for s, acts in self.by_symbol.items()}


def combo(symbol: str, direction: str) -> str:
    """The shared insights' name of a symbol/direction pair: ``SOL_SHORT``."""
    return f"{symbol.upper()}_{direction.upper()}"


def allowed_actions(symbols: Iterable[str], *, held: Mapping[str, Held], min_hold_s: float,
                    max_open_positions: int, blocked: Iterable[str] = (), blackout: bool = False,
                    others: Mapping[str, Iterable[str]] | None = None, may_open: bool = True,
                    open_room_usd: float | None = None, min_entry_usd: float = 0.0) -> Allowed:
    """The actions allowed per symbol at this moment.

    ``held``: this bot's open positions by symbol. ``blocked``: combos the insights block.
    ``blackout``: the current hour is a blackout window. ``others``: directions other bots hold
    by symbol. ``may_open``: the guard allows new risk. ``open_room_usd``: notional left under the
    bot's total cap (``None``: no cap), compared with ``min_entry_usd``.
    """
    blocked_set = {b.upper() for b in blocked}
    others = others or {}
    removed: list[str] = []
    full = len(held) >= max_open_positions
    no_room = open_room_usd is not None and open_room_usd < max(min_entry_usd, 1e-9)
    out: dict[str, frozenset[Action]] = {}
    for symbol in symbols:
        acts = {Action.HOLD}
        if symbol in held:
            if held[symbol].held_s >= min_hold_s:
                acts.add(Action.CLOSE)
            else:
                removed.append(f"{symbol} close: held {held[symbol].held_s / 60:.0f} min < min hold "
                               f"{min_hold_s / 60:.0f} min")
            out[symbol] = frozenset(acts)
            continue
        for action in OPENS:
            why = _why_not_open(symbol, action, full=full, no_room=no_room, blocked=blocked_set,
                                blackout=blackout, others=others, may_open=may_open)
            if why:
                removed.append(f"{symbol} {action}: {why}")
            else:
                acts.add(action)
        out[symbol] = frozenset(acts)
    return Allowed(out, tuple(removed))


def _why_not_open(symbol: str, action: Action, *, full: bool, no_room: bool, blocked: set[str], blackout: bool,
                  others: Mapping[str, Iterable[str]], may_open: bool) -> str | None:
    direction = action.direction
    assert direction is not None
    if not may_open:
        return "the guard allows no new risk"
    if blackout:
        return "blackout window"
    if full:
        return "positions full"
    if no_room:
        return "total notional cap reached"
    if combo(symbol, direction) in blocked:
        return f"blocked combo {combo(symbol, direction)}"
    if direction in {d.upper() for d in others.get(symbol, ())}:
        return f"another bot already holds {symbol} {direction}"
    return None
