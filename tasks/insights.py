"""Shared insights from the warehouse, across every bot: what the ``insights`` flow computes hourly.

Outcomes (one row per thing that won or lost) come from whichever tables exist:

- ``cycles`` (the hedge bot): every cycle, ``kind`` "cycle" — delta-neutral, so its direction is
  which leg was bought, not a market bet: its win rates are shown, but it never blocks a combo;
- ``fill_diagnostics`` (the grid market maker's fills), ``kind`` "fill": won when the 60 s markout
  after the fee is positive (direction: the side of the fill); shown, and never blocks a combo;
- directional trades, ``kind`` "trade", from any of ``TRADE_TABLES`` present in the warehouse
  (the grid and agent bots add theirs) having ``symbol``, ``pnl``, a direction (``direction``
  long/short, or ``side`` BUY/SELL/LONG/SHORT), a time (``closed_at``, ``exit_ts``, ``ended`` or
  ``ts``), optionally ``bot`` (else the table's bot) and ``confidence`` (0..1, the LLM's).

A missing table or column is noted in ``sources`` and skipped, never an error. From them:

- win rate by bot, symbol and direction (and pooled over the trading bots, ``bot`` "*"), with n and
  the Wilson interval at ``InsightsSettings.confidence``;
- blocked combos: a trading combo with at least ``min_trades`` outcomes whose upper bound is under
  50 % and whose pnl is negative — it loses, confidently — blocked for ``block_hours``;
- blackout windows: UTC hours whose losses exceed what each bot's own loss rate predicts for that
  hour (a one-sided stratified z-test at the same level, at least ``blackout_min_sample``
  outcomes, negative pnl), consecutive hours merged;
- confidence calibration: outcomes with a stated confidence, by bucket, realised win rate;
- active positions of running bots (the latest non-zero position per run, venue and symbol);
- the latest combined sentiment;
- what accepted reviews decided (rows of ``insights`` with a ``review_id`` that have not expired).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from core.insights import (
    ActivePosition,
    Blackout,
    BlockedCombo,
    CalibrationBucket,
    ParameterChange,
    SentimentSnapshot,
    SharedInsights,
    SourceStatus,
    Unblock,
    WinRate,
    combo,
)
from core.settings import InsightsSettings
from core.stats import wilson, z_one_sided

TRADE_TABLES = {"agent_trades": "agent"}
MARKOUT_BOTS = ("grid",)  # market makers: each fill is an outcome, won when its 60 s markout (after fee) is positive
TIME_COLUMNS = ("closed_at", "exit_ts", "ended", "ts")
CALIBRATION_EDGES = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
REVIEW_TOPICS = {"blocked_combo": BlockedCombo, "unblock": Unblock, "blackout": Blackout,
                 "parameter_change": ParameterChange}


@dataclass(frozen=True, slots=True)
class Outcome:
    bot: str
    symbol: str
    direction: str  # long | short
    pnl: float
    ts: datetime  # UTC, naive as DuckDB returns it
    kind: str  # trade | cycle
    confidence: float | None = None

    @property
    def won(self) -> bool:
        return self.pnl > 0


# --- reading the warehouse ------------------------------------------------------------------------
def table_columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """Columns of every table and view in the warehouse: what the readers may use (others add tables later)."""
    rows = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                       "WHERE table_catalog = current_database()").fetchall()
    out: dict[str, set[str]] = defaultdict(set)
    for table, column in rows:
        out[table].add(column)
    return out


def naive_utc(ts: datetime) -> datetime:
    """DuckDB's TIMESTAMP columns hold naive UTC."""
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


