"""The daily post-mortem report: one self-contained HTML file and the same content as Markdown.

The HTML embeds its charts as base64 PNG and its styles inline: it opens offline and fetches
nothing. The Markdown shows the same sections and tables and links the same charts, written beside
it as PNG files. Both come from Jinja2 templates (``render/templates/``) over a ``Day`` read from
the warehouse (``warehouse/daily.py``); nothing here computes a figure of its own except
formatting. The output depends only on the data, never on when it is built.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from render import charts
from render.findings import findings, review_recommendations
from render.summary import MODES, taker_reasons
from warehouse.daily import Day

TEMPLATES = Path(__file__).with_name("templates")


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Chart:
    name: str
    title: str
    png: bytes

    @property
    def b64(self) -> str:
        return base64.b64encode(self.png).decode()

    @property
    def file(self) -> str:
        return f"charts/{self.name}.png"


@dataclass
class Section:
    key: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[tuple[str, Table]] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    items: list[str] = field(default_factory=list)


def cell(value: Any, places: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:,.{places}f}"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def table(df: pd.DataFrame, columns: dict[str, str], places: dict[str, int] | None = None) -> Table:
    places = places or {}
    rows = [[cell(getattr(r, c), places.get(c, 4)) for c in columns] for r in df.itertuples()]
    return Table(list(columns.values()), rows)


def _executive(day: Day) -> Section:
    s = Section("summary", "Executive summary")
    if not day.active:
        s.paragraphs.append("No activity: no bot run started on this day.")
        return s
    for b in day.bots.itertuples():
        s.items.append(f"{b.bot} ({b.mode}): {b.runs} run(s), {b.cycles} cycles, volume {b.volume:,.2f} USD, "
                       f"fees {b.fees:,.6f} USD, net PnL {b.net_pnl:+,.6f} USD, cost per $1M "
                       f"{cell(b.cost_per_1m, 2)} USD; incidents: {b.hedge_failures} hedge failure(s), "
                       f"{b.halts} halt(s), {b.failed_runs} failed run(s), {b.imbalanced_runs} imbalanced.")
    s.tables.append(("Per bot", table(day.bots, {
        "bot": "bot", "mode": "mode", "runs": "runs", "cycles": "cycles", "fills": "fills", "volume": "volume USD",
        "fees": "fees USD", "gross_pnl": "gross PnL", "net_pnl": "net PnL", "cost_per_1m": "cost per $1M",
        "hedge_failures": "hedge failures", "halts": "halts"}, {"volume": 2, "fees": 6, "gross_pnl": 6,
                                                                  "net_pnl": 6, "cost_per_1m": 2})))
    s.tables.append(("Runs", table(day.runs, {
        "run_id": "run", "bot": "bot", "symbol": "symbol", "mode": "mode", "status": "status", "cycles": "cycles",
        "volume": "volume USD", "fees": "fees", "net_pnl": "net PnL", "cost_per_1m": "cost per $1M",
        "net_delta_state": "net delta"}, {"volume": 2, "fees": 6, "net_pnl": 6, "cost_per_1m": 2})))
    if not day.incidents.empty:
        s.tables.append(("Incidents", table(day.incidents, {
            "ts": "time", "run_id": "run", "check_name": "check", "reason": "reason", "state_to": "state",
            "detail": "detail"})))
    if len(day.runs) > 1:
        s.charts.append(Chart("pnl_by_run", "Net PnL per run", charts.pnl_by_run(day.runs)))
    simulated = sorted(set(day.runs[day.runs.clock == "virtual"].run_id))
    if simulated:
        s.paragraphs.append(f"{MODES['backtest'].capitalize()}: {', '.join(simulated)}.")
    return s


def _hedge(day: Day) -> Section | None:
    runs = day.hedge_runs
    if runs.empty:
        return None
    s = Section("hedge", "Hedge bot")
    ids = set(runs.run_id)
    s.tables.append(("Runs", table(runs, {
        "run_id": "run", "symbol": "symbol", "status": "status", "cycles": "cycles", "volume": "volume USD",
        "gross_pnl": "gross PnL", "fees": "fees", "net_pnl": "net PnL", "cycles_pnl": "in cycles",
        "other_pnl": "outside cycles", "avg_edge_bps": "avg edge bps", "open_edge_bps": "open edge",
        "close_edge_bps": "close edge", "primary_maker_share": "primary maker", "hedge_maker_share": "hedge maker",
        "hedge_failures": "hedge failures", "recovered_cycles": "recovered", "hedge_latency_p50_ms": "hedge p50 ms",
        "max_abs_net_delta": "max |net|", "tw_abs_net_delta": "tw |net|", "final_net_delta": "final net",
        "net_delta_state": "state"}, {"volume": 2, "gross_pnl": 6, "fees": 6, "net_pnl": 6, "cycles_pnl": 6,
                                      "other_pnl": 6, "primary_maker_share": 2, "hedge_maker_share": 2,
                                      "hedge_latency_p50_ms": 1, "tw_abs_net_delta": 6})))
    for r in runs.itertuples():
        s.items.append(f"{r.run_id}: hedge turned taker - {taker_reasons(r._asdict())}.")
    if not day.edges.empty:
        s.tables.append(("Open vs close edge", table(day.edges, {
            "kind": "kind", "cycles": "cycles", "avg_edge_bps": "avg edge bps (size-weighted)",
            "median_edge_bps": "median bps", "net_pnl": "net PnL"}, {"net_pnl": 6})))
    if not day.latency.empty:
        s.tables.append(("Hedge latency (first primary fill to first hedge fill)", table(day.latency, {
            "hedge_venue": "hedge venue", "cycles": "cycles", "p50_ms": "p50 ms", "p90_ms": "p90 ms",
            "max_ms": "max ms"}, {"p50_ms": 1, "p90_ms": 1, "max_ms": 1})))
    venues = day.venues[day.venues.run_id.isin(ids)]
    s.tables.append(("Final positions per venue", table(venues, {
        "run_id": "run", "venue": "venue", "position": "position", "mark": "mark", "fills": "fills",
        "volume": "volume USD", "fees": "fees", "maker_share": "maker share", "net_pnl": "net PnL"},
        {"volume": 2, "fees": 6, "maker_share": 2, "net_pnl": 6})))
    fs = day.fill_success
    if not fs.empty:
        s.tables.append(("Fill success by order size and venue", table(fs, {
            "venue": "venue", "symbol": "symbol", "type": "type", "size": "size", "orders": "orders",
            "full_fills": "full", "partial_fills": "partial", "no_fills": "none", "filled_share": "filled share"},
            {"filled_share": 4})))
        s.charts.append(Chart("fill_success", "Fill success by order size", charts.fill_success(fs)))
    ex = day.executable[day.executable.run_id.isin(ids)]
    if not ex.empty:
        s.tables.append(("Executable size observed vs the book displayed", table(ex, {
            "run_id": "run", "venue": "hedge venue", "symbol": "symbol", "order_size": "clip",
            "displayed_top": "book displayed (top)", "executable_estimate": "pre-trade executable estimate",
            "largest_executed": "largest executed order", "largest_taker_short": "largest taker order not filled"},
            {"order_size": 4, "displayed_top": 4, "executable_estimate": 4, "largest_executed": 4,
             "largest_taker_short": 4})))
    path = day.net_delta[day.net_delta.run_id.isin(ids)]
    if not path.empty:
        s.charts.append(Chart("net_delta", "Net delta over time",
                              charts.net_delta(path, dict(zip(runs.run_id, runs.symbol, strict=True)))))
    cyc = day.cycles[day.cycles.run_id.isin(ids)]
    if not cyc.empty and cyc.edge_bps.notna().any():
        s.charts.append(Chart("edges", "Edge per cycle", charts.edges(cyc)))
    return s


def _verdict(supported: bool | None) -> str:
    return "no data" if supported is None else ("supported" if supported else "not supported")


def grid_verdicts(h: pd.Series) -> list[list[str]]:
    """Hypotheses A-D of the notes' grid investigation, judged on the day's fills."""
    def ok(x: Any) -> bool:
        return x is not None and not (isinstance(x, float) and math.isnan(x))
    a = h.a_markout_60s_bps
    b_add, b_red = h.b_adding_fill_pnl, h.b_reducing_fill_pnl
    c_excess, c_paid = h.c_fee_excess, h.c_fee_paid
    return [
        ["A: adverse selection", _verdict(a < 0 if ok(a) else None),
         f"average 60 s markout {cell(a, 2)} bps over {int(h.fills)} fills"],
        ["B: inventory imbalance", _verdict(b_add < b_red if ok(b_add) and ok(b_red) else None),
         f"fills adding inventory earn {cell(b_add, 6)} USD each, reducing ones {cell(b_red, 6)}"],
        ["C: fee miscalculation", _verdict(c_excess > 0.01 * abs(c_paid) if ok(c_excess) and ok(c_paid) else None),
         f"fees paid above the assumed maker fee: {cell(c_excess, 6)} USD of {cell(c_paid, 6)}"],
        ["D: rounding and slippage", _verdict(h.d_slipped_fills > 0.05 * h.fills if h.fills else None),
         f"{int(h.d_slipped_fills)} fill(s) worse than their order price, costing {cell(h.d_slippage_cost, 6)} USD"],
    ]


def _grid(day: Day) -> Section | None:
    g = day.extra.get("grid")
    if not g:
        return None
    s = Section("grid", "Grid")
    s.tables.append(("PnL split (spread capture, inventory, fees, funding)", table(g["split"], {
        "run_id": "run", "fills": "fills", "spread_capture": "spread capture", "inventory_pnl": "inventory",
        "fees": "fees", "funding": "funding", "total": "total"}, {c: 6 for c in (
            "spread_capture", "inventory_pnl", "fees", "funding", "total")})))
    if not g["hyp"].empty and g["hyp"].iloc[0].fills:
        s.tables.append(("Hypotheses", Table(["hypothesis", "verdict", "evidence"], grid_verdicts(g["hyp"].iloc[0]))))
    if not g["pauses"].empty:
        s.tables.append(("Pause reasons", table(g["pauses"], {"reason": "reason", "pauses": "pauses"})))
    if not g["markouts"].empty:
        s.tables.append(("Markouts by side (bps, positive = the mid moved our way)", table(g["markouts"], {
            "side": "side", "fills": "fills", "m1": "1 s", "m10": "10 s", "m60": "60 s"}, {"m1": 2, "m10": 2,
                                                                                        "m60": 2})))
        s.charts.append(Chart("markouts", "Markout curves by side", charts.markouts(g["markouts"])))
    if not g["inventory"].empty:
        s.charts.append(Chart("inventory", "Grid inventory over time", charts.inventory(g["inventory"])))
    return s


def _agents(day: Day) -> Section | None:
    a = day.extra.get("agents")
    if not a:
        return None
    s = Section("agents", "Agents")
    if a["totals"].empty:
        s.paragraphs.append("No round trip closed by these runs.")
    else:
        s.tables.append(("Round trips", table(a["totals"], {
        "bot": "bot", "trades": "trades", "wins": "wins", "win_rate": "win rate", "notional": "notional USD",
        "gross_pnl": "gross PnL", "fees": "fees", "pnl": "net PnL", "fees_per_trip": "fee drag per round trip",
        "avg_drag_pct": "avg drag %", "median_hold_h": "median hold h", "avg_hold_h": "avg hold h"},
        {"notional": 2, "gross_pnl": 6, "fees": 6, "pnl": 6, "fees_per_trip": 6, "median_hold_h": 2,
         "avg_hold_h": 2})))
        s.tables.append(("Win rate by symbol and direction", table(a["by_symbol"], {
            "symbol": "symbol", "direction": "direction", "trades": "trades", "win_rate": "win rate",
            "pnl": "net PnL"}, {"pnl": 6})))
        s.tables.append(("Exits by rule", table(a["exits"], {
            "exit_rule": "exit rule", "trades": "trades", "pnl": "net PnL", "avg_hold_h": "avg hold h"},
            {"pnl": 6, "avg_hold_h": 2})))
    if not a["calibration"].empty:
        s.tables.append(("Calibration (stated confidence vs realised win rate)", table(a["calibration"], {
            "bucket": "confidence bucket", "trades": "trades", "stated": "stated", "realised": "realised"},
            {"bucket": 1})))
    if not a["modes"].empty:
        s.tables.append(("Mode changes", table(a["modes"], {
            "ts": "time", "run_id": "run", "mode_from": "from", "mode_to": "to", "reason": "reason"})))
    return s


def _intelligence(day: Day) -> Section | None:
    if day.sentiment.empty and day.insights.empty and not day.review:
        return None
    s = Section("intelligence", "Intelligence")
    if not day.sentiment.empty:
        agg = (day.sentiment.groupby(["source", "metric", "symbol"], sort=True)
               .agg(samples=("value", "size"), first=("value", "first"), last=("value", "last"),
                    low=("value", "min"), high=("value", "max"), stale=("stale", "sum")).reset_index())
        s.tables.append(("Sentiment over the day", table(agg, {
            "source": "source", "metric": "metric", "symbol": "symbol", "samples": "samples", "first": "first",
            "last": "last", "low": "low", "high": "high", "stale": "stale samples"})))
        s.charts.append(Chart("sentiment", "Sentiment over the day", charts.sentiment(day.sentiment)))
    if not day.insights.empty:
        s.tables.append(("Insights written or changed", table(day.insights, {
            "ts": "time", "scope": "scope", "topic": "topic", "data": "data", "confidence": "confidence",
            "source": "source"}, {"confidence": 2})))
    if day.review:
        r = day.review
        s.paragraphs.append(f"Latest review: {r['review_id']} by {r['reviewer']}"
                            f"{' (' + r['model'] + ')' if r.get('model') else ''} at {cell(pd.Timestamp(r['ts']))}: "
                            f"{r['summary']}")
        s.items += review_recommendations(r)
    return s


def _recommendations(day: Day) -> Section:
    s = Section("recommendations", "Recommendations")
    rules = findings(day)
    s.items = rules or (["Nothing stood out in the data."] if day.active else [])
    llm = review_recommendations(day.review)
    if llm:
        s.tables.append(("Latest LLM review", Table(["recommendation"], [[x] for x in llm])))
    return s


@dataclass
class Report:
    title: str
    day: Day
    sections: list[Section]

    @property
    def charts(self) -> list[Chart]:
        return [c for s in self.sections for c in s.charts]


def build(day: Day, extra_sections: list[Section] | None = None) -> Report:
    narrowed = f" - bot {day.bot}" if day.bot else ""
    narrowed += f" - run {day.run}" if day.run else ""
    sections = [_executive(day)]
    if day.active:
        sections += [x for x in (_hedge(day), _grid(day), _agents(day)) if x]
        sections += extra_sections or []
    sections += [x for x in (_intelligence(day),) if x]
    if day.active or day.review:
        sections.append(_recommendations(day))
    return Report(f"perpflow daily report {day.date.isoformat()}{narrowed}", day, sections)


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape(["html"]),
                              trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def html(report: Report) -> str:
    return _env().get_template("report.html.j2").render(report=report)


def markdown(report: Report) -> str:
    return _env().get_template("report.md.j2").render(report=report)


def write(report: Report, folder: Path, stem: str = "report") -> dict[str, Path]:
    """Write ``<stem>.html``, ``<stem>.md`` and the charts (for the Markdown) under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {"html": folder / f"{stem}.html", "markdown": folder / f"{stem}.md"}
    charts_dir = folder / "charts"
    for c in report.charts:
        charts_dir.mkdir(exist_ok=True)
        (folder / _chart_file(stem, c)).write_bytes(c.png)
    _atomic(out["html"], html(report))
    _atomic(out["markdown"], markdown(report).replace("](charts/", f"](charts/{stem}-"))
    return out


def _chart_file(stem: str, c: Chart) -> str:
    return f"charts/{stem}-{c.name}.png"


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
