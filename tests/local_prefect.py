"""A real local Prefect server and worker for tests, started the way users start it: ``perpflow serve``.

One per test session (``local_prefect`` in conftest.py), on a free port, with its own PREFECT_HOME
and data dir under a temporary directory. Tests drive it through the ``prefect`` CLI, the Prefect
client and the warehouse it fills; nothing of perpflow is faked.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


# Scheduled flows of the session's server never reach the internet and cost little: sentiment sources
# and funding reads off, no LLM endpoint (the statistical reviewer). Tests that need a source start a fake.
OFFLINE = {"PERPFLOW_SENTIMENT__FEAR_GREED_URL": "", "PERPFLOW_SENTIMENT__LONG_SHORT_URL": "",
           "PERPFLOW_SENTIMENT__FUNDING_VENUES": "[]", "PERPFLOW_LLM__BASE_URL": ""}


COMMAND_TIMEOUT_S = 300  # a ``perpflow``/``prefect`` command of a test (serve migrates a new database first)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalPrefect:
    base: Path
    port: int
    serve_output: str = ""

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def home(self) -> Path:
        return self.base / "home"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a user's shell after ``make serve`` and ``export PREFECT_API_URL=...``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PERPFLOW_"))}
        env.update(PREFECT_HOME=str(self.home), PERPFLOW_DATA_DIR=str(self.data_dir), PREFECT_API_URL=self.api_url,
                   PREFECT_SERVER_ANALYTICS_ENABLED="false", **OFFLINE, **extra)
        return env

    def perpflow(self, *args: str, timeout: float = COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        env = self.env()
        del env["PREFECT_API_URL"]  # serve/stop find their server from the data dir
        return subprocess.run([str(BIN / "perpflow"), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)

    def prefect(self, *args: str, timeout: float = COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "prefect"), *args], cwd=ROOT, env=self.env(), capture_output=True,
                              text=True, timeout=timeout)

    @contextmanager
    def client(self) -> Iterator[Any]:
        """A sync Prefect client of this server (only inside the block: other fixtures keep their own)."""
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: self.api_url}), get_client(sync_client=True) as c:
            yield c

    def run_deployment(self, name: str, **parameters: Any) -> UUID:
        """Create a run of a deployment (as the UI's Run button does) and return at once."""
        from prefect.deployments import run_deployment
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: self.api_url}):
            return run_deployment(name, parameters=parameters, timeout=0).id

    def flow_run(self, run_id: UUID | str) -> Any:
        with self.client() as c:
            return c.read_flow_run(UUID(str(run_id)))

    def wait_run(self, run_id: UUID | str, until: Callable[[Any], bool], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            run = self.flow_run(run_id)
            if until(run):
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"flow run {run.name} not {what} after {timeout:.0f} s: {run.state}\n"
                                     f"{self.logs(run_id)[-4000:]}")
            time.sleep(0.5)

    def wait_final(self, run_id: UUID | str, timeout: float = 180) -> Any:
        return self.wait_run(run_id, lambda r: r.state is not None and r.state.is_final(), timeout, "finished")

    def logs(self, run_id: UUID | str) -> str:
        from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

        with self.client() as c:
            logs = c.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(str(run_id))])))
        return "\n".join(f"{log.timestamp:%H:%M:%S.%f} {log.name}: {log.message}" for log in logs)

    def states(self, run_id: UUID | str) -> list[Any]:
        with self.client() as c:
            return sorted(c.read_flow_run_states(UUID(str(run_id))), key=lambda s: s.timestamp)

    def journal(self, run_id: UUID | str) -> list[dict[str, Any]]:
        """The records a run has written so far (its journal is live while the bot runs)."""
        path = self.data_dir / "journal" / f"{run_id}.jsonl"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a record being written
                break
        return out

    def wait_journal(self, run_id: UUID | str, until: Callable[[list[dict[str, Any]]], bool], timeout: float,
                     what: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            records = self.journal(run_id)
            if until(records):
                return records
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id}: {what} not seen after {timeout:.0f} s; state "
                                     f"{self.flow_run(run_id).state}\n{self.logs(run_id)[-4000:]}")
            time.sleep(0.25)

    def wait_open_position(self, run_id: UUID | str, timeout: float = 120) -> list[dict[str, Any]]:
        """Until the bot has opened a cycle: a hedged position is on."""
        return self.wait_journal(run_id, lambda rs: any(r["kind"] == "cycle" and r["cycle_kind"] == "open"
                                                        for r in rs), timeout, "an open cycle")

    def sql(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows from the published warehouse of this server's data dir."""
        from warehouse.paths import WarehousePaths
        from warehouse.query import connect

        with connect(WarehousePaths(self.data_dir).published) as con:
            return con.execute(query, params or []).fetchall()
