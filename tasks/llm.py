"""One question to an OpenAI-compatible chat endpoint, answered as a validated pydantic object.

``LlmClient.ask_json(messages, schema, check=...)`` is the whole API. It is a thin layer over the
official ``openai`` client (which already retries 429/5xx/connection errors with backoff and
honours Retry-After), adding what every caller here needs:

- Qwen's switch ``enable_thinking: false`` in the request body (``LlmSettings.enable_thinking``);
- ``response_format``: ``json_schema`` where the model serves it, else ``json_object`` with the
  schema and the word JSON in the prompt (the endpoint refuses json_object without it). In
  ``auto`` mode a refusal of json_schema switches the client to json_object for that model;
- local validation, always: the answer must parse as JSON, satisfy the pydantic schema and pass
  the caller's ``check`` (bounds); the endpoint's own schema support is a hint, never trusted;
- one repair retry: the rejected answer and the reason go back to the model once; a second bad
  answer raises ``LlmInvalidAnswer`` carrying both raw answers, so the caller can record them;
- errors that name the setting to fix (``llm.base_url``, ``llm.api_key``, ``llm.model``, ...),
  with the API key scrubbed from every message. ``LlmError.transient`` tells a retrying task
  whether trying again later can help.

``call_llm`` wraps it as a Prefect task that retries transient failures only.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import openai
from prefect import task
from prefect.cache_policies import NONE
from pydantic import BaseModel, SecretStr, ValidationError

from core.errors import PerpflowError
from core.settings import LlmSettings

T = TypeVar("T", bound=BaseModel)
Message = dict[str, str]
REPAIR_LIMIT = 1  # repair retries after a first invalid answer
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
_THINK = re.compile(r"^\s*<think>.*?</think>\s*", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens)


@dataclass(slots=True)
class LlmAnswer(Generic[T]):
    """A validated answer and what it cost: every raw answer (the last is the accepted one)."""

    parsed: T
    raw: str
    usage: Usage
    latency_s: float
    model: str
    response_format: str  # the one the accepted answer was asked with
    raws: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # why earlier answers were rejected

    @property
    def repaired(self) -> bool:
        return len(self.raws) > 1


class LlmError(PerpflowError):
    """The endpoint gave no usable answer. ``setting`` names the setting to look at."""

    transient = False

    def __init__(self, message: str, setting: str | None = None, *, raws: Sequence[str] = (),
                 errors: Sequence[str] = (), usage: Usage = Usage(), latency_s: float = 0.0) -> None:
        super().__init__(f"{setting}: {message}" if setting else message)
        self.setting = setting
        self.raws = list(raws)
        self.errors = list(errors)
        self.usage = usage
        self.latency_s = latency_s


class LlmUnavailable(LlmError):
    """Rate limited, overloaded, timed out or unreachable after the client's own retries: try later."""

    transient = True


class LlmConfigError(LlmError):
    """A setting is wrong (key refused, unknown model, not an OpenAI-compatible endpoint)."""


class LlmInvalidAnswer(LlmError):
    """The model's answers broke the schema or the bounds, also after the repair retry."""


def json_schema_of(schema: type[BaseModel]) -> dict[str, Any]:
    return schema.model_json_schema()


def parse_answer(raw: str | None, schema: type[T], check: Callable[[T], None] | None = None) -> T:
    """The answer text as a validated ``schema`` object; ``ValueError`` saying what is wrong."""
    if raw is None or not raw.strip():
        raise ValueError("the answer is empty")
    text = _THINK.sub("", raw)
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"the answer is not valid JSON ({err.msg} at line {err.lineno} column {err.colno})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"the answer is JSON but not an object (got {type(obj).__name__})")
    try:
        parsed = schema.model_validate(obj)
    except ValidationError as err:
        raise ValueError(f"the answer does not match the schema {schema.__name__}: {_short(err)}") from None
    if check is not None:
        check(parsed)  # raises ValueError naming the bound
    return parsed


def _short(err: ValidationError, limit: int = 8) -> str:
    parts = []
    for e in err.errors()[:limit]:
        loc = ".".join(str(x) for x in e["loc"]) or "(root)"
        parts.append(f"{loc}: {e['msg']}")
    more = len(err.errors()) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


