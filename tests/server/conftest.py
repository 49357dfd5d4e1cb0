"""A protocol client over Starlette's TestClient, and apps with small limits for the tests."""

from __future__ import annotations

import asyncio
import json
import struct

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

from app.server.main import create_app
from app.server.settings import Settings


class Peer:
    """One websocket. Reads JSON text frames and binary grids; remembers what it saw."""

    def __init__(self, ws):
        self.ws = ws
        self.seen: list = []
        self.next_id = 0

    def recv(self):
        message = self.ws.receive()
        if message.get("type") == "websocket.close":
            raise ConnectionError(f"closed with {message.get('code')}")
        if message.get("text") is not None:
            text = message["text"]
            assert "NaN" not in text and "Infinity" not in text, "non-finite number on the wire"
            item = orjson.loads(text)
        else:
            item = message["bytes"]
        self.seen.append(item)
        return item

    def recv_json(self) -> dict:
        while True:
            item = self.recv()
            if isinstance(item, dict):
                return item

    def send(self, **command) -> None:
        self.ws.send_text(json.dumps(command))  # the standard library can write integers beyond 64 bits

    def call(self, answers: tuple[str, ...] = ("state", "error"), **command) -> tuple[dict, list]:
        """Send a command with a fresh id; return its answer (by default a state or an error)
        and what came before it."""
        self.next_id += 1
        rid = f"c{self.next_id}"
        self.send(id=rid, **command)
        before = []
        while True:
            item = self.recv()
            if isinstance(item, dict) and item.get("re") == rid and item["type"] in answers:
                return item, before
            before.append(item)

    def state(self) -> dict:
        answer, _ = self.call(type="snapshot")
        return answer

    def handshake(self) -> dict:
        """The messages a new connection gets, by type (the grid under "grid")."""
        got = {}
        for _ in range(7):
            item = self.recv()
            got["grid" if isinstance(item, bytes) else item["type"]] = item
        return got


def small_settings(**overrides) -> Settings:
    # TestClient's requests say "Host: testserver"; pages answer only to hosts the server serves
    # (DNS rebinding), so the tests' server is published under that name, as a deployment would be
    return Settings(**{"grid_resolution": 16, "neuron_resolution": 8, "allowed_origins": ["http://testserver"],
                       **overrides})


@pytest.fixture
def make_client():
    clients = []

    def make(**overrides) -> TestClient:
        client = TestClient(create_app(small_settings(**overrides)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


def new_session(client: TestClient, config: dict | None = None) -> tuple[str, str]:
    response = client.post("/api/sessions", json={"config": config or {}})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["id"], body["token"]


class Connected:
    def __init__(self, client, sid, token=None):
        self.cm = client.websocket_connect(f"/ws/{sid}" + (f"?token={token}" if token else ""))

    def __enter__(self) -> Peer:
        peer = Peer(self.cm.__enter__())
        peer.hello = peer.handshake()
        return peer

    def __exit__(self, *exc):
        return self.cm.__exit__(*exc)


def connect(client, sid, token=None) -> Connected:
    return Connected(client, sid, token)


GRID_HEADER = struct.Struct("<4sIHHHHfI")


def parse_grid(data: bytes) -> dict:
    magic, seq, r, c, rn, m, extent, _ = GRID_HEADER.unpack_from(data, 0)
    offset = GRID_HEADER.size
    ranges = np.frombuffer(data, np.float32, 2 * m, offset).reshape(m, 2)
    offset += 8 * m
    offset += -offset % 8
    boundary_at = offset
    boundary = np.frombuffer(data, np.uint8, c * r * r, offset).reshape(c, r, r)
    offset += c * r * r
    offset += -offset % 8
    neurons_at = offset
    neurons = np.frombuffer(data, np.uint8, m * rn * rn, offset).reshape(m, rn, rn)
    return {"magic": magic, "seq": seq, "resolution": r, "channels": c, "neuron_resolution": rn, "maps": m,
            "extent": extent, "ranges": ranges, "boundary": boundary, "neurons": neurons,
            "offsets": (boundary_at, neurons_at), "size": len(data)}


def run_apart(coro):
    """`asyncio.run(coro)` in a thread of its own: Playwright's sync API keeps an event loop
    running in the main thread once the browser tests have run, where asyncio.run refuses."""
    import threading

    out: dict = {}

    def target():
        try:
            out["value"] = asyncio.run(coro)
        except BaseException as exc:  # handed back to the test's thread
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")
