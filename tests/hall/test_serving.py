"""`backprop-lab serve --workers N`, and the envelopes the hall's processes exchange."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import redis

from app.server.bus import BadEnvelope, pack, unpack

from .conftest import ROOT, Peer, Redis, Server, free_port, wait_until

CONFIG = {"dataset": {"name": "xor", "n": 40}, "hidden": [3]}


def serve(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", "serve", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={k: v for k, v in {**os.environ, **env}.items() if v is not None})


def test_more_than_one_worker_without_redis_is_refused_naming_the_setting():
    done = serve("--workers", "2", BACKPROP_REDIS_URL=None)
    assert done.returncode == 2 and "BACKPROP_REDIS_URL" in done.stderr and "--workers 2" in done.stderr
    done = serve("--workers", "0")
    assert done.returncode == 2 and "--workers must be from 1 to 64, got 0" in done.stderr


def test_redis_that_cannot_be_reached_stops_the_server_saying_where(tmp_path):
    port = free_port()  # nothing listens there
    done = serve("--port", str(free_port()), BACKPROP_REDIS_URL=f"redis://127.0.0.1:{port}/0",
                 BACKPROP_SCENARIO_DB=str(tmp_path / "s.sqlite3"))
    assert done.returncode != 0 and f"cannot reach Redis at BACKPROP_REDIS_URL (redis://127.0.0.1:{port}/0)" in done.stderr


def test_a_redis_with_a_password_carries_the_hall_and_a_wrong_password_is_refused_unprinted(tmp_path):
    locked = Redis(free_port(), password="right-horse-battery")
    locked.start()
    try:
        wrong = locked.url.replace("right-horse-battery", "wrong-staple")
        done = serve("--port", str(free_port()), BACKPROP_REDIS_URL=wrong, BACKPROP_SCENARIO_DB=str(tmp_path / "s.sqlite3"))
        assert done.returncode != 0
        assert f"cannot reach Redis at BACKPROP_REDIS_URL (redis://:***@127.0.0.1:{locked.port}/0)" in done.stderr
        assert "wrong-staple" not in done.stderr + done.stdout
        # with the right one, two processes share a session through it
        servers: list[Server] = []
        try:
            for name in ("A", "B"):
                servers.append(Server(locked, "locked", tmp_path, name))
            a, b = servers
            sid, token = a.new_session(CONFIG)
            with b.connect(sid, token) as control:
                assert control.handshake()["hello"]["role"] == "control"
                assert control.call(type="step", unit="op", count=2)["type"] == "state"
        finally:
            for server in servers:
                server.stop()
    finally:
        locked.stop()


def test_workers_share_one_port_and_every_session_works_through_it(redis_server, tmp_path):
    import json
    import urllib.request

    from websockets.sync.client import connect

    port, prefix = free_port(), "workers"
    process = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"], cwd=ROOT,
                               env={**os.environ, "BACKPROP_REDIS_URL": redis_server.url, "BACKPROP_HALL_PREFIX": prefix,
                                    "BACKPROP_SCENARIO_DB": str(tmp_path / "s.sqlite3"), "BACKPROP_SWEEP_WORKERS": "1"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis.from_url(redis_server.url)
    try:
        # both workers have registered themselves once they are up
        wait_until(lambda: len(client.keys(f"{prefix}:process:*")) == 2, "both workers to join the hall", 30)

        def post() -> dict:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/sessions", method="POST",
                                             data=json.dumps({"config": CONFIG}).encode(),
                                             headers={"content-type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as answer:
                return json.loads(answer.read())

        made = [post() for _ in range(8)]
        owners = {client.hget(f"{prefix}:session:{m['id']}", "owner") for m in made}
        assert None not in owners  # every session is in the registry, with its owner
        for m in made:  # each socket lands on either worker: every one is served, and controls
            with Peer(connect(f"ws://127.0.0.1:{port}/ws/{m['id']}?token={m['token']}", compression=None,
                              proxy=None, legacy=True)) as peer:
                assert peer.handshake()["hello"]["role"] == "control"
                assert peer.call(type="step", unit="op", count=2)["type"] == "state"
    finally:
        client.close()
        process.terminate()
        process.wait(20)


def test_an_envelope_carries_its_header_and_parts_unchanged():
    parts = [b"", b'{"type":"state"}', bytes(range(256)) * 3]
    assert unpack(pack({"k": "frame", "seq": 7}, *parts)) == ({"k": "frame", "seq": 7}, parts)
    assert unpack(pack({"k": "gone"})) == ({"k": "gone"}, [])


@pytest.mark.parametrize("data", [b"", b"\x00\x00", b"\x00\x00\x00\x05hello", b"\x00\x00\x00\x02[]",
                                  pack({"k": "x"}, b"abc")[:-1], pack({"k": "x"}) + b"\x00"])
def test_what_is_not_an_envelope_is_refused(data):
    with pytest.raises(BadEnvelope):
        unpack(data)
