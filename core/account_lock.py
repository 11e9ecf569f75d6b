"""One bot per account on this machine: an OS lock per account, below Prefect's concurrency limits.

Prefect's strict global concurrency limit guards an account only among runs of one Prefect server;
a ``perpflow hedge`` started from a shell without ``PREFECT_API_URL`` gets a temporary server of
its own, with its own limits. This lock holds across servers and processes: ``fcntl.flock`` on
``<lock_dir>/<account>.lock``. The kernel releases it when the holder's process dies, however it
dies (``kill -9`` included), so a crashed bot never keeps its account.

The holder writes who it is (pid, run id, flow run id, start time, and whatever else the caller
passes, e.g. the Prefect lease it took) into the file. A refused run names the holder; the next
holder reads what a dead one left (``AccountLock.previous``) to clean up after it.

Pure OS: no Prefect, no settings. Locks are taken in sorted order, so two runs wanting
overlapping account sets cannot deadlock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import PerpflowError

_SAFE = re.compile(r"[^A-Za-z0-9._-]")
POLL_S = 0.2


class AccountBusy(PerpflowError):
    """Another live process holds the account; ``holder`` is what it wrote (may be empty while it writes)."""

    def __init__(self, account: str, holder: Mapping[str, Any], waited: float | None = None) -> None:
        waited_for = f" (waited {waited} s)" if waited else ""
        super().__init__(f"account {account} is in use by {describe_holder(holder)}{waited_for}; "
                         "one bot per account: wait for it to end or stop it")
        self.account = account
        self.holder = dict(holder)
        self.waited = waited


def describe_holder(holder: Mapping[str, Any]) -> str:
    """``run <flow run id> (pid 123, started 2026-...)``, from what a holder wrote."""
    if not holder:
        return "another process (it is writing who it is)"
    if "limit" in holder and "pid" not in holder:
        return f"another run holding the Prefect concurrency limit {holder['limit']} on {holder.get('api_url')}"
    run = holder.get("flow_run_id") or holder.get("run_id") or "?"
    extra = [f"pid {holder['pid']}" if "pid" in holder else None,
             f"started {holder['started']}" if holder.get("started") else None,
             f"on {holder['api_url']}" if holder.get("api_url") else None]
    return f"run {run} ({', '.join(x for x in extra if x)})"


def lock_path(lock_dir: Path, account: str) -> Path:
    """The lock file of an account (names are made file-safe)."""
    return lock_dir / f"{_SAFE.sub('_', account)}.lock"


def read_holder(path: Path) -> dict[str, Any]:
    """What the file's last holder wrote ({} if nothing readable)."""
    try:
        data = json.loads(path.read_text() or "{}")
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class AccountLock:
    """An account held by this process. ``previous`` is what the last holder left (a dead one, since
    a live holder releases by clearing it); ``note`` adds fields to what this holder shows others."""

    account: str
    path: Path
    fd: int
    info: dict[str, Any]
    previous: dict[str, Any] = field(default_factory=dict)

    def note(self, **fields: Any) -> None:
        self.info.update(fields)
        _write(self.fd, self.info)

    def release(self) -> None:
        if self.fd < 0:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)  # a clean release leaves nothing for the next holder to clean up
        with contextlib.suppress(OSError):
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = -1


def _write(fd: int, info: Mapping[str, Any]) -> None:
    data = json.dumps(info, default=str, sort_keys=True).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def try_acquire(lock_dir: Path, account: str, info: Mapping[str, Any]) -> AccountLock:
    """Take the account now or raise ``AccountBusy`` naming the holder."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_path(lock_dir, account)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AccountBusy(account, read_holder(path)) from None
    except BaseException:
        os.close(fd)
        raise
    previous = read_holder(path)
    held = AccountLock(account, path, fd, {"account": account, "pid": os.getpid(), **info}, previous)
    try:
        _write(fd, held.info)
    except BaseException:
        held.release()
        raise
    return held


@contextlib.contextmanager
def hold_accounts(lock_dir: Path, accounts: list[str], info: Mapping[str, Any], *, timeout: float = 0.0,
                  on_wait: Callable[[AccountBusy], None] | None = None) -> Iterator[list[AccountLock]]:
    """Hold every account in ``accounts`` for the block, waiting up to ``timeout`` s for busy ones.

    ``on_wait`` is called once per holder seen while waiting (to log who the run waits for). After
    ``timeout`` the last ``AccountBusy`` is raised; nothing is held then.
    """
    held: list[AccountLock] = []
    deadline = time.monotonic() + timeout
    seen: set[tuple[str, str]] = set()
    try:
        for account in sorted(set(accounts)):
            while True:
                try:
                    held.append(try_acquire(lock_dir, account, info))
                    break
                except AccountBusy as busy:
                    if time.monotonic() >= deadline:
                        raise AccountBusy(account, busy.holder, timeout) from None
                    key = (account, json.dumps(busy.holder, sort_keys=True, default=str))
                    if on_wait is not None and key not in seen and busy.holder:
                        seen.add(key)
                        on_wait(busy)
                    time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
        yield held
    finally:
        for lock in reversed(held):
            lock.release()
