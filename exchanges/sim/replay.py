"""Record and replay a venue's book and trades: a recorded market as a first-class venue source.

File format (JSON Lines, gzip when the name ends in ``.gz``), one object per line:

- line 1, header: ``{"format": "perpflow-replay", "version": 2, "venue": "grvt", "symbol": "ETH",
  "tick": "0.01", "lot": "0.01", "start": <epoch s>, "source": "..."}``. ``venue`` must be a
  simulated venue listing ``symbol``; every price must be a multiple of ``tick`` and every size a
  multiple of ``lot``: the replayed venue trades on the file's grid (its own rules - min size,
  min notional, fees, latencies - stay the venue's);
- a book snapshot: ``{"t": <epoch s>, "k": "book", "bids": [[price, size], ...], "asks": [...]}``
  (everyone's displayed liquidity, ours excluded; levels absent from a snapshot are gone);
- an incremental update (version 2): ``{"t": ..., "k": "depth", "bids": [[price, size], ...],
  "asks": [...]}`` - only the levels that changed, size ``0`` removes a level (exchange
  depth-diff streams map onto this one to one);
- a trade print: ``{"t": ..., "k": "trade", "p": price, "q": size, "side": "BUY"|"SELL"}`` (the
  taker's side).

Version 1 files (snapshots and prints only) are read as well. Lines are in time order; a file
that is missing, truncated, out of order, from a venue or symbol the simulator does not have,
or with a price or size off its tick or lot is refused before anything trades, naming the line
and the field.

Depth is authoritative; prints drive only queue positions. Public feeds do not link a print to
the depth update that already contains it (Binance, Paradex and GRVT send trades and depth on
separate streams without a shared sequence), so a print applied to the depth again would count
its volume twice, or execute nothing where the depth had already dropped the level (15 % of
real prints did, 31 % of their volume). Instead a print at price P advances the queue ahead of
our resting orders at P by its size (and fills ours once nothing is ahead) and fills ours priced
better than P outright (the taker went through them); the displayed book changes only as the
file says. Our own taker orders do consume displayed levels; a consumed level stays consumed
until the file next updates it.

The replayed venue's mid is the asset's fair value for every other simulated venue, which
follows it with its own basis and lead/lag (``ReplayFair``); the run ends when the file does.

``perpflow sim record --venue grvt --symbol ETH --minutes 5 --out FILE`` (or ``python -m
exchanges.sim.replay record ...``) writes a version 2 file from the seeded model;
``exchanges/sim/samples/grvt-ETH-5min.jsonl.gz`` is that command's output with the defaults.
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from core.errors import ConfigError
from exchanges.sim.market import SimMarket

if TYPE_CHECKING:
    from exchanges.sim.profiles import SimProfiles, VenueProfile
    from exchanges.sim.world import SimWorld

FORMAT = "perpflow-replay"
VERSIONS = (1, 2)
VERSION = 2
SAMPLE = Path(__file__).with_name("samples") / "grvt-ETH-5min.jsonl.gz"
MAX_DECIMALS = 12  # a tick or lot finer than 1e-12 is beyond what any venue quotes
BID, ASK, PRINT = 0, 1, 2


def _open(path: Path, mode: str) -> IO[Any]:
    if path.suffix == ".gz":
        return gzip.open(path, mode + "b")  # type: ignore[return-value]
    return open(path, mode + "b")


@dataclass(slots=True)
class Replay:
    """A validated replay file, decoded into flat event lists (one entry per book event)."""

    path: Path
    venue: str
    symbol: str
    tick: Decimal
    lot: Decimal
    source: str
    lines: int
    ev_t: list[float] = field(default_factory=list)
    ev_k: list[int] = field(default_factory=list)  # BID / ASK level set, or PRINT
    ev_p: list[int] = field(default_factory=list)  # ticks
    ev_q: list[int] = field(default_factory=list)  # lots (0 removes a level); for a print: signed lots
    ev_end: list[bool] = field(default_factory=list)  # last event of its line
    mid_t: list[float] = field(default_factory=list)  # the file's mid after each line that moved it
    mid: list[float] = field(default_factory=list)
    first_book: int = 0  # index of the first event after which both sides exist
    header_start: float | None = None  # the header's "start", when given

    @property
    def start(self) -> float:
        """The file's start: its header's ``start``, else its first line's time."""
        return self.header_start if self.header_start is not None else self.ev_t[0]

    @property
    def end(self) -> float:
        return self.ev_t[-1]

    @property
    def prints(self) -> int:
        return sum(1 for k in self.ev_k if k == PRINT)

    def __len__(self) -> int:
        return len(self.ev_t)

    def mid_at(self, t: float) -> float:
        i = bisect.bisect_right(self.mid_t, t) - 1
        return self.mid[i if i >= 0 else 0]


