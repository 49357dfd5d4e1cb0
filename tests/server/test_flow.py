"""Playing, flow control and several viewers on one session."""

from __future__ import annotations

from .conftest import connect, new_session

CONFIG = {"hidden": [4], "dataset": {"n": 40}, "batch_size": 20}


def _play_frames(peer, count):
    """The next `count` unsolicited states (play frames), skipping their grids."""
    frames = []
    while len(frames) < count:
        item = peer.recv()
        if isinstance(item, dict) and item["type"] == "state" and "re" not in item:
            frames.append(item)
    return frames


def test_a_client_that_never_acks_gets_two_frames_then_only_its_answers(client):
    sid, token = new_session(client, CONFIG)
    with connect(client, sid, token) as peer:
        state, _ = peer.call(type="play", speed=1000)
        frames = _play_frames(peer, 2)
        # keep asking until the run has moved on by 0.3 s of training (9 frame intervals at 30 fps)
        start = frames[-1]["iteration"]
        while True:
            answer, between = peer.call(type="snapshot")
            assert not [m for m in between if isinstance(m, dict) and m["type"] == "state"], "a third play frame came"
            if answer["iteration"] >= start + 300:
                break
        session = client.app.state.registry.get(sid)
        conn = next(iter(session.connections))
        assert len(conn.in_flight) == 2 and conn.outbox.qsize() <= 2
        peer.send(type="ack", seq=frames[-1]["seq"])
        newer = _play_frames(peer, 1)[0]
        assert newer["iteration"] > answer["iteration"] - 1, "after the ack the newest frame comes, not an old one"
        peer.call(type="pause")


def test_training_keeps_its_speed_for_a_reader_that_stalls(client):
    sid, token = new_session(client, CONFIG)
    with connect(client, sid, token) as staller, connect(client, sid, token) as reader:
        reader.call(type="play", speed=2000)
        seen = 0
        while seen < 400:  # the acking reader watches training go on while the other never reads
            frame = _play_frames(reader, 1)[0]
            reader.send(type="ack", seq=frame["seq"])
            seen = frame["iteration"]
        reader.call(type="pause")
        session = client.app.state.registry.get(sid)
        stalled = next(c for c in session.connections if c.role == "control" and len(c.in_flight) == 2)
        assert stalled.outbox.qsize() <= session.settings.outbox_size


def test_viewers_see_the_same_frames_byte_for_byte(client):
    sid, token = new_session(client, CONFIG)
    with connect(client, sid, token) as control, connect(client, sid) as a, connect(client, sid) as b:
        control.call(type="step", unit="iteration", count=3)
        # each viewer's newest state text for the same seq is identical, and so is its grid
        texts = []
        for viewer in (a, b):
            while True:
                message = viewer.ws.receive()
                if message.get("text") and '"iteration":3' in message["text"]:
                    grid = viewer.ws.receive()["bytes"]
                    texts.append((message["text"], grid))
                    break
        assert texts[0] == texts[1]
        assert '"viewers":3' in texts[0][0]


def test_speed_change_while_playing(client):
    sid, token = new_session(client, CONFIG)
    with connect(client, sid, token) as peer:
        peer.call(type="play", speed=50)
        state, _ = peer.call(type="play", speed=3000)
        assert state["speed"] == 3000 and state["playing"]
        peer.call(type="pause")
