"""Build the compiled simulator core (``_core.pyx`` -> ``exchanges/sim/_core.<abi>.so``), in place.

Run by ``make install`` after ``uv sync`` (Cython comes from the ``build`` dependency group; the C
compiler and the Python headers from the machine). It never fails the install: when Cython, the
compiler or the headers are missing, or the compile fails, it prints a one-line notice and exits 0,
and ``engine.py`` runs the pure-Python reference (same results, slower). The module records the
sha256 of the ``.pyx`` it was built from; ``engine.py`` ignores a module built from another one.

    .venv/bin/python exchanges/sim/build_core.py [-v]   # -v: show the compiler's output on failure
"""

from __future__ import annotations

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
PYX = HERE / "_core.pyx"


def target() -> Path:
    return HERE / f"_core{sysconfig.get_config_var('EXT_SUFFIX')}"


def source_sha() -> str:
    return hashlib.sha256(PYX.read_bytes()).hexdigest()


def build(verbose: bool = False) -> str | None:
    """Build the module; None when built, else why not (one line)."""
    t0 = time.monotonic()
    sha = source_sha()
    cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    include = sysconfig.get_paths()["include"]
    if not (Path(include) / "Python.h").exists():
        return f"no Python headers ({include}/Python.h)"
    with tempfile.TemporaryDirectory() as tmp:
        c_file = Path(tmp) / "_core.c"
        so_tmp = Path(tmp) / target().name
        steps = [
            [sys.executable, "-m", "cython", "-3", str(PYX), "-o", str(c_file)],
            # -O1: half the compile time of -O2 for ~4% less speed; -ffp-contract=off: no fused
            # multiply-add, so every float is the reference's, bit for bit
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
    print(f"simulator core compiled: {target().relative_to(HERE.parent.parent)} ({time.monotonic() - t0:.1f} s)")
    return None


def main() -> None:
    try:
        why = build(verbose="-v" in sys.argv)
    except Exception as exc:  # never fail the install: the reference engine runs without the module
        why = f"{type(exc).__name__}: {exc}"
    if why is not None:
        print(f"notice: the simulator's compiled core was not built ({why}); the pure-Python engine runs "
              f"instead (same results, its market engine ~4x slower). "
              f"Details: .venv/bin/python exchanges/sim/build_core.py -v",
              file=sys.stderr)


if __name__ == "__main__":
    main()
