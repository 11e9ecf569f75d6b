"""GRVT adapter overhead: per order (build, sign, send to the fake + acknowledge) and per stream
message (JSON decode + parse into domain objects), p50/p99.

Runs grvt-pysdk's real code against the fake GRVT on loopback (``exchanges/grvt/fake.py``):

- build: ``get_grvt_order`` (the SDK's order object, expiry, nonce);
- sign: ``get_order_payload`` (EIP-712 encoding + secp256k1 signature with eth-account);
- send+ack: POST create_order to the fake and read its answer (includes the fake's own
  signature recovery and matching, a few hundred microseconds of the figure);
- place_limit: the adapter end to end (instrument cached, create, read back the PENDING order).

Everything shares one event loop and two cores with the fake and its market simulation, so p99
includes the fake's own pauses.

Stream parsing uses GRVT frames as the fake sends them: fills, orders, mini tickers, 10-level books.

    .venv/bin/python bench/adapters_grvt.py [--orders 300] [--messages 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pydantic import SecretStr
from pysdk.grvt_ccxt_utils import get_grvt_order, get_order_payload

from core.clock import RealClock
from core.types import Side
from exchanges.grvt.adapter import GrvtVenue
from exchanges.grvt.fake import FakeGrvt, demo_account
from exchanges.grvt.settings import GrvtSettings
from exchanges.grvt.wire import client_order_id, parse_book, parse_fill, parse_mini, parse_order
from exchanges.sim.world import SimWorld


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(name: str, samples: list[float], unit: str = "ms") -> str:
    scale = 1e3 if unit == "ms" else 1e6
    return (f"  {name:<26} p50 {pct(samples, 0.5) * scale:8.3f} {unit}   p99 {pct(samples, 0.99) * scale:8.3f} {unit}"
            f"   (n={len(samples)})")


async def orders(n: int) -> tuple[list[str], list[dict[str, Any]]]:
    account, key = demo_account()
    world = SimWorld(venues=("grvt",), symbols=("ETH",), seed=7, clock=RealClock())
    fake = FakeGrvt(world, accounts=[account])
    url = await fake.start()
    venue = GrvtVenue(GrvtSettings(endpoint=url, api_key=SecretStr(account.api_key), private_key=SecretStr(key),
                                   trading_account_id=account.sub_account_id))
    await venue.start()
    client = await venue.client()
    ins = await venue.instrument("ETH")
    bid = (await venue.bbo("ETH")).bid
    price = ins.round_price(bid * Decimal("0.9"), Side.BUY)  # far from the touch: rests, never fills
    build, sign, send, place, served = [], [], [], [], []
    handle = fake.engine.create_order

    def timed_create(*args: Any) -> dict[str, Any]:  # the fake's own share of send + ack
        t = time.perf_counter()
        try:
            return handle(*args)
        finally:
            served.append(time.perf_counter() - t)

    fake.engine.create_order = timed_create  # type: ignore[method-assign]
    url_create = client.url("CREATE_ORDER")
    for i in range(n):
        t0 = time.perf_counter()
        order = get_grvt_order(sub_account_id=client.get_trading_account_id(), symbol=ins.venue_symbol,
                               order_type="limit", side="buy", amount=ins.min_size, limit_price=price,
                               order_duration_secs=venue.order_ttl_s,
                               params={"client_order_id": client_order_id(f"bench-raw-{i}"), "post_only": True})
        t1 = time.perf_counter()
        payload = get_order_payload(order, private_key=client._private_key, env=client.env, instruments=client.markets)
        t2 = time.perf_counter()
        await client._auth_and_post(url_create, payload)
        t3 = time.perf_counter()
        await venue.place_limit("ETH", Side.BUY, price, ins.min_size, client_id=f"bench-{i}", post_only=True)
        t4 = time.perf_counter()
        build.append(t1 - t0)
        sign.append(t2 - t1)
        send.append(t3 - t2)
        place.append(t4 - t3)
    await venue.cancel_all("ETH")
    # frames for the parse benchmark, as the fake encodes them
    await venue.place_limit("ETH", Side.BUY, ins.round_price(bid * Decimal("1.01"), Side.BUY), ins.min_size,
                            client_id="bench-fill")
    e = fake.engine
    frames = {
        "fill": [e.fill_view(f, account) for f in e.ex.fill_log][:1],
        "order": [e.order_view(r) for r in list(e.orders.values())[:50]],
        "mini": [fake.engine.mini("ETH_USDT_Perp")],
        "book": [fake.engine.book("ETH_USDT_Perp", 10)],
    }
    await venue.close()
    await fake.stop()
    print(f"Per order, grvt-pysdk against the fake on loopback ({n} orders)")
    overhead = [b + s + x for b, s, x in zip(build, sign, send, strict=True)]
    for name, samples in (("build (SDK order)", build), ("sign (EIP-712)", sign), ("send + ack (HTTP)", send),
                          ("  of which the fake itself", served[0:2 * n:2]), ("build + sign + send + ack", overhead),
                          ("place_limit end to end", place)):
        print(row(name, samples))
    return list(frames), [frames[k][0] for k in frames]


def parse_bench(kinds: list[str], samples: list[dict[str, Any]], n: int) -> None:
    parsers: dict[str, Callable[[dict[str, Any]], Any]] = {
        "fill": parse_fill, "order": parse_order, "mini": parse_mini, "book": lambda f: parse_book(f, 10)}
    print(f"\nPer stream message: json.loads + parse into domain objects ({n} each)")
    for kind, feed in zip(kinds, samples, strict=True):
        raw = json.dumps({"stream": f"v1.{kind}", "selector": "1001", "sequence_number": "1", "feed": feed})
        parse = parsers[kind]
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            parse(json.loads(raw)["feed"])
            times.append(time.perf_counter() - t0)
        print(row(f"{kind} ({len(raw)} bytes)", times, "us"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=300)
    ap.add_argument("--messages", type=int, default=20_000)
    args = ap.parse_args()
    kinds, samples = asyncio.run(orders(args.orders))
    parse_bench(kinds, samples, args.messages)


if __name__ == "__main__":
    main()
