"""The LLM client (tasks/llm.py) against the loopback OpenAI-compatible fake (real HTTP, the real openai client)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import BaseModel, Field

from core.settings import LlmSettings
from tasks.fakes.llm import FakeLlm
from tasks.fakes.thread import in_thread
from tasks.llm import LlmClient, LlmConfigError, LlmInvalidAnswer, LlmUnavailable, ask_json

KEY = "sk-test-0123456789abcdef"
ASK = [{"role": "system", "content": "You review trading bots."}, {"role": "user", "content": "How risky is SOL?"}]


class Verdict(BaseModel):
    risk: float = Field(ge=0, le=1)
    note: str


def at_most_half(v: Verdict) -> None:
    if v.risk > 0.5:
        raise ValueError(f"risk {v.risk} is above the bound 0.5")


@pytest.fixture
def fake() -> Iterator[FakeLlm]:
    with in_thread(FakeLlm(api_key=KEY)) as f:
        yield f


def settings(fake: FakeLlm, **kw: object) -> LlmSettings:
    base = {"base_url": fake.base_url, "api_key": KEY, "timeout_s": 5.0, "max_retries": 2}
    return LlmSettings(**{**base, **kw})


def test_valid_answer_is_parsed_with_qwen_switches_and_usage(fake: FakeLlm) -> None:
    fake.answer({"risk": 0.2, "note": "calm"})
    a = ask_json(ASK, Verdict, settings(fake))
    assert a.parsed == Verdict(risk=0.2, note="calm")
    assert a.usage.prompt_tokens > 0 and a.usage.completion_tokens > 0
    assert not a.repaired and a.response_format == "json_schema"
    body = fake.bodies[-1]
    assert body["enable_thinking"] is False
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "Verdict"
    assert body["response_format"]["json_schema"]["schema"]["properties"]["risk"]["maximum"] == 1


def test_enable_thinking_none_is_not_sent(fake: FakeLlm) -> None:
    fake.answer({"risk": 0.1, "note": "x"})
    ask_json(ASK, Verdict, settings(fake, enable_thinking=None))
    assert "enable_thinking" not in fake.bodies[-1]


def test_json_schema_refused_falls_back_to_json_object_with_the_word_json_and_remembers() -> None:
    with in_thread(FakeLlm(json_schema=False)) as fake:
        fake.answer({"risk": 0.3, "note": "a"}).answer({"risk": 0.4, "note": "b"})
        s = LlmSettings(base_url=fake.base_url, timeout_s=5)
        first = ask_json(ASK, Verdict, s)
        second = ask_json(ASK, Verdict, s)
        assert (first.parsed.risk, second.parsed.risk) == (0.3, 0.4)
        assert first.response_format == second.response_format == "json_object"
        # one refused json_schema request, then json_object only (the refusal is remembered per model)
        assert [b["response_format"]["type"] for b in fake.bodies] == ["json_schema", "json_object", "json_object"]
        assert "JSON" in fake.bodies[-1]["messages"][0]["content"]


def test_json_object_mode_without_json_in_prompt_is_accepted_because_the_client_adds_it(fake: FakeLlm) -> None:
    fake.answer({"risk": 0.1, "note": "x"})
    ask_json([{"role": "user", "content": "hello"}], Verdict, settings(fake, response_format="json_object"))
    assert fake.bodies[-1]["response_format"] == {"type": "json_object"}


def test_malformed_then_valid_is_repaired_once(fake: FakeLlm) -> None:
    fake.malformed().answer({"risk": 0.2, "note": "fixed"})
    a = ask_json(ASK, Verdict, settings(fake))
    assert a.repaired and a.parsed.note == "fixed"
    assert len(a.raws) == 2 and "not valid JSON" in a.errors[0]
    repair = fake.bodies[-1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": a.raws[0]}
    assert "rejected" in repair[-1]["content"] and "not valid JSON" in repair[-1]["content"]


def test_malformed_twice_is_invalid_with_both_raw_answers(fake: FakeLlm) -> None:
    fake.malformed("not json at all").answer({"risk": "high"})
    with pytest.raises(LlmInvalidAnswer) as caught:
        ask_json(ASK, Verdict, settings(fake))
    err = caught.value
    assert err.raws == ["not json at all", '{"risk": "high"}']
    assert "not valid JSON" in err.errors[0] and "risk" in err.errors[1] and "note" in err.errors[1]
    assert err.usage.completion_tokens > 0 and not err.transient


def test_out_of_bounds_answer_is_repaired_then_rejected(fake: FakeLlm) -> None:
    fake.answer({"risk": 0.9, "note": "a"}).answer({"risk": 0.4, "note": "b"})
    a = ask_json(ASK, Verdict, settings(fake), check=at_most_half)
    assert a.parsed.risk == 0.4 and "above the bound 0.5" in a.errors[0]
    fake.answer({"risk": 0.9, "note": "a"}).answer({"risk": 0.8, "note": "b"})
    with pytest.raises(LlmInvalidAnswer, match=r"above the bound 0\.5"):
        ask_json(ASK, Verdict, settings(fake), check=at_most_half)


def test_schema_bounds_are_checked_locally_even_if_the_endpoint_ignores_them(fake: FakeLlm) -> None:
    fake.answer({"risk": 7, "note": "a"}).answer({"risk": 0.5, "note": "b"})
    a = ask_json(ASK, Verdict, settings(fake))
    assert a.parsed.risk == 0.5 and "less than or equal to 1" in a.errors[0]


def test_429_with_retry_after_then_answer(fake: FakeLlm) -> None:
    fake.error(429, retry_after=0.2).answer({"risk": 0.1, "note": "x"})
    a = ask_json(ASK, Verdict, settings(fake))
    assert a.parsed.risk == 0.1 and len(fake.bodies) == 2


def test_503_beyond_the_retries_is_transient_unavailable(fake: FakeLlm) -> None:
    for _ in range(3):
        fake.error(503, retry_after=0)
    with pytest.raises(LlmUnavailable, match=r"llm.base_url: .*HTTP 503") as caught:
        ask_json(ASK, Verdict, settings(fake))
    assert caught.value.transient and len(fake.bodies) == 3


def test_slow_answer_times_out_and_the_retry_gets_the_next(fake: FakeLlm) -> None:
    fake.slow(2.0, {"risk": 0.9, "note": "late"}).answer({"risk": 0.1, "note": "on time"})
    a = ask_json(ASK, Verdict, settings(fake, timeout_s=0.5, max_retries=1))
    assert a.parsed.note == "on time"


def test_slow_answer_without_retries_names_the_timeout_setting(fake: FakeLlm) -> None:
    fake.slow(2.0, {"risk": 0.9, "note": "late"})
    with pytest.raises(LlmUnavailable, match=r"^llm.timeout_s: no answer .* within 0.3 s"):
        ask_json(ASK, Verdict, settings(fake, timeout_s=0.3, max_retries=0))


def test_wrong_key_names_the_key_setting_and_never_prints_it(fake: FakeLlm) -> None:
    with pytest.raises(LlmConfigError, match=r"^llm.api_key: .*HTTP 401") as caught:
        ask_json(ASK, Verdict, settings(fake, api_key="sk-wrong-key-123"))
    assert "sk-wrong-key-123" not in str(caught.value)
    with pytest.raises(LlmConfigError, match="no key is set"):
        ask_json(ASK, Verdict, settings(fake, api_key=None))


def test_an_endpoint_echoing_the_key_has_it_scrubbed(fake: FakeLlm) -> None:
    fake.error(400, message=f"bad request from key {KEY}")
    with pytest.raises(LlmConfigError) as caught:
        ask_json(ASK, Verdict, settings(fake))
    assert KEY not in str(caught.value) and "***" in str(caught.value)


def test_unknown_model_names_the_model_setting(fake: FakeLlm) -> None:
    with pytest.raises(LlmConfigError, match=r"^llm.model: model 'qwen-nonexistent' is not served"):
        ask_json(ASK, Verdict, settings(fake, model="qwen-nonexistent"))


def test_non_openai_endpoints_name_the_base_url_setting(fake: FakeLlm) -> None:
    fake.not_openai()
    with pytest.raises(LlmConfigError, match=r"^llm.base_url: .*not an OpenAI chat completion"):
        ask_json(ASK, Verdict, settings(fake))
    with pytest.raises(LlmConfigError, match=r"^llm.base_url: .*has no /chat/completions"):
        ask_json(ASK, Verdict, settings(fake, base_url=fake.base_url.removesuffix("/v1")))


def test_unreachable_and_missing_endpoints_name_the_base_url_setting() -> None:
    with pytest.raises(LlmUnavailable, match=r"^llm.base_url: cannot reach http://127.0.0.1:9/v1"):
        ask_json(ASK, Verdict, LlmSettings(base_url="http://127.0.0.1:9/v1", max_retries=0))
    with pytest.raises(LlmConfigError, match=r"^llm.base_url: no endpoint is configured"):
        LlmClient(LlmSettings())


def test_one_client_serves_many_questions_and_the_fake_answers_by_responder() -> None:
    seen: list[str] = []

    def responder(body: dict) -> dict:
        seen.append(body["messages"][-1]["content"])
        return {"risk": 0.01 * len(seen), "note": body["messages"][-1]["content"]}

    with in_thread(FakeLlm(responder=responder)) as fake, LlmClient(LlmSettings(base_url=fake.base_url)) as client:
        answers = [client.ask_json([{"role": "user", "content": f"q{i}"}], Verdict) for i in range(3)]
    assert [a.parsed.note for a in answers] == ["q0", "q1", "q2"]
    assert seen == ["q0", "q1", "q2"]


def test_enable_thinking_can_be_left_out_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import Settings

    monkeypatch.setenv("PERPFLOW_LLM__ENABLE_THINKING", "")
    assert Settings().llm.enable_thinking is None
    monkeypatch.setenv("PERPFLOW_LLM__ENABLE_THINKING", "true")
    assert Settings().llm.enable_thinking is True
    monkeypatch.delenv("PERPFLOW_LLM__ENABLE_THINKING")
    assert Settings().llm.enable_thinking is False
