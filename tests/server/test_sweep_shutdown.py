"""Sweep workers end with the server: a real server, a socket connected and a sweep running,
then SIGTERM (the server shuts down) or SIGKILL (it cannot), and no process of it is left."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import websockets  # uvicorn[standard] brings it

from .conftest import run_apart


ROOT = Path(__file__).resolve().parents[2]
SLOW = {"hidden": [16, 16, 16], "dataset": {"name": "spiral", "n": 1000}, "batch_size": 1000}


def stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name: [state, ppid, ...], or None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def descendants(pid: int) -> dict[int, str]:
    """Every process below `pid`, with its start time (so a reused pid is not mistaken for it)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := stat(int(entry.name))) is not None:
            parents[int(entry.name)] = (int(fields[1]), fields[19])
    found, todo = {}, [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, started) in parents.items():
            if ppid == parent and child not in found:
                found[child] = started
                todo.append(child)
    return found


def left(processes: dict[int, str]) -> list[int]:
    """Those still running: a zombie has ended, it waits only for a parent to collect it."""
    out = []
    for pid, started in processes.items():
        fields = stat(pid)
        if fields is not None and fields[19] == started and fields[0] != "Z":
            out.append(pid)
    return out


def poll(what, seconds: float, why: str):
    deadline = time.monotonic() + seconds
    while not (value := what()):
        assert time.monotonic() < deadline, why
        time.sleep(0.05)
    return value


@contextlib.contextmanager
def server(tmp_path: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "BACKPROP_SCENARIO_DB": str(tmp_path / "scenarios.sqlite3"), "BACKPROP_SWEEP_WORKERS": "2"}
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        def healthy() -> bool:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
                return True
            except OSError:
                return False

        poll(healthy, 30, "the server did not start")
        yield port, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        log.close()


def new_session(port: int) -> tuple[str, str]:
    config = json.dumps({"config": SLOW}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/sessions", data=config,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.load(response)
    return body["id"], body["token"]


async def sweeping(port: int, process: subprocess.Popen, end: signal.Signals) -> dict[int, str]:
    """Start a long sweep over a websocket, then send `end` to the server with the socket still
    open; returns the server's processes (its workers and their resource tracker) from before."""
    sid, token = new_session(port)
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/{sid}?token={token}",
                                  origin=f"http://127.0.0.1:{port}") as ws:
        await ws.send(json.dumps({"type": "sweep", "count": 8, "iterations": 5000}))
        while not (isinstance(item := await asyncio.wait_for(ws.recv(), 30), str)
                   and json.loads(item)["type"] == "sweep_progress"):
            pass
        # both workers and the tracker started: more than two processes below the server
        children = poll(lambda: (found := descendants(process.pid)) and len(found) >= 3 and found, 30,
                        f"the sweep's workers did not start: {descendants(process.pid)}")
        process.send_signal(end)
        with contextlib.suppress(websockets.ConnectionClosed, asyncio.TimeoutError):
            while True:
                await asyncio.wait_for(ws.recv(), 10)
    return children


def test_a_sigtermed_server_with_a_sweep_running_leaves_no_process_behind(tmp_path):
    with server(tmp_path) as (port, process):
        children = run_apart(sweeping(port, process, signal.SIGTERM))
        process.wait(15)
        poll(lambda: not left(children), 5, f"still running after the server stopped: {left(children)}")
    assert "leaked" not in (tmp_path / "server.log").read_text()  # the tracker had nothing left to clean up


def test_a_killed_server_takes_its_sweep_workers_with_it(tmp_path):
    with server(tmp_path) as (port, process):
        children = run_apart(sweeping(port, process, signal.SIGKILL))
        process.wait(15)
        # nothing of the server ran after the kill: the workers notice they are orphans, and the
        # tracker ends once they have
        poll(lambda: not left(children), 10, f"still running after the server was killed: {left(children)}")
