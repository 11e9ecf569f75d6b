"""``perpflow sentiment | insights | review | fake-intel``: bad settings named before anything runs, an
unusable endpoint named after the failed review is recorded, a corrupt insights file replaced."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from core.insights import load_insights
from core.settings import get_settings
from tasks.fakes.llm import FakeLlm
from tasks.fakes.thread import in_thread

BIN = Path(sys.executable).parent


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("PERPFLOW_DATA_DIR", str(tmp_path))
    for name in ("FEAR_GREED_URL", "LONG_SHORT_URL"):
        monkeypatch.setenv(f"PERPFLOW_SENTIMENT__{name}", "")
    monkeypatch.setenv("PERPFLOW_SENTIMENT__FUNDING_VENUES", "[]")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_bad_settings_are_named_before_anything_runs(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERPFLOW_SENTIMENT__TIMEOUT_S", "-1")
    monkeypatch.setenv("PERPFLOW_LLM__RESPONSE_FORMAT", "yaml")
    for cmd in ("sentiment", "insights", "review"):
        out = CliRunner().invoke(app, [cmd])
        assert out.exit_code == 2, out.output
        assert "error: PERPFLOW_SENTIMENT__TIMEOUT_S: Input should be greater than 0" in out.output
        assert "error: PERPFLOW_LLM__RESPONSE_FORMAT: Input should be 'auto', 'json_schema' or 'json_object'" \
            in out.output
        assert "Traceback" not in out.output
    assert not (data_dir / "journal").exists()  # nothing ran


def test_review_with_an_unknown_model_exits_naming_the_setting(data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                               prefect_harness: None) -> None:
    with in_thread(FakeLlm()) as fake:
        monkeypatch.setenv("PERPFLOW_LLM__BASE_URL", fake.base_url)
        monkeypatch.setenv("PERPFLOW_LLM__MODEL", "qwen-does-not-exist")
        out = CliRunner().invoke(app, ["review"])
    assert out.exit_code == 1
    assert "llm.model: model 'qwen-does-not-exist' is not served by" in out.output
    assert "(recorded)" in out.output and "Traceback" not in out.output


def test_insights_replaces_a_corrupt_file(data_dir: Path, prefect_harness: None) -> None:
    (data_dir / "shared_insights.json").write_text("{ not json")
    out = CliRunner().invoke(app, ["insights"])
    assert out.exit_code == 0, out.output
    assert f"-> {data_dir / 'shared_insights.json'}" in out.output
    assert load_insights(data_dir / "shared_insights.json").present


def test_fake_intel_serves_what_it_prints(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPFLOW_")}
    proc = subprocess.Popen([str(BIN / "perpflow"), "fake-intel"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout is not None
        lines = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(4))
        fng = json.loads(urllib.request.urlopen(lines["PERPFLOW_SENTIMENT__FEAR_GREED_URL"], timeout=5).read())
        assert fng["data"][0]["value"] == "40"
        req = urllib.request.Request(lines["PERPFLOW_LLM__BASE_URL"] + "/chat/completions", method="POST",
                                     data=json.dumps({"model": "qwen-plus", "messages": [
                                         {"role": "user", "content": "review, as JSON"}]}).encode(),
                                     headers={"Content-Type": "application/json"})
        answer = json.loads(urllib.request.urlopen(req, timeout=5).read())
        assert json.loads(answer["choices"][0]["message"]["content"])["recommendations"] == []
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C, even when started as a background job (SIGINT ignored)
        assert proc.wait(20) == 0
