"""The journal record contract: every record kind, its fields and their types.

One definition serves the three places that must agree: the journal writer (what it emits), the
loader's SQL validation (what it accepts, and the reason it gives when it does not) and the live
views (how journal text is typed). Every record carries ``kind``, ``run_id`` and a per-journal
``seq``. Decimals travel as JSON strings, exactly as ``str(Decimal)`` prints them; timestamps as
epoch seconds (float).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.reasons import Reason
from core.types import Liquidity, OrderStatus, OrderType, Side

# DuckDB type of every decimal column. 18 digits keep DuckDB's fast 64-bit decimal path (a
# 38-digit decimal parses ~20x slower); 10 of them after the point cover fees of a few
# millionths of a dollar. |value| must stay below 1e8.
DECIMAL = "DECIMAL(18,10)"
DECIMAL_LIMIT = 10**8

STR, DEC, FLOAT, INT, BOOL, OBJ, STR_LIST = "str", "dec", "float", "int", "bool", "obj", "str_list"

DUCK_TYPES = {STR: "VARCHAR", DEC: DECIMAL, FLOAT: "DOUBLE", INT: "BIGINT", BOOL: "BOOLEAN",
              OBJ: "JSON", STR_LIST: "JSON"}
TYPE_WORDS = {STR: "a string", DEC: "a decimal string with |value| < 1e8", FLOAT: "a number",
              INT: "an integer", BOOL: "true or false", OBJ: "a JSON object", STR_LIST: "a list of strings"}


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str
    required: bool = True
    allowed: tuple[str, ...] | None = None

    def describe(self) -> str:
        if self.allowed:
            return "one of " + ", ".join(self.allowed)
        return TYPE_WORDS[self.type]


def _f(name: str, type_: str = STR, required: bool = True, allowed: type | tuple[str, ...] | None = None) -> Field:
    values = tuple(m.value for m in allowed) if isinstance(allowed, type) else allowed  # type: ignore[attr-defined]
    return Field(name, type_, required, values)


COMMON = (_f("kind"), _f("run_id"), _f("seq", INT))

RUN_STATUS = ("COMPLETED", "FAILED", "CANCELLED", "CRASHED")
RUN_MODES = ("backtest", "paper", "live")  # virtual-clock simulation, real-clock simulation, real venues
RUN_CLOCKS = ("virtual", "real")  # virtual: the run's timestamps are simulated
TRADING_STATES = ("ACTIVE", "REDUCING", "HALTED")
# What a cycle's status may say. The hedge strategy (strategies/hedge/strategy.py) writes ok, recovered
# (a hedge failed and was redone within the cycle) and fills_missing (prices of some fills never came).
CYCLE_STATUS = ("ok", "recovered", "fills_missing", "hedge_failed", "partial", "aborted")

KINDS: dict[str, tuple[Field, ...]] = {
    "run_start": (_f("bot"), _f("venues", STR_LIST), _f("symbol"), _f("params", OBJ), _f("started", FLOAT),
                  _f("flow_run_id", required=False), _f("mode", required=False, allowed=RUN_MODES),
                  _f("clock", required=False, allowed=RUN_CLOCKS)),
    "run_end": (_f("ended", FLOAT), _f("status", allowed=RUN_STATUS), _f("reason", required=False)),
    "order": (_f("venue"), _f("order_id"), _f("client_id"), _f("symbol"), _f("side", allowed=Side),
              _f("type", allowed=OrderType), _f("price", DEC, False), _f("size", DEC), _f("filled", DEC),
              _f("avg_price", DEC, False), _f("status", allowed=OrderStatus), _f("post_only", BOOL),
              _f("reduce_only", BOOL), _f("ts", FLOAT), _f("reject_reason", required=False)),
    "fill": (_f("venue"), _f("order_id"), _f("client_id", required=False), _f("trade_id"), _f("symbol"),
             _f("side", allowed=Side), _f("price", DEC), _f("size", DEC), _f("fee", DEC),
             _f("liquidity", allowed=Liquidity), _f("ts", FLOAT), _f("bid", DEC, False), _f("ask", DEC, False)),
    "cycle": (_f("bot"), _f("cycle_no", INT), _f("iteration", INT), _f("cycle_kind", allowed=("open", "close")),
              _f("direction", allowed=("long", "short")), _f("primary_venue"), _f("hedge_venue"), _f("symbol"),
              _f("size", DEC), _f("primary_price", DEC, False), _f("hedge_price", DEC, False),
              _f("edge_bps", DEC, False), _f("primary_fee", DEC), _f("hedge_fee", DEC), _f("gross_pnl", DEC),
              _f("pnl", DEC), _f("net_delta_after", DEC), _f("hedge_latency_ms", FLOAT, False),
              _f("status", allowed=CYCLE_STATUS), _f("started", FLOAT),
              _f("ended", FLOAT), _f("primary_orders", STR_LIST, False), _f("hedge_orders", STR_LIST, False),
              _f("primary_maker_share", FLOAT, False), _f("hedge_maker_share", FLOAT, False),
              _f("hedge_taker_reason", required=False)),
    "position": (_f("venue"), _f("symbol"), _f("size", DEC), _f("entry_price", DEC, False), _f("ts", FLOAT),
                 _f("source", allowed=("ws", "rest", "ledger")), _f("mark", DEC, False)),
    "risk": (_f("ts", FLOAT), _f("check"), _f("reason", allowed=Reason),
             _f("state_from", required=False, allowed=TRADING_STATES),
             _f("state_to", required=False, allowed=TRADING_STATES), _f("detail"), _f("data", OBJ)),
    "funding": (_f("venue"), _f("symbol"), _f("rate", DEC), _f("position", DEC), _f("payment", DEC),
                _f("ts", FLOAT)),
    # Written by the scheduled flows (sentiment, shared insights, cross-bot review) through a journal
    # of their own run, so the loader stays the warehouse's only writer.
    "sentiment": (_f("source"), _f("metric"), _f("symbol", required=False), _f("value", FLOAT), _f("ts", FLOAT),
                  _f("age_s", FLOAT, False), _f("stale", BOOL), _f("detail", required=False)),
    "insight": (_f("insight_id"), _f("ts", FLOAT), _f("scope"), _f("topic"), _f("data", OBJ),
                _f("confidence", FLOAT, False), _f("source"), _f("version", required=False),
                _f("expires", FLOAT, False), _f("review_id", required=False)),
    "review": (_f("review_id"), _f("ts", FLOAT), _f("reviewer"), _f("model", required=False),
               _f("period_start", FLOAT, False), _f("period_end", FLOAT, False), _f("summary"), _f("body", OBJ),
               _f("valid", BOOL), _f("prompt_version", required=False), _f("prompt_hash", required=False),
               _f("inputs_digest", required=False), _f("answer", required=False), _f("parsed", OBJ, False),
               _f("verdict", required=False, allowed=("accepted", "rejected", "failed")),
               _f("prompt_tokens", INT, False), _f("completion_tokens", INT, False), _f("latency_ms", FLOAT, False),
               _f("attempts", INT, False), _f("error", required=False)),
    # Written by bot strategies through the runner: the market as the bot saw it (sampled, for
    # markouts and inventory PnL) and the strategy's own events (a grid's start facts, pauses,
    # resumes), each with a free-form ``data`` object.
    "book_sample": (_f("venue"), _f("symbol"), _f("bid", DEC), _f("ask", DEC), _f("ts", FLOAT)),
    "strategy_event": (_f("ts", FLOAT), _f("event"), _f("detail"), _f("data", OBJ)),
    # The LLM agents: every adviser call (asked or skipped), every round trip, every mode change.
    "decision": (_f("decision_id"), _f("ts", FLOAT), _f("venue"), _f("mode"), _f("inputs_digest"), _f("prompt_hash"),
                 _f("allowed", OBJ), _f("llm_called", BOOL), _f("verdict", allowed=("accepted", "abstain", "skipped")),
                 _f("reason", required=False), _f("action", required=False), _f("symbol", required=False),
                 _f("size_usd", FLOAT, False), _f("confidence", FLOAT, False),
                 _f("calibrated_confidence", FLOAT, False), _f("answer", required=False), _f("parsed", OBJ, False),
                 _f("latency_ms", FLOAT, False), _f("prompt_tokens", INT, False),
                 _f("completion_tokens", INT, False), _f("repaired", BOOL), _f("inputs", OBJ)),
    "agent_trade": (_f("trade_no", INT), _f("venue"), _f("symbol"), _f("direction", allowed=("LONG", "SHORT")),
                    _f("mode", allowed=("profit", "volume")), _f("decision_id"), _f("confidence", FLOAT),
                    _f("calibrated_confidence", FLOAT), _f("opened", FLOAT), _f("closed_at", FLOAT),
                    _f("hold_s", FLOAT), _f("size", DEC), _f("entry_price", DEC), _f("exit_price", DEC),
                    _f("notional", DEC), _f("entry_maker", BOOL), _f("exit_rule"), _f("gross_pnl", DEC),
                    _f("fees", DEC), _f("spread_cost", DEC), _f("funding_paid", DEC), _f("pnl", DEC),
                    _f("drag_pct", FLOAT), _f("win", BOOL)),
    "mode_change": (_f("ts", FLOAT), _f("mode_from"), _f("mode_to", allowed=("profit", "volume")), _f("reason"),
                    _f("banked_usd", DEC), _f("burn_spent_usd", DEC)),
}


def union_fields() -> dict[str, Field]:
    """Every field name over all kinds, with one type each (the contract keeps names unambiguous).

    ``required`` here means required by *every* kind that has the field: such a column can be read
    with its native type directly; the others are read as text and cast, so that a wrong type in a
    nullable field is still caught instead of becoming a silent NULL.
    """
    out: dict[str, Field] = {f.name: f for f in COMMON}
    for fields in KINDS.values():
        for f in fields:
            seen = out.get(f.name)
            if seen is None:
                out[f.name] = Field(f.name, f.type, f.required)
            else:
                if seen.type != f.type:
                    raise AssertionError(f"field {f.name!r} has two types: {seen.type} and {f.type}")
                if not f.required and seen.required:
                    out[f.name] = Field(f.name, f.type, False)
    return out


def _check_contract() -> None:
    union_fields()


_check_contract()
