"""The cross-bot review: inputs from the warehouse, an LLM (or the statistical reviewer) answering in
the ``prompts.review`` schema, a verdict, and the rows that record it.

- Inputs: per bot, the last ``hours`` from the warehouse (runs, outcomes, cycles, orders rejected,
  risk events, current parameters), the current shared insights and the latest sentiment; their
  SHA-256 (``inputs_digest``) is stored with the review.
- With ``LlmSettings.base_url`` set, the OpenAI-compatible endpoint answers (tasks/llm.py: schema
  and bounds validated locally, one repair retry). Two bad answers: verdict ``rejected``, both raw
  answers kept. An endpoint that cannot be used: verdict ``failed`` with the error naming the
  setting. Without an endpoint, ``statistical_review`` answers deterministically from the same
  inputs, with ``reviewer`` "statistical".
- ``accepted`` recommendations become ``insights`` rows (``review/<review id>/<n>``) that the
  insights computation carries into every export until they expire.
- The API key is never in the inputs, the prompt, a row, a log line or an artifact.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
from pydantic import SecretStr

from core.insights import Blackout, BlockedCombo, ParameterChange, SharedInsights, Unblock, combo
from core.settings import Settings
from prompts.review import (
    MAX_HOURS,
    BlackoutWindow,
    BlockCombo,
    Bounds,
    Prompt,
    ReviewAnswer,
    SetParameter,
    UnblockCombo,
    adjustable,
    check_bounds,
    load_prompt,
)
from tasks.insights import naive_utc, read_outcomes, table_columns
from tasks.llm import LlmAnswer, LlmError, LlmInvalidAnswer, ask_json

REVIEW_HOURS = 6.0
STAT_HOURS = 6.0  # how long the statistical reviewer's recommendations last (one review period)


@dataclass(slots=True)
class ReviewOutcome:
    review_id: str
    ts: datetime
    period_start: datetime
    period_end: datetime
    reviewer: str  # llm | statistical
    model: str | None
    prompt: Prompt
    inputs: dict[str, Any]
    inputs_digest: str
    verdict: str  # accepted | rejected | failed
    answer: ReviewAnswer | None
    raw: str | None = None
    raws: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    error: str | None = None
    error_setting: str | None = None
    transient: bool = False  # the endpoint may answer later (429, 5xx, timeout, unreachable)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0

    @property
    def summary(self) -> str:
        if self.answer is not None:
            return self.answer.summary
        return f"{self.verdict}: {self.error or 'no answer'}"


# --- inputs ------------------------------------------------------------------------------------------------
def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _num(v: Any) -> Any:
    return round(float(v), 6) if v is not None and not isinstance(v, str | bool) else v


def gather_inputs(con: duckdb.DuckDBPyConnection, insights: SharedInsights, now: datetime,
                  hours: float = REVIEW_HOURS) -> tuple[dict[str, Any], Bounds]:
    """What the reviewer reads, as JSON-able data, and the bounds its answer must keep."""
    start = now - timedelta(hours=hours)
    s, e = naive_utc(start), naive_utc(now)
    cols = table_columns(con)
    bots: dict[str, dict[str, Any]] = {}
    current: dict[str, dict[str, float]] = {}
    symbols: set[str] = set()
    if {"run_id", "bot", "params", "started"} <= cols.get("runs", set()):
        for r in _rows(con, """SELECT run_id, bot, symbol, status, started, ended, params FROM runs
                               WHERE bot IS NOT NULL AND started <= ? AND (ended IS NULL OR ended >= ?)
                               ORDER BY started""", [e, s]):
            b = bots.setdefault(r["bot"], {"runs": [], "outcomes": {}, "orders": {}, "risk_events": {}})
            b["runs"].append({"run_id": r["run_id"], "symbol": r["symbol"], "status": r["status"],
                              "started": r["started"], "ended": r["ended"]})
            if r["symbol"]:
                symbols.add(str(r["symbol"]).upper())
            params = json.loads(r["params"]) if isinstance(r["params"], str) else (r["params"] or {})
            for p in adjustable().get(r["bot"], {}):
                if isinstance(params.get(p), int | float | str) and params.get(p) not in ("", None):
                    with contextlib.suppress(ValueError):
                        current.setdefault(r["bot"], {})[p] = float(params[p])
    outcomes, _ = read_outcomes(con, start)
    for o in outcomes:
        if o.ts > e:
            continue
        b = bots.setdefault(o.bot, {"runs": [], "outcomes": {}, "orders": {}, "risk_events": {}})
        key = combo(o.symbol, o.direction)
        x = b["outcomes"].setdefault(key, {"kind": o.kind, "n": 0, "wins": 0, "pnl": 0.0})
        x["n"] += 1
        x["wins"] += int(o.won)
        x["pnl"] = round(x["pnl"] + o.pnl, 6)
        symbols.add(o.symbol.upper())
    if {"bot", "status", "reject_reason", "ts"} <= cols.get("orders", set()):
        for r in _rows(con, """SELECT bot, status, coalesce(reject_reason, '') AS reason, count(*) AS n FROM orders
                               WHERE ts BETWEEN ? AND ? AND bot IS NOT NULL GROUP BY ALL ORDER BY ALL""", [s, e]):
            b = bots.setdefault(r["bot"], {"runs": [], "outcomes": {}, "orders": {}, "risk_events": {}})
            b["orders"][f"{r['status']}{':' + r['reason'] if r['reason'] else ''}"] = r["n"]
    if {"run_id", "reason", "ts"} <= cols.get("risk_events", set()) and "runs" in cols:
        for r in _rows(con, """SELECT r.bot, e.reason, count(*) AS n FROM risk_events e JOIN runs r USING (run_id)
                               WHERE e.ts BETWEEN ? AND ? AND r.bot IS NOT NULL GROUP BY ALL ORDER BY ALL""", [s, e]):
            bots.setdefault(r["bot"], {"runs": [], "outcomes": {}, "orders": {}, "risk_events": {}})[
                "risk_events"][r["reason"]] = r["n"]
    for name in bots:
        bots[name]["parameters"] = current.get(name, {})
    symbols |= {w.symbol.upper() for w in insights.win_rates}
    bounds = Bounds(now=now, bots=set(bots) | set(adjustable()), symbols=symbols, current=current)
    ins = insights.model_dump(mode="json", exclude={"problem"}) if insights.present else {"none": insights.problem}
    sentiment = ins.pop("sentiment", None) if insights.present else None
    inputs = {"now": now.isoformat(), "period_start": start.isoformat(), "period_end": now.isoformat(),
              "bots": json.loads(json.dumps(bots, default=lambda v: v.isoformat() if isinstance(v, datetime)
                                            else _num(v))),
              "insights": ins, "sentiment": sentiment, "bounds": bounds.describe()}
    return inputs, bounds


# --- reviewers ---------------------------------------------------------------------------------------------
def statistical_review(insights: SharedInsights, bounds: Bounds, now: datetime) -> ReviewAnswer:
    """A deterministic reviewer: block what the statistics say loses, lift blocks the numbers no longer
    support, keep the statistical blackout windows; no parameter changes (those need judgement)."""
    until = now + timedelta(hours=STAT_HOURS)
    recs: list[Any] = []
    blocked = {(b.combo, tuple(b.bots or [])) for b in insights.blocked if b.until > now}
    for r in insights.win_rates:
        if r.kind != "trade" or r.symbol.upper() not in bounds.symbols:
            continue
        bots = None if r.bot == "*" else [r.bot]
        if r.bot != "*" and r.bot not in bounds.bots:
            continue
        name = combo(r.symbol, r.direction)
        if r.upper < 0.5 and r.pnl < 0 and r.n >= 10:
            recs.append(BlockCombo(action="block_combo", symbol=r.symbol.upper(), direction=r.direction, bots=bots,
                                   until=until, confidence=round(1 - r.upper, 3),
                                   rationale=f"{name}: {r.wins}/{r.n} won, upper bound {r.upper:.0%} < 50%, "
                                             f"pnl {r.pnl:+.2f}"))
        elif r.lower > 0.5 and (name, tuple(bots or [])) in blocked:
            recs.append(UnblockCombo(action="unblock_combo", symbol=r.symbol.upper(), direction=r.direction,
                                     bots=bots, until=until, confidence=round(r.lower, 3),
                                     rationale=f"{name}: {r.wins}/{r.n} won, lower bound {r.lower:.0%} > 50%"))
    for w in insights.blackouts:
        if w.source == "statistics" and w.end_hour - w.start_hour <= 12:
            recs.append(BlackoutWindow(action="blackout", start_hour_utc=w.start_hour, end_hour_utc=w.end_hour,
                                       until=until, confidence=round(w.lower or 0.0, 3),
                                       rationale=f"{w.start_hour:02d}-{w.end_hour:02d} UTC: {w.reason}"[:1000]))
    recs = recs[:10]
    n_trades = sum(r.n for r in insights.win_rates if r.kind == "trade" and r.bot == "*")
    n_cycles = sum(r.n for r in insights.win_rates if r.kind == "cycle")
    summary = (f"Statistical review of {n_trades} directional trades and {n_cycles} hedge cycles: "
               f"{len(recs)} recommendation(s).")
    return ReviewAnswer(summary=summary, recommendations=recs)


def api_key(settings: Settings) -> SecretStr | None:
    """The key from the settings, else from the Prefect Secret block they name."""
    llm = settings.llm
    if llm.api_key is not None:
        return llm.api_key
    if not llm.api_key_block:
        return None
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(llm.api_key_block).get()
    except ValueError as err:
        raise LlmError(f"no Prefect Secret block named {llm.api_key_block!r} ({err})", "llm.api_key_block") from None
    return SecretStr(str(value))


def review(settings: Settings, con: duckdb.DuckDBPyConnection, insights: SharedInsights, now: datetime | None = None,
           *, hours: float = REVIEW_HOURS, key: SecretStr | None = None) -> ReviewOutcome:
    """One review, whatever happens: an outcome with a verdict (never an exception for a bad answer
    or an unusable endpoint; the outcome says which setting to fix)."""
    now = now or datetime.now(UTC)
    prompt = load_prompt()
    inputs, bounds = gather_inputs(con, insights, now, hours)
    inputs_digest = digest(inputs)
    rid = f"rv-{now.astimezone(UTC):%Y%m%dT%H%M%S}-{inputs_digest[:8]}"
    base = dict(review_id=rid, ts=now, period_start=now - timedelta(hours=hours), period_end=now, prompt=prompt,
                inputs=inputs, inputs_digest=inputs_digest)
    llm = settings.llm
    if not llm.base_url:
        t0 = time.perf_counter()
        answer = statistical_review(insights, bounds, now)
        check_bounds(answer, bounds)  # the statistical reviewer keeps the same bounds
        return ReviewOutcome(**base, reviewer="statistical", model=None, verdict="accepted", answer=answer,
                             raw=answer.model_dump_json(), latency_ms=(time.perf_counter() - t0) * 1000)
    messages = prompt.messages(now=now.isoformat(), period_start=inputs["period_start"],
                               period_end=inputs["period_end"], max_hours=f"{MAX_HOURS:g}",
                               bounds=inputs["bounds"], bots=inputs["bots"], insights=inputs["insights"],
                               sentiment=inputs["sentiment"] or "no sentiment recorded")
    out = ReviewOutcome(**base, reviewer="llm", model=llm.model, verdict="failed", answer=None)
    try:
        got: LlmAnswer[ReviewAnswer] = ask_json(messages, ReviewAnswer, llm, api_key=key if key is not None
                                                else api_key(settings), check=lambda a: check_bounds(a, bounds))
    except LlmInvalidAnswer as err:
        out.verdict, out.error = "rejected", str(err)
        _cost(out, err.raws, err.errors, err.usage.prompt_tokens, err.usage.completion_tokens, err.latency_s)
        return out
    except LlmError as err:
        out.error, out.error_setting, out.transient = str(err), err.setting, err.transient
        _cost(out, err.raws, err.errors, err.usage.prompt_tokens, err.usage.completion_tokens, err.latency_s)
        return out
    out.verdict, out.answer, out.raw = "accepted", got.parsed, got.raw
    _cost(out, got.raws, got.errors, got.usage.prompt_tokens, got.usage.completion_tokens, got.latency_s)
    return out


def _cost(out: ReviewOutcome, raws: list[str], errors: list[str], pt: int, ct: int, latency_s: float) -> None:
    out.raws, out.errors = list(raws), list(errors)
    out.raw = raws[-1] if raws else out.raw
    out.prompt_tokens, out.completion_tokens, out.latency_ms = pt, ct, latency_s * 1000


# --- rows --------------------------------------------------------------------------------------------------
def review_record(o: ReviewOutcome) -> dict[str, Any]:
    """The ``review`` journal record (the warehouse ``reviews`` row)."""
    return dict(review_id=o.review_id, ts=o.ts.timestamp(), reviewer=o.reviewer, model=o.model,
                period_start=o.period_start.timestamp(), period_end=o.period_end.timestamp(), summary=o.summary,
                body={"inputs": o.inputs, "answers": o.raws, "rejections": o.errors,
                      "error_setting": o.error_setting},
                valid=o.verdict == "accepted", prompt_version=o.prompt.version, prompt_hash=o.prompt.hash,
                inputs_digest=o.inputs_digest, answer=o.raw,
                parsed=o.answer.model_dump(mode="json") if o.answer is not None else None, verdict=o.verdict,
                prompt_tokens=o.prompt_tokens, completion_tokens=o.completion_tokens, latency_ms=o.latency_ms,
                attempts=len(o.raws), error=o.error)


def insight_records(o: ReviewOutcome) -> list[dict[str, Any]]:
    """An accepted review's recommendations as ``insights`` rows, with the review id as provenance."""
    if o.verdict != "accepted" or o.answer is None:
        return []
    out = []
    for i, r in enumerate(o.answer.recommendations):
        item: Any
        if isinstance(r, BlockCombo):
            topic, scope = "blocked_combo", ",".join(r.bots or ["*"])
            item = BlockedCombo(combo=combo(r.symbol, r.direction), symbol=r.symbol, direction=r.direction,
                                bots=r.bots, until=r.until, reason=r.rationale, source="review", review_id=o.review_id)
        elif isinstance(r, UnblockCombo):
            topic, scope = "unblock", ",".join(r.bots or ["*"])
            item = Unblock(combo=combo(r.symbol, r.direction), symbol=r.symbol, direction=r.direction, bots=r.bots,
                           until=r.until, reason=r.rationale, review_id=o.review_id)
        elif isinstance(r, BlackoutWindow):
            topic, scope = "blackout", "*"
            item = Blackout(start_hour=r.start_hour_utc, end_hour=r.end_hour_utc, until=r.until, reason=r.rationale,
                            source="review", review_id=o.review_id)
        else:
            assert isinstance(r, SetParameter)
            topic, scope = "parameter_change", r.bot
            item = ParameterChange(bot=r.bot, param=r.param, value=r.value, until=r.until, rationale=r.rationale,
                                   review_id=o.review_id)
        out.append(dict(insight_id=f"review/{o.review_id}/{i}", ts=o.ts.timestamp(), scope=scope, topic=topic,
                        data=item.model_dump(mode="json"), confidence=r.confidence, source="review", version=None,
                        expires=r.until.timestamp(), review_id=o.review_id))
    return out