def _grid(header: dict[str, Any], name: str, path: Path) -> Decimal:
    raw = header.get(name)
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise ConfigError(f"replay {name}", f"{path}: header {name}={raw!r} is not a decimal number") from None
    if not value.is_finite() or value <= 0:
        raise ConfigError(f"replay {name}", f"{path}: header {name}={raw!r} must be a positive decimal")
    exp = value.normalize().as_tuple().exponent
    if isinstance(exp, int) and -exp > MAX_DECIMALS:
        raise ConfigError(f"replay {name}", f"{path}: header {name}={raw} is finer than the venue can represent "
                                            f"(at most {MAX_DECIMALS} decimals)")
    return value


def read_header(path: Path, profiles: SimProfiles | None = None) -> dict[str, Any]:
    """The header line, checked: format and version, a simulated venue and symbol, tick and lot."""
    if not path.exists():
        raise ConfigError("replay", f"{path}: no such file")
    try:
        with _open(path, "r") as f:
            first = f.readline()
    except (OSError, EOFError, zlib.error) as exc:
        raise ConfigError("replay", f"{path}: unreadable ({exc})") from None
    try:
        header = orjson.loads(first) if first.strip() else {}
    except orjson.JSONDecodeError:
        header = {}
    if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("version") not in VERSIONS:
        raise ConfigError("replay", f"{path} is not a {FORMAT} v1 file nor a v2 file "
                                    f"(line 1: {first[:120].decode(errors='replace')!r})")
    if profiles is not None:
        venue = profiles.venue(str(header.get("venue"))) if header.get("venue") in profiles.venues else None
        if venue is None:
            raise ConfigError("replay venue", f"{path}: line 1 venue={header.get('venue')!r} is not simulated; "
                                              f"allowed: {', '.join(sorted(profiles.venues))}")
        if header.get("symbol") not in venue.markets:
            raise ConfigError("replay symbol", f"{path}: line 1 symbol={header.get('symbol')!r} is not simulated on "
                                               f"{venue.name}; allowed: {', '.join(sorted(venue.markets))}")
    header["tick"] = _grid(header, "tick", path)
    header["lot"] = _grid(header, "lot", path)
    return header


def read_replay(path: Path) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """The header and the raw event objects (no validation beyond JSON): for tools and tests."""
    header = read_header(path)

    def events() -> Iterator[dict[str, Any]]:
        with _open(path, "r") as f:
            f.readline()
            for n, line in enumerate(f, start=2):
                if line.strip():
                    try:
                        yield orjson.loads(line)
                    except orjson.JSONDecodeError as exc:
                        raise ConfigError("replay", f"{path}:{n}: not JSON ({exc})") from None
    return header, events()


class _Scale:
    """Decimal strings -> integer ticks or lots, exactly, with a cache (prices repeat a lot)."""

    def __init__(self, unit: Decimal, what: str, path: Path) -> None:
        self.unit = unit
        self.what = what
        self.path = path
        self.cache: dict[Any, int] = {}

    def __call__(self, raw: Any, line: int, name: str, allow_zero: bool = False) -> int:
        try:
            return self.cache[raw]
        except (KeyError, TypeError):
            pass
        try:
            value = Decimal(raw if isinstance(raw, str) else repr(raw))
        except (InvalidOperation, ValueError, TypeError):
            raise ConfigError(f"replay {name}", f"{self.path}:{line}: {name}={raw!r} is not a number") from None
        if not value.is_finite() or value < 0 or (value == 0 and not allow_zero):
            raise ConfigError(f"replay {name}", f"{self.path}:{line}: {name}={raw!r} must be "
                                                f"{'>= 0' if allow_zero else 'positive'}")
        q, r = divmod(value, self.unit)
        if r:
            raise ConfigError(f"replay {name}", f"{self.path}:{line}: {name}={raw} is not a multiple of the file's "
                                                f"{self.what} {self.unit}; the venue cannot represent it")
        n = int(q)
        if isinstance(raw, str):
            self.cache[raw] = n
        return n


