"""The Prefect UI in a real headless browser (Debian's chromium, driven by Playwright): a person starts a
bot from the deployment's run form, and the run's page shows its summary artifact.

Screenshots go to ``data/test-artifacts/`` (git-ignored) and their paths are printed.
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.local_prefect import ROOT, LocalPrefect

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package, installed by ensure_chromium (or `make test`)
SHOTS = ROOT / "data" / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def ensure_chromium() -> None:
    """Install Debian's chromium when it is missing (the test machine runs as root; the package registry is
    reachable at set-up time). Playwright never downloads its own browser."""
    if CHROMIUM.exists():
        return
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        out = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, f"apt-get install chromium failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing after apt-get install chromium"


@pytest.fixture
def page(tmp_path: Path) -> Any:
    from playwright.sync_api import sync_playwright

    ensure_chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True, args=ARGS,
            viewport={"width": 1400, "height": 1000})
        browser.set_default_timeout(60_000)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def newest_run(lp: LocalPrefect, deployment: str, since: datetime) -> Any:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    with lp.client() as c:
        d = c.read_deployment_by_name(deployment)
        runs = c.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[d.id])))
    runs = [r for r in runs if r.created >= since]
    return max(runs, key=lambda r: r.created) if runs else None


def shot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")
    return path


def test_a_bot_started_from_the_ui_shows_its_summary_artifact_on_its_run_page(local_prefect: LocalPrefect,
                                                                              page: Any) -> None:
    lp = local_prefect
    with lp.client() as c:
        deployment = c.read_deployment_by_name("hedge/paradex-grvt-sol")

    since = datetime.now(UTC) - timedelta(seconds=1)
    page.goto(f"{lp.ui_url}/deployments/deployment/{deployment.id}/run")
    page.get_by_text("order size per cycle, in base units").wait_for()  # the typed form, with descriptions
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="Submit").click()
    run = None
    for _ in range(120):
        run = newest_run(lp, "hedge/paradex-grvt-sol", since)
        if run is not None:
            break
        time.sleep(0.5)
    if run is None:
        shot(page, "ui-run-form-not-submitted")  # what the form said instead
    assert run is not None, "submitting the UI's run form created no flow run"
    done = lp.wait_final(run.id, timeout=240)
    assert done.state.is_completed(), lp.logs(run.id)
    with lp.client() as c:
        [summary] = [a for a in c.read_artifacts() if a.flow_run_id == run.id and a.key == "hedge-summary"]

    page.goto(f"{lp.ui_url}/runs/flow-run/{run.id}")
    page.get_by_text(run.name, exact=True).first.wait_for()
    page.locator("li.p-tab#artifacts").click()
    card = page.get_by_text("hedge-summary", exact=True)
    card.wait_for()
    page.get_by_text(summary.description, exact=True).wait_for()  # "COMPLETED: run complete; both venues flat"
    shot(page, "prefect-ui-hedge-run-artifacts")

    card.click()
    page.get_by_text(f"Hedge run {run.id}").wait_for()
    body = page.inner_text("body")
    for line in summary.data.splitlines():  # every row of the markdown table, as the UI renders it
        if line.startswith("| ") and not line.startswith(("| metric", "| ---")):
            metric, value = (cell.strip() for cell in line.strip("|").split("|"))
            assert metric in body and value in body, (metric, value)
    assert "cycles" in body and "20 (10 open, 10 close)" in body
    shot(page, "prefect-ui-hedge-summary")
