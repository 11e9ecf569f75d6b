"""Paradex adapter overhead against the loopback fake venue, p50/p99.

Per order, each step of ``ParadexVenue.place_limit`` timed on its own: build (the SDK order,
stamped and with its recv_window), sign (Starknet typed-data hash + ECDSA with the account key),
send (``POST /orders`` to the fake, answered 201 NEW) and acknowledge (read back until OPEN),
then the whole ``place_limit`` call. Per stream message: parsing one WebSocket frame (JSON, then
the wire-to-domain conversion) for the bbo, order book and fills channels, on frames captured from
the fake. Loopback and a simulated venue: this is the adapter's own cost, not the network's (the
fake's own time per request is printed too; "send" and "acknowledge" include it).

    .venv/bin/python bench/adapters_paradex.py [--orders 100] [--messages 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import websockets
from pydantic import SecretStr

from core.types import Side
from exchanges.paradex import wire
from exchanges.paradex.adapter import BOOK_CHANNEL, ParadexVenue
from exchanges.paradex.fake import FakeParadex
from exchanges.paradex.stream import WsFeed
from exchanges.sim.flow import StaticSource
from render.tables import text_table

# A published starknet-crypto test vector: a throwaway key for the fake venue only.
KEY = 2708384690123958484688745363115889726043588718997906908187752842753359350371
PUBLIC_KEY = 1673729114437878727516854592246827335452530539480870878860719335128967723895
ADDRESS = "0xbe7c4"


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def row(name: str, samples: list[float], unit: float = 1e3) -> list[Any]:
    return [name, len(samples), pct(samples, 0.5) * unit, pct(samples, 0.99) * unit, statistics.fmean(samples) * unit]


def fake_time(fake: FakeParadex, line: str) -> float:
    """Seconds the fake itself spent on the latest request starting with ``line``."""
    return next(dt for req, dt in reversed(fake.server.handled) if req.startswith(line))


async def bench_orders(fake: FakeParadex, venue: ParadexVenue, n: int) -> list[list[Any]]:
    api, account = venue.api_client, venue.account
    ins = await venue.instrument("SOL")
    price = ins.round_price((await venue.bbo("SOL")).bid * Decimal("0.98"), Side.BUY)
    steps: dict[str, list[float]] = {"build": [], "sign": [], "send (POST /orders)": [], "acknowledge": [],
                                     "  the fake's own share of send + ack": []}
    for i in range(n):
        t0 = time.perf_counter()
        order = venue.build_order("SOL-USD-PERP", Side.BUY, Decimal("0.1"), price, "POST_ONLY", f"b{i}", False)
        t1 = time.perf_counter()
        order.signature = account.sign_order(order)
        t2 = time.perf_counter()
        created = await asyncio.to_thread(api.post, api_url=api.api_url, path="orders", payload=order.dump_to_dict())
        t3 = time.perf_counter()
        await venue.acknowledge(created["id"], f"b{i}")
        t4 = time.perf_counter()
        server = fake_time(fake, "POST /v1/orders") + fake_time(fake, f"GET /v1/orders/{created['id']}")
        for name, dt in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, server), strict=True):
            steps[name].append(dt)
    whole = []
    for i in range(n):
        t0 = time.perf_counter()
        await venue.place_limit("SOL", Side.BUY, price, Decimal("0.1"), client_id=f"p{i}", post_only=True)
        whole.append(time.perf_counter() - t0)
    await venue.cancel_all()
    return [row(k, v) for k, v in steps.items()] + [row("place_limit, end to end", whole)]


async def capture(fake: FakeParadex, venue: ParadexVenue, channel: str, count: int,
                  make_traffic: Callable[[], Any] | None = None) -> list[str]:
    """Raw frames of ``channel`` as the fake sends them."""
    frames: list[str] = []
    async with websockets.connect(fake.ws_url) as ws:
        await ws.send(json.dumps({"id": 1, "jsonrpc": "2.0", "method": "auth",
                                  "params": {"bearer": venue.account.jwt_token}}))
        await ws.send(json.dumps({"id": 2, "jsonrpc": "2.0", "method": "subscribe", "params": {"channel": channel}}))
        while len(frames) < count:
            if make_traffic is not None:
                await make_traffic()
            raw = await asyncio.wait_for(ws.recv(), 10)
            if '"subscription"' in raw:
                frames.append(str(raw))
    return frames


def bench_parse(venue: ParadexVenue, captured: dict[str, list[str]],
                parsers: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]], messages: int) -> list[list[Any]]:
    rows = []
    for name, (channel, parse) in parsers.items():
        raw = captured[name]
        feed: WsFeed[Any] = WsFeed(venue, channel, parse)  # type: ignore[arg-type]
        samples = []
        for i in range(messages):
            msg = raw[i % len(raw)]
            t0 = time.perf_counter()
            item = feed.decode(msg)
            samples.append(time.perf_counter() - t0)
            assert item is not None
        rows.append(row(f"{name} ({len(msg)} B)", samples, 1e6))
    return rows


async def main(orders: int, messages: int) -> None:
    fake = FakeParadex(accounts={ADDRESS: PUBLIC_KEY})
    await fake.start()
    captured: dict[str, list[str]] = {}
    venue = ParadexVenue(fake.settings(l2_private_key=SecretStr(hex(KEY)), l2_address=ADDRESS))
    try:
        await venue.start()
        captured["bbo"] = await capture(fake, venue, "bbo.SOL-USD-PERP", 50)
        book_channel = BOOK_CHANNEL.format(market="SOL-USD-PERP")
        captured["order book (15+15 levels)"] = await capture(fake, venue, book_channel, 50)
        n = 0

        async def trade() -> None:
            nonlocal n
            n += 1
            await venue.place_market("SOL", Side.BUY if n % 2 else Side.SELL, Decimal("0.1"),
                                     client_id=f"f{n}", max_slippage_bps=Decimal(20))

        captured["fills"] = await capture(fake, venue, "fills.ALL", 10, trade)
        for slot in fake.exchange.slots.values():
            slot.source = StaticSource()  # hold the book still while orders rest at a fixed price
        order_rows = await bench_orders(fake, venue, orders)
        parse_rows = bench_parse(venue, captured, {
            "bbo": ("bbo.SOL-USD-PERP", wire.bbo),
            "order book (15+15 levels)": (book_channel, lambda d: wire.book_snapshot(d, 15)),
            "fills": ("fills.ALL", wire.fill),
        }, messages)
    finally:
        await venue.close()
        await fake.stop()
    print(f"Paradex adapter vs. the loopback fake: {orders} orders per step, ms\n")
    print(text_table(["step", "n", "p50 ms", "p99 ms", "mean ms"], order_rows, places=3))
    print(f"\nWebSocket message parse (JSON + wire -> domain), {messages} messages per channel, µs\n")
    print(text_table(["channel", "n", "p50 µs", "p99 µs", "mean µs"], parse_rows, places=1))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=100)
    ap.add_argument("--messages", type=int, default=20_000)
    args = ap.parse_args()
    asyncio.run(main(args.orders, args.messages))
