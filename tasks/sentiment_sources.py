"""Sentiment fetchers: one small function per source, a file cache with a TTL per source, and the
rule that turns any failure into a neutral component that says why.

- Fear & Greed (alternative.me ``/fng/`` shape): ``{"data": [{"value": "40", "value_classification":
  "Fear", "timestamp": "1551157200", "time_until_update": "68499"}], ...}``; values are strings,
  one a day, newest first.
- Long/short account ratio (a public futures endpoint's shape): ``[{"symbol": "BTCUSDT",
  "longShortRatio": "1.8105", "longAccount": "0.6442", "shortAccount": "0.3558", "timestamp":
  1583139600000}]`` (milliseconds; newest last).
- Funding: ``Venue.funding_rate(symbol)`` of our own venues (the simulator and the fakes serve it).

Retries: only transient errors (timeouts, connection errors, 429, 5xx) are retried, with a
doubling backoff, or after the server's Retry-After when it asks for one (a longer wait than
``max_retry_after_s`` gives up at once). A malformed answer or a 4xx is not retried.

The cache (``data/cache/sentiment/``, one JSON file per source and symbol) serves a reading
younger than the source's TTL without a request, and backs a failed fetch with the last reading
while that reading is not stale. Otherwise the component is neutral and not available, with the
error in its detail; nothing here raises past ``observe``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from core.errors import VenueError
from core.sentiment import NEUTRAL, Component
from core.settings import SentimentSettings

Sleep = Callable[[float], None]


class SourceError(Exception):
    """A source gave nothing usable. ``transient``: trying again later may help."""

    def __init__(self, message: str, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Reading:
    raw: float
    ts: float  # when the source published it (epoch s)
    detail: str = ""


# --- HTTP with transient-only retries ----------------------------------------------------------------
def _once(client: httpx.Client, url: str, params: dict[str, Any], timeout: float) -> Any:
    try:
        r = client.get(url, params=params, timeout=timeout)
    except httpx.TimeoutException:
        raise SourceError(f"timeout after {timeout:g} s", True) from None
    except httpx.TransportError as err:
        raise SourceError(f"unreachable ({type(err).__name__}: {err})", True) from None
    if r.status_code == 429:
        raise SourceError("rate limited (HTTP 429)", True, _retry_after(r.headers.get("Retry-After")))
    if r.status_code >= 500:
        raise SourceError(f"HTTP {r.status_code}", True, _retry_after(r.headers.get("Retry-After")))
    if r.status_code >= 400:
        raise SourceError(f"HTTP {r.status_code}: {r.text[:200]}", False)
    try:
        return r.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SourceError(f"malformed JSON ({err})", False) from None


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _delay(err: SourceError, attempt: int, s: SentimentSettings) -> float | None:
    """Seconds to wait before the next try, or None to give up now."""
    if not err.transient or attempt >= s.retries:
        return None
    if err.retry_after is not None:
        return err.retry_after if err.retry_after <= s.max_retry_after_s else None
    return s.backoff_s * (2 ** attempt)


def get_json(client: httpx.Client, url: str, params: dict[str, Any], s: SentimentSettings,
             sleep: Sleep = time.sleep) -> Any:
    attempt = 0
    while True:
        try:
            return _once(client, url, params, s.timeout_s)
        except SourceError as err:
            wait = _delay(err, attempt, s)
            if wait is None:
                if attempt:
                    raise SourceError(f"{err} (after {attempt + 1} tries)", err.transient) from None
                raise
            sleep(wait)
            attempt += 1


# --- the sources' shapes ----------------------------------------------------------------------------
def parse_fear_greed(obj: Any) -> Reading:
    try:
        row = obj["data"][0]
        value = int(row["value"])
        ts = float(row["timestamp"])
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise SourceError(f"unexpected fear & greed answer ({type(err).__name__}: {err})", False) from None
    if not 0 <= value <= 100:
        raise SourceError(f"fear & greed value {value} is outside 0..100", False)
    label = row.get("value_classification") or ""
    return Reading(float(value), ts, f"index {value}{f' ({label})' if label else ''}")


def parse_long_short(obj: Any, pair: str) -> Reading:
    try:
        rows = [r for r in obj if r.get("symbol", pair) == pair]
        row = max(rows, key=lambda r: float(r["timestamp"]))
        ratio = float(row["longShortRatio"])
        ts = float(row["timestamp"]) / 1000.0
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise SourceError(f"unexpected long/short answer ({type(err).__name__}: {err})", False) from None
    if not ratio > 0:
        raise SourceError(f"long/short ratio {ratio} is not positive", False)
    return Reading(ratio, ts, f"{pair} ratio {ratio:g}")


def fetch_fear_greed(client: httpx.Client, s: SentimentSettings, sleep: Sleep = time.sleep) -> Reading:
    return parse_fear_greed(get_json(client, s.fear_greed_url, {"limit": 1, "format": "json"}, s, sleep))


def fetch_long_short(client: httpx.Client, s: SentimentSettings, symbol: str, sleep: Sleep = time.sleep) -> Reading:
    pair = f"{symbol.upper()}{s.long_short_quote}"
    return parse_long_short(get_json(client, s.long_short_url, {"symbol": pair, "period": "1h", "limit": 1}, s,
                                     sleep), pair)


async def fetch_funding(venue: Any, symbol: str, s: SentimentSettings,
                        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> Reading:
    """The venue's hourly funding rate through the venue contract; retryable venue errors retried."""
    attempt = 0
    while True:
        try:
            fr = await asyncio.wait_for(venue.funding_rate(symbol), s.timeout_s)
            return Reading(float(fr.hourly), float(fr.ts), f"{fr.venue} {symbol} {fr.rate} per {fr.interval_s:g} s")
        except TimeoutError:
            err = SourceError(f"timeout after {s.timeout_s:g} s", True)
        except NotImplementedError:
            raise SourceError(f"{getattr(venue, 'name', venue)} does not serve funding rates", False) from None
        except VenueError as e:
            err = SourceError(str(e), e.retryable, e.retry_after)
        wait = _delay(err, attempt, s)
        if wait is None:
            raise err
        await sleep(wait)
        attempt += 1


