"""``perpflow serve`` / ``perpflow stop``: a local Prefect server and worker running this checkout's deployments.

serve (every step idempotent, so running it twice is safe): start the server unless it already
runs (database, concurrency leases, PID files and logs under ``<data_dir>/prefect/``), wait for
``/api/health``, create the work pools, the bots' account limits and the loader limit, and the
automations, deploy prefect.yaml, start the worker unless it already runs, wait until the server
sees it online, and print the UI address.

stop: cancel every running flow run through Prefect (the worker sends SIGTERM, the bot cancels its
open orders, then flattens or leaves positions as its ``on_cancel`` says, and the run ends
Cancelled), wait for them to end, then stop the worker, then the server.
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

import httpx
import yaml

from server.procs import Managed

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
WORKER_NAME = "perpflow-local"
WORKER_POLL_S = 2  # how often the worker asks for runs to start (Prefect's default is 10 s)
HEALTH_TIMEOUT_S = 300.0  # a first start migrates a new database: ~30 s on a busy 2-core machine, more under load
STOP_TIMEOUT_S = 30.0
# Prefect 3.8's worker sends SIGTERM on cancel and SIGKILL 30 s later (not configurable); a
# bot's cleanup fits in that, and a run the worker finalises is Cancelled a few seconds after.
CANCEL_TIMEOUT_S = 90.0


class ServeError(RuntimeError):
    """serve/stop cannot proceed; the message says why and what to look at."""


@dataclass(frozen=True)
class ServePaths:
    """Where the local server keeps its database, PID files and logs: ``<data_dir>/prefect``."""

    data_dir: Path
    root: Path = ROOT

    @classmethod
    def from_settings(cls) -> ServePaths:
        from core.settings import get_settings

        return cls(get_settings().data_dir.resolve())

    @property
    def state_dir(self) -> Path:
        return self.data_dir / "prefect"

    @property
    def database(self) -> Path:
        return self.state_dir / "prefect.db"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "serve.json"

    @property
    def server(self) -> Managed:
        return Managed("server", self.state_dir / "server.pid", self.state_dir / "server.log", "prefect server start")

    @property
    def worker(self) -> Managed:
        return Managed("worker", self.state_dir / "worker.pid", self.state_dir / "worker.log", "prefect worker start")

    @property
    def prefect_yaml(self) -> Path:
        return self.root / "prefect.yaml"

    def port(self) -> int | None:
        """The port the running server was started on, if it runs."""
        if self.server.pid() is None:
            return None
        try:
            return int(json.loads(self.state_file.read_text())["port"])
        except (FileNotFoundError, KeyError, ValueError):
            return None


def api_url(port: int) -> str:
    return f"http://{HOST}:{port}/api"


def _prefect() -> str:
    return str(Path(sys.executable).parent / "prefect")


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"{api_url(port)}/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex((HOST, port)) == 0


def server_env(paths: ServePaths, port: int) -> dict[str, str]:
    """The server's settings: its own home, database and lease files under the data dir, analytics off."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update({
        "PREFECT_HOME": str(paths.state_dir),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{paths.database}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # leases in files under PREFECT_HOME survive a restart: a restarted server does not leak slots
        "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect.server.concurrency.lease_storage.filesystem",
        "PREFECT_SERVER_API_HOST": HOST,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_UI_API_URL": api_url(port),
    })
    return env


def client_env(paths: ServePaths, port: int) -> dict[str, str]:
    """Deploy and worker: talk to this server, run flows from this checkout, write to this data dir."""
    env = dict(os.environ)
    env.update({"PREFECT_API_URL": api_url(port), "PERPFLOW_ROOT": str(paths.root),
                "PERPFLOW_DATA_DIR": str(paths.data_dir), "PREFECT_WORKER_QUERY_SECONDS": str(WORKER_POLL_S)})
    return env


def ensure_server(paths: ServePaths, port: int, say: Any) -> int:
    """Reuse the running server (on whatever port it runs) or start one; returns its port once healthy."""
    running = paths.port()
    if running is not None:
        if running != port:
            say(f"server already runs on port {running}; using it")
        port = running
    else:
        if _port_in_use(port):
            raise ServeError(f"port {port} is in use by another process; choose another with PORT=<n> make serve")
        paths.state_dir.mkdir(parents=True, exist_ok=True)
        pid = paths.server.start([_prefect(), "server", "start", "--host", HOST, "--port", str(port)],
                                 server_env(paths, port), paths.root)
        paths.state_file.write_text(json.dumps({"host": HOST, "port": port, "pid": pid}) + "\n")
        say(f"server starting (pid {pid}, database {paths.database})")
    wait_ready(paths.server, lambda: _healthy(port), "the Prefect server", "healthy")
    return port


def wait_ready(proc: Managed, ready: Callable[[], bool], what: str, state: str) -> None:
    """Poll ``ready`` until it holds; fail fast with the log's tail if ``proc`` died meanwhile."""
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while not ready():
        pid = proc.pid()
        if pid is None or proc.exited_early(pid):
            raise ServeError(f"{what} exited; its log ({proc.log_file}) ends with:\n{proc.log_tail()}")
        if time.monotonic() > deadline:
            raise ServeError(f"{what} is not {state} after {HEALTH_TIMEOUT_S:.0f} s; see {proc.log_file}")
        time.sleep(0.5)


