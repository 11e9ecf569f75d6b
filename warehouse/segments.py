"""What of a journal is new since the last load, and whether its writer is still alive.

A segment is the run of *complete* lines (each ending in a newline) after the loaded offset. What
follows the last newline is either a record still being written (its writer holds the journal's
``flock``) — left for the next load — or, once no writer holds the journal, a torn record that
will never complete.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Segment:
    journal: str  # file name, the journal's identity in the warehouse
    path: Path
    start: int  # byte offset of the first new line
    end: int  # byte offset just past the last complete line
    tail: bytes  # bytes after ``end`` (an unterminated last line), b"" if none
    live: bool  # a writer holds the journal open
    stamp: tuple[int, int, int] = (0, 0, 0)  # inode, size and mtime when scanned

    @property
    def torn(self) -> bool:
        return bool(self.tail) and not self.live

    @property
    def whole(self) -> bool:
        """The segment is the whole file, complete, and nobody writes it: it can be read in place."""
        return self.start == 0 and self.end == self.stamp[1] and not self.tail and not self.live

    def unchanged(self) -> bool:
        """The file is still what ``scan`` saw (journals only grow: any write changes size or mtime)."""
        try:
            return _stamp(os.stat(self.path)) == self.stamp
        except FileNotFoundError:
            return False


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def writer_alive(path: Path) -> bool:
    """True while a ``Journal`` holds ``path`` (its exclusive ``flock``)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    return False


def scan(path: Path, offset: int) -> Segment | None:
    """The new part of ``path`` after ``offset``, or None when there is nothing new."""
    live = writer_alive(path)  # before sizing: a writer that stops afterwards left complete lines
    with open(path, "rb") as f:
        stat = os.fstat(f.fileno())
        size = stat.st_size
        if size <= offset:
            return None
        end = size
        while end > offset:
            start = max(offset, end - CHUNK)
            f.seek(start)
            chunk = f.read(end - start)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                end = start + nl + 1
                break
            end = start
        f.seek(end)
        tail = f.read(size - end)
    return Segment(path.name, path, offset, end, tail, live, _stamp(stat))


def copy_segment(seg: Segment, dest: Path) -> None:
    """Copy the complete lines of ``seg`` to ``dest`` inside the kernel (no pass through Python)."""
    with open(seg.path, "rb") as src, open(dest, "wb") as dst:
        remaining, offset = seg.end - seg.start, seg.start
        while remaining > 0:
            n = os.copy_file_range(src.fileno(), dst.fileno(), remaining, offset)
            if n == 0:
                raise OSError(f"{seg.path}: shorter than expected while copying bytes {seg.start}..{seg.end}")
            offset += n
            remaining -= n


def lines(seg: Segment) -> list[tuple[int, str]]:
    """(byte offset, text) of every non-empty line of ``seg``; undecodable bytes kept visible."""
    with open(seg.path, "rb") as f:
        f.seek(seg.start)
        data = f.read(seg.end - seg.start)
    out = []
    pos = 0
    for raw in data.split(b"\n"):
        if raw.strip():
            out.append((seg.start + pos, printable(raw)))
        pos += len(raw) + 1
    return out


PRINT_LIMIT = 65536  # bytes of a line kept in the quarantine; longer lines are cut, their size named


def printable(raw: bytes, limit: int = PRINT_LIMIT) -> str:
    text = raw[:limit].decode("utf-8", "backslashreplace").replace("\x00", "\\x00")
    return text if len(raw) <= limit else text + f"... ({len(raw)} bytes)"
