"""The CPU shared fairly and clients closed as documented: long steps take the lock a chunk at a
time and stop when their client leaves, viewers cannot flood verify, unread sessions stop playing,
a prompt client survives a burst of many-message answers, a client blocked at the TCP level is
closed, malformed acks are answered, and nothing non-finite reaches a grid or hides behind "ok"."""

from __future__ import annotations

import base64
import dataclasses
import os
import socket
import threading
import time
import warnings

import numpy as np
import pytest

from app.engine import parse_config
from app.run import Run, run_view
from app.server import wire
from app.server.main import create_app
from tests.serving import serving

from .conftest import connect, new_session, run_apart, small_settings

HEAVY = {"hidden": [16, 16, 16, 16], "dataset": {"name": "spiral", "n": 2000}, "batch_size": 2000}


def wait_until(check, seconds=10.0, what="condition"):
    """Poll `check` until it holds; fail with `what` if it has not within `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def registry_of(client):
    return client.app.state.registry


def test_a_long_step_lets_a_viewer_join_before_it_ends(make_client):
    client = make_client()
    sid, token = new_session(client, HEAVY)
    session = registry_of(client).get(sid)
    with connect(client, sid, token) as control:
        control.send(type="step", unit="iteration", count=3000, id="long")
        wait_until(lambda: session.stepping, what="the step to start")
        with connect(client, sid) as viewer:  # hello, graph, state... while the step still runs
            assert viewer.hello["hello"]["role"] == "view"
            assert session.stepping, "the viewer waited for the whole step"
            early = session.run.iteration
        assert early < 3000
        answer, _ = control.call(type="snapshot")  # answered only after the step: commands stay in order
        assert answer["iteration"] == 3000
        assert not session.stepping


def test_a_long_step_stops_when_its_client_leaves(make_client):
    client = make_client()
    sid, token = new_session(client, HEAVY)
    session = registry_of(client).get(sid)
    with connect(client, sid, token) as control:
        control.send(type="step", unit="iteration", count=10000, id="long")
        wait_until(lambda: session.stepping and session.run.iteration > 0, what="the step to start")
    wait_until(lambda: not session.stepping, what="the step to stop")
    stopped = session.run.iteration
    assert stopped < 10000, "the step ran on after its client had gone"
    time.sleep(0.05)
    assert session.run.iteration == stopped


def test_changes_wait_for_a_running_step(make_client):
    client = make_client()
    sid, token = new_session(client, HEAVY)
    session = registry_of(client).get(sid)
    with connect(client, sid, token) as control, connect(client, sid, token) as other:
        control.send(type="step", unit="iteration", count=3000, id="long")
        wait_until(lambda: session.stepping, what="the step to start")
        error, _ = other.call(type="randomize")
        assert error["type"] == "error" and error["code"] == "busy"
        answer, _ = control.call(type="snapshot")
        assert answer["iteration"] == 3000 and answer["weight_seed"] == 0


def test_viewers_may_verify_only_now_and_then(make_client):
    client = make_client(verify_interval=60)
    sid, token = new_session(client)
    with connect(client, sid) as viewer, connect(client, sid, token) as control:
        first, _ = viewer.call(answers=("verify", "error"), type="verify")
        assert first["type"] == "verify"
        second, _ = viewer.call(answers=("verify", "error"), type="verify")
        assert second["type"] == "error" and second["code"] == "limit" and "once every 60 s" in second["message"]
        for _ in range(2):  # the session's controller is not limited
            answer, _ = control.call(answers=("verify", "error"), type="verify")
            assert answer["type"] == "verify"


def test_a_session_nobody_reads_stops_playing(make_client):
    client = make_client(unread_grace=0.3)
    sid, token = new_session(client)
    session = registry_of(client).get(sid)
    with connect(client, sid, token) as control:
        answer, _ = control.call(type="play", speed=50)
        assert answer["playing"]
        wait_until(lambda: not session.playing, seconds=5, what="the unread session to pause")
        assert session.run.iteration > 0


def test_a_session_someone_reads_keeps_playing(make_client):
    # the grace is long next to a read on a loaded machine, and the client reads for more than two
    # graces: a session that paused its reader anyway would be seen
    client = make_client(unread_grace=1.0)
    sid, token = new_session(client)
    session = registry_of(client).get(sid)
    with connect(client, sid, token) as control:
        control.call(type="play", speed=50)
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:  # a client that reads and acks its frames
            item = control.recv()
            if isinstance(item, dict) and item.get("type") == "state":
                control.send(type="ack", seq=item["seq"])
        assert session.playing


def test_a_prompt_client_survives_a_burst_of_loads(make_client):
    client = make_client()
    sid, token = new_session(client)
    with connect(client, sid, token) as control, connect(client, sid) as viewer:
        for k in range(12):
            control.send(type="load", lesson="backprop-in-10", step=k % 9, id=f"load{k}")
        answered = set()
        while len(answered) < 12:
            item = control.recv()  # raises if the server closed us
            if isinstance(item, dict) and item.get("type") == "state" and str(item.get("re", "")).startswith("load"):
                answered.add(item["re"])
        assert viewer.state()["type"] == "state"  # the viewer, reading too, is still connected


def test_malformed_acks_get_an_error(make_client):
    client = make_client()
    sid, token = new_session(client)
    with connect(client, sid, token) as control:
        for bad in (-1, "3"):
            control.send(type="ack", seq=bad, id="bad")
            error = control.recv_json()
            while error.get("re") != "bad":
                error = control.recv_json()
            assert error["type"] == "error" and error.get("field") == "seq", error


def test_non_finite_values_make_the_state_diverged_and_the_grid_defined():
    run = Run(parse_config({"hidden": [3]}))
    run.run("pass", 2)  # forward and backward: the batch gradient exists
    view = run_view(run)
    assert view.status == "ok" and view.grads is not None
    broken = dataclasses.replace(view, grads={**view.grads, "W1": np.full_like(view.grads["W1"], np.inf)})
    state = wire.state(broken, 1)
    assert state["status"] == "diverged" and state["diverged_at"] == view.iteration
    assert state["grads"]["W1"][0][0] is None
    assert wire.state(view, 1)["status"] == "ok"
    maps = np.array([[[np.nan, np.inf], [-np.inf, 0.5]]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            data = wire._quantise(maps, np.array([0.0]), np.array([1.0]))
            nan_range = wire._quantise(np.zeros((1, 1, 2)), np.array([np.nan]), np.array([np.inf]))
    assert list(data) == [128, 255, 0, 128]
    assert list(nan_range) == [0, 0]


# --- a client blocked at the TCP level: a real server and a socket that never reads ----------------

@pytest.fixture
def real_server():
    app = create_app(small_settings(send_timeout=0.5, grid_resolution=64, neuron_resolution=32))
    with serving(app) as port:
        yield app, port


def test_a_client_blocked_at_the_tcp_level_is_closed(real_server):
    app, port = real_server
    session = app.state.registry.create(parse_config(HEAVY))
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a tiny window fills fast
    raw.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall((f"GET /ws/{session.id}?token={session.token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    wait_until(lambda: len(session.connections) == 1, what="the connection")

    def command(text: bytes) -> bytes:  # a masked client text frame
        mask = os.urandom(4)
        return bytes([0x81, 0x80 | len(text)]) + mask + bytes(b ^ mask[k % 4] for k, b in enumerate(text))

    # ask for answers and never read them: each is a large state and grid
    for _ in range(200):
        if not session.connections:
            break
        try:
            raw.sendall(command(b'{"type":"snapshot"}'))
        except OSError:
            break
        time.sleep(0.005)
    wait_until(lambda: not session.connections, seconds=10, what="the blocked client to be closed")
    raw.close()


def test_a_send_to_a_closed_socket_ends_that_client_quietly():
    # a backed-up client that closes leaves its sender holding messages for a socket whose close
    # frame has gone: Starlette raises "Cannot call send once a close message has been sent"
    import asyncio

    from app.server.sessions import Connection, Session

    async def closed(_):
        raise RuntimeError('Cannot call "send" once a close message has been sent.')

    async def scenario():
        session = Session("s", "t", parse_config(), small_settings())
        conn = Connection("view", closed, closed, asyncio.Queue(8))
        conn.push(("text", b'{"type":"config"}'))
        await asyncio.wait_for(session.sender(conn), 2)  # returns instead of raising
        return conn.closing

    assert run_apart(scenario())


def test_a_broken_database_is_named_when_a_scenario_is_loaded(make_client, tmp_path):
    folder = tmp_path / "not-a-file"
    folder.mkdir()
    client = make_client(scenario_db=folder)
    sid, token = new_session(client)
    with connect(client, sid, token) as control:
        error, _ = control.call(type="load", scenario="abcdefghijkl")
        assert error["type"] == "error" and error["code"] == "storage" and str(folder) in error["message"]
        assert control.state()["iteration"] == 0  # the session is as it was


def test_verify_runs_apart_from_storage_so_a_save_does_not_wait_for_it(make_client, tmp_path, monkeypatch):
    import app.server.handlers as handlers_module

    started, release, threads = threading.Event(), threading.Event(), []

    def slow_check(*args):  # a verify that holds its thread until the test lets it go
        threads.append(threading.current_thread().name)
        started.set()
        release.wait(10)
        return real_check(*args)

    real_check = handlers_module.gradient_check
    monkeypatch.setattr(handlers_module, "gradient_check", slow_check)
    client = make_client(scenario_db=tmp_path / "s.sqlite3")
    sid, token = new_session(client)
    with connect(client, sid) as viewer:
        viewer.send(type="verify", id="v")
        assert started.wait(5)
        saved = client.post("/api/scenarios", json={"session": sid}, headers={"X-Backprop-Owner": "owner-0123456789abcdef"})
        assert saved.status_code == 201, "a save waited for a verify"
        assert not release.is_set()
        release.set()
        answer = viewer.recv_json()
        while answer.get("re") != "v":
            answer = viewer.recv_json()
        assert answer["type"] == "verify"
    assert threads == ["backprop-heavy_0"]


def test_a_turn_cancelled_while_it_rests_gives_the_lane_back():
    import asyncio

    from app.server.budget import Lane

    async def scenario():
        lane = Lane()
        async with lane:  # a chunk that held the lane for a while: the next turn must rest first
            await asyncio.sleep(0.02)
        resting = asyncio.create_task(lane.__aenter__())
        await asyncio.sleep(0)  # it has the lock and is resting
        resting.cancel()
        await asyncio.gather(resting, return_exceptions=True)
        async with asyncio.timeout(10):  # a later turn is not kept waiting for ever (a bug would hang)
            async with lane:
                return True

    assert run_apart(scenario())
