"""``bench/adapters.py`` in small (two venues, a few orders): it runs end to end against the fakes and
prints what it claims to measure. No figure is asserted (timings belong to the bench); what is asserted
is what each venue's order costs in requests, and that every column the summary relies on is there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_adapter_bench_splits_each_order_and_counts_its_requests() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "adapters.py"), "--venues", "hibachi,paradex",
                          "--orders", "4", "--messages", "5"], capture_output=True, text=True, timeout=300,
                         cwd=ROOT, check=True).stdout
    for venue in ("hibachi", "paradex"):
        for step in ("bare GET, minimal socket client (floor)", "of which the fake's server side", "bare GET, httpx",
                     "bare GET, aiohttp", "place_limit, wall", "the fake's own (its server side, handlers, pumps)",
                     "ours (wall - the fake's own)", "of which running our callbacks", "ours, CPU",
                     "GC pauses within the order"):
            assert f"{venue} " in out and step in out, (venue, step)
    summary = {t[0]: t for t in (line.split() for line in out.splitlines())
               if len(t) == 11 and t[0] in ("hibachi", "paradex") and t[1].replace(".", "").isdigit()}
    # a post-only Hibachi order is acknowledged by its one answer; Paradex answers NEW and is read back
    assert summary["hibachi"][1] == "1.000" and summary["paradex"][1] == "2.000"
    assert "what each column means" in out and "slowest venue per order:" in out
