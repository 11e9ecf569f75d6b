"""Which Prefect API a flow started from the command line talks to, and a temporary server when none runs.

In order: ``PREFECT_API_URL`` when the user set it; else the local server of ``perpflow serve``
(``make serve``) when it runs, so CLI runs show in its UI and share its account limits; else a
temporary server of this process's own.

Prefect's own temporary server waits 20 s for its first health answer, but its first start on a
fresh database migrates it (~30 s on a busy 2-core machine), so the first ``make demo`` failed with
a traceback. Ours waits ``STARTUP_TIMEOUT_S`` (300 s), and if it still cannot start, says so in one
line with what to do (``ServerUnavailable``) - before any order. It is started through
``server.die_with_parent``, so it dies with this process even when this process is killed with
``kill -9``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

STARTUP_TIMEOUT_S = 300.0
STARTUP_ENV = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
HOST = "127.0.0.1"


class ServerUnavailable(RuntimeError):
    """No Prefect API could be reached or started; the message says what to do."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def local_server_url(data_dir: Path) -> str | None:
    """The API of the local server ``perpflow serve`` runs for this data dir, if it runs and answers."""
    from server.serve import ServePaths, api_url

    port = ServePaths(data_dir.resolve()).port()
    if port is None:
        return None
    url = api_url(port)
    return url if healthy(url) else None


def server_argv(port: int) -> list[str]:
    """Prefect's temporary API server (no UI, no scheduling services), as Prefect itself starts it."""
    import prefect

    return [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(prefect.__file__).parent.parent), "--factory",
            "prefect.server.api.server:create_app", "--host", HOST, "--port", str(port), "--log-level", "error",
            "--lifespan", "on"]


@contextlib.contextmanager
def temporary_server(timeout: float = STARTUP_TIMEOUT_S, log_dir: Path | None = None) -> Iterator[str]:
    """A Prefect API server for the block's duration; yields its API URL. Raises ``ServerUnavailable``."""
    port = _free_port()
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    env.pop("PREFECT_API_URL", None)
    fd, name = tempfile.mkstemp(prefix="prefect-temporary-server-", suffix=".log", dir=log_dir)
    log = Path(name)
    argv = [sys.executable, "-m", "server.die_with_parent", str(os.getpid()), *server_argv(port)]
    root = Path(__file__).resolve().parents[1]
    with os.fdopen(fd, "wb") as out:
        proc = subprocess.Popen(argv, env=env, cwd=root, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://{HOST}:{port}/api"
    try:
        _wait_healthy(proc, url, timeout, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.unlink(missing_ok=True)  # kept when the server failed: the error names it


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not healthy(url, timeout=5.0):
        if proc.poll() is not None:
            tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
            raise ServerUnavailable(f"the temporary Prefect server exited (code {proc.returncode}) before it "
                                    f"answered: {tail or 'no output'} (log {log}); fix that, or start the local "
                                    "server with `make serve` and retry")
        if time.monotonic() > deadline:
            raise ServerUnavailable(f"the temporary Prefect server did not answer within {timeout:.0f} s (log {log}); "
                                    "start the local server with `make serve` (it waits longer) and retry")
        time.sleep(0.25)


@contextlib.contextmanager
def flow_api(data_dir: Path, timeout: float = STARTUP_TIMEOUT_S) -> Iterator[str]:
    """Point this process's Prefect clients at an API for the block (see the module docstring); yields its URL."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    configured = os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()
    if configured:
        yield configured
        return
    local = local_server_url(data_dir)
    with contextlib.ExitStack() as stack:
        url = local or stack.enter_context(temporary_server(timeout, log_dir=None))
        with _process_api_url(url), temporary_settings({PREFECT_API_URL: url}):
            try:
                yield url
            finally:
                _drain_prefect_workers()


def _drain_prefect_workers(timeout: float = 10.0) -> None:
    """Send the run's last log lines and events before the server goes: Prefect batches them on
    background workers, and once a temporary server has stopped their last batch fails with a
    stray "Error logging to API" under a run that went well."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):
            worker.drain_all(timeout=timeout, at_exit=False)


@contextlib.contextmanager
def cli_flow_api(what: str = "no order was sent") -> Iterator[str]:
    """``flow_api`` for a command-line run: a server that cannot start is one line on stderr and exit
    code 1 (``what`` says what did not happen), never a traceback."""
    from core.settings import get_settings

    try:
        with flow_api(get_settings().data_dir) as url:
            yield url
    except ServerUnavailable as exc:
        print(f"error: {exc}; {what}", file=sys.stderr)
        raise SystemExit(1) from None


@contextlib.contextmanager
def _process_api_url(url: str) -> Iterator[None]:
    """``PREFECT_API_URL`` for every thread of the process, not only this one's settings context.

    Prefect's background threads (concurrency slot acquisition, log and event workers) do not see a
    ``temporary_settings`` context; they read the global settings, which come from the environment.
    Without this, one of them starts a temporary server of Prefect's own (20 s timeout, no parent-death
    signal) beside ours."""
    from prefect.context import refresh_global_settings_context

    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url
    refresh_global_settings_context()
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous
        refresh_global_settings_context()
