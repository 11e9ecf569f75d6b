"""ResilientStream: reconnect, catch-up after reconnect, and no item twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from core.errors import StreamDisconnected
from exchanges.streams import ResilientStream


def scripted_feeds(*scripts: list[tuple[str, float] | None]):
    """Each call opens the next script; ``None`` in a script is a disconnect."""
    it = iter(scripts)

    def open_feed() -> AsyncIterator[tuple[str, float]]:
        script = next(it)

        async def gen() -> AsyncIterator[tuple[str, float]]:
            for item in script:
                await asyncio.sleep(0)
                if item is None:
                    raise StreamDisconnected("scripted drop")
                yield item
            await asyncio.Event().wait()  # then stay connected and quiet

        return gen()

    return open_feed


async def take(stream: ResilientStream, n: int) -> list:
    out = []
    async for item in stream:
        out.append(item)
        if len(out) == n:
            return out
    return out


async def test_reconnect_catches_up_and_never_repeats() -> None:
    catch_up_calls: list[float] = []

    async def catch_up(since: float) -> list[tuple[str, float]]:
        catch_up_calls.append(since)
        return [("b", 2.0), ("c", 3.0), ("d", 4.0)]  # b was already seen: the overlap

    stream = ResilientStream(
        "test", scripted_feeds([("a", 1.0), ("b", 2.0), None], [("d", 4.0), ("e", 5.0)]),
        catch_up=catch_up, key=lambda x: x[0], ts=lambda x: x[1], catch_up_overlap=1.0)
    got = await asyncio.wait_for(take(stream, 5), 5)
    assert [k for k, _ in got] == ["a", "b", "c", "d", "e"]
    assert stream.reconnects == 1
    assert catch_up_calls == [1.0]  # last seen ts 2.0 minus the overlap


async def test_a_duplicate_pushed_by_the_venue_is_dropped() -> None:
    stream = ResilientStream("test", scripted_feeds([("a", 1.0), ("a", 1.0), ("b", 2.0)]),
                             key=lambda x: x[0], ts=lambda x: x[1])
    assert [k for k, _ in await asyncio.wait_for(take(stream, 2), 5)] == ["a", "b"]


async def test_failed_reconnects_back_off_and_retry() -> None:
    attempts = 0

    def flaky() -> AsyncIterator[tuple[str, float]]:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionRefusedError("venue down")
        return scripted_feeds([("x", 1.0)])()

    stream = ResilientStream("test", flaky, backoff_initial=0.01, key=lambda x: x[0])
    assert await asyncio.wait_for(take(stream, 1), 5) == [("x", 1.0)]
    assert attempts == 3


async def test_a_drop_before_the_first_item_still_catches_up() -> None:
    calls: list[float] = []

    async def catch_up(since: float) -> list[tuple[str, float]]:
        calls.append(since)
        return [("missed", 105.0)]

    stream = ResilientStream("test", scripted_feeds([None], [("next", 110.0)]), catch_up=catch_up,
                             key=lambda x: x[0], ts=lambda x: x[1], since=100.0, catch_up_overlap=1.0)
    assert [k for k, _ in await asyncio.wait_for(take(stream, 2), 5)] == ["missed", "next"]
    assert calls == [99.0]