def load_replay(path: Path, profiles: SimProfiles | None = None) -> Replay:
    """Read and validate a whole replay file; ``ConfigError`` names the line and field of the first problem."""
    from exchanges.sim.profiles import load_profiles

    path = Path(path)
    profiles = profiles or load_profiles()
    header = read_header(path, profiles)
    rp = Replay(path=path, venue=header["venue"], symbol=header["symbol"], tick=header["tick"], lot=header["lot"],
                source=str(header.get("source", "")), lines=1)
    price = _Scale(rp.tick, "tick", path)
    size = _Scale(rp.lot, "lot", path)
    books: tuple[dict[int, int], dict[int, int]] = ({}, {})
    best = [0, 0]  # best bid, best ask (0: side empty)
    ev_t, ev_k, ev_p, ev_q, ev_end = rp.ev_t, rp.ev_k, rp.ev_p, rp.ev_q, rp.ev_end
    pcache, scache = price.cache, size.cache
    last_t = -math.inf
    first_book = -1
    n = 1

    def level(kind: int, p: int, q: int, t: float) -> None:
        side = books[kind]
        if q:
            if side.get(p) == q:
                return
            side[p] = q
            if not best[kind] or (p > best[kind] if kind == BID else p < best[kind]):
                best[kind] = p
        else:
            if side.pop(p, None) is None:
                return
            if p == best[kind]:
                best[kind] = (max(side) if kind == BID else min(side)) if side else 0
        ev_t.append(t)
        ev_k.append(kind)
        ev_p.append(p)
        ev_q.append(q)
        ev_end.append(False)

    try:
        with _open(path, "r") as f:
            f.readline()
            for n, line in enumerate(f, start=2):
                if not line.strip():
                    continue
                try:
                    ev = orjson.loads(line)
                except orjson.JSONDecodeError:
                    why = "truncated (the last line is cut off)" if not line.endswith(b"\n") else "not JSON"
                    raise ConfigError("replay", f"{path}:{n}: {why}") from None
                if not isinstance(ev, dict):
                    raise ConfigError("replay", f"{path}:{n}: not a JSON object")
                t = ev.get("t")
                if not isinstance(t, int | float) or isinstance(t, bool) or not math.isfinite(t):
                    raise ConfigError("replay t", f"{path}:{n}: t={t!r} is not a time in epoch seconds")
                if t < last_t:
                    raise ConfigError("replay t", f"{path}:{n}: t={t} is before the previous line's t={last_t} "
                                                  f"(lines must be in time order)")
                last_t = t
                kind = ev.get("k")
                before = len(ev_t)
                if kind in ("book", "depth"):
                    if kind == "depth" and header["version"] < 2:
                        raise ConfigError("replay k", f"{path}:{n}: k='depth' needs format version 2")
                    for name, side_kind in (("bids", BID), ("asks", ASK)):
                        levels = ev.get(name)
                        if not isinstance(levels, list):
                            raise ConfigError(f"replay {name}", f"{path}:{n}: {name} must be a list of [price, size]")
                        new: dict[int, int] = {}
                        zero_ok = kind == "depth"
                        for lv in levels:
                            try:  # the common case: both strings already seen (decoded once, cached)
                                pp, qq = lv
                                p_i = pcache[pp]
                                q_i = scache[qq]
                                if not q_i and not zero_ok:
                                    raise KeyError
                            except (KeyError, TypeError, ValueError):
                                if not (isinstance(lv, list) and len(lv) == 2):
                                    raise ConfigError(f"replay {name}", f"{path}:{n}: {name} entry {lv!r} is not "
                                                                        f"[price, size]") from None
                                p_i = price(lv[0], n, f"{name} price")
                                q_i = size(lv[1], n, f"{name} size", allow_zero=zero_ok)
                            new[p_i] = q_i
                        if kind == "book":
                            for p in [p for p in books[side_kind] if p not in new]:
                                level(side_kind, p, 0, t)
                        for p, q in new.items():
                            level(side_kind, p, q, t)
                elif kind == "trade":
                    side = ev.get("side")
                    if side not in ("BUY", "SELL"):
                        raise ConfigError("replay side", f"{path}:{n}: side={side!r}; allowed: BUY, SELL")
                    q = size(ev.get("q"), n, "q")
                    ev_t.append(t)
                    ev_k.append(PRINT)
                    ev_p.append(price(ev.get("p"), n, "p"))
                    ev_q.append(q if side == "BUY" else -q)
                    ev_end.append(False)
                else:
                    raise ConfigError("replay k", f"{path}:{n}: k={kind!r}; allowed: book, depth, trade")
                if len(ev_t) > before:
                    ev_end[-1] = True
                    if best[BID] and best[ASK]:
                        if first_book < 0:
                            first_book = len(ev_t)
                        m = (best[BID] + best[ASK]) / 2 * float(rp.tick)
                        if not rp.mid or rp.mid[-1] != m:
                            rp.mid_t.append(t)
                            rp.mid.append(m)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ConfigError("replay", f"{path}: truncated after line {n} ({exc})") from None
    rp.lines = n
    hs = header.get("start")
    if hs is not None:
        if not isinstance(hs, int | float) or isinstance(hs, bool) or not math.isfinite(hs):
            raise ConfigError("replay start", f"{path}: line 1 start={hs!r} is not a time in epoch seconds")
        if ev_t and hs > ev_t[0]:
            raise ConfigError("replay start", f"{path}: line 1 start={hs} is after the first line's t={ev_t[0]}")
        rp.header_start = float(hs)
    if first_book < 0:
        raise ConfigError("replay", f"{path}: no line gives both a bid and an ask; nothing to trade against")
    rp.first_book = first_book
    return rp


