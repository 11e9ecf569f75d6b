"""Prefect task ``fetch-sentiment``: every source once (or from its cache), the combined scores, and
the rows they become in the warehouse ``sentiment`` table.

Rows (one observation = one ``ts``, the time of the run, so each run's rows stand together):

- per component: ``metric`` = its raw value's name (``index``, ``ratio``, ``hourly_rate``) with the
  raw value, and ``metric = 'score'`` with its component score; ``age_s`` is the age of the
  source's data at ``ts``; ``stale`` is true when the component fell back to neutral, ``detail``
  says where it came from or why not;
- ``source = 'combined'``, ``metric = 'score'``: one per symbol and one market-wide (symbol NULL),
  ``detail`` listing the components in the mean and those missing.

A source failure never raises: it becomes a neutral component that says why.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
from prefect import task
from prefect.cache_policies import NONE

from core.sentiment import Combined, Component, combine, fear_greed_component, funding_component, long_short_component
from core.settings import SentimentSettings, Settings
from tasks.sentiment_sources import (
    Reading,
    SourceCache,
    SourceError,
    fetch_fear_greed,
    fetch_funding,
    fetch_long_short,
    observe,
)


@dataclass(slots=True)
class SentimentResult:
    observed_at: float
    components: list[Component]
    combined: list[Combined] = field(default_factory=list)

    def market(self) -> Combined:
        return next(c for c in self.combined if c.symbol is None)

    def rows(self) -> list[dict[str, Any]]:
        """The ``sentiment`` records of this observation (journal ``sentiment`` kind fields)."""
        out: list[dict[str, Any]] = []
        for c in self.components:
            if c.raw is not None:
                out.append(dict(source=c.source, metric=c.metric, symbol=c.symbol, value=c.raw, ts=self.observed_at,
                                age_s=c.age_s, stale=not c.available, detail=c.detail))
            out.append(dict(source=c.source, metric="score", symbol=c.symbol, value=c.score, ts=self.observed_at,
                            age_s=c.age_s, stale=not c.available, detail=c.detail))
        for m in self.combined:
            out.append(dict(source="combined", metric="score", symbol=m.symbol, value=m.score, ts=self.observed_at,
                            age_s=None, stale=not m.used, detail=m.detail))
        return out


Runner = Callable[[Callable[[], Coroutine[Any, Any, Any]]], Any]


def gather(settings: Settings, *, venues: dict[str, Any] | None = None, run: Runner | None = None,
           now: float | None = None, sleep: Callable[[float], None] = time.sleep) -> SentimentResult:
    """Read every configured source (cache first) and combine. ``venues`` serve funding rates; ``run``
    runs a coroutine function on their loop (``Clock.run`` of their session; default ``asyncio.run``)."""
    s = settings.sentiment
    now = time.time() if now is None else now
    cache = SourceCache(settings.cache_dir / "sentiment")
    comps: list[Component] = []
    with httpx.Client(follow_redirects=True) as client:
        if s.fear_greed_url:
            comps.append(observe(key="fear_greed", source="fear_greed", metric="index", symbol=None,
                                 fetch=lambda: fetch_fear_greed(client, s, sleep), to_score=fear_greed_component,
                                 ttl_s=s.fear_greed_ttl_s, max_age_s=s.fear_greed_max_age_s, cache=cache, now=now))
        if s.long_short_url:
            for sym in s.symbols:
                comps.append(observe(key=f"long_short-{sym}", source="long_short", metric="ratio", symbol=sym,
                                     fetch=lambda sym=sym: fetch_long_short(client, s, sym, sleep),  # type: ignore[misc]
                                     to_score=long_short_component, ttl_s=s.long_short_ttl_s,
                                     max_age_s=s.long_short_max_age_s, cache=cache, now=now))
    comps += _funding(s, venues or {}, run or _run, cache, now)
    result = SentimentResult(now, comps)
    result.combined = [combine(comps, sym) for sym in s.symbols] + [combine(comps, None)]
    return result


def _run(main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(main())


def _funding(s: SentimentSettings, venues: dict[str, Any], run: Runner, cache: SourceCache,
             now: float) -> list[Component]:
    """Funding components of every (venue, symbol): fetched concurrently where the cache is not fresh."""
    pairs = [(v, sym) for v in s.funding_venues for sym in s.symbols]
    due = []
    for v, sym in pairs:
        hit = cache.get(f"funding-{v}-{sym}")
        if v in venues and (hit is None or now - hit[0] >= s.funding_ttl_s):
            due.append((v, sym))
    fetched: dict[tuple[str, str], Reading | SourceError] = {}
    if due:
        async def read_all() -> list[Reading | BaseException]:
            return await asyncio.gather(*(fetch_funding(venues[v], sym, s) for v, sym in due), return_exceptions=True)

        for pair, got in zip(due, run(read_all), strict=True):
            fetched[pair] = got if isinstance(got, Reading | SourceError) else \
                SourceError(f"{type(got).__name__}: {got}", False)

    def fetch(pair: tuple[str, str]) -> Reading:
        got = fetched.get(pair) or SourceError(f"venue {pair[0]!r} is not open in this run", False)
        if isinstance(got, SourceError):
            raise got
        return got

    return [observe(key=f"funding-{v}-{sym}", source=f"funding:{v}", metric="hourly_rate", symbol=sym,
                    fetch=lambda pair=(v, sym): fetch(pair), to_score=funding_component,  # type: ignore[misc]
                    ttl_s=s.funding_ttl_s, max_age_s=s.funding_max_age_s, cache=cache, now=now)
            for v, sym in pairs]


@task(name="fetch-sentiment", retries=1, retry_delay_seconds=30, cache_policy=NONE)
def fetch_sentiment(settings: Settings) -> SentimentResult:
    """``gather`` with the funding venues of ``settings.venue_mode`` open for the call (source failures
    are already neutral components; the task's retry covers anything else)."""
    from exchanges.connect import open_venues

    names = tuple(settings.sentiment.funding_venues)
    if not names:
        return gather(settings)
    session = open_venues(settings.venue_mode, names, tuple(settings.sentiment.symbols), seed=settings.seed,
                          settings=settings)
    try:
        return gather(settings, venues=session.venues, run=session.clock.run)
    finally:
        session.clock.run(session.close)
