"""``perpflow fake-venue paradex`` serves the fake on loopback until interrupted."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

PERPFLOW = Path(sys.executable).with_name("perpflow")


def test_fake_venue_paradex_serves_until_interrupted() -> None:
    with subprocess.Popen([str(PERPFLOW), "fake-venue", "paradex", "--port", "0", "--symbols", "SOL"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        serve(proc)


def serve(proc: subprocess.Popen[str]) -> None:
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", first)
        assert match, first
        base = match.group(1)
        markets = httpx.get(f"{base}/markets", timeout=10).json()["results"]
        assert [m["symbol"] for m in markets] == ["SOL-USD-PERP"]
        config = httpx.get(f"{base}/system/config", timeout=10).json()
        assert config["starknet_chain_id"] and config["paraclear_decimals"] == 8
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
