"""Start `backprop-lab serve` in a subprocess on a free port, and read its CPU time and memory
(from /proc: Linux only), for the bench scripts."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def free_port() -> int:
    """A port nothing listens on now (the kernel's pick; another program could still take it first)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(cpus: set[int] | None = None):
    """Yields (port, process) once /healthz answers; stops the server afterwards.
    `cpus` pins the server to those cores (e.g. {0}: "on one core"). Its scenarios go to a
    database of its own, thrown away after: a bench must not fill (or read) the user's."""
    port = free_port()
    scratch = tempfile.TemporaryDirectory(prefix="backprop-bench-")
    env = {**os.environ, "BACKPROP_SCENARIO_DB": str(Path(scratch.name) / "scenarios.sqlite3")}
    server = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if cpus:
        os.sched_setaffinity(server.pid, cpus)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=0.2)
                break
            except OSError:
                time.sleep(0.05)
        yield port, server
    finally:
        server.terminate()
        server.wait(5)
        scratch.cleanup()