class ReplaySource:
    """Feeds a ``SimMarket`` from a ``Replay``: depth as the file says, prints on queues only."""

    def __init__(self, market: SimMarket, replay: Replay, t0: float) -> None:
        self.market = market
        self.replay = replay
        self.i = 0
        self.n = len(replay)
        self.next_t = replay.ev_t[0] if self.n else math.inf
        self.advance(max(t0, replay.ev_t[replay.first_book - 1]))  # the venue opens with its first full book

    @property
    def next_visible_t(self) -> float:
        return self.next_t

    @property
    def ended(self) -> bool:
        return self.i >= self.n

    def advance(self, t: float, hook: object = None) -> None:
        if self.next_t > t:
            return
        m = self.market
        rp = self.replay
        ev_t, ev_k, ev_p, ev_q, ev_end = rp.ev_t, rp.ev_k, rp.ev_p, rp.ev_q, rp.ev_end
        bids, asks = m.bids, m.asks
        i, n = self.i, self.n
        ev = 0
        bb, ba = m.best_bid, m.best_ask
        while i < n:
            et = ev_t[i]
            if et > t:
                break
            k = ev_k[i]
            p = ev_p[i]
            q = ev_q[i]
            if k == BID:
                if m.own_bids and p in m.own_bids:
                    m.update_level(-1, p, q)
                elif q:
                    bids[p] = q
                    ev += 1
                elif bids.pop(p, None) is not None:
                    ev += 1
                if q:
                    if p > bb:
                        bb = p
                elif p == bb:
                    bb = max(bids) if bids else 0
            elif k == ASK:
                if m.own_asks and p in m.own_asks:
                    m.update_level(1, p, q)
                elif q:
                    asks[p] = q
                    ev += 1
                elif asks.pop(p, None) is not None:
                    ev += 1
                if q:
                    if p < ba or not ba:
                        ba = p
                elif p == ba:
                    ba = min(asks) if asks else 0
            else:
                m.best_bid, m.best_ask = bb, ba
                m.events += ev
                ev = 0
                m.replay_print(et, p, q)
            i += 1
            if ev_end[i - 1] and (hook is not None or m.own_bids or m.own_asks):
                m.best_bid, m.best_ask = bb, ba
                m.events += ev
                ev = 0
                m.cross_check(et)
                if hook is not None:
                    hook(et)  # type: ignore[operator]
                bb, ba = m.best_bid, m.best_ask
        m.best_bid, m.best_ask = bb, ba
        m.events += ev
        self.i = i
        self.next_t = ev_t[i] if i < n else math.inf


class ReplayFair:
    """The asset's fair value when one venue is replayed: the file's mid, moved back to the
    common reference by the replayed venue's basis and lag, so every other venue quotes around
    it with its own basis and lead/lag (mid_other(t) = mid_file(t + lag_file - lag_other) x
    (1 + basis_other) / (1 + basis_file))."""

    def __init__(self, replay: Replay, basis_bps: float, lag_ms: float) -> None:
        self.replay = replay
        self._scale = 1 / (1 + basis_bps / 10_000)
        self._lead = lag_ms / 1000
        self.now = replay.start

    def at(self, t: float) -> float:
        return self.replay.mid_at(t + self._lead) * self._scale

    @property
    def price(self) -> float:
        return self.at(self.now)


