"""Processes the warehouse tests start: journal writers and an analyst. Run as
``python -m tests.warehouse_procs <role> ...``; each prints one JSON line per report."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from decimal import Decimal
from pathlib import Path

from core.types import Fill, Liquidity, Order, OrderStatus, OrderType, Side
from warehouse.journal import Journal


def make_fill(run_id: str, i: int) -> Fill:
    return Fill("paradex", f"{run_id}-o{i // 4}", f"c{i}", f"{run_id}-t{i}", "ETH", Side.BUY if i % 2 else Side.SELL,
                Decimal("3000.01") + Decimal(i % 100) / 100, Decimal("0.013"), Decimal("-0.0000195"), Liquidity.MAKER,
                1_767_571_200.0 + i / 1000, Decimal("3000.00"), Decimal("3000.02"))


def make_order(run_id: str, i: int) -> Order:
    return Order("paradex", f"{run_id}-o{i}", f"c{i}", "ETH", Side.BUY, OrderType.LIMIT, Decimal("3000.01"),
                 Decimal("0.052"), status=OrderStatus.OPEN, post_only=True, ts=1_767_571_200.0 + i / 1000)


async def writer(journal_dir: Path, run_id: str, fills: int, inflight: int) -> None:
    """Append fills (``inflight`` awaiting durability at a time) and orders at full speed."""
    journal = Journal(run_id, journal_dir)
    stamps: list[float] = []
    sem = asyncio.Semaphore(inflight)

    async def one(i: int) -> None:
        async with sem:
            if i % 4 == 0:
                journal.order(make_order(run_id, i // 4))
            await journal.fill(make_fill(run_id, i))
            stamps.append(time.time())
            if i % 500 == 0:
                print(json.dumps({"acked": i}), flush=True)

    await asyncio.gather(*(one(i) for i in range(fills)))
    await journal.close()
    print(json.dumps({"done": fills, "orders": (fills + 3) // 4, "stamps": stamps[:: max(1, len(stamps) // 2000)]}),
          flush=True)


async def crash_writer(journal_dir: Path, run_id: str) -> None:
    """Write fills forever, reporting each one only after ``await fill`` returned (it is durable)."""
    journal = Journal(run_id, journal_dir)
    i = 0
    while True:
        journal.order(make_order(run_id, i))
        await journal.fill(make_fill(run_id, i))
        sys.stdout.write(f"{run_id}-t{i}\n")
        sys.stdout.flush()
        i += 1


def appender(path: Path, start: int, count: int) -> None:
    """Append complete fill lines to ``path`` without a Journal (so without its flock), a few at a
    time: what the loader sees when a writer starts on a journal it is reading in place."""
    import os

    from warehouse import codec

    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for i in range(start, start + count, 10):
            lines = []
            for k in range(i, min(i + 10, start + count)):
                rec = codec.fill("appended", make_fill("appended", k))
                rec["seq"] = k + 1
                lines.append(codec.dumps(rec))
            os.write(fd, b"".join(lines))  # one write of whole lines: never a torn tail
            time.sleep(0.002)
    finally:
        os.close(fd)
    print(json.dumps({"appended": count}), flush=True)


def analyst(published: Path, seconds: float) -> None:
    """Hold a read-only connection and query in a loop; reconnect now and then to see new loads."""
    import duckdb

    errors: list[str] = []
    queries = seen = 0
    end = time.time() + seconds
    while not published.exists() and time.time() < end:
        time.sleep(0.05)
    while time.time() < end:
        try:
            con = duckdb.connect(str(published), read_only=True)
            for _ in range(20):
                row = con.execute("SELECT count(*), count(DISTINCT trade_id) FROM fills").fetchone()
                con.execute("SELECT count(*) FROM live_fills").fetchone()
                seen = max(seen, int(row[0]) if row else 0)
                queries += 2
            con.close()
        except Exception as err:  # every error is reported to the test
            errors.append(f"{type(err).__name__}: {err}")
    print(json.dumps({"queries": queries, "max_fills_seen": seen, "errors": errors[:5], "n_errors": len(errors)}),
          flush=True)


if __name__ == "__main__":
    role = sys.argv[1]
    if role == "writer":
        asyncio.run(writer(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
    elif role == "crash_writer":
        asyncio.run(crash_writer(Path(sys.argv[2]), sys.argv[3]))
    elif role == "analyst":
        analyst(Path(sys.argv[2]), float(sys.argv[3]))
    elif role == "appender":
        appender(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        raise SystemExit(f"role: {role!r}; allowed: writer, crash_writer, analyst, appender")
