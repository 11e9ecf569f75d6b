"""Background processes owned by ``perpflow serve``: started detached, tracked by PID file, stopped by it.

A PID file alone can outlive its process and the PID be reused, so a process counts as ours only
while ``/proc/<pid>/cmdline`` still contains the marker it was started with. Each process leads
its own session, so ``make`` returning or a Ctrl-C in the terminal does not reach it, and stopping
it signals its whole process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Managed:
    """A background process: its PID file, its log, and a string its command line must contain."""

    name: str
    pid_file: Path
    log_file: Path
    marker: str

    def pid(self) -> int | None:
        """The live PID of this process, or None (a stale PID file is removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        cmdline = _cmdline(pid)
        if cmdline is not None and self.marker in cmdline:
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> int:
        """Start detached (own session), output appended to the log; returns the PID."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log, open(os.devnull, "rb") as devnull:
            proc = subprocess.Popen(list(argv), env=dict(env), cwd=cwd, stdin=devnull, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.pid_file.write_text(f"{proc.pid}\n")
        return proc.pid

    def exited_early(self, pid: int) -> bool:
        """True when the process started as ``pid`` is gone (reaped or a zombie)."""
        _reap(pid)
        return _cmdline(pid) is None

    def stop(self, timeout: float) -> str:
        """SIGTERM its process group, wait up to ``timeout`` s, then SIGKILL; returns what happened."""
        pid = self.pid()
        if pid is None:
            return f"{self.name}: not running"
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.exited_early(pid):
                self.pid_file.unlink(missing_ok=True)
                return f"{self.name}: stopped (pid {pid})"
            time.sleep(0.2)
        _signal_group(pid, signal.SIGKILL)
        for _ in range(50):
            if self.exited_early(pid):
                break
            time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return f"{self.name}: killed after {timeout:.0f} s (pid {pid})"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def _cmdline(pid: int) -> str | None:
    """The process's command line, or None when it is gone or a zombie."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace") if raw else None


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our child (a zombie keeps its PID otherwise)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