class LlmClient:
    """One endpoint and model (``LlmSettings``); thread-safe; reuse it for many questions."""

    # Models whose json_schema refusal was seen, per (base_url, model), shared by every client of the process.
    _no_json_schema: ClassVar[set[tuple[str, str]]] = set()
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, settings: LlmSettings, api_key: SecretStr | str | None = None) -> None:
        if not settings.base_url:
            raise LlmConfigError("no endpoint is configured (set PERPFLOW_LLM__BASE_URL to an OpenAI-compatible "
                                 "URL, e.g. https://dashscope-intl.aliyuncs.com/compatible-mode/v1)", "llm.base_url")
        self.settings = settings
        key = api_key if api_key is not None else settings.api_key
        self._key = key.get_secret_value() if isinstance(key, SecretStr) else key
        self._client = openai.OpenAI(base_url=settings.base_url, api_key=self._key or "not-set",
                                     timeout=settings.timeout_s, max_retries=settings.max_retries)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> LlmClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the API ---------------------------------------------------------------------------------
    def ask_json(self, messages: Sequence[Message], schema: type[T], *, check: Callable[[T], None] | None = None,
                 max_tokens: int | None = None) -> LlmAnswer[T]:
        """Ask, validate (schema, then ``check``), repair once; ``LlmError`` when no valid answer came."""
        t0 = time.perf_counter()
        convo = [dict(m) for m in messages]
        raws: list[str] = []
        errors: list[str] = []
        usage = Usage()
        fmt = "json_object"
        for attempt in range(1 + REPAIR_LIMIT):
            try:
                raw, used, fmt = self._complete(convo, schema, max_tokens)
            except LlmError as err:
                err.raws, err.errors, err.usage = raws + err.raws, errors + err.errors, usage + err.usage
                err.latency_s = time.perf_counter() - t0
                raise
            usage += used
            raws.append(raw or "")
            try:
                parsed = parse_answer(raw, schema, check)
            except ValueError as err:
                errors.append(self._scrub(str(err)))
                if attempt < REPAIR_LIMIT:
                    convo += [{"role": "assistant", "content": raw or ""},
                              {"role": "user", "content": f"That answer was rejected: {errors[-1]}. Reply again "
                                                          "with only the corrected JSON object."}]
                continue
            return LlmAnswer(parsed, raws[-1], usage, time.perf_counter() - t0, self.settings.model, fmt,
                             raws, errors)
        raise LlmInvalidAnswer(f"no valid answer after {len(raws)} tries: {errors[-1]}", "llm.model", raws=raws,
                               errors=errors, usage=usage, latency_s=time.perf_counter() - t0)

    # --- one request -----------------------------------------------------------------------------
    def _format(self) -> str:
        mode = self.settings.response_format
        if mode == "auto":
            with self._lock:
                seen = (self.settings.base_url or "", self.settings.model) in self._no_json_schema
            return "json_object" if seen else "json_schema"
        return mode

    def _complete(self, convo: list[Message], schema: type[BaseModel],
                  max_tokens: int | None) -> tuple[str | None, Usage, str]:
        fmt = self._format()
        try:
            return self._request(convo, schema, fmt, max_tokens)
        except openai.BadRequestError as err:
            if fmt == "json_schema" and self.settings.response_format == "auto" and _about_format(err):
                with self._lock:
                    self._no_json_schema.add((self.settings.base_url or "", self.settings.model))
                try:
                    return self._request(convo, schema, "json_object", max_tokens)
                except openai.APIError as again:
                    raise self._translate(again) from None
            raise self._translate(err) from None
        except openai.APIError as err:
            raise self._translate(err) from None

    def _request(self, convo: list[Message], schema: type[BaseModel], fmt: str,
                 max_tokens: int | None) -> tuple[str | None, Usage, str]:
        messages = list(convo)
        if fmt == "json_schema":
            response_format: dict[str, Any] = {"type": "json_schema", "json_schema": {
                "name": schema.__name__, "schema": json_schema_of(schema), "strict": False}}
        else:
            response_format = {"type": "json_object"}
            messages = [{"role": "system", "content": "Reply with only one JSON object that satisfies this JSON "
                                                      f"Schema:\n{json.dumps(json_schema_of(schema))}"}, *messages]
        extra: dict[str, Any] = {}
        if self.settings.enable_thinking is not None:
            extra["enable_thinking"] = self.settings.enable_thinking
        kwargs: dict[str, Any] = {"model": self.settings.model, "messages": messages,
                                  "response_format": response_format, "temperature": self.settings.temperature,
                                  "extra_body": extra or None}
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        completion = self._client.chat.completions.create(**kwargs)
        choices = getattr(completion, "choices", None)
        if not isinstance(choices, list) or not choices or getattr(choices[0], "message", None) is None:
            raise LlmConfigError(f"{self.settings.base_url} answered something that is not an OpenAI chat "
                                 "completion (no choices); is it an OpenAI-compatible endpoint (URL ending in /v1)?",
                                 "llm.base_url")
        u = getattr(completion, "usage", None)
        used = Usage(int(getattr(u, "prompt_tokens", 0) or 0), int(getattr(u, "completion_tokens", 0) or 0))
        return choices[0].message.content, used, fmt

    # --- errors ------------------------------------------------------------------------------------
    def _translate(self, err: openai.APIError) -> LlmError:
        url, model = self.settings.base_url, self.settings.model
        body = self._scrub(_message(err))
        if isinstance(err, openai.APITimeoutError):
            return LlmUnavailable(f"no answer from {url} within {self.settings.timeout_s:g} s "
                                  f"(after {self.settings.max_retries} retries)", "llm.timeout_s")
        if isinstance(err, openai.APIConnectionError):
            return LlmUnavailable(f"cannot reach {url} ({self._scrub(str(err.__cause__ or err))}); "
                                  "is the endpoint running and the URL right?", "llm.base_url")
        if isinstance(err, openai.AuthenticationError | openai.PermissionDeniedError):
            hint = "no key is set (PERPFLOW_LLM__API_KEY or llm.api_key_block)" if not self._key else \
                "the key was refused"
            return LlmConfigError(f"{url} answered HTTP {err.status_code}: {hint} ({body})", "llm.api_key")
        if isinstance(err, openai.RateLimitError):
            return LlmUnavailable(f"{url} is rate limiting (HTTP 429 after {self.settings.max_retries} retries): "
                                  f"{body}", "llm.base_url")
        if isinstance(err, openai.APIStatusError):
            if "model" in body.lower() and err.status_code in (400, 404):
                return LlmConfigError(f"model {model!r} is not served by {url} (HTTP {err.status_code}: {body})",
                                      "llm.model")
            if err.status_code == 404:
                return LlmConfigError(f"{url} has no /chat/completions (HTTP 404): not an OpenAI-compatible "
                                      "endpoint; the URL usually ends in /v1", "llm.base_url")
            if err.status_code >= 500:
                return LlmUnavailable(f"{url} failed (HTTP {err.status_code} after {self.settings.max_retries} "
                                      f"retries): {body}", "llm.base_url")
            return LlmConfigError(f"{url} refused the request (HTTP {err.status_code}): {body}", "llm.base_url")
        if isinstance(err, openai.APIResponseValidationError):
            return LlmConfigError(f"{url} answered something that is not an OpenAI chat completion: {body}",
                                  "llm.base_url")
        return LlmError(f"{url}: {body}", "llm.base_url")

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text


