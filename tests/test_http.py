"""``exchanges.http``: one JSON request over the adapters' aiohttp session, against a real loopback
server: what the venue receives (query values as httpx wrote them, one JSON content type), and each
failure in the venue contract's terms."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from core.errors import BadResponse, VenueError, VenueTimeout, VenueUnavailable
from core.reasons import Reason
from exchanges.http import JsonHttp, request_json

VENUE = "testvenue"


def error_of(status: int, body: Any, what: str, retry_after: float | None) -> VenueError:
    return VenueError(Reason.REJECTED, f"{what}: {status} {body} retry_after={retry_after}", VENUE)


def answer(response: web.Response) -> Any:
    async def handle(request: web.Request) -> web.Response:
        return web.Response(status=response.status, body=response.body, headers=response.headers)
    return handle


class Server:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        app = web.Application()
        app.router.add_route("*", "/echo", self.echo)
        app.router.add_get("/limited", answer(web.json_response({"error": "slow down"}, status=429,
                                                                headers={"Retry-After": "2"})))
        app.router.add_get("/not-json", answer(web.Response(text="<html>ok</html>")))
        app.router.add_get("/broken", answer(web.Response(status=502, text="bad gateway")))
        app.router.add_delete("/empty", answer(web.Response(status=204)))
        app.router.add_get("/slow", self.slow)
        app.router.add_post("/drop", self.drop)
        self.dropped = 0
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)

    async def echo(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen.append({"method": request.method, "query": dict(request.query), "body": body,
                          "content_types": request.headers.getall("Content-Type", [])})
        return web.json_response({"ok": True})

    async def drop(self, request: web.Request) -> web.Response:
        """The connection dies with the request taken in and no answer (the order may have landed)."""
        self.dropped += 1
        assert request.transport is not None
        request.transport.close()
        await asyncio.sleep(0.2)
        return web.json_response({})

    @staticmethod
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1.0)
        return web.json_response({})

    async def start(self) -> str:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{self.runner.addresses[0][1]}/"


@pytest.fixture
async def served() -> AsyncIterator[tuple[Server, JsonHttp]]:
    server = Server()
    client = JsonHttp(await server.start(), timeout_s=0.3)
    try:
        yield server, client
    finally:
        await client.aclose()
        await server.runner.cleanup()


async def call(client: JsonHttp, method: str, path: str, **kw: Any) -> Any:
    return await request_json(client, method, path, venue=VENUE, error_of=error_of, **kw)


async def test_query_values_are_written_as_httpx_wrote_them(served: tuple[Server, JsonHttp]) -> None:
    server, client = served
    assert await call(client, "GET", "/echo", params={"postOnly": True, "reduceOnly": False, "limit": 5,
                                                       "symbol": "SOL_USDC PERP"}) == {"ok": True}
    assert server.seen[-1]["query"] == {"postOnly": "true", "reduceOnly": "false", "limit": "5",
                                        "symbol": "SOL_USDC PERP"}


async def test_a_json_body_is_sent_as_json_dumps_writes_it_with_one_content_type(
        served: tuple[Server, JsonHttp]) -> None:
    server, client = served
    body = {"price": "101.5", "quantity": "0.25", "clientId": 12345, "postOnly": True}
    # a caller's own lower-case content type (paradex-py's session headers carry one) is not doubled
    await call(client, "POST", "/echo", json=body, headers={"content-type": "application/json", "X-Key": "k"})
    seen = server.seen[-1]
    assert seen["body"] == json.dumps(body).encode()
    assert seen["content_types"] == ["application/json"]
    await call(client, "DELETE", "/echo", json={"orderId": "7"})
    assert server.seen[-1]["method"] == "DELETE" and json.loads(server.seen[-1]["body"]) == {"orderId": "7"}


async def test_an_error_status_reaches_the_codec_with_its_body_and_retry_after(
        served: tuple[Server, JsonHttp]) -> None:
    _, client = served
    with pytest.raises(VenueError, match=r"GET /limited: 429 \{'error': 'slow down'\} retry_after=2.0"):
        await call(client, "GET", "/limited")
    with pytest.raises(VenueError, match=r"GET /broken: 502 None retry_after=None"):  # an unreadable error body
        await call(client, "GET", "/broken")


async def test_a_success_that_is_not_json_is_a_bad_response_and_an_empty_one_is_none(
        served: tuple[Server, JsonHttp]) -> None:
    _, client = served
    with pytest.raises(BadResponse, match="GET /not-json: the answer is not JSON"):
        await call(client, "GET", "/not-json")
    assert await call(client, "DELETE", "/empty") is None


async def test_no_answer_in_time_is_a_timeout(served: tuple[Server, JsonHttp]) -> None:
    _, client = served
    with pytest.raises(VenueTimeout, match=r"GET /slow: no answer within 0.3s"):
        await call(client, "GET", "/slow")


async def test_nobody_listening_is_unavailable() -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = JsonHttp(f"http://127.0.0.1:{port}", timeout_s=2)
    try:
        with pytest.raises(VenueUnavailable, match="GET /echo: ClientConnectorError"):
            await call(client, "GET", "/echo")
    finally:
        await client.aclose()


async def test_an_order_post_whose_connection_dies_is_sent_once_and_reported_unavailable(
        served: tuple[Server, JsonHttp]) -> None:
    """aiohttp re-sends an idempotent request once on a dead kept-alive connection; a POST (every
    order) never: its fate is for the request policy to look up by client id."""
    server, client = served
    await call(client, "GET", "/echo")  # the connection is kept alive and reused
    with pytest.raises(VenueUnavailable, match="POST /drop: ServerDisconnectedError"):
        await call(client, "POST", "/drop", json={"clientId": 1})
    assert server.dropped == 1
