"""Sentiment: the combined score, the fetchers against the loopback sources (every fault the issue
names), the per-source TTL cache, funding through the venue contract of the simulator."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.sentiment import Component, combine, fear_greed_component, funding_component, long_short_component
from core.settings import SentimentSettings, Settings
from tasks.fakes.sentiment import FakeSentiment
from tasks.fakes.thread import in_thread
from tasks.sentiment import SentimentResult, gather


@pytest.fixture
def fake() -> Iterator[FakeSentiment]:
    with in_thread(FakeSentiment(fear_greed=40, ratios={"BTCUSDT": 1.25, "SOLUSDT": 2.5})) as f:
        yield f


def make_settings(tmp_path: Path, fake: FakeSentiment | None, **kw: object) -> Settings:
    base: dict[str, object] = {"symbols": ["BTC", "SOL"], "funding_venues": [], "timeout_s": 0.5, "retries": 1,
                               "backoff_s": 0.01}
    if fake is not None:
        base.update(fear_greed_url=fake.fear_greed_url, long_short_url=fake.long_short_url)
    return Settings(data_dir=tmp_path, sentiment=SentimentSettings(**{**base, **kw}))


def by(result: SentimentResult, source: str, symbol: str | None = None) -> Component:
    return next(c for c in result.components if c.source == source and c.symbol == symbol)


def combined(result: SentimentResult, symbol: str | None) -> float:
    return next(c.score for c in result.combined if c.symbol == symbol)


def test_component_formulas() -> None:
    assert fear_greed_component(50) == 0 and fear_greed_component(0) == -1 and fear_greed_component(100) == 1
    assert fear_greed_component(40) == pytest.approx(-0.2)
    assert long_short_component(1) == 0
    assert long_short_component(2.5) == pytest.approx(-0.6)  # crowded long: contrarian short
    assert long_short_component(0.5) == pytest.approx(1) and long_short_component(0.1) == pytest.approx(1)  # cap 2
    assert funding_component(0) == 0
    assert funding_component(0.0001 / 8) == pytest.approx(-0.2)  # longs pay: contrarian short
    assert funding_component(-1) == 1 and funding_component(1) == -1
    with pytest.raises(ValueError, match="not positive"):
        long_short_component(0)


def test_combined_is_the_mean_of_available_components_only() -> None:
    def comp(source: str, symbol: str | None, score: float, ok: bool = True) -> Component:
        return Component(source, "x", symbol, 1.0, score if ok else 0.0, 0.0, 0.0, ok, "")

    comps = [comp("fear_greed", None, -0.2), comp("long_short", "SOL", -0.6), comp("long_short", "BTC", 0.4),
             comp("funding:paradex", "SOL", 0.9, ok=False)]
    sol = combine(comps, "SOL")
    assert sol.score == pytest.approx(-0.4) and sol.missing == ("funding:paradex:SOL",)
    assert "not available: funding:paradex:SOL" in sol.detail
    market = combine(comps, None)
    assert market.score == pytest.approx((-0.2 + (-0.6 + 0.4) / 2) / 2)  # one mean per source kind first
    nothing = combine([comp("fear_greed", None, 0.5, ok=False)], "BTC")
    assert nothing.score == 0 and nothing.detail.startswith("neutral: no source available")


def test_every_source_fresh(tmp_path: Path, fake: FakeSentiment) -> None:
    r = gather(make_settings(tmp_path, fake))
    fg, sol = by(r, "fear_greed"), by(r, "long_short", "SOL")
    assert (fg.raw, fg.score, fg.available) == (40, pytest.approx(-0.2), True)
    assert "index 40 (Fear)" in fg.detail and 0 <= fg.age_s < 86400
    assert (sol.raw, sol.score) == (2.5, pytest.approx(-0.6))
    assert combined(r, "SOL") == pytest.approx((-0.2 - 0.6) / 2)
    rows = r.rows()
    assert {(x["source"], x["metric"], x["symbol"]) for x in rows} >= {
        ("fear_greed", "index", None), ("fear_greed", "score", None), ("long_short", "ratio", "SOL"),
        ("combined", "score", "SOL"), ("combined", "score", None)}
    assert all(x["ts"] == r.observed_at and x["stale"] is False for x in rows)


def test_timeout_is_retried_then_neutral_with_the_reason(tmp_path: Path, fake: FakeSentiment) -> None:
    fake.timeout("fng", seconds=3, count=None)
    r = gather(make_settings(tmp_path, fake, timeout_s=0.3, retries=1))
    fg = by(r, "fear_greed")
    assert not fg.available and fg.score == 0 and fg.raw is None
    assert fg.detail == "neutral: timeout after 0.3 s (after 2 tries)"
    assert fake.server.count("GET /fng/") == 2
    row = next(x for x in r.rows() if x["source"] == "fear_greed")
    assert row["metric"] == "score" and row["stale"] is True and row["value"] == 0
    assert combined(r, "SOL") == pytest.approx(-0.6)  # the mean of what is available
    assert "not available: fear_greed" in next(c.detail for c in r.combined if c.symbol == "SOL")


def test_server_error_is_transient_and_retried(tmp_path: Path, fake: FakeSentiment) -> None:
    fake.error("ls", 500, count=1)
    slept: list[float] = []
    r = gather(make_settings(tmp_path, fake, symbols=["BTC"], backoff_s=0.05), sleep=slept.append)
    assert by(r, "long_short", "BTC").available and slept == [0.05]
    fake.error("ls", 503, count=None)
    r = gather(make_settings(tmp_path / "b", fake, symbols=["BTC"], retries=2), sleep=slept.append)
    assert by(r, "long_short", "BTC").detail == "neutral: HTTP 503 (after 3 tries)"


def test_rate_limit_waits_retry_after(tmp_path: Path, fake: FakeSentiment) -> None:
    fake.rate_limit("fng", retry_after=7, count=1)
    slept: list[float] = []
    r = gather(make_settings(tmp_path, fake), sleep=slept.append)
    assert by(r, "fear_greed").available and slept == [7]
    fake.rate_limit("fng", retry_after=120, count=1)  # longer than max_retry_after_s: give up now
    r = gather(make_settings(tmp_path / "b", fake, max_retry_after_s=30), sleep=slept.append)
    assert by(r, "fear_greed").detail == "neutral: rate limited (HTTP 429)" and slept == [7]


def test_malformed_json_is_not_retried(tmp_path: Path, fake: FakeSentiment) -> None:
    fake.malformed("fng", count=None)
    r = gather(make_settings(tmp_path, fake, retries=3))
    fg = by(r, "fear_greed")
    assert not fg.available and fg.detail.startswith("neutral: malformed JSON")
    assert fake.server.count("GET /fng/") == 1


def test_unknown_symbol_is_a_client_error_not_retried(tmp_path: Path, fake: FakeSentiment) -> None:
    r = gather(make_settings(tmp_path, fake, symbols=["DOGE"], retries=3))
    assert by(r, "long_short", "DOGE").detail.startswith("neutral: HTTP 400")
    assert fake.server.count("GET /futures") == 1


def test_stale_timestamp_is_neutral_and_says_how_old(tmp_path: Path, fake: FakeSentiment) -> None:
    fake.stale("fng", hours=72).stale("ls", hours=5)
    r = gather(make_settings(tmp_path, fake))
    fg, btc = by(r, "fear_greed"), by(r, "long_short", "BTC")
    assert not fg.available and fg.raw == 40 and fg.score == 0 and fg.age_s > 72 * 3600
    assert re.fullmatch(r"neutral: stale: published (\d+\.\d) h ago, older than 36\.0 h", fg.detail)
    assert float(fg.detail.split()[3]) >= 72  # a daily value: published at 00:00 UTC, 72 h + the hours since
    assert not btc.available and "older than 2.0 h" in btc.detail
    assert combined(r, "BTC") == 0 and next(c for c in r.combined if c.symbol == "BTC").detail.startswith(
        "neutral: no source available")


def test_unreachable_source(tmp_path: Path) -> None:
    r = gather(make_settings(tmp_path, None, fear_greed_url="http://127.0.0.1:9/fng/", long_short_url=""))
    fg = by(r, "fear_greed")
    assert not fg.available and fg.detail.startswith("neutral: unreachable (ConnectError")
    assert [c.source for c in r.components] == ["fear_greed"]  # an empty URL turns a source off


def test_ttl_cache_per_source_and_cached_fallback(tmp_path: Path, fake: FakeSentiment) -> None:
    s = make_settings(tmp_path, fake, symbols=["BTC"], fear_greed_ttl_s=3600, long_short_ttl_s=60)
    t0 = time.time()
    gather(s, now=t0)
    assert fake.server.count("GET /fng/") == 1 and fake.server.count("GET /futures") == 1
    r = gather(s, now=t0 + 120)  # inside the F&G TTL, past the long/short one
    assert fake.server.count("GET /fng/") == 1 and fake.server.count("GET /futures") == 2
    assert by(r, "fear_greed").detail.startswith("cached 120 s ago")
    fake.error("fng", 500, count=None)
    r = gather(s, now=t0 + 4000)  # TTL over, the fetch fails: the cached reading is still fresh data
    fg = by(r, "fear_greed")
    assert fg.available and fg.detail.startswith("cached (fetch failed: HTTP 500 (after 2 tries))")


def test_funding_through_the_venue_contract_of_the_simulator(tmp_path: Path) -> None:
    from exchanges.connect import open_sim

    session = open_sim(("paradex", "grvt"), ("SOL",), seed=3, warmup=60)
    s = make_settings(tmp_path, None, fear_greed_url="", long_short_url="", symbols=["SOL", "XYZ"],
                      funding_venues=["paradex", "grvt", "backpack"])
    try:
        r = gather(s, venues=session.venues, run=session.clock.run, now=session.clock.now())
    finally:
        session.clock.run(session.close)
    grvt = by(r, "funding:grvt", "SOL")
    assert grvt.available and grvt.raw == pytest.approx(0.0001 / 8)  # 0.01 % per 8 h, compared hourly
    assert grvt.score == pytest.approx(-0.2)
    assert by(r, "funding:paradex", "SOL").available
    assert by(r, "funding:backpack", "SOL").detail == "neutral: venue 'backpack' is not open in this run"
    assert not by(r, "funding:grvt", "XYZ").available  # a symbol the venue does not list
    assert combined(r, "SOL") == pytest.approx(-0.2)