def _message(err: openai.APIError) -> str:
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:500]
    return str(getattr(err, "message", None) or err)[:500]


def _about_format(err: openai.BadRequestError) -> bool:
    text = _message(err).lower()
    return "response_format" in text or "json_schema" in text


def ask_json(messages: Sequence[Message], schema: type[T], settings: LlmSettings, *,
             check: Callable[[T], None] | None = None, api_key: SecretStr | str | None = None) -> LlmAnswer[T]:
    """One question with a client of its own (see ``LlmClient.ask_json``)."""
    with LlmClient(settings, api_key) as client:
        return client.ask_json(messages, schema, check=check)


def transient_only(_task: Any, _task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry a failed run only when its error is transient."""
    try:
        state.result()
    except LlmError as err:
        return err.transient
    except Exception:
        return False
    return False


@task(name="call-llm", retries=2, retry_delay_seconds=[10, 60], retry_condition_fn=transient_only,
      cache_policy=NONE)
def call_llm(messages: list[Message], schema: type[T], settings: LlmSettings, *,
             check: Callable[[T], None] | None = None, api_key: SecretStr | None = None) -> LlmAnswer[T]:
    """``ask_json`` as a Prefect task: transient failures (429/5xx/timeouts) are retried later."""
    return ask_json(messages, schema, settings, check=check, api_key=api_key)
