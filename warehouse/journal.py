"""``Journal``: a bot run's append-only record, the ``core.records.Recorder`` bots write through.

One JSON Lines file per run (``<journal_dir>/<run_id>.jsonl``), so DuckDB can read journals
directly for the live views. Why it never slows a bot:

- every call encodes its record on the caller's thread (microseconds) and appends the bytes to an
  in-memory batch; a writer thread moves batches to the file with ``os.write``. Nothing on the
  event loop waits for the disk.
- ``await fill(f)`` returns once an ``fsync`` covering the fill has completed. Commits go in
  groups: every fill that arrived while the previous ``fsync`` ran shares the next one, so many
  concurrent fills cost one disk flush. The commit runs on an executor thread
  (``run_in_executor``, which is what freezes virtual time on ``core.clock``'s loop while the
  disk works), one per group; each waiting fill awaits a future of its own, which the group's
  completion resolves on the loop (no shield, no re-check per fill).
- other records are written without ``fsync``: once written they survive a killed process (the
  kernel has them), and the next fill's or ``flush()``'s ``fsync`` covers them too.

The journal file is ``flock``-ed while open: one writer per journal, and the loader can tell a
live journal (whose unterminated last line is still being written) from a dead one (whose
unterminated last line is torn and will never complete).
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import fcntl
import functools
import logging
import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from core.errors import RecordError
from core.records import CycleRecord, FundingRecord, RiskEvent, RunEnd, RunInfo
from core.types import Fill, Order, Position
from warehouse import codec
from warehouse.contract import KINDS
from warehouse.paths import SENTINEL, WarehousePaths, check_run_id

log = logging.getLogger(__name__)

TAIL_SCAN = 1 << 16
# records of the scheduled flows, a strategy's own records, and the LLM agents' (see contract)
EXTRA_KINDS = ("sentiment", "insight", "review", "book_sample", "strategy_event",
               "decision", "agent_trade", "mode_change")


class JournalError(RecordError):
    """The journal cannot record any more (closed, or the disk refused a write)."""


@dataclass(slots=True)
class _Waiting:
    """Fills of one event loop waiting for durability, in seq order, and the commit running for them."""

    fills: collections.deque[tuple[int, asyncio.Future[None]]] = field(default_factory=collections.deque)
    commit: asyncio.Future[None] | None = None


class Journal:
    """Append-only per-run journal with group-committed durable fills (see module docstring)."""

    def __init__(self, run_id: str, journal_dir: Path | None = None) -> None:
        self.run_id = check_run_id(run_id)
        directory = journal_dir or WarehousePaths.from_settings().journal_dir
        directory.mkdir(parents=True, exist_ok=True)
        (directory / SENTINEL).touch(exist_ok=True)
        self.path = directory / f"{run_id}.jsonl"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise JournalError(f"{self.path} is already open by another writer") from None
        self._seq = _resume(self._fd, self.path)
        self._cond = threading.Condition(threading.Lock())  # guards the fields below
        self._io = threading.Lock()  # one thread writes the file at a time
        self._pending: list[bytes] = []
        self._sync_wanted = 0  # highest seq somebody waits to see fsynced
        self._written = self._seq
        self._durable = self._seq
        self._error: BaseException | None = None
        self._closing = False
        self._closed = False
        self._writer_idle = False
        # fills awaiting durability, per event loop (a journal may outlive the loop of a clock run)
        self._waiting: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Waiting] = weakref.WeakKeyDictionary()
        self._wait_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"journal-wait-{run_id}")
        self._thread = threading.Thread(target=self._write_loop, name=f"journal-{run_id}", daemon=True)
        self._thread.start()
        self.fsyncs = 0  # group commits done, for benchmarks and tests
        _open_journals.add(self)

    # --- Recorder ----------------------------------------------------------------------------
    def run_started(self, info: RunInfo) -> None:
        self._check_run(info.run_id)
        params, dropped = codec.scrub_params(info.params)
        if dropped:
            log.warning("run %s: dropped %d credential-like param(s) from the journal: %s",
                        info.run_id, len(dropped), ", ".join(dropped))
        self._append(codec.run_start(info, params))

    def run_ended(self, end: RunEnd) -> None:
        self._check_run(end.run_id)
        self._append(codec.run_end(end))

    def order(self, order: Order) -> None:
        self._append(codec.order(self.run_id, order))

    async def fill(self, fill: Fill) -> None:
        seq = self._append(codec.fill(self.run_id, fill), durable=True)
        await self._wait_durable(seq)

    def cycle(self, cycle: CycleRecord) -> None:
        self._check_run(cycle.run_id)
        self._append(codec.cycle(cycle))

    def position(self, position: Position) -> None:
        self._append(codec.position(self.run_id, position))

    def risk_event(self, event: RiskEvent) -> None:
        self._check_run(event.run_id)
        self._append(codec.risk(event))

    def funding(self, record: FundingRecord) -> None:
        self._check_run(record.run_id)
        self._append(codec.funding(record))

    def record(self, kind: str, **fields: Any) -> None:
        """A record of a scheduled flow (``sentiment``, ``insight``, ``review``) or of a strategy
        (``book_sample``, ``strategy_event``); fields: contract.KINDS."""
        if kind not in EXTRA_KINDS:
            raise ValueError(f"kind: {kind!r} is not recorded this way; allowed: {', '.join(EXTRA_KINDS)}")
        known = {f.name for f in KINDS[kind]}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ValueError(f"{kind}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
        data = {k: v for k, v in fields.items() if not isinstance(v, dict)}
        data.update({k: codec.scrub_params(v, k)[0] for k, v in fields.items() if isinstance(v, dict)})
        self._append({"kind": kind, "run_id": self.run_id, **data})

    async def flush(self) -> None:
        with self._cond:
            self._raise_if_broken()
            seq = self._seq
            self._want_sync(seq)
        await self._wait_durable(seq)

    async def close(self) -> None:
        if self._closed:
            return
        with contextlib.suppress(JournalError):
            await self.flush()
        await asyncio.get_running_loop().run_in_executor(self._wait_pool, self._shutdown)

    # --- sync helpers (atexit, tests, non-async callers) ---------------------------------------
    def flush_sync(self) -> None:
        """Block until everything recorded so far is durable."""
        with self._cond:
            self._raise_if_broken()
            seq = self._seq
            self._want_sync(seq)
        self._block_until(seq)
        self._raise_if_broken()

    def close_sync(self) -> None:
        if self._closed:
            return
        with contextlib.suppress(JournalError):
            self.flush_sync()
        self._shutdown()

    async def __aenter__(self) -> Journal:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def seq(self) -> int:
        """Seq of the last record accepted."""
        return self._seq

    @property
    def durable_seq(self) -> int:
        """Every record up to this seq has been fsynced."""
        return self._durable

    # --- internals ---------------------------------------------------------------------------
    def _check_run(self, run_id: str) -> None:
        if run_id != self.run_id:
            raise ValueError(f"run_id: {run_id!r} does not belong in the journal of run {self.run_id!r}")

    def _raise_if_broken(self) -> None:
        if self._error is not None:
            raise JournalError(f"{self.path}: the journal failed: {self._error}") from self._error
        if self._closing:
            raise JournalError(f"{self.path}: the journal is closed")

    def _want_sync(self, seq: int) -> None:
        self._sync_wanted = max(self._sync_wanted, seq)

    def _append(self, record: dict[str, Any], durable: bool = False) -> int:
        with self._cond:
            self._raise_if_broken()
            seq = self._seq + 1
            record["seq"] = seq
            line = codec.dumps(record)  # raises before anything is counted
            self._seq = seq
            self._pending.append(line)
            if durable:
                self._sync_wanted = seq  # the fill's own waiter commits it: no writer wake-up
            elif self._writer_idle:
                self._cond.notify()
            return seq

    async def _wait_durable(self, seq: int) -> None:
        """Return once ``seq`` is fsynced: one future per waiting fill, resolved by its group's commit."""
        if self._durable < seq:
            loop = asyncio.get_running_loop()
            waiting = self._waiting.get(loop)
            if waiting is None:
                waiting = self._waiting[loop] = _Waiting()
            fut: asyncio.Future[None] = loop.create_future()
            waiting.fills.append((seq, fut))
            if waiting.commit is None:
                self._start_commit(loop, waiting)
            await fut  # a cancelled fill cancels only its own future
        self._raise_if_broken_for_wait()

    def _start_commit(self, loop: asyncio.AbstractEventLoop, waiting: _Waiting) -> None:
        """Commit (in the wait thread) every record up to the last fill waiting on ``loop``."""
        try:
            waiting.commit = loop.run_in_executor(self._wait_pool, self._block_until, waiting.fills[-1][0])
        except RuntimeError as err:  # the executor is shut down: the journal is closed
            waiting.commit = None
            self._resolve(loop, waiting, err)
            return
        waiting.commit.add_done_callback(functools.partial(self._commit_done, loop, waiting))

    def _commit_done(self, loop: asyncio.AbstractEventLoop, waiting: _Waiting, commit: asyncio.Future[None]) -> None:
        """On the loop: wake the fills the commit made durable; start the next commit for the others."""
        waiting.commit = None
        err = None if commit.cancelled() else commit.exception()
        self._resolve(loop, waiting, err)
        if waiting.fills:
            self._start_commit(loop, waiting)

    def _resolve(self, loop: asyncio.AbstractEventLoop, waiting: _Waiting, err: BaseException | None) -> None:
        durable = self._durable
        failed = self._error or err
        while waiting.fills and (waiting.fills[0][0] <= durable or failed is not None):
            seq, fut = waiting.fills.popleft()
            if fut.done():
                continue
            if seq <= durable:
                fut.set_result(None)
            else:
                fut.set_exception(JournalError(f"{self.path}: the journal failed: {failed}"))
        if not waiting.fills:
            self._waiting.pop(loop, None)

    def _raise_if_broken_for_wait(self) -> None:
        if self._error is not None:
            raise JournalError(f"{self.path}: the journal failed: {self._error}") from self._error

    def _block_until(self, seq: int) -> None:
        """Make every record up to ``seq`` durable, committing on this thread if nobody else is.

        Whoever holds the I/O lock writes *all* pending records and fsyncs once: the fills that
        arrived meanwhile ride along (group commit), and a fill's wait costs one thread hand-off.
        """
        while self._durable < seq and self._error is None:
            with self._io:
                if self._durable >= seq or self._error is not None:
                    return
                self._write_pending(sync=True)

    def _write_pending(self, sync: bool) -> None:
        """Write the pending batch (caller holds ``self._io``); fsync it and all before if ``sync``."""
        try:
            with self._cond:
                batch, self._pending = self._pending, []
                upto = self._seq
            if batch:
                _write_all(self._fd, b"".join(batch))
            if sync:
                os.fsync(self._fd)
            with self._cond:
                self._written = upto
                if sync:
                    self._durable = upto
                    self.fsyncs += 1
                self._cond.notify_all()
        except BaseException as err:
            with self._cond:
                self._error = err
                self._cond.notify_all()
            log.error("journal %s: write failed: %s", self.path, err)
            raise

    def _write_loop(self) -> None:
        """Move records that need no fsync to the file as they come (the kernel keeps them)."""
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._writer_idle = True
                    self._cond.wait()
                self._writer_idle = False
                if self._closing and not self._pending:
                    return
            with self._io:
                try:
                    self._write_pending(sync=False)
                except BaseException:
                    return

    def _shutdown(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        with self._cond:
            self._closed = True
        with contextlib.suppress(OSError):
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._wait_pool.shutdown(wait=False)
        _open_journals.discard(self)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _resume(fd: int, path: Path) -> int:
    """Continue an existing journal: terminate a torn last line, return the last valid seq."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 0
    with open(path, "rb") as f:
        f.seek(size - 1)
        if f.read(1) != b"\n":
            log.warning("journal %s: last line was torn (writer died mid-record); terminating it", path)
            _write_all(fd, b"\n")
            os.fsync(fd)
        carry, pos = b"", size
        while pos > 0:
            start = max(0, pos - TAIL_SCAN)
            f.seek(start)
            lines = (f.read(pos - start) + carry).split(b"\n")
            pos = start
            carry = lines.pop(0) if start > 0 else b""
            for line in reversed(lines):
                with contextlib.suppress(orjson.JSONDecodeError, AttributeError, TypeError):
                    seq = orjson.loads(line).get("seq")
                    if isinstance(seq, int):
                        return seq
    return 0


_open_journals: weakref.WeakSet[Journal] = weakref.WeakSet()


@atexit.register
def _close_open_journals() -> None:
    """A process that exits without closing its journals still gets their records onto disk."""
    for journal in list(_open_journals):
        with contextlib.suppress(Exception):
            journal.close_sync()
