"""``python -m server.die_with_parent <parent pid> <argv...>``: run argv, killed when the parent dies.

Sets ``PR_SET_PDEATHSIG`` (SIGKILL) then ``exec``s argv; the setting survives ``exec``. A bot
killed with ``kill -9`` thus takes its temporary Prefect server with it instead of leaving it
running. Done in a tiny exec wrapper rather than a ``preexec_fn`` because ``preexec_fn`` is unsafe
in a process with threads (Prefect's clients start some). Linux only; elsewhere argv just runs.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(args: list[str]) -> None:
    parent, argv = int(args[0]), args[1:]
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: no parent-death signal
        pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        sys.exit(1)
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
