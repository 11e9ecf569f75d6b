"""One adviser call: allowed actions first, then at most one question (and one repair), then a
validated signal or an abstention, and always a ``decision`` record.

Pure: the question is asked through ``ask`` (the Prefect task passes the OpenAI-compatible
client; a backtest passes a deterministic policy through ``local_ask``). When only hold is
allowed nobody is asked. An answer that breaks the schema or names an action the rules did not
allow is sent back once with the reason; a second bad answer, or no answer, is an abstention.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from strategies.agent.allowed import Allowed
from strategies.agent.decision import Decision, Rejected, check_allowed, parse_decision
from strategies.agent.desk import Outlook, Signal

Message = dict[str, str]
Check = Callable[[Decision], None]


@dataclass(frozen=True, slots=True)
class AskOutcome:
    """What one question produced: the accepted decision (or None) and what it cost."""

    decision: Decision | None
    raws: Sequence[str] = ()
    errors: Sequence[str] = ()  # why each rejected answer was rejected
    tokens_in: int = 0
    tokens_out: int = 0
    latency_s: float = 0.0
    failure: str | None = None  # no valid answer: why (endpoint down, invalid twice)


Ask = Callable[[list[Message], Check], AskOutcome]


@dataclass(frozen=True, slots=True)
class Advice:
    signal: Signal | None
    record: dict[str, Any] = field(default_factory=dict)


def allowed_check(allowed: Allowed, *, max_size_usd: Decimal, default_size_usd: Decimal,
                  min_size_usd: Decimal = Decimal(10)) -> Check:
    """The rules as a check the client runs on every answer (``ValueError`` naming the field)."""
    def check(d: Decision) -> None:
        v = check_allowed(d, allowed, raw="", max_size_usd=max_size_usd, default_size_usd=default_size_usd,
                          min_size_usd=min_size_usd)
        if isinstance(v, Rejected):
            raise ValueError(v.reason)
    return check


def local_ask(policy: Callable[[list[Message]], str]) -> Ask:
    """An ``Ask`` over a deterministic policy that writes answer text (backtests, baselines):
    validated and repaired exactly like an endpoint's answer."""
    def ask(messages: list[Message], check: Check) -> AskOutcome:
        convo = list(messages)
        raws: list[str] = []
        errors: list[str] = []
        for attempt in range(2):
            raw = policy(convo)
            raws.append(raw)
            parsed = parse_decision(raw)
            if isinstance(parsed, Rejected):
                errors.append(parsed.reason)
            else:
                try:
                    check(parsed)
                    return AskOutcome(parsed, raws, errors)
                except ValueError as err:
                    errors.append(str(err))
            if attempt == 0:
                convo = [*convo, {"role": "assistant", "content": raw},
                         {"role": "user", "content": f"That answer was rejected: {errors[-1]}. Reply again "
                                                     "with only the corrected JSON object."}]
        return AskOutcome(None, raws, errors, failure=f"no valid answer after {len(raws)} tries: {errors[-1]}")
    return ask


def advise(*, decision_id: str, now: float, venue: str, mode: str, inputs: dict[str, Any], inputs_digest: str,
           prompt_hash: str, messages: list[Message], allowed: Allowed, outlook: Outlook, ask: Ask,
           max_size_usd: Decimal, default_size_usd: Decimal) -> Advice:
    """Ask once (if anything but hold is allowed) and turn the answer into a signal."""
    record: dict[str, Any] = {
        "decision_id": decision_id, "ts": now, "venue": venue, "mode": mode, "inputs_digest": inputs_digest,
        "prompt_hash": prompt_hash, "allowed": {"by_symbol": allowed.as_dict(), "removed": list(allowed.removed)},
        "llm_called": False, "answer": None, "parsed": None, "verdict": "skipped", "reason": None,
        "action": "hold", "symbol": None, "size_usd": None, "confidence": None,
        "calibrated_confidence": None, "latency_ms": None, "prompt_tokens": 0, "completion_tokens": 0,
        "repaired": False,
        "inputs": inputs,
    }
    if not allowed.needs_llm:
        record["reason"] = "only hold is allowed: no LLM call"
        return Advice(None, record)
    check = allowed_check(allowed, max_size_usd=max_size_usd, default_size_usd=default_size_usd)
    out = ask(messages, check)
    record.update(llm_called=True, answer=out.raws[-1] if out.raws else None, prompt_tokens=out.tokens_in,
                  completion_tokens=out.tokens_out, latency_ms=round(out.latency_s * 1000, 3),
                  repaired=len(out.raws) > 1)
    if out.decision is None:
        record.update(verdict="abstain", reason=out.failure or (out.errors[-1] if out.errors else "no answer"))
        return Advice(None, record)
    d = out.decision
    v = check_allowed(d, allowed, raw=out.raws[-1] if out.raws else "", max_size_usd=max_size_usd,
                      default_size_usd=default_size_usd, min_size_usd=Decimal(10))
    if isinstance(v, Rejected):  # the asker's check should have caught it: the rules still win
        record.update(verdict="abstain", reason=v.reason)
        return Advice(None, record)
    calibrated = outlook.calibration.apply(d.confidence)
    record.update(verdict="accepted", parsed=d.model_dump(), action=d.action, symbol=v.symbol,
                  size_usd=float(v.size_usd) if v.size_usd else None, confidence=d.confidence,
                  calibrated_confidence=round(calibrated, 4), reason="size capped" if v.capped else None)
    return Advice(Signal(decision_id, now, v, outlook), record)
