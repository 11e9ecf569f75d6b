"""A loopback OpenAI-compatible chat server, scriptable per request, for tests and the demo.

It speaks the real HTTP protocol (``POST /v1/chat/completions``, ``GET /v1/models``) so the
official ``openai`` client runs end to end against it; HTTP-mocking libraries cannot intercept
that client (it runs on httpx2). What it checks, as the real endpoints do:

- ``Authorization: Bearer <key>`` when the fake was given a key (401 otherwise);
- the model name (404 ``model_not_found`` for one it does not serve);
- ``response_format``: json_schema refused with 400 when ``json_schema=False`` (like Qwen models
  that do not serve it); json_object refused when no message contains the word "json".

What it answers is scripted: each request takes the next ``Reply`` from the queue (a valid
answer, malformed JSON, an answer breaking a bound, 429 with Retry-After, 503, a slow answer, a
non-OpenAI page); with the queue empty, ``responder(body)`` answers, else a 500 says the script
ran out. Every request body is kept in ``bodies`` for tests to inspect.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Self

from aiohttp import web
from pydantic import BaseModel

from exchanges.fakes.loopback import LoopbackServer

Content = str | dict[str, Any] | BaseModel
Responder = Callable[[dict[str, Any]], Content]


@dataclass(slots=True)
class Reply:
    kind: Literal["content", "status", "not_openai"]
    content: str | None = None
    status: int = 200
    message: str = ""
    retry_after: float | None = None
    delay: float = 0.0  # seconds before answering (a slow answer)


def _text(content: Content) -> str:
    if isinstance(content, BaseModel):
        return content.model_dump_json()
    if isinstance(content, dict):
        return json.dumps(content)
    return content


class FakeLlm:
    """The scriptable endpoint; ``base_url`` is what ``LlmSettings.base_url`` takes."""

    def __init__(self, *, models: tuple[str, ...] = ("qwen-plus",), api_key: str | None = None,
                 json_schema: bool = True, responder: Responder | None = None) -> None:
        self.models = models
        self.api_key = api_key
        self.json_schema = json_schema
        self.responder = responder
        self.script: deque[Reply] = deque()
        self.bodies: list[dict[str, Any]] = []  # every chat request's JSON body, in arrival order
        self.answered = 0  # completions served (scripted or by the responder)
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        self.server = LoopbackServer(app, shutdown_timeout=0.2)

    # --- scripting: each call queues the answer to one request ------------------------------------
    def answer(self, content: Content, delay: float = 0.0) -> Self:
        self.script.append(Reply("content", _text(content), delay=delay))
        return self

    def malformed(self, text: str = '{"recommendations": [{"action": "block", ') -> Self:
        self.script.append(Reply("content", text))
        return self

    def error(self, status: int, message: str = "", retry_after: float | None = None) -> Self:
        self.script.append(Reply("status", status=status, message=message or _STATUS_TEXT.get(status, "error"),
                                 retry_after=retry_after))
        return self

    def slow(self, seconds: float, content: Content) -> Self:
        return self.answer(content, delay=seconds)

    def not_openai(self) -> Self:
        self.script.append(Reply("not_openai"))
        return self

    # --- lifecycle -----------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        await self.server.start(host, port)
        return self.base_url

    async def stop(self) -> None:
        await self.server.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.server.host}:{self.server.port}/v1"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- handlers --------------------------------------------------------------------------------
    async def _models(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        return web.json_response({"object": "list", "data": [{"id": m, "object": "model", "owned_by": "fake"}
                                                             for m in self.models]})

    def _auth(self, request: web.Request) -> web.Response | None:
        if self.api_key is None:
            return None
        if request.headers.get("Authorization", "") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        return None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if (denied := self._auth(request)) is not None:
            return denied
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
        self.bodies.append(body)
        model = body.get("model")
        if model not in self.models:
            return _error(404, f"The model `{model}` does not exist or you do not have access to it.",
                          "model_not_found")
        fmt = (body.get("response_format") or {}).get("type")
        if fmt == "json_schema" and not self.json_schema:
            return _error(400, "<400> InternalError.Algo.InvalidParameter: The response_format type json_schema "
                               "is not supported by this model", "invalid_parameter_error")
        text = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        if fmt == "json_object" and "json" not in text.lower():
            return _error(400, "'messages' must contain the word 'json' in some form, to use 'response_format' of "
                               "type 'json_object'.", "invalid_request_error")
        reply = self.script.popleft() if self.script else None
        if reply is None:
            if self.responder is None:
                return _error(500, "fake LLM: the script has no answer left for this request", "server_error")
            reply = Reply("content", _text(self.responder(body)))
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.kind == "status":
            headers = {"Retry-After": f"{reply.retry_after:g}"} if reply.retry_after is not None else None
            return _error(reply.status, reply.message, _STATUS_CODE.get(reply.status, "error"), headers)
        if reply.kind == "not_openai":
            return web.Response(status=200, text="<html><body>It works!</body></html>", content_type="text/html")
        self.answered += 1
        content = reply.content or ""
        prompt_tokens = max(1, len(text) // 4)
        completion_tokens = max(1, len(content) // 4)
        return web.json_response({
            "id": f"chatcmpl-fake-{len(self.bodies)}", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })


_STATUS_TEXT = {429: "Requests rate limit exceeded, please try again later.",
                500: "The server had an error while processing your request.",
                503: "The engine is currently overloaded, please try again later."}
_STATUS_CODE = {429: "rate_limit_exceeded", 500: "server_error", 503: "service_unavailable"}


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"message": message, "type": code, "code": code, "param": None}},
                             status=status, headers=headers)
