"""A grid run's summary and progress, as figures the warehouse gives back for the run.

Every figure is one SQL answers for the run: fills and maker/taker counts (``fill_diagnostics``),
volume, the PnL split (``pnl_split``), the largest |inventory| after a fill, the number of pauses
(``strategy_events``), the final position. The progress view adds what only the live run knows:
the quotes resting now and whether a side is paused.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.types import ZERO
from strategies.grid.pnl import Split

BPS = Decimal(10_000)


@dataclass(frozen=True)
class GridSummary:
    run_id: str
    status: str
    reason: str
    mode: str
    venue: str
    symbol: str
    scenario: str | None
    fills: int
    maker_fills: int
    taker_fills: int
    volume: Decimal
    spread_capture: Decimal
    inventory_pnl: Decimal
    fees: Decimal
    funding: Decimal
    total_pnl: Decimal
    avg_fill_pnl: Decimal  # (spread capture + fees) per fill
    avg_fill_bps: Decimal
    max_abs_inventory: Decimal
    max_position: Decimal
    pauses: int
    final_position: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in self.__dict__.items()}


def summarize(*, run_id: str, status: str, reason: str, mode: str, venue: str, symbol: str,
              scenario: str | None, split: Split | None, maker_fills: int, taker_fills: int,
              max_abs_inventory: Decimal, max_position: Decimal, pauses: int, final_position: Decimal) -> GridSummary:
    s = split or Split(0, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO)
    fill_pnl = s.spread_capture + s.fees
    return GridSummary(
        run_id=run_id, status=status, reason=reason, mode=mode, venue=venue, symbol=symbol, scenario=scenario,
        fills=s.fills, maker_fills=maker_fills, taker_fills=taker_fills, volume=s.volume,
        spread_capture=s.spread_capture, inventory_pnl=s.inventory_pnl, fees=s.fees, funding=s.funding,
        total_pnl=s.total, avg_fill_pnl=fill_pnl / s.fills if s.fills else ZERO,
        avg_fill_bps=fill_pnl / s.volume * BPS if s.volume else ZERO, max_abs_inventory=max_abs_inventory,
        max_position=max_position, pauses=pauses, final_position=final_position)


def summary_rows(s: GridSummary) -> list[tuple[str, Any]]:
    return [
        ("status", f"{s.status}: {s.reason}"),
        ("grid", f"{s.mode} on {s.venue} {s.symbol}" + (f" ({s.scenario})" if s.scenario else "")),
        ("fills (maker / taker)", f"{s.fills} ({s.maker_fills} / {s.taker_fills})"),
        ("volume USD", s.volume.quantize(Decimal("0.01"))),
        ("spread capture USD", s.spread_capture.quantize(Decimal("0.000001"))),
        ("inventory PnL USD", s.inventory_pnl.quantize(Decimal("0.000001"))),
        ("fees USD (rebates +)", s.fees.quantize(Decimal("0.000001"))),
        ("funding USD", s.funding.quantize(Decimal("0.000001"))),
        ("total PnL USD", s.total_pnl.quantize(Decimal("0.000001"))),
        ("avg fill PnL USD", s.avg_fill_pnl.quantize(Decimal("0.000001"))),
        ("avg fill PnL bps", s.avg_fill_bps.quantize(Decimal("0.0001"))),
        ("max |inventory| / limit", f"{s.max_abs_inventory} / {s.max_position}"),
        ("momentum pauses", s.pauses),
        ("final position", s.final_position),
    ]


def progress_markdown(state: dict[str, Any], run_id: str) -> str:
    """The live view of a grid run: inventory, quotes resting, fills, the PnL split, paused or not."""
    split: Split | None = state.get("split")
    paused = state.get("paused") or []
    lines = [f"# Grid run {run_id}", "",
             f"- inventory: {state['inventory']} (limit {state['max_position']})",
             f"- fills: {state['fills']}",
             f"- momentum: {'paused ' + ', '.join(paused) if paused else 'quoting both sides'} "
             f"({state.get('pauses', 0)} pauses, {state.get('paused_seconds', 0.0):.0f} s paused)"]
    if split is not None:
        lines.append(f"- PnL USD: total {split.total:.6f} = spread {split.spread_capture:.6f} + inventory "
                     f"{split.inventory_pnl:.6f} + fees {split.fees:.6f} + funding {split.funding:.6f}")
    quotes = state.get("quotes") or []
    lines += ["", "| quote | price | size |", "|---|---|---|"]
    lines += [f"| {tag} | {price} | {size} |" for tag, price, size in quotes] or ["| (none) | | |"]
    return "\n".join(lines) + "\n"
