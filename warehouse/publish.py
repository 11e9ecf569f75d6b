"""Publish the loader's master as the read-only snapshot everybody else opens.

DuckDB lets one process hold a file read-write, or many hold it read-only, never both: an analyst
reading ``data/warehouse.duckdb`` would lock out a loader writing it. So the loader writes only
its private master and, after each load, publishes a copy: write a new file, fsync it, then
``os.replace`` it over the published path. Readers that already have the old file keep their
inode (and their consistent view) until they reconnect; the loader never waits for them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

FICLONE = 0x40049409  # Linux ioctl: share extents (btrfs, xfs); ext4 refuses and we copy


def publish(master: Path, published: Path) -> None:
    """Atomically replace ``published`` by a copy of ``master`` (which must be checkpointed and closed)."""
    tmp = published.with_name(f".{published.name}.{os.getpid()}.tmp")
    try:
        with open(master, "rb") as src, open(tmp, "wb") as dst:
            _clone(src.fileno(), dst.fileno(), os.fstat(src.fileno()).st_size)
            os.fsync(dst.fileno())
        # A WAL beside the published path belongs to nobody's snapshot: applied to the new file it
        # would corrupt it. The snapshot is read-only by contract, so any such WAL is discarded.
        with contextlib.suppress(FileNotFoundError):
            published.with_name(published.name + ".wal").unlink()
        os.replace(tmp, published)
        _fsync_dir(published.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _clone(src: int, dst: int, size: int) -> None:
    try:
        fcntl.ioctl(dst, FICLONE, src)
        return
    except OSError:
        pass
    offset = 0
    while offset < size:
        n = os.copy_file_range(src, dst, size - offset, offset)
        if n == 0:
            break
        offset += n


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