def read_outcomes(con: duckdb.DuckDBPyConnection, since: datetime) -> tuple[list[Outcome], list[SourceStatus]]:
    cols = table_columns(con)
    out: list[Outcome] = []
    status: list[SourceStatus] = []
    since = naive_utc(since)
    if {"bot", "symbol", "direction", "pnl", "started"} <= cols.get("cycles", set()):
        rows = con.execute("""
            SELECT coalesce(bot, 'hedge'), symbol, direction, CAST(pnl AS DOUBLE), coalesce(ended, started)
            FROM cycles WHERE pnl IS NOT NULL AND direction IN ('long', 'short') AND coalesce(ended, started) >= ?
            ORDER BY 5""", [since]).fetchall()
        out += [Outcome(b, s, d, p, t, "cycle") for b, s, d, p, t in rows]
        status.append(SourceStatus(name="cycles", rows=len(rows)))
    else:
        status.append(SourceStatus(name="cycles", rows=0, note="table absent"))
    if {"bot", "symbol", "side", "ts", "markout_60s_pnl"} <= cols.get("fill_diagnostics", set()):
        bots = ", ".join(f"'{b}'" for b in MARKOUT_BOTS)
        rows = con.execute(f"""
            SELECT bot, symbol, CASE side WHEN 'BUY' THEN 'long' ELSE 'short' END, markout_60s_pnl, ts
            FROM fill_diagnostics
            WHERE bot IN ({bots}) AND markout_60s_pnl IS NOT NULL AND ts >= ? ORDER BY ts""", [since]).fetchall()
        out += [Outcome(b, s, d, p, t, "fill") for b, s, d, p, t in rows]
        status.append(SourceStatus(name="fill_diagnostics", rows=len(rows), note="grid fills, 60 s markout after fee"))
    for table, default_bot in TRADE_TABLES.items():
        have = cols.get(table)
        if have is None:
            continue
        direction = "direction" if "direction" in have else "side" if "side" in have else None
        when = next((c for c in TIME_COLUMNS if c in have), None)
        missing = [n for n, ok in (("symbol", "symbol" in have), ("pnl", "pnl" in have),
                                   ("direction or side", direction), ("a time column", when)) if not ok]
        if missing:
            status.append(SourceStatus(name=table, rows=0, note="skipped: no " + ", ".join(missing)))
            continue
        bot = "bot" if "bot" in have else f"'{default_bot}'"
        conf = "CAST(confidence AS DOUBLE)" if "confidence" in have else "NULL"
        rows = con.execute(f"""
            SELECT coalesce({bot}, '{default_bot}'), symbol, lower(CAST({direction} AS VARCHAR)), CAST(pnl AS DOUBLE),
                   CAST({when} AS TIMESTAMP), {conf}
            FROM {table} WHERE pnl IS NOT NULL AND CAST({when} AS TIMESTAMP) >= ? ORDER BY 5""", [since]).fetchall()
        n = 0
        for b, s, d, p, t, c in rows:
            d = {"buy": "long", "sell": "short"}.get(d, d)
            if d in ("long", "short"):
                out.append(Outcome(b, s, d, p, t, "trade", c))
                n += 1
        status.append(SourceStatus(name=table, rows=n, note=f"{len(rows) - n} without a direction" if n < len(rows)
                                   else ""))
    return out, status


def read_positions(con: duckdb.DuckDBPyConnection) -> list[ActivePosition]:
    cols = table_columns(con)
    if "positions" not in cols or "runs" not in cols:
        return []
    rows = con.execute("""
        WITH latest AS (
            SELECT p.run_id, p.venue, p.symbol, arg_max(CAST(p.size AS DOUBLE), p.ts) AS size, max(p.ts) AS ts
            FROM positions p GROUP BY p.run_id, p.venue, p.symbol)
        SELECT r.bot, l.run_id, l.venue, l.symbol, l.size, l.ts
        FROM latest l JOIN runs r ON r.run_id = l.run_id
        WHERE r.status = 'RUNNING' AND l.size <> 0 ORDER BY r.bot, l.run_id, l.venue, l.symbol""").fetchall()
    return [ActivePosition(bot=b or "?", run_id=r, venue=v, symbol=s, size=z, ts=t.replace(tzinfo=UTC))
            for b, r, v, s, z, t in rows]


def read_sentiment(con: duckdb.DuckDBPyConnection) -> SentimentSnapshot | None:
    if "sentiment" not in table_columns(con):
        return None
    rows = con.execute("""
        SELECT symbol, value, ts, detail FROM sentiment
        WHERE source = 'combined' AND metric = 'score'
          AND run_id = (SELECT arg_max(run_id, ts) FROM sentiment WHERE source = 'combined' AND metric = 'score')
        ORDER BY symbol NULLS FIRST""").fetchall()
    if not rows:
        return None
    market = next((r for r in rows if r[0] is None), None)
    ts = max(r[2] for r in rows).replace(tzinfo=UTC)
    return SentimentSnapshot(ts=ts, market=market[1] if market else 0.0,
                             symbols={r[0]: r[1] for r in rows if r[0] is not None},
                             detail=market[3] if market else "no market-wide score")


