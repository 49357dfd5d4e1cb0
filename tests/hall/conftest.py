"""A real `redis-server` on a free port and real `backprop-lab serve` processes sharing it.

Every wait here is for something the servers say (a port answering, a message arriving),
bounded by a deadline so a bug fails the test instead of hanging it; nothing sleeps and hopes.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest
from websockets.sync.client import connect as ws_connect

ROOT = Path(__file__).resolve().parents[2]
# a test sees an owner's death in about two seconds (the defaults take five), with room for a
# process slowed by a busy machine to miss a few beats without being taken for dead
HEARTBEAT, TTL = 0.25, 2.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, what: str, seconds: float = 15.0):
    """Poll `check()` until it returns something truthy (returned), or fail saying `what`."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class Redis:
    """Debian's redis-server, without persistence: a restart starts it empty, as a crash would."""

    def __init__(self, port: int, password: str | None = None):
        self.port, self.password, self.process = port, password, None

    @property
    def url(self) -> str:
        return f"redis://{f':{self.password}@' if self.password else ''}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        locked = ["--requirepass", self.password] if self.password else []
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no", *locked],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self.answers, "redis-server to answer")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith((b"+PONG", b"-NOAUTH"))  # -NOAUTH: up, and wants its password
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture
def redis_server():
    server = Redis(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Server:
    """One `backprop-lab serve` process of the hall."""

    def __init__(self, redis: Redis, prefix: str, scratch: Path, name: str, **settings):
        self.port, self.redis_url, self.prefix = free_port(), redis.url, prefix
        env = {**os.environ, "BACKPROP_REDIS_URL": redis.url, "BACKPROP_HALL_PREFIX": prefix,
               "BACKPROP_HALL_HEARTBEAT": str(HEARTBEAT), "BACKPROP_HALL_TTL": str(TTL),
               "BACKPROP_SCENARIO_DB": str(scratch / "scenarios.sqlite3"), "BACKPROP_GRID_RESOLUTION": "16",
               "BACKPROP_NEURON_RESOLUTION": "8", "BACKPROP_SWEEP_WORKERS": "1",
               **{f"BACKPROP_{k.upper()}": str(v) for k, v in settings.items()}}
        self.log = scratch / f"{name}.log"
        self.process = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(self.port)], cwd=ROOT,
                                        env=env, stdout=subprocess.DEVNULL, stderr=self.log.open("wb"))
        wait_until(self.health, f"server {name} to start (log: {self.log})")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> dict | None:
        try:
            with urllib.request.urlopen(self.base + "/healthz", timeout=1) as answer:
                return json.loads(answer.read())
        except OSError:
            assert self.process.poll() is None, f"the server exited: {self.log.read_text()[-2000:]}"
            return None

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        """(status, parsed JSON or raw bytes, headers) of one HTTP request."""
        data = None if body is None else orjson.dumps(body)
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"content-type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status, raw, got = answer.status, answer.read(), answer.headers
        except urllib.error.HTTPError as error:
            status, raw, got = error.code, error.read(), error.headers
        try:
            return status, orjson.loads(raw) if raw else None, got
        except orjson.JSONDecodeError:
            return status, raw, got

    def new_session(self, config: dict | None = None) -> tuple[str, str]:
        status, body, _ = self.request("POST", "/api/sessions", {"config": config or {}})
        assert status == 201, body
        return body["id"], body["token"]

    def connect(self, session_id: str, token: str | None = None) -> "Peer":
        query = f"?token={token}" if token else ""
        return Peer(ws_connect(f"ws://127.0.0.1:{self.port}/ws/{session_id}{query}", max_size=None,
                               open_timeout=10, compression=None, proxy=None, legacy=True))

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(5)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def hall(redis_server, tmp_path):
    """start(name, **settings) → a Server of one hall (one Redis key prefix); all stopped afterwards."""
    prefix = f"test{secrets.token_hex(4)}"
    servers: list[Server] = []

    def start(name: str, **settings) -> Server:
        servers.append(Server(redis_server, prefix, tmp_path, name, **settings))
        return servers[-1]

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


class Closed(Exception):
    def __init__(self, code):
        super().__init__(f"closed with {code}")
        self.code = code


class Peer:
    """One websocket to a real server: JSON text frames parsed, binary grids kept as bytes."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.texts: list[str] = []  # every text frame, as sent (the bytes of frames are compared)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        with contextlib.suppress(Exception):
            self.ws.close()

    def recv(self, timeout: float = 15.0):
        from websockets.exceptions import ConnectionClosed

        try:
            item = self.ws.recv(timeout=timeout)
        except ConnectionClosed as exc:
            raise Closed(exc.rcvd.code if exc.rcvd else None) from None
        except TimeoutError:
            raise AssertionError(f"nothing arrived within {timeout} s") from None
        if isinstance(item, str):
            assert "NaN" not in item and "Infinity" not in item, "non-finite number on the wire"
            self.texts.append(item)
            return orjson.loads(item)
        return item

    def until(self, check, what: str, timeout: float = 15.0):
        """Read until `check(item)` is truthy; that item. Frames are acked, so play frames keep coming."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {what}"
            item = self.recv(left)
            if isinstance(item, dict) and item.get("type") == "state":
                self.ack(item["seq"])
            if check(item):
                return item

    def send(self, **command) -> None:
        self.ws.send(json.dumps(command))

    def ack(self, seq: int) -> None:
        from websockets.exceptions import ConnectionClosed

        try:  # as a browser does: an ack to a socket just closed is lost, and the next read says why
            self.send(type="ack", seq=seq)
        except ConnectionClosed:
            pass

    def call(self, answers=("state", "error"), **command) -> dict:
        self.next_id += 1
        rid = f"c{self.next_id}"
        self.send(id=rid, **command)
        return self.until(lambda m: isinstance(m, dict) and m.get("re") == rid and m["type"] in answers,
                          f"the answer to {command}")

    def handshake(self) -> dict:
        got = {}
        for _ in range(7):
            item = self.recv()
            got["grid" if isinstance(item, bytes) else item["type"]] = item
        return got
