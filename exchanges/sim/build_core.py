"""Build the compiled simulator engine: ``hotpath.py`` -> ``exchanges/sim/_hotpath.<abi>.so``.

One source: ``hotpath.py`` is the plain-Python module the pure-Python engine runs, with its types
written in Cython's pure-Python mode; Cython compiles that same file under another module name,
``exchanges.sim._hotpath`` (``_hotpath.pxd`` adds declarations only: the sha256 the module records).
Nothing is copied or generated into the tree but the built module.

Run by ``make install`` after ``uv sync`` (Cython is a dependency: ``hotpath.py`` imports it to
read its types when it runs uncompiled; the C compiler and the Python headers come from the
machine). It never fails the install: when the compiler or the headers are missing, or the compile
fails, it prints a one-line notice, writes it to ``NOTICE`` (``.venv/.perpflow-simcore-notice``: the
core test then skips instead of failing) and exits 0, and ``engine.py`` runs the pure-Python engine
(same results, slower). The module records the sha256 of the source it was built from (``hotpath.py``
and ``_hotpath.pxd``); ``engine.py`` ignores a module built from another one.

    .venv/bin/python exchanges/sim/build_core.py [-v]   # -v: show the compiler's output on failure
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "hotpath.py"
DECLARATIONS = HERE / "_hotpath.pxd"
MODULE = "exchanges.sim._hotpath"
# why the last build on this interpreter's environment failed (removed by a successful build)
NOTICE = Path(os.environ.get("PERPFLOW_SIMCORE_NOTICE") or Path(sys.prefix) / ".perpflow-simcore-notice")


def target() -> Path:
    return HERE / f"_hotpath{sysconfig.get_config_var('EXT_SUFFIX')}"


def source_sha() -> str:
    """sha256 of what the compiled module is built from (``engine.py`` compares it with the module's)."""
    h = hashlib.sha256()
    for f in (SOURCE, DECLARATIONS):
        h.update(f.read_bytes())
    return h.hexdigest()


def build(verbose: bool = False) -> str | None:
    """Build the module; None when built, else why not (one line)."""
    t0 = time.monotonic()
    sha = source_sha()
    cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    include = sysconfig.get_paths()["include"]
    if not (Path(include) / "Python.h").exists():
        return f"no Python headers ({include}/Python.h)"
    with tempfile.TemporaryDirectory() as tmp:
        c_file = Path(tmp) / "_hotpath.c"
        so_tmp = Path(tmp) / target().name
        steps = [
            # the module's name is given, so Cython reads _hotpath.pxd and the classes say where they live
            [sys.executable, "-m", "cython", "-3", "--module-name", MODULE, str(SOURCE), "-o", str(c_file)],
            # -O1: half the compile time of -O2 for ~4% less speed; -ffp-contract=off: no fused
            # multiply-add, so every float is the pure-Python engine's, bit for bit
            [*cc, "-O1", "-fPIC", "-shared", "-ffp-contract=off", "-fno-fast-math", "-fwrapv",
             "-fno-strict-overflow", "-w", f"-I{include}", f'-DPERPFLOW_CORE_SHA="{sha}"',
             str(c_file), "-o", str(so_tmp)],
        ]
        for cmd in steps:
            try:
                res = subprocess.run(cmd, capture_output=True, text=True)
            except OSError as exc:
                return f"{cmd[0] if cmd[0] != sys.executable else 'cython'} not runnable ({exc.strerror})"
            if res.returncode != 0:
                if verbose:
                    sys.stderr.write(res.stdout + res.stderr)
                what = "cython" if cmd[0] == sys.executable else cmd[0]
                last = (res.stderr or res.stdout).strip().splitlines()
                return f"{what} failed: {last[-1] if last else f'exit {res.returncode}'}"
        os.replace(so_tmp, target())  # atomic: a running process keeps the old file
    print(f"simulator core compiled: {target().relative_to(HERE.parent.parent)} from hotpath.py "
          f"({time.monotonic() - t0:.1f} s)")
    return None


def main() -> None:
    try:
        why = build(verbose="-v" in sys.argv)
    except Exception as exc:  # never fail the install: the pure-Python engine runs without the module
        why = f"{type(exc).__name__}: {exc}"
    if why is None:
        NOTICE.unlink(missing_ok=True)
        return
    notice = (f"notice: the simulator's compiled core was not built ({why}); the pure-Python engine runs "
              f"instead (same results, its market engine ~4x slower). "
              f"Details: .venv/bin/python exchanges/sim/build_core.py -v")
    print(notice, file=sys.stderr)
    with contextlib.suppress(OSError):  # a read-only environment: the line above says it all
        NOTICE.write_text(notice + "\n")


if __name__ == "__main__":
    main()
