"""Shared insights: what every bot has learned, as one typed, schema-versioned object.

The hourly ``insights`` flow computes it from the warehouse and exports it to
``data/shared_insights.json``; the cross-bot review adds what it recommends (with its review id).
Bots and strategies read it through ``load_insights`` — plain pydantic and the standard library,
no Prefect or DuckDB — and get a typed object back. A missing, half-written or corrupt file reads
as "no insights" (``present`` False, ``problem`` saying why) with a warning in the log, never an
exception in a bot. Writers replace the file atomically (``write_insights``), so a reader never
sees a half-written one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger("perpflow.insights")

SCHEMA_VERSION = 1
Direction = Literal["long", "short"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def combo(symbol: str, direction: str) -> str:
    """The notes' combo name: ``SOL_SHORT``."""
    return f"{symbol.upper()}_{direction.upper()}"


class WinRate(_Model):
    bot: str  # "*": every bot whose outcomes are directional trades, pooled
    symbol: str
    direction: Direction
    n: int = Field(ge=0)
    wins: int = Field(ge=0)
    win_rate: float = Field(ge=0, le=1)
    lower: float = Field(ge=0, le=1)  # Wilson score interval at the file's confidence level
    upper: float = Field(ge=0, le=1)
    pnl: float
    # trade: a directional round trip; cycle: a delta-neutral hedge cycle (its direction is not a market bet);
    # fill: a market maker's fill, won when its 60 s markout after the fee is positive
    kind: Literal["trade", "cycle", "fill"]


class BlockedCombo(_Model):
    combo: str
    symbol: str
    direction: Direction
    bots: list[str] | None = None  # the bots it applies to; None: every bot
    until: datetime
    reason: str
    source: str  # "statistics" or "review"
    review_id: str | None = None


class Unblock(_Model):
    """A review's decision that a combo stays open despite the statistics, until a time."""

    combo: str
    symbol: str
    direction: Direction
    bots: list[str] | None = None
    until: datetime
    reason: str
    review_id: str


class Blackout(_Model):
    start_hour: int = Field(ge=0, le=23)  # UTC, inclusive
    end_hour: int = Field(ge=1, le=24)  # UTC, exclusive
    # the statistics behind a window the insights computed (None for a window a review decided)
    n: int | None = Field(default=None, ge=0)
    loss_rate: float | None = Field(default=None, ge=0, le=1)
    lower: float | None = Field(default=None, ge=0, le=1)
    baseline: float | None = Field(default=None, ge=0, le=1)  # what each bot's own loss rate predicts
    until: datetime
    reason: str
    source: str
    review_id: str | None = None

    def covers(self, hour: int) -> bool:
        return self.start_hour <= hour < self.end_hour


class CalibrationBucket(_Model):
    """Stated confidence in [lo, hi) (the last bucket includes 1.0) → realised win rate of those trades."""

    lo: float = Field(ge=0, le=1)
    hi: float = Field(ge=0, le=1)
    n: int = Field(ge=0)
    wins: int = Field(ge=0)
    win_rate: float = Field(ge=0, le=1)
    lower: float = Field(ge=0, le=1)
    upper: float = Field(ge=0, le=1)

    @property
    def gap(self) -> float:
        """Realised minus stated confidence (the bucket's middle): negative = overconfident."""
        return self.win_rate - (self.lo + self.hi) / 2


class ActivePosition(_Model):
    bot: str
    run_id: str
    venue: str
    symbol: str
    size: float
    ts: datetime


class SentimentSnapshot(_Model):
    ts: datetime
    market: float = Field(ge=-1, le=1)
    symbols: dict[str, float]
    detail: str


class ParameterChange(_Model):
    bot: str
    param: str
    value: float
    until: datetime
    rationale: str
    review_id: str


class SourceStatus(_Model):
    name: str  # table the outcomes came from
    rows: int
    note: str = ""


class SharedInsights(_Model):
    schema_version: Literal[1] = SCHEMA_VERSION
    version: str  # unique per export: <UTC timestamp>-<digest>
    generated_at: datetime
    window_start: datetime
    confidence_level: float = 0.95
    sources: list[SourceStatus] = []
    win_rates: list[WinRate] = []
    blocked: list[BlockedCombo] = []
    unblocked: list[Unblock] = []
    blackouts: list[Blackout] = []
    calibration: list[CalibrationBucket] = []
    active_positions: list[ActivePosition] = []
    sentiment: SentimentSnapshot | None = None
    parameter_changes: list[ParameterChange] = []
    reviews: list[str] = []  # ids of the reviews whose recommendations are in this version
    problem: str | None = None  # set only on the "no insights" object a failed read returns

    @property
    def present(self) -> bool:
        return self.problem is None

    @classmethod
    def none(cls, problem: str) -> SharedInsights:
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        return cls(version="none", generated_at=epoch, window_start=epoch, problem=problem)

    # --- questions a bot asks ----------------------------------------------------------------------
    def blocked_combo(self, symbol: str, direction: str, bot: str, now: datetime) -> BlockedCombo | None:
        """The block that applies to ``bot`` trading ``symbol`` in ``direction`` at ``now``, if any."""
        name = combo(symbol, direction)

        def applies(bots: list[str] | None, until: datetime) -> bool:
            return until > now and (bots is None or bot in bots)

        if any(u.combo == name and applies(u.bots, u.until) for u in self.unblocked):
            return None
        return next((b for b in self.blocked if b.combo == name and applies(b.bots, b.until)), None)

    def blackout_at(self, now: datetime) -> Blackout | None:
        hour = now.astimezone(UTC).hour
        return next((b for b in self.blackouts if b.covers(hour) and b.until > now), None)

    def sentiment_for(self, symbol: str) -> float | None:
        if self.sentiment is None:
            return None
        return self.sentiment.symbols.get(symbol.upper(), self.sentiment.market)


def load_insights(path: Path, *, warn: bool = True) -> SharedInsights:
    """The exported insights, or "no insights" (``present`` False) with a warning saying why
    (``warn=False``: the caller words it, e.g. a bot reading every decision warns once)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return _none(f"{path}: no shared insights exported yet (the insights flow writes it)", warn)
    except OSError as err:
        return _none(f"{path}: cannot read ({err})", warn)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        return _none(f"{path}: not valid JSON ({err.msg} at line {err.lineno}); ignored", warn)
    if isinstance(obj, dict) and obj.get("schema_version") != SCHEMA_VERSION:
        return _none(f"{path}: schema_version {obj.get('schema_version')!r}; this code reads {SCHEMA_VERSION}", warn)
    try:
        return SharedInsights.model_validate(obj)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(root)"
        return _none(f"{path}: does not match the shared-insights schema ({where}: {first['msg']}); ignored", warn)


def _none(problem: str, warn: bool = True) -> SharedInsights:
    if warn:
        log.warning("no insights: %s", problem)
    return SharedInsights.none(problem)


def write_insights(insights: SharedInsights, path: Path) -> None:
    """Replace ``path`` atomically: write a temporary file beside it, fsync, rename, fsync the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(insights.model_dump_json(indent=2))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
