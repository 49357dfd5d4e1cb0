"""Refusals: every code, a sentence naming the field, `re`, the session untouched, the socket open."""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocketDisconnect

from .conftest import connect, new_session


@pytest.fixture
def session(client):
    sid, token = new_session(client, {"hidden": [3], "dataset": {"n": 40}, "batch_size": 1})
    with connect(client, sid, token) as peer:
        peer.call(type="step", unit="iteration", count=2)
        yield sid, token, peer


BAD_COMMANDS = [
    ({"type": "fly"}, "invalid_message", "type", ["fly", "step"]),
    ({"type": "step", "unit": "blink"}, "invalid_message", "unit", ["blink", "epoch"]),
    ({"type": "step", "count": "3"}, "invalid_message", "count", ["'3'", "whole number"]),
    ({"type": "step", "count": 0}, "limit", "count", ["between 1 and"]),
    ({"type": "step", "count": 10**12}, "limit", "count", ["between 1 and"]),
    ({"type": "step", "count": 10**30}, "invalid_message", "count", ["whole number"]),
    ({"type": "step", "unit": "epoch", "count": 9999}, "limit", "count", ["iterations", "at most"]),
    ({"type": "play", "speed": 0}, "limit", "speed", ["between 1 and"]),
    ({"type": "play", "speed": 1e9}, "limit", "speed", ["between 1 and"]),
    ({"type": "select", "example": 20}, "invalid_message", "example", ["0 to 19", "20"]),
    ({"type": "select", "example": True}, "invalid_message", "example", ["True"]),
    ({"type": "select"}, "invalid_message", "example", ["required"]),
    ({"type": "pause", "extra": 1}, "invalid_message", "extra", ["not a known field"]),
    ({"type": "configure", "config": {"hidden": [4, 40]}}, "invalid_config", "hidden[1]", ["40", "between 1 and 16"]),
    ({"type": "configure", "config": {"activaton": "relu"}}, "invalid_config", "activaton", ["not a known field"]),
    ({"type": "configure", "config": {"lr": -1}}, "invalid_config", "lr", ["-1"]),
    ({"type": "configure", "config": {"dataset": {"name": "custom", "points": [[9, 0, 0]]}}},
     "invalid_config", "dataset.points[0]", ["9", "-6 to 6"]),
    ({"type": "configure", "config": []}, "invalid_message", "config", ["object"]),
    ({"type": "randomize", "weight_seed": -5}, "invalid_message", "weight_seed", ["-5"]),
    ({"type": "set_params", "params": {"W1": [[1, 2, 3]]}}, "invalid_message", "params.W1", ["[2, 3]"]),
    ({"type": "set_params", "params": {"W1": [[1, 2, "x"], [1, 2, 3]]}}, "invalid_message", "params.W1", ["numbers"]),
]


@pytest.mark.parametrize("command,code,field,words", BAD_COMMANDS, ids=[f"{b[0]['type']}-{b[2]}-{i}" for i, b in enumerate(BAD_COMMANDS)])
def test_refusal_names_the_field_and_changes_nothing(session, command, code, field, words):
    _, _, peer = session
    before = peer.state()
    error, _ = peer.call(**command)
    assert error["type"] == "error" and error["code"] == code and error["field"] == field
    for word in words:
        assert word in error["message"], f"{word!r} not in {error['message']!r}"
    after = peer.state()
    assert {k: v for k, v in after.items() if k not in ("seq", "re")} == {k: v for k, v in before.items() if k not in ("seq", "re")}


def test_malformed_json_and_non_objects_are_answered(session):
    _, _, peer = session
    for text in ["{not json", "[1, 2]", "42", '"step"', "[" * 5000 + "]" * 5000, '{"type": "step", "count": 1e400}']:
        peer.ws.send_text(text)
        error = peer.recv_json()
        assert error["type"] == "error" and error["code"] == "invalid_message", text[:20]
    assert peer.state()["iteration"] == 2, "the connection is still open and the run untouched"


def test_refusals_carry_the_command_id(session):
    _, _, peer = session
    peer.send(type="step", unit="nope", id=41)
    assert peer.recv_json()["re"] == 41


def test_binary_frames_from_a_client_are_refused(session):
    _, _, peer = session
    peer.ws.send_bytes(b"\x00\x01")
    assert peer.recv_json()["code"] == "invalid_message"


def test_viewer_control_commands_are_forbidden(client, session):
    sid, _, control = session
    with connect(client, sid) as viewer:
        for command in [{"type": "step"}, {"type": "play", "speed": 5}, {"type": "configure", "config": {}},
                        {"type": "randomize"}, {"type": "select", "example": 1}, {"type": "set_params", "params": {}},
                        {"type": "pause"}]:
            error, _ = viewer.call(**command)
            assert error["code"] == "forbidden" and command["type"] in error["message"]
        assert viewer.state()["iteration"] == 2
        viewer.send(type="ack", seq=1)  # viewers may acknowledge frames
        assert viewer.state()["type"] == "state"


def test_step_while_playing_is_busy(session):
    _, _, peer = session
    peer.call(type="play", speed=5)
    error, _ = peer.call(type="step")
    assert error["code"] == "busy"
    peer.call(type="pause")


def test_oversize_message_closes_1009(make_client):
    client = make_client(max_message_bytes=2048)
    sid, token = new_session(client)
    with connect(client, sid, token) as peer:
        peer.ws.send_text('{"type": "snapshot", "id": "' + "x" * 4000 + '"}')
        with pytest.raises((WebSocketDisconnect, ConnectionError)) as info:
            while True:
                peer.recv()
        code = getattr(info.value, "code", None) or str(info.value)
        assert "1009" in str(code)


def test_unknown_session_socket_gets_not_found(client):
    with client.websocket_connect("/ws/does-not-exist") as ws:
        import orjson
        message = orjson.loads(ws.receive_text())
        assert message["type"] == "error" and message["code"] == "not_found"