# --- cache ----------------------------------------------------------------------------------------
_KEY = re.compile(r"[^A-Za-z0-9._-]")


class SourceCache:
    """One JSON file per key: the last good reading and when it was fetched (written atomically)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def _path(self, key: str) -> Path:
        return self.dir / f"{_KEY.sub('_', key)}.json"

    def get(self, key: str) -> tuple[float, Reading] | None:
        try:
            obj = json.loads(self._path(key).read_text())
            return float(obj["fetched_at"]), Reading(**obj["reading"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # no cache, or a broken one: fetch

    def put(self, key: str, reading: Reading, fetched_at: float) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"fetched_at": fetched_at, "reading": asdict(reading)}))
        os.replace(tmp, path)


def observe(*, key: str, source: str, metric: str, symbol: str | None, fetch: Callable[[], Reading],
            to_score: Callable[[float], float], ttl_s: float, max_age_s: float, cache: SourceCache,
            now: float) -> Component:
    """A component from the cache or a fetch; any failure or stale data → neutral, with the reason."""
    cached = cache.get(key)

    def unavailable(reason: str, reading: Reading | None = None) -> Component:
        return Component(source, metric, symbol, reading.raw if reading else None, NEUTRAL,
                         reading.ts if reading else None, now - reading.ts if reading else None, False,
                         f"neutral: {reason}")

    if cached is not None and now - cached[0] < ttl_s:
        reading, how = cached[1], f"cached {now - cached[0]:.0f} s ago"
    else:
        try:
            reading = fetch()
        except SourceError as err:
            if cached is not None and now - cached[1].ts <= max_age_s:
                reading, how = cached[1], f"cached (fetch failed: {err})"
            else:
                return unavailable(str(err))
        else:
            cache.put(key, reading, now)
            how = "fetched"
    age = now - reading.ts
    if age > max_age_s:
        return unavailable(f"stale: published {age / 3600:.1f} h ago, older than {max_age_s / 3600:.1f} h", reading)
    try:
        score = to_score(reading.raw)
    except ValueError as err:
        return unavailable(str(err), reading)
    return Component(source, metric, symbol, reading.raw, score, reading.ts, max(0.0, age), True,
                     f"{how}: {reading.detail}")