def parse_replay_args(items: list[str] | tuple[str, ...] | None, field: str = "replay") -> dict[str, Path]:
    """``["grvt=FILE", ...]`` -> ``{"grvt": Path(FILE)}``, refusing a malformed item by name."""
    out: dict[str, Path] = {}
    for item in items or ():
        venue, sep, file = str(item).partition("=")
        if not sep or not venue.strip() or not file.strip():
            raise ConfigError(field, f"{item!r} is not VENUE=FILE (e.g. grvt=data/grvt-ETH.jsonl.gz)")
        if venue.strip() in out:
            raise ConfigError(field, f"{venue.strip()!r} is replayed twice")
        out[venue.strip()] = Path(file.strip())
    return out


def load_replays(files: dict[str, Path], symbols: tuple[str, ...], profiles: SimProfiles | None = None
                 ) -> dict[str, Replay]:
    """Load and check every ``VENUE=FILE``: the file must record that venue and a traded symbol."""
    out = {}
    for venue, path in files.items():
        rp = load_replay(path, profiles)
        if rp.venue != venue:
            raise ConfigError("replay venue", f"{path}: line 1 venue={rp.venue!r}, but it was given for {venue!r}")
        if rp.symbol not in symbols:
            raise ConfigError("replay symbol", f"{path}: line 1 symbol={rp.symbol!r}; this run trades "
                                               f"{', '.join(symbols)}")
        out[venue] = rp
    return out


def replay_instrument_profile(vp: VenueProfile, rp: Replay) -> VenueProfile:
    """The venue's profile on the file's grid: its tick and lot, everything else the venue's."""
    m = vp.market(rp.symbol)
    min_size = max(m.min_size, rp.lot)
    min_size = (min_size / rp.lot).to_integral_value(rounding="ROUND_CEILING") * rp.lot
    return vp.with_market(rp.symbol, tick=rp.tick, lot=rp.lot, min_size=min_size)


def record(world: SimWorld, venue: str, symbol: str, seconds: float, out: Path, depth: int = 10,
           every: float = 0.05) -> int:
    """Run the seeded model for ``seconds`` and write what ``venue``'s ``symbol`` book did (version 2:
    a first snapshot, then depth updates and prints)."""
    slot = world.exchanges[venue].slots[symbol]
    m = slot.market
    tk, lt = slot.tick, slot.lot

    def top() -> tuple[dict[int, int], dict[int, int]]:
        return (dict(sorted(m.bids.items(), reverse=True)[:depth]), dict(sorted(m.asks.items())[:depth]))

    def levels(d: dict[int, int]) -> list[list[str]]:
        return [[str(p * tk), str(q * lt)] for p, q in d.items()]

    out.parent.mkdir(parents=True, exist_ok=True)
    lines = 0
    with _open(out, "w") as f:
        def write(obj: dict[str, Any]) -> None:
            f.write(orjson.dumps(obj) + b"\n")

        write({"format": FORMAT, "version": VERSION, "venue": venue, "symbol": symbol, "tick": str(tk),
               "lot": str(lt), "start": round(world.t, 6), "source": f"perpflow seeded model, seed {world.seed}"})
        last = top()
        write({"t": round(world.t, 6), "k": "book", "bids": levels(last[0]), "asks": levels(last[1])})
        lines += 1
        seen = m.n_prints
        end = world.t + seconds
        while world.t < end - 1e-9:
            world.run_for(min(every, end - world.t))
            new = min(m.n_prints - seen, len(m.prints))
            seen = m.n_prints
            for ts, p, q, s in list(m.prints)[len(m.prints) - new:]:
                write({"t": round(ts, 6), "k": "trade", "p": str(p * tk), "q": str(q * lt),
                       "side": "BUY" if s > 0 else "SELL"})
                lines += 1
            cur = top()
            diff = []
            for old, new_side in zip(last, cur, strict=True):
                d = {p: q for p, q in new_side.items() if old.get(p) != q}
                d.update({p: 0 for p in old if p not in new_side})
                diff.append(d)
            if diff[0] or diff[1]:
                write({"t": round(world.t, 6), "k": "depth", "bids": levels(diff[0]), "asks": levels(diff[1])})
                lines += 1
            last = cur
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
    n = record(SimWorld(venues=(args.venue,), symbols=(args.symbol,), seed=args.seed), args.venue, args.symbol,
               args.minutes * 60, args.out)
    print(f"wrote {n} events to {args.out}")


if __name__ == "__main__":
    main()