@contextmanager
def prefect_api(port: int) -> Iterator[None]:
    """Point this process's Prefect clients at the local server."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url(port)}):
        yield


def read_deployments(paths: ServePaths) -> list[dict[str, Any]]:
    return yaml.safe_load(paths.prefect_yaml.read_text())["deployments"]


def account_limits(deployments: list[dict[str, Any]]) -> list[str]:
    """One strict limit per account traded by a bot deployment, whatever the bot: a bot flow (made
    with ``tasks.botrun.params_flow``) carries its parameter model, which names its account."""
    import importlib

    from tasks.account import limit_name

    names = []
    for d in deployments:
        module_name, _, flow_name = d["entrypoint"].partition(":")
        fn = getattr(importlib.import_module(module_name), flow_name).fn
        model = getattr(fn, "params_model", None)
        if model is not None:
            names.append(limit_name(model(**(d.get("parameters") or {})).account_key))
    return sorted(set(names))


def ensure_server_objects(paths: ServePaths) -> list[str]:
    """Work pools, concurrency limits and automations, created or updated in place; returns what exists."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    from server.automations import ensure_automations
    from tasks.warehouse import LIMIT_NAME

    deployments = read_deployments(paths)
    pools = sorted({d["work_pool"]["name"] for d in deployments})
    limits = [*account_limits(deployments), LIMIT_NAME]
    with get_client(sync_client=True) as client:
        for pool in pools:
            try:
                client.read_work_pool(pool)
            except ObjectNotFound:
                client.create_work_pool(WorkPoolCreate(
                    name=pool, type="process", base_job_template=ProcessWorker.get_default_base_job_template()))
        for name in limits:
            client.upsert_global_concurrency_limit_by_name(name, 1)
        automations = ensure_automations(client)
    return [f"work pool {', '.join(pools)}", f"concurrency limits {', '.join(limits)} (1 each)",
            f"automation {', '.join(repr(a) for a in automations)}"]


def deploy(paths: ServePaths, port: int) -> list[str]:
    """``prefect deploy --all`` of prefect.yaml (creates or updates every deployment); returns their names."""
    from prefect.client.orchestration import get_client

    out = subprocess.run([_prefect(), "--no-prompt", "deploy", "--all", "--prefect-file", str(paths.prefect_yaml)],
                         cwd=paths.root, env=client_env(paths, port), capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise ServeError(f"prefect deploy failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    wanted = {d["name"] for d in read_deployments(paths)}
    with get_client(sync_client=True) as client:
        flows = {f.id: f.name for f in client.read_flows()}
        return sorted(f"{flows[d.flow_id]}/{d.name}" for d in client.read_deployments() if d.name in wanted)


def ensure_worker(paths: ServePaths, port: int, say: Any) -> None:
    """Start the worker unless it runs; wait until the server lists it online."""
    pools = sorted({d["work_pool"]["name"] for d in read_deployments(paths)})
    if paths.worker.pid() is None:
        argv = [_prefect(), "worker", "start", "--type", "process", "--name", WORKER_NAME]
        for pool in pools:
            argv += ["--pool", pool]
        pid = paths.worker.start(argv, client_env(paths, port), paths.root)
        say(f"worker starting (pid {pid})")
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import WorkerStatus

    with get_client(sync_client=True) as client:
        def online() -> bool:
            workers = client.read_workers_for_work_pool(pools[0])
            return any(w.name == WORKER_NAME and w.status == WorkerStatus.ONLINE for w in workers)

        wait_ready(paths.worker, online, "the worker", "online")


def serve(paths: ServePaths, port: int, say: Any = print) -> int:
    """Bring everything up (idempotent); returns the server's port."""
    port = ensure_server(paths, port, say)
    with prefect_api(port):
        for line in ensure_server_objects(paths):
            say(line)
        for line in deploy(paths, port):
            say(f"deployment {line}")
        ensure_worker(paths, port, say)
    return port


def active_runs() -> list[Any]:
    """Flow runs that have a process or are about to get one."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType

    active = [StateType.RUNNING, StateType.PENDING, StateType.CANCELLING]
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=active))))


def cancel_runs(timeout: float = CANCEL_TIMEOUT_S) -> list[str]:
    """Ask Prefect to cancel every active run, then wait for each to reach a final state."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.states import State

    runs = active_runs()
    with get_client(sync_client=True) as client:
        for run in runs:
            if run.state_type is not StateType.CANCELLING:
                client.set_flow_run_state(run.id, State(type=StateType.CANCELLING, message="perpflow stop"))
        pending: dict[UUID, str] = {r.id: r.name for r in runs}
        done: list[str] = []
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for run_id in list(pending):
                state = client.read_flow_run(run_id).state
                if state is not None and state.is_final():
                    done.append(f"run {pending.pop(run_id)}: {state.name}")
            time.sleep(0.5)
    return done + [f"run {name}: not finished after {timeout:.0f} s" for name in pending.values()]


def stop(paths: ServePaths, say: Any = print) -> None:
    """Cancel active runs (bots clean up), then stop the worker, then the server."""
    port = paths.port()
    if port is not None and _healthy(port):
        with prefect_api(port):
            if paths.worker.pid() is not None:
                for line in cancel_runs():
                    say(line)
            elif runs := active_runs():
                say(f"no worker runs here: {len(runs)} active run(s) left as they are")
    say(paths.worker.stop(STOP_TIMEOUT_S))
    say(paths.server.stop(STOP_TIMEOUT_S))
