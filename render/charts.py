"""The report's charts: matplotlib, drawn offline (Agg) as PNG bytes, deterministic for the same data.

PNGs carry no timestamp and no software tag, so rebuilding a day gives byte-identical charts (the
report is idempotent). Large series are thinned to what a 900-pixel-wide chart can show.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd

MAX_POINTS = 4000
PNG_META = {"Software": None}


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72, metadata=PNG_META)
    plt.close(fig)
    return buf.getvalue()


def _thin(df: pd.DataFrame) -> pd.DataFrame:
    if len(df) <= MAX_POINTS:
        return df
    step = -(-len(df) // MAX_POINTS)
    return df.iloc[::step]


def net_delta(path: pd.DataFrame, symbol_by_run: dict[str, str]) -> bytes:
    """Net delta after every fill, per run (a step line: the exposure carried until the next fill)."""
    fig, ax = plt.subplots(figsize=(11, 3.2), layout="constrained")
    for run_id, g in path.groupby("run_id", sort=True):
        g = _thin(g)
        ax.step(g.ts, g.net_delta, where="post", linewidth=0.9,
                label=f"{run_id} ({symbol_by_run.get(str(run_id), '')})")
    ax.axhline(0, color="#888", linewidth=0.6)
    ax.set_ylabel("net delta (base units)")
    ax.set_title("Net delta over time (after every fill, all venues)")
    if path.run_id.nunique() <= 8:
        ax.legend(fontsize=7, loc="upper right")
    fig.autofmt_xdate()
    return _png(fig)


def edges(cycles: pd.DataFrame) -> bytes:
    """Edge per cycle, open vs close."""
    fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
    for kind, color in (("open", "#2a7"), ("close", "#c44")):
        e = cycles[(cycles.kind == kind)].edge_bps.dropna()
        if len(e):
            ax.hist(e, bins=30, alpha=0.6, color=color, label=f"{kind} ({len(e)})")
    ax.axvline(0, color="#888", linewidth=0.6)
    ax.set_xlabel("edge (bps)")
    ax.set_title("Edge per cycle: open vs close")
    ax.legend(fontsize=8)
    return _png(fig)


def fill_success(fs: pd.DataFrame) -> bytes:
    """Share of the size asked for that executed, by venue, order type and size."""
    fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
    labels = [f"{r.venue} {r.type.lower()} {r.size}" for r in fs.itertuples()]
    ax.barh(labels, fs.filled_share, color="#47a")
    ax.set_xlim(0, 1)
    ax.set_xlabel("filled share")
    ax.set_title("Fill success by order size")
    ax.tick_params(axis="y", labelsize=7)
    return _png(fig)


def pnl_by_run(runs: pd.DataFrame) -> bytes:
    fig, ax = plt.subplots(figsize=(6, 2.6), layout="constrained")
    colors = ["#2a7" if x >= 0 else "#c44" for x in runs.net_pnl]
    ax.bar(range(len(runs)), runs.net_pnl, color=colors)
    ax.set_xticks(range(len(runs)), [str(r) for r in runs.run_id], rotation=30, ha="right", fontsize=7)
    ax.axhline(0, color="#888", linewidth=0.6)
    ax.set_ylabel("net PnL (USD)")
    ax.set_title("Net PnL per run")
    return _png(fig)


def sentiment(s: pd.DataFrame) -> bytes:
    fig, ax = plt.subplots(figsize=(11, 3), layout="constrained")
    for (source, metric, symbol), g in s.groupby(["source", "metric", "symbol"], sort=True):
        g = _thin(g)
        ax.plot(g.ts, g.value, linewidth=0.9, label=f"{source} {metric} {symbol}".strip())
    ax.set_title("Sentiment over the day")
    ax.legend(fontsize=7, loc="upper right")
    fig.autofmt_xdate()
    return _png(fig)


def markouts(m: pd.DataFrame) -> bytes:
    """Average signed markout (bps) 1, 10 and 60 s after a fill, by side (positive: the mid moved our way)."""
    fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
    for r in m.itertuples():
        ax.plot([1, 10, 60], [r.m1, r.m10, r.m60], marker="o", label=f"{r.side} ({r.fills} fills)")
    ax.axhline(0, color="#888", linewidth=0.6)
    ax.set_xscale("log")
    ax.set_xticks([1, 10, 60], ["1 s", "10 s", "60 s"])
    ax.set_ylabel("markout (bps)")
    ax.set_title("Markout curves by side")
    ax.legend(fontsize=8)
    return _png(fig)


def inventory(inv: pd.DataFrame) -> bytes:
    fig, ax = plt.subplots(figsize=(11, 3), layout="constrained")
    for run_id, g in inv.groupby("run_id", sort=True):
        g = _thin(g)
        ax.step(g.ts, g.inventory, where="post", linewidth=0.9, label=str(run_id))
    ax.axhline(0, color="#888", linewidth=0.6)
    ax.set_ylabel("inventory (base units)")
    ax.set_title("Grid inventory over time (after every fill)")
    ax.legend(fontsize=7, loc="upper right")
    fig.autofmt_xdate()
    return _png(fig)