def read_review_items(con: duckdb.DuckDBPyConnection, now: datetime) -> list[Any]:
    """Recommendations of accepted reviews still in force: the rows the review flow wrote
    (``insight_id`` ``review/<review id>/<n>``; each hourly version carries copies, not read back)."""
    if "review_id" not in table_columns(con).get("insights", set()):
        return []
    rows = con.execute("""
        SELECT topic, data FROM insights
        WHERE review_id IS NOT NULL AND insight_id LIKE 'review/%' AND expires > ? ORDER BY ts, insight_id""",
                       [naive_utc(now)]).fetchall()
    items = []
    for topic, data in rows:
        model = REVIEW_TOPICS.get(topic)
        if model is not None:
            items.append(model.model_validate(json.loads(data) if isinstance(data, str) else data))
    return items


# --- computing ------------------------------------------------------------------------------------------
def win_rates(outcomes: list[Outcome], level: float) -> list[WinRate]:
    groups: dict[tuple[str, str, str, str], list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[(o.bot, o.symbol, o.direction, o.kind)].append(o)
        if o.kind == "trade":
            groups[("*", o.symbol, o.direction, "trade")].append(o)
    out = []
    for (bot, symbol, direction, kind), os_ in sorted(groups.items()):
        wins = sum(o.won for o in os_)
        lo, hi = wilson(wins, len(os_), level)
        out.append(WinRate(bot=bot, symbol=symbol, direction=direction, n=len(os_), wins=wins,  # type: ignore[arg-type]
                           win_rate=wins / len(os_), lower=lo, upper=hi, pnl=sum(o.pnl for o in os_), kind=kind))
    return out


def blocked_combos(rates: list[WinRate], s: InsightsSettings, now: datetime) -> list[BlockedCombo]:
    out = []
    for r in rates:
        if r.kind != "trade" or r.n < s.min_trades or r.upper >= 0.5 or r.pnl >= 0:
            continue
        out.append(BlockedCombo(
            combo=combo(r.symbol, r.direction), symbol=r.symbol, direction=r.direction,
            bots=None if r.bot == "*" else [r.bot], until=now + timedelta(hours=s.block_hours), source="statistics",
            reason=f"{'all trading bots' if r.bot == '*' else r.bot}: won {r.wins} of {r.n} ({r.win_rate:.0%}), "
                   f"{s.confidence:.0%} upper bound {r.upper:.0%} < 50%, pnl {r.pnl:+.2f}"))
    return out


def blackouts(outcomes: list[Outcome], s: InsightsSettings, now: datetime) -> list[Blackout]:
    """UTC hours losing more than each bot's own loss rate predicts (stratified one-sided z-test)."""
    base: dict[str, tuple[int, int]] = {}
    for bot in {o.bot for o in outcomes}:
        mine = [o for o in outcomes if o.bot == bot]
        base[bot] = (sum(not o.won for o in mine), len(mine))
    z_crit = z_one_sided(s.confidence)
    hours = []
    for h in range(24):
        at = [o for o in outcomes if o.ts.hour == h]
        n = len(at)
        if n < s.blackout_min_sample:
            continue
        losses = sum(not o.won for o in at)
        expected = variance = 0.0
        for o in at:
            lost, total = base[o.bot]
            p = lost / total
            expected += p
            variance += p * (1 - p)
        pnl = sum(o.pnl for o in at)
        if variance <= 0 or pnl >= 0:
            continue
        z = (losses - expected) / math.sqrt(variance)
        if z > z_crit:
            hours.append((h, n, losses, expected, z, pnl))
    groups: list[list[tuple[int, int, int, float, float, float]]] = []
    for h, n, losses, expected, z, pnl in hours:
        if groups and groups[-1][-1][0] == h - 1:
            groups[-1].append((h, n, losses, expected, z, pnl))
        else:
            groups.append([(h, n, losses, expected, z, pnl)])
    windows = []
    for g in groups:
        n = sum(x[1] for x in g)
        losses = sum(x[2] for x in g)
        expected = sum(x[3] for x in g)
        pnl = sum(x[5] for x in g)
        each = "; ".join(f"{h:02d}h lost {lost}/{m} (z {z:.1f})" for h, m, lost, _, z, _ in g)
        windows.append(Blackout(start_hour=g[0][0], end_hour=g[-1][0] + 1, n=n, loss_rate=losses / n,
                                lower=wilson(losses, n, s.confidence)[0], baseline=expected / n,
                                until=now + timedelta(hours=s.blackout_hours), source="statistics",
                                reason=f"lost {losses}/{n} against {expected:.1f} expected from each bot's own loss "
                                       f"rate, pnl {pnl:+.2f}: {each}"))
    return windows


def calibration(outcomes: list[Outcome], level: float) -> list[CalibrationBucket]:
    out = []
    for lo, hi in itertools.pairwise(CALIBRATION_EDGES):
        at = [o for o in outcomes if o.confidence is not None and (lo <= o.confidence < hi or
                                                                   (hi == 1.0 and o.confidence == 1.0))]
        if not at:
            continue
        wins = sum(o.won for o in at)
        wl, wh = wilson(wins, len(at), level)
        out.append(CalibrationBucket(lo=lo, hi=hi, n=len(at), wins=wins, win_rate=wins / len(at), lower=wl,
                                      upper=wh))
    return out


def compute(con: duckdb.DuckDBPyConnection, s: InsightsSettings, now: datetime) -> SharedInsights:
    """Every insight from one read-only connection to the warehouse, at ``now`` (aware, UTC)."""
    since = now - timedelta(days=s.window_days)
    outcomes, sources = read_outcomes(con, since)
    rates = win_rates(outcomes, s.confidence)
    reviewed = read_review_items(con, now)
    return assemble(now=now, since=since, s=s, sources=sources, rates=rates,
                    blocked=blocked_combos(rates, s, now), blackout=blackouts(outcomes, s, now),
                    calib=calibration(outcomes, s.confidence), positions=read_positions(con),
                    sentiment=read_sentiment(con), reviewed=reviewed)


def assemble(*, now: datetime, since: datetime, s: InsightsSettings, sources: list[SourceStatus],
             rates: list[WinRate], blocked: list[BlockedCombo], blackout: list[Blackout],
             calib: list[CalibrationBucket], positions: list[ActivePosition], sentiment: SentimentSnapshot | None,
             reviewed: list[Any]) -> SharedInsights:
    """One versioned object: statistics plus the reviews' recommendations in force (merged, review last)."""
    blocked = blocked + [x for x in reviewed if isinstance(x, BlockedCombo)]
    blackout = blackout + [x for x in reviewed if isinstance(x, Blackout)]
    unblocked = [x for x in reviewed if isinstance(x, Unblock)]
    changes = [x for x in reviewed if isinstance(x, ParameterChange)]
    review_ids = sorted({x.review_id for x in reviewed if x.review_id})
    body = dict(generated_at=now, window_start=since, confidence_level=s.confidence, sources=sources, win_rates=rates,
                blocked=blocked, unblocked=unblocked, blackouts=blackout, calibration=calib,
                active_positions=positions, sentiment=sentiment, parameter_changes=changes, reviews=review_ids)
    draft = SharedInsights(version="draft", **body)  # type: ignore[arg-type]
    digest = hashlib.sha256(draft.model_dump_json(exclude={"version", "generated_at"}).encode()).hexdigest()[:10]
    return draft.model_copy(update={"version": f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{digest}"})


# --- rows and diff ----------------------------------------------------------------------------------------
def rows(ins: SharedInsights) -> list[dict[str, Any]]:
    """The ``insight`` journal records of one version: one per item, and a ``snapshot`` row."""
    ts = ins.generated_at.timestamp()
    out: list[dict[str, Any]] = []

    def add(topic: str, key: str, item: Any, scope: str, source: str = "statistics", confidence: float | None = None,
            expires: datetime | None = None, review_id: str | None = None) -> None:
        out.append(dict(insight_id=f"{ins.version}/{topic}/{key}", ts=ts, scope=scope, topic=topic,
                        data=item.model_dump(mode="json"), confidence=confidence, source=source, version=ins.version,
                        expires=expires.timestamp() if expires else None, review_id=review_id))

    for r in ins.win_rates:
        add("win_rate", f"{r.bot}/{combo(r.symbol, r.direction)}/{r.kind}", r, r.bot, confidence=r.lower)
    for b in ins.blocked:
        add("blocked_combo", f"{b.source}/{','.join(b.bots or ['*'])}/{b.combo}", b, ",".join(b.bots or ["*"]),
            b.source, expires=b.until, review_id=b.review_id)
    for u in ins.unblocked:
        add("unblock", f"{','.join(u.bots or ['*'])}/{u.combo}", u, ",".join(u.bots or ["*"]), "review",
            expires=u.until, review_id=u.review_id)
    for w in ins.blackouts:
        add("blackout", f"{w.source}/{w.start_hour:02d}-{w.end_hour:02d}", w, "*", w.source, expires=w.until,
            review_id=w.review_id)
    for c in ins.calibration:
        add("calibration", f"{c.lo:.1f}-{c.hi:.1f}", c, "*", confidence=c.win_rate)
    for p in ins.active_positions:
        add("active_position", f"{p.run_id}/{p.venue}/{p.symbol}", p, p.bot)
    if ins.sentiment is not None:
        add("sentiment", "latest", ins.sentiment, "*", confidence=None)
    for ch in ins.parameter_changes:
        add("parameter_change", f"{ch.bot}/{ch.param}", ch, ch.bot, "review", expires=ch.until,
            review_id=ch.review_id)
    out.append(dict(insight_id=f"{ins.version}/snapshot", ts=ts, scope="*", topic="snapshot",
                    data={"version": ins.version, "counts": counts(ins), "reviews": ins.reviews,
                          "sources": [x.model_dump() for x in ins.sources]},
                    confidence=None, source="statistics", version=ins.version, expires=None, review_id=None))
    return out


def counts(ins: SharedInsights) -> dict[str, int]:
    return {"win_rates": len(ins.win_rates), "blocked": len(ins.blocked), "unblocked": len(ins.unblocked),
            "blackouts": len(ins.blackouts), "calibration": len(ins.calibration),
            "active_positions": len(ins.active_positions), "parameter_changes": len(ins.parameter_changes)}


def diff_markdown(old: SharedInsights, new: SharedInsights) -> str:
    """What changed since the previous export, for the flow's artifact."""
    lines = [f"# Shared insights {new.version}", ""]
    lines.append(f"Previous: {old.version if old.present else 'none (' + (old.problem or '') + ')'}")
    lines.append("")

    def section(title: str, before: set[str], after: set[str]) -> None:
        added, removed = sorted(after - before), sorted(before - after)
        lines.append(f"## {title}: {len(after)} now")
        lines.extend(f"- added {x}" for x in added)
        lines.extend(f"- removed {x}" for x in removed)
        if not added and not removed:
            lines.append("- unchanged")
        lines.append("")

    def blocks(i: SharedInsights) -> set[str]:
        return {f"{b.combo} for {','.join(b.bots or ['every bot'])} ({b.source}"
                f"{' ' + b.review_id if b.review_id else ''})" for b in i.blocked}

    def windows(i: SharedInsights) -> set[str]:
        return {f"{w.start_hour:02d}:00-{w.end_hour:02d}:00 UTC ({w.source})" for w in i.blackouts}

    section("Blocked combos", blocks(old), blocks(new))
    section("Blackout windows", windows(old), windows(new))
    section("Parameter changes", {f"{c.bot}.{c.param} = {c.value:g}" for c in old.parameter_changes},
            {f"{c.bot}.{c.param} = {c.value:g}" for c in new.parameter_changes})
    lines.append("## Win rates")
    lines.append("| bot | combo | kind | n | win rate | bound | change |")
    lines.append("|---|---|---|---:|---:|---|---:|")
    prev = {(r.bot, r.symbol, r.direction, r.kind): r for r in old.win_rates}
    for r in new.win_rates:
        p = prev.get((r.bot, r.symbol, r.direction, r.kind))
        change = f"{(r.win_rate - p.win_rate) * 100:+.1f} pt" if p else "new"
        lines.append(f"| {r.bot} | {combo(r.symbol, r.direction)} | {r.kind} | {r.n} | {r.win_rate:.1%} | "
                     f"{r.lower:.1%}-{r.upper:.1%} | {change} |")
    if new.sentiment is not None:
        lines += ["", f"Sentiment {new.sentiment.ts:%Y-%m-%d %H:%M} UTC: market {new.sentiment.market:+.2f}"]
    return "\n".join(lines) + "\n"
