"""A hedge run's outcome and its summary, as the product notes' test summaries showed it."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from core.records import CycleRecord, RiskEvent
from core.types import ZERO
from exchanges.fees import FeeRates

if TYPE_CHECKING:
    from strategies.hedge.strategy import HedgeStrategy
    from strategies.runtime.runner import RunOutcome


@dataclass
class RunResult:
    run_id: str
    status: str  # COMPLETED | FAILED | CANCELLED
    reason: str
    symbol: str
    venues: tuple[str, str]  # primary, hedge
    cycles: list[CycleRecord]
    risk_events: list[RiskEvent]
    positions: dict[str, Decimal]  # final, read from the venues
    marks: dict[str, Decimal]  # final mid prices
    cash: dict[str, Decimal]  # sum of -signed notional - fee over every fill of the run
    fees: dict[str, Decimal]
    volume: dict[str, Decimal]  # traded notional
    residual: Decimal
    hedge_failures: int
    recoveries: int
    max_abs_net: Decimal
    net_samples: list[tuple[float, Decimal]]
    started: float
    ended: float
    tolerance: Decimal
    reaction_s: list[float] = field(default_factory=list)  # fill received -> hedge order sent
    reaction_cpu_s: list[float] = field(default_factory=list)  # the same span in CPU time
    fee_rates: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # venue -> (maker, taker) charged


def hedge_result(outcome: RunOutcome, strategy: HedgeStrategy) -> RunResult:
    """The hedge bot's view of a run the kernel's runner ran."""
    return RunResult(
        run_id=outcome.run_id, status=outcome.status, reason=outcome.reason, symbol=outcome.symbol,
        venues=(strategy.pv, strategy.hv), cycles=list(outcome.records.get("cycle", [])),
        risk_events=outcome.risk_events, positions=outcome.positions, marks=outcome.marks, cash=outcome.cash,
        fees=outcome.fees, volume=outcome.volume, residual=strategy.residual,
        hedge_failures=strategy.stats.hedge_failures, recoveries=strategy.stats.recoveries,
        max_abs_net=outcome.max_abs_net, net_samples=outcome.net_samples, started=outcome.started,
        ended=outcome.ended, tolerance=outcome.tolerance, reaction_s=outcome.reaction_s,
        reaction_cpu_s=outcome.reaction_cpu_s,
        fee_rates={v: (i.maker_fee, i.taker_fee) for v, i in outcome.instruments.items()})


@dataclass(frozen=True)
class HedgeSummary:
    run_id: str
    status: str
    reason: str
    symbol: str
    cycles: int
    open_cycles: int
    close_cycles: int
    volume: Decimal
    volume_by_venue: dict[str, Decimal]
    gross_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal
    pnl_pct: Decimal  # net PnL / volume, percent
    cost_per_million: Decimal  # -net PnL per 1M USD of volume
    avg_edge_bps: Decimal | None
    open_edge_bps: Decimal | None
    close_edge_bps: Decimal | None
    hedge_failures: int
    recoveries: int
    positions: dict[str, Decimal]
    net_delta: Decimal
    clean: bool
    max_abs_net: Decimal
    tw_abs_net: Decimal  # time-weighted |net delta|
    residual: Decimal  # carried hedge quantity below the hedge venue's minimum size
    hedge_latency_ms_p50: float | None
    duration_s: float
    mode: str = ""  # backtest | paper | live (core.modes); "" when unknown
    clock: str = "real"  # virtual: duration_s is simulated time
    fee_rates: dict[str, str] = field(default_factory=dict)  # venue -> "maker/taker" bps the account paid


def _weighted_edge(cycles: list[CycleRecord]) -> Decimal | None:
    rows = [(c.edge_bps, c.size) for c in cycles if c.edge_bps is not None and c.size > 0]
    weight = sum((s for _, s in rows), ZERO)
    if not weight:
        return None
    return (sum((e * s for e, s in rows), ZERO) / weight).quantize(Decimal("0.01"))


def time_weighted_abs(samples: list[tuple[float, Decimal]], start: float, end: float) -> Decimal:
    if end <= start or not samples:
        return ZERO
    total = ZERO
    prev_t, prev_v = start, ZERO
    for t, v in samples:
        t = min(max(t, start), end)
        total += abs(prev_v) * Decimal(t - prev_t)
        prev_t, prev_v = t, v
    total += abs(prev_v) * Decimal(end - prev_t)
    return total / Decimal(end - start)


def summarize(r: RunResult, *, mode: str = "", clock: str = "real") -> HedgeSummary:
    fees = sum(r.fees.values(), ZERO)
    net = sum(r.cash.values(), ZERO) + sum((p * r.marks.get(v, ZERO) for v, p in r.positions.items()), ZERO)
    volume = sum(r.volume.values(), ZERO)
    net_delta = sum(r.positions.values(), ZERO)
    latencies = [c.hedge_latency_ms for c in r.cycles if c.hedge_latency_ms is not None]
    return HedgeSummary(
        run_id=r.run_id, status=r.status, reason=r.reason, symbol=r.symbol, cycles=len(r.cycles),
        open_cycles=sum(1 for c in r.cycles if c.kind == "open"),
        close_cycles=sum(1 for c in r.cycles if c.kind == "close"),
        volume=volume, volume_by_venue=dict(r.volume), gross_pnl=net + fees, fees=fees, net_pnl=net,
        pnl_pct=(net / volume * 100) if volume else ZERO,
        cost_per_million=(-net / volume * 1_000_000) if volume else ZERO,
        avg_edge_bps=_weighted_edge(r.cycles),
        open_edge_bps=_weighted_edge([c for c in r.cycles if c.kind == "open"]),
        close_edge_bps=_weighted_edge([c for c in r.cycles if c.kind == "close"]),
        hedge_failures=r.hedge_failures, recoveries=r.recoveries, positions=dict(r.positions),
        net_delta=net_delta, clean=abs(net_delta) <= r.tolerance, max_abs_net=r.max_abs_net,
        residual=r.residual,
        tw_abs_net=time_weighted_abs(r.net_samples, r.started, r.ended),
        hedge_latency_ms_p50=statistics.median(latencies) if latencies else None,
        duration_s=r.ended - r.started, mode=mode, clock=clock,
        fee_rates={v: FeeRates(m, t).bps() for v, (m, t) in r.fee_rates.items()},
    )


def summary_rows(s: HedgeSummary) -> list[tuple[str, str]]:
    """Label/value rows for the CLI and the Prefect markdown artifact."""
    def bps(x: Decimal | None) -> str:
        return "-" if x is None else f"{x:+.2f} bps"

    rows = [
        ("status", f"{s.status} - {s.reason}"),
        ("cycles", f"{s.cycles} ({s.open_cycles} open, {s.close_cycles} close)"),
        ("volume", f"{s.volume:,.2f} USD (" + ", ".join(f"{v} {x:,.2f}" for v, x in s.volume_by_venue.items()) + ")"),
        ("gross PnL", f"{s.gross_pnl:+.4f} USD"),
        ("fees", f"{s.fees:.4f} USD"),
        ("net PnL", f"{s.net_pnl:+.4f} USD ({s.pnl_pct:+.4f}% of volume)"),
        ("cost per $1M volume", f"{s.cost_per_million:,.2f} USD"),
        ("average edge", bps(s.avg_edge_bps)),
        ("open vs close edge", f"{bps(s.open_edge_bps)} / {bps(s.close_edge_bps)}"),
        ("hedge failures / recoveries", f"{s.hedge_failures} / {s.recoveries}"),
        ("hedge latency p50", "-" if s.hedge_latency_ms_p50 is None else f"{s.hedge_latency_ms_p50:,.0f} ms"),
        ("max / time-weighted abs net delta", f"{s.max_abs_net} / {s.tw_abs_net:.5f} {s.symbol}"),
        ("residual delta carried", f"{s.residual} {s.symbol}"),
    ]
    rows += [(f"final position {v}", f"{p} {s.symbol}") for v, p in s.positions.items()]
    rows.append(("net delta", f"{s.net_delta} {s.symbol} - {'CLEAN' if s.clean else 'IMBALANCED'}"))
    if s.clock == "virtual":  # a backtest's timestamps are simulated: never read them as wall-clock time
        rows.append(("duration (simulated)", f"{s.duration_s / 60:,.1f} min of simulated time"))
    else:
        rows.append(("duration", f"{s.duration_s / 60:,.1f} min"))
    if s.mode:
        rows.append(("mode", f"{s.mode} ({s.clock} clock)"))
    if s.fee_rates:
        rows.append(("fee rates maker/taker", ", ".join(f"{v} {r} bps" for v, r in s.fee_rates.items())))
    return rows
