"""Record and replay a venue's book and trades, so strategies can run on recorded markets.

File format (JSON Lines, gzip when the name ends in ``.gz``), one object per line:

- line 1, header: ``{"format": "perpflow-replay", "version": 1, "venue": "grvt", "symbol": "ETH",
  "tick": "0.01", "lot": "0.01", "start": <epoch s>, "source": "..."}``
- a book snapshot: ``{"t": <epoch s>, "k": "book", "bids": [[price, size], ...],
  "asks": [[price, size], ...]}`` (best first, prices and sizes as decimal strings; everyone's
  displayed liquidity, ours excluded);
- a trade print: ``{"t": <epoch s>, "k": "trade", "p": price, "q": size, "side": "BUY"|"SELL"}``
  (``side`` is the taker's).

Lines are in time order. On replay, snapshots replace the displayed book level by level (each
changed level is one book event, our queue positions adjust as on a live feed) and prints walk
the book up to their price, filling our resting orders by queue position. When the file ends
the market stays as it was last seen.

``python -m exchanges.sim.replay record --venue grvt --symbol ETH --minutes 5 --out FILE``
writes a file from the seeded model; ``exchanges/sim/samples/`` holds one made that way.
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from core.errors import ConfigError
from exchanges.sim.market import SimMarket

if TYPE_CHECKING:
    from exchanges.sim.world import SimWorld

FORMAT = "perpflow-replay"
VERSION = 1
SAMPLE = Path(__file__).with_name("samples") / "grvt-ETH-5min.jsonl.gz"


def _open(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8")


def read_replay(path: Path) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    f = _open(path, "r")
    header = json.loads(f.readline() or "{}")
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        f.close()
        raise ConfigError("replay", f"{path} is not a {FORMAT} v{VERSION} file (header: {header})")

    def events() -> Iterator[dict[str, Any]]:
        with f:
            for n, line in enumerate(f, start=2):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise ConfigError("replay", f"{path}:{n}: not JSON ({exc})") from None
    return header, events()


class ReplaySource:
    """Feeds a ``SimMarket`` from recorded snapshots and prints instead of the model."""

    def __init__(self, market: SimMarket, events: Iterator[dict[str, Any]], tick: Decimal, lot: Decimal) -> None:
        self.market = market
        self._events = events
        self._tick = tick
        self._lot = lot
        self._next: dict[str, Any] | None = next(events, None)
        while self._next is not None and not (market.bids and market.asks):
            self.advance(self._next["t"])  # the venue opens with its first recorded book

    def _ticks(self, price: str) -> int:
        return int(Decimal(price) / self._tick)

    def _lots(self, size: str) -> int:
        return int(Decimal(size) / self._lot)

    @property
    def next_t(self) -> float:
        return self._next["t"] if self._next is not None else float("inf")

    def advance(self, t: float, hook: object = None) -> None:
        while self._next is not None and self._next["t"] <= t:
            ev = self._next
            if ev["k"] == "book":
                self._apply_book(ev)
            elif ev["k"] == "trade":
                sign = 1 if ev["side"] == "BUY" else -1
                self.market.flow_trade(ev["t"], sign, self._lots(ev["q"]), limit=self._ticks(ev["p"]))
            self._next = next(self._events, None)
            if hook is not None:
                hook(ev["t"])  # type: ignore[operator]

    def _apply_book(self, ev: dict[str, Any]) -> None:
        m = self.market
        for direction, side, levels in ((-1, m.bids, ev["bids"]), (1, m.asks, ev["asks"])):
            new = {self._ticks(p): self._lots(q) for p, q in levels}
            for p in [p for p in side if p not in new]:
                m.update_level(direction, p, 0)
            for p, q in new.items():
                if side.get(p) != q:
                    m.update_level(direction, p, q)
        m.adopt_book(ev["t"])


def attach_replay(world: SimWorld, path: Path) -> None:
    header, events = read_replay(path)
    venue, symbol = header["venue"], header["symbol"]
    ex = world.exchanges.get(venue)
    if ex is None or symbol not in ex.slots:
        raise ConfigError("replay", f"{path} records {venue}/{symbol}, which this simulation does not include")
    slot = ex.slots[symbol]
    slot.source = ReplaySource(slot.market, events, slot.tick, slot.lot)


def record(world: SimWorld, venue: str, symbol: str, seconds: float, out: Path, depth: int = 5) -> int:
    """Run the seeded model for ``seconds`` and write what ``venue``'s ``symbol`` book did."""
    slot = world.exchanges[venue].slots[symbol]
    m = slot.market
    tk, lt = slot.tick, slot.lot
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = 0
    with _open(out, "w") as f:
        f.write(json.dumps({"format": FORMAT, "version": VERSION, "venue": venue, "symbol": symbol,
                            "tick": str(tk), "lot": str(lt), "start": world.t,
                            "source": f"perpflow seeded model, seed {world.seed}"}) + "\n")
        seen = m.n_prints
        last_book = None
        end = world.t + seconds
        while world.t + world.step <= end:
            world.run_for(world.step)
            new = min(m.n_prints - seen, len(m.prints))
            seen = m.n_prints
            for ts, p, q, s in list(m.prints)[len(m.prints) - new:]:
                f.write(json.dumps({"t": round(ts, 6), "k": "trade", "p": str(p * tk), "q": str(q * lt),
                                    "side": "BUY" if s > 0 else "SELL"}) + "\n")
                lines += 1
            book = ([[str(p * tk), str(q * lt)] for p, q in sorted(m.bids.items(), reverse=True)[:depth]],
                    [[str(p * tk), str(q * lt)] for p, q in sorted(m.asks.items())[:depth]])
            if book != last_book:
                f.write(json.dumps({"t": round(world.t, 6), "k": "book", "bids": book[0], "asks": book[1]}) + "\n")
                lines += 1
                last_book = book
    return lines


def main(argv: list[str] | None = None) -> None:
    from exchanges.sim.world import SimWorld

    ap = argparse.ArgumentParser(prog="python -m exchanges.sim.replay",
                                 description="Record a simulated venue's book and trades to a replay file.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record", help="run the seeded model and write a replay file")
    rec.add_argument("--venue", default="grvt")
    rec.add_argument("--symbol", default="ETH")
    rec.add_argument("--minutes", type=float, default=5.0)
    rec.add_argument("--seed", type=int, default=7)
    rec.add_argument("--out", type=Path, default=SAMPLE)
    args = ap.parse_args(argv)
    world = SimWorld(venues=(args.venue,), symbols=(args.symbol,), seed=args.seed)
    n = record(world, args.venue, args.symbol, args.minutes * 60, args.out)
    print(f"wrote {n} events to {args.out}")


if __name__ == "__main__":
    main()
