"""Two `backprop-lab serve` processes sharing sessions through a real redis-server.

A session lives in the process that made it (A); a socket on the other process (B) watches
and controls it through Redis. See app/server/hall.py and docs/scaling.md.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest

from .conftest import HEARTBEAT, TTL, Closed, wait_until

CONFIG = {"dataset": {"name": "xor", "n": 40}, "hidden": [3]}
STATED = TTL + HEARTBEAT  # docs/scaling.md: a dead owner's viewers elsewhere are told within this


def is_state(item) -> bool:
    return isinstance(item, dict) and item.get("type") == "state"


def frames_until(peer, last_seq: int) -> dict[int, tuple[str, bytes]]:
    """Every frame `peer` gets until one with seq ≥ last_seq: seq → (the state's text, its grid's bytes)."""
    got: dict[int, tuple[str, bytes]] = {}
    while True:
        item = peer.recv()
        if is_state(item):
            text = peer.texts[-1]
            grid = peer.recv()
            assert isinstance(grid, bytes), "a state is followed by its grid"
            assert item["seq"] not in got, f"frame {item['seq']} sent twice"
            got[item["seq"]] = (text, grid)
            peer.ack(item["seq"])
            if item["seq"] >= last_seq:
                return got


def test_a_viewer_on_another_process_gets_exactly_the_frames_the_owner_sends_its_own(hall):
    a, b = hall("A"), hall("B")
    sid, token = a.new_session(CONFIG)
    with a.connect(sid, token) as control, a.connect(sid) as here, b.connect(sid) as there:
        for peer in (control, here, there):
            peer.handshake()
        # stepping: each step is a new frame, built once by A
        local, remote = {}, {}
        for _ in range(6):
            last = control.call(type="step", unit="op", count=1)
            local |= frames_until(here, last["seq"])
            remote |= frames_until(there, last["seq"])
        common = set(local) & set(remote)
        assert len(common) >= 6 and last["seq"] in common
        for seq in common:
            assert remote[seq] == local[seq], f"frame {seq} differs between the processes"
        assert orjson.loads(remote[last["seq"]][0])["viewers"] == 3  # the sockets of both processes
        # playing: frames at up to max_fps, the same bytes wherever they are watched
        control.call(type="play", speed=200)
        start = last["seq"]
        with ThreadPoolExecutor(2) as readers:  # both read at once, as two devices would
            local, remote = readers.map(frames_until, (here, there), (start + 12, start + 12))
        common = {seq for seq in set(local) & set(remote) if seq > start}
        assert len(common) >= 3, (sorted(local), sorted(remote))
        for seq in common:
            assert remote[seq] == local[seq]
        assert any(orjson.loads(local[seq][0])["playing"] for seq in common)


def test_a_controller_on_another_process_steps_configures_asks_and_gets_answers_and_errors(hall):
    a, b = hall("A"), hall("B")
    sid, token = a.new_session(CONFIG)
    with b.connect(sid, token) as control, a.connect(sid) as viewer_a, b.connect(sid) as viewer_b:
        assert control.handshake()["hello"]["role"] == "control"
        viewer_a.handshake(), viewer_b.handshake()
        stepped = control.call(type="step", unit="op", count=3)
        assert stepped["type"] == "state" and stepped["re"] == "c1" and stepped["iteration"] == 0
        # an error comes back to the socket that sent the command, with its id and field
        refused = control.call(type="configure", config={"lr": -1})
        assert refused["type"] == "error" and refused["code"] == "invalid_config" and refused["field"] == "lr"
        configured = control.call(answers=("config",), type="configure", config={"lr": 0.25})
        assert configured["config"]["lr"] == 0.25
        # viewers in both processes follow the change
        for viewer in (viewer_a, viewer_b):
            assert viewer.until(lambda m: isinstance(m, dict) and m.get("type") == "config",
                                "the new config")["config"]["lr"] == 0.25
        # a question: asked from B, answered in both processes, tallied and revealed to each
        control.call(type="back", count=3)
        asked = control.call(answers=("question", "error"), type="ask", kind="sign")
        assert asked["type"] == "question", asked
        qid = asked["id"]
        for viewer in (viewer_a, viewer_b):
            viewer.until(lambda m: isinstance(m, dict) and m.get("type") == "question", "the question")
        answered_a = viewer_a.call(answers=("answered", "error"), type="answer", question=qid, value="+")
        answered_b = viewer_b.call(answers=("answered", "error"), type="answer", question=qid, value="-")
        assert answered_a["type"] == answered_b["type"] == "answered"
        tally = control.until(lambda m: isinstance(m, dict) and m.get("type") == "tally"
                              and m.get("answers") == 2, "a tally counting both processes' answers")
        assert tally["connected"] == 3
        revealed = control.call(answers=("reveal",), type="reveal", question=qid)
        truth_sign = revealed["truth"]
        for viewer, mine in ((viewer_a, "+"), (viewer_b, "-")):
            verdict = viewer.until(lambda m: isinstance(m, dict) and m.get("type") == "reveal", "the reveal")
            assert verdict["yours"] == mine and verdict["right"] == (mine == truth_sign)
        # a command about a question no longer open: its error, to its sender only
        stale = control.call(type="reveal", question=qid)
        assert stale["code"] == "not_found" and stale["field"] == "question"


def test_a_controller_elsewhere_is_not_sent_the_frame_that_answered_it_again(hall):
    """A command's answer carries the new frame; the owner then publishes that frame for the
    room. The socket's own process counts the answer as sent, as the owner does for its own."""
    a, b = hall("A"), hall("B")
    sid, token = a.new_session(CONFIG)
    with b.connect(sid, token) as control, b.connect(sid) as viewer:
        control.handshake(), viewer.handshake()
        answers = [control.call(type="step", unit="op")["seq"] for _ in range(8)]
        # the last answer's frame, published, has reached B once its viewer has it
        viewer.until(lambda m: isinstance(m, dict) and m.get("type") == "state" and m["seq"] == answers[-1],
                     "the last frame on B")
        closing = control.call(type="step", unit="op")["seq"]  # everything B sent before it has arrived
        seqs = [m["seq"] for m in map(orjson.loads, control.texts) if m["type"] == "state"]
    assert answers == sorted(set(answers)) and closing > answers[-1]
    repeated = sorted({seq for seq in seqs if seqs.count(seq) > 1})
    assert not repeated, f"frames sent twice to the controller: {repeated} of {seqs}"


def test_a_viewer_on_another_process_cannot_control(hall):
    a, b = hall("A"), hall("B")
    sid, token = a.new_session(CONFIG)
    with b.connect(sid) as viewer, a.connect(sid, token) as control:
        viewer.handshake(), control.handshake()
        before = control.call(type="snapshot")
        for command in ({"type": "step", "unit": "op", "count": 1}, {"type": "configure", "config": {"lr": 1}},
                        {"type": "randomize"}, {"type": "ask", "kind": "sign"}):
            refused = viewer.call(**command)
            assert refused["type"] == "error" and refused["code"] == "forbidden", refused
        assert viewer.call(type="snapshot")["type"] == "state"  # reading is a viewer's right
        after = control.call(type="snapshot")
        assert (after["iteration"], after["cursor"], after["weight_seed"]) == \
            (before["iteration"], before["cursor"], before["weight_seed"])
        # a wrong token is a viewer too
    with b.connect(sid, token[:-1] + ("A" if token[-1] != "A" else "B")) as impostor:
        assert impostor.handshake()["hello"]["role"] == "view"


def test_killing_the_owner_tells_viewers_elsewhere_and_no_process_serves_the_session(hall):
    a, b = hall("A"), hall("B")
    sid, token = a.new_session(CONFIG)
    with b.connect(sid) as viewer, b.connect(sid, token) as control:
        viewer.handshake(), control.handshake()
        a.kill()
        killed = time.monotonic()
        for peer in (viewer, control):
            notice = peer.until(lambda m: isinstance(m, dict) and m.get("type") == "error", "the owner's death",
                                timeout=3 * STATED + 2)
            assert notice["code"] == "not_found" and "stopped" in notice["message"]
            with pytest.raises(Closed) as closed:
                peer.recv()
            assert closed.value.code == 4404
        told = time.monotonic() - killed
    assert told < 3 * STATED + 2
    # B serves nothing of it: not the socket, not its routes
    with b.connect(sid) as late:
        first = late.recv()
        assert first["type"] == "error" and first["code"] == "not_found"
    assert b.request("GET", f"/api/sessions/{sid}")[0] == 404


def test_a_session_made_on_one_process_is_served_by_every_route_of_another(hall):
    a, b = hall("A"), hall("B")
    sid, token = a.new_session(CONFIG)
    status, page, _ = b.request("GET", f"/s/{sid}?token={token}", headers={"accept": "text/html"})
    assert status == 200 and token.encode() in page  # the controller's own page, served by B
    status, page, _ = b.request("GET", f"/s/{sid}", headers={"accept": "text/html"})
    assert status == 200 and token.encode() not in page
    status, state, _ = b.request("GET", f"/api/sessions/{sid}")
    assert status == 200 and state["type"] == "state"
    status, script, headers = b.request("GET", f"/api/sessions/{sid}/export?format=numpy")
    assert status == 200 and b"import numpy" in script and "attachment" in headers["content-disposition"]
    status, fork, _ = b.request("POST", f"/api/sessions/{sid}/fork")
    assert status == 201 and fork["forked_from"] == sid
    status, saved, _ = b.request("POST", "/api/scenarios", {"session": sid, "title": "from B"})
    assert status == 201, saved
    status, doc, _ = a.request("GET", f"/api/scenarios/{saved['id']}")
    assert status == 200 and doc["title"] == "from B"
    assert b.request("DELETE", f"/api/sessions/{sid}")[0] == 403  # the token is still needed
    assert b.request("DELETE", f"/api/sessions/{sid}", headers={"authorization": f"Bearer {token}"})[0] == 204
    assert a.request("GET", f"/api/sessions/{sid}")[0] == 404


def test_the_session_cap_and_idle_expiry_hold_across_processes(hall):
    limits = {"max_sessions": 2, "unattended_timeout": 1.0, "idle_timeout": 1.0}
    a, b = hall("A", **limits), hall("B", **limits)
    first, _ = a.new_session(CONFIG)
    second, _ = b.new_session(CONFIG)
    # both open somewhere, one of them only in the other process: neither may be evicted or expire
    with b.connect(first) as on_b, a.connect(second) as on_a:
        on_b.handshake(), on_a.handshake()
        for server in (a, b):
            status, body, _ = server.request("POST", "/api/sessions", {"config": CONFIG})
            assert status == 429 and body["error"]["code"] == "limit" and "2 sessions" in body["error"]["message"], body
        # past its idle deadline, the session watched only from B lives on
        wait_until(lambda: _expired_in_redis(a, first),
                   "the first session's idle deadline to pass")
        assert b.request("GET", f"/api/sessions/{first}")[0] == 200
    # nobody watching: both expire, in their own processes, and their places are free again
    wait_until(lambda: a.request("GET", f"/api/sessions/{first}")[0] == 404
               and b.request("GET", f"/api/sessions/{second}")[0] == 404, "both sessions to expire")
    a.new_session(CONFIG), b.new_session(CONFIG)


def test_one_address_holds_at_most_its_share_of_sessions_across_processes(hall):
    limits = {"max_sessions_per_client": 2}
    a, b = hall("A", **limits), hall("B", **limits)
    first, _ = a.new_session(CONFIG)
    second, _ = b.new_session(CONFIG)
    with a.connect(first) as on_a, b.connect(second) as on_b:  # both open in a page: neither is given up
        on_a.handshake(), on_b.handshake()
        for server in (a, b):  # each process holds only one of them, and still refuses a third
            status, body, _ = server.request("POST", "/api/sessions", {"config": CONFIG})
            assert status == 429 and body["error"]["code"] == "limit", body
            assert "across this lecture hall's processes" in body["error"]["message"] and "(2)" in body["error"]["message"]
    # nobody watching: the address's idle session in the asking process makes room for the new one
    def made() -> str | None:
        status, body, _ = a.request("POST", "/api/sessions", {"config": CONFIG})
        assert status in (201, 429), body  # 429 until A has seen its viewer's socket close
        return body["id"] if status == 201 else None

    third = wait_until(made, "a new session once nobody watches the first")
    assert a.request("GET", f"/api/sessions/{first}")[0] == 404
    assert {a.request("GET", f"/api/sessions/{sid}")[0] for sid in (second, third)} == {200}


@pytest.mark.parametrize("cap, idle_on", [("max_sessions_per_client", "the same process"),
                                          ("max_sessions", "another process"),
                                          ("max_sessions_per_client", "another process")])
def test_an_idle_session_makes_room_for_a_new_one_at_once(hall, cap, idle_on):
    """In the process asked, the evicted session's release reaches Redis in its own time; the new
    session's reservation states what the process holds now, so it is not refused (a second read
    found the idle session evicted and the request refused anyway). Behind a load balancer the
    request may reach a process whose sessions are all open in a page while another holds an
    idle one: that one makes room, as one process alone would."""
    # connect_grace 0: a session made a moment ago may make room
    a, b = hall("A", connect_grace=0, **{cap: 2}), hall("B", connect_grace=0, **{cap: 2})
    idle, _ = (b if idle_on == "the same process" else a).new_session(CONFIG)  # never opened: the one to give up
    watched, _ = b.new_session(CONFIG)
    with b.connect(watched) as page:
        page.handshake()
        status, body, _ = b.request("POST", "/api/sessions", {"config": CONFIG})
        assert status == 201, body
        assert a.request("GET", f"/api/sessions/{idle}")[0] == 404
        assert b.request("GET", f"/api/sessions/{watched}")[0] == 200
        # now every session is open in a page or just made: a fourth is refused, and nothing is lost
        with b.connect(body["id"]) as second_page:
            second_page.handshake()
            status, refused, _ = a.request("POST", "/api/sessions", {"config": CONFIG})
            assert status == 429 and refused["error"]["code"] == "limit", refused
            assert "open in a page" in refused["error"]["message"]
            assert {b.request("GET", f"/api/sessions/{sid}")[0] for sid in (watched, body["id"])} == {200}


def test_the_counts_in_redis_are_what_each_process_holds_after_sessions_come_and_go(hall):
    """Every count is restated, never added to: however releases and beats interleave, the
    hall's numbers settle on the truth (an address's count once stuck at -1)."""
    a, b = hall("A"), hall("B")
    kept = [a.new_session(CONFIG)[0], b.new_session(CONFIG)[0]]
    for server in (a, b):
        for _ in range(6):
            sid, token = server.new_session(CONFIG)
            assert server.request("DELETE", f"/api/sessions/{sid}", headers={"authorization": f"Bearer {token}"})[0] == 204

    def settled():
        values = _counts(a)
        return values if sorted(values["counts"].values()) == [1, 1] and sorted(values["client"].values()) == [1, 1] else None

    values = wait_until(settled, "the counts to settle on one session per process")
    assert all(n >= 0 for table in values.values() for n in table.values())
    assert a.request("GET", f"/api/sessions/{kept[0]}")[0] == 200 and b.request("GET", f"/api/sessions/{kept[1]}")[0] == 200


def _counts(server) -> dict[str, dict[str, int]]:
    """The hall's session counts in Redis: per process, and per process for 127.0.0.1."""
    import redis

    client = redis.Redis.from_url(server.redis_url)
    try:
        return {name: {k.decode(): int(v) for k, v in client.hgetall(key).items()}
                for name, key in (("counts", f"{server.prefix}:counts"), ("client", f"{server.prefix}:client:127.0.0.1"))}
    finally:
        client.close()


def _registered(server, session_id: str) -> bool:
    import redis

    client = redis.Redis.from_url(server.redis_url)
    try:
        return client.hget(f"{server.prefix}:session:{session_id}", "owner") is not None
    finally:
        client.close()


def _expired_in_redis(server, session_id: str) -> bool:
    """Whether the registry's idle deadline of `session_id` (wall clock) is a second past."""
    import redis

    client = redis.Redis.from_url(server.redis_url)
    try:
        expires = client.hget(f"{server.prefix}:session:{session_id}", "expires")
        return expires is not None and float(expires) < time.time() - 1
    finally:
        client.close()


def test_the_connection_limit_counts_sockets_in_every_process(hall):
    a, b = hall("A", max_connections_per_session=2), hall("B", max_connections_per_session=2)
    sid, _ = a.new_session(CONFIG)
    with a.connect(sid) as first, b.connect(sid) as second:
        first.handshake(), second.handshake()
        for server in (a, b):
            with server.connect(sid) as third:
                refused = third.recv()
                assert refused["type"] == "error" and refused["code"] == "limit"
                with pytest.raises(Closed) as closed:
                    third.recv()
                assert closed.value.code == 1013


def test_redis_restarting_mid_lecture(hall, redis_server):
    a, b = hall("A"), hall("B")
    sid, token = a.new_session(CONFIG)
    with a.connect(sid, token) as control, a.connect(sid) as here, b.connect(sid) as there:
        for peer in (control, here, there):
            peer.handshake()
        control.call(type="play", speed=100)
        before = there.until(is_state, "a play frame on B")["seq"]
        redis_server.stop()
        down = here.until(is_state, "a frame on A while Redis is down")["seq"]
        # the owner's own viewers never notice: frames keep coming, no error
        for _ in range(10):
            item = here.until(lambda m: isinstance(m, dict), "frames on A")
            assert item.get("type") != "error", item
        assert here.until(is_state, "more frames on A")["seq"] > down
        redis_server.start()  # empty, as after a crash
        # the processes reconnect: the session is registered again, and both have settled
        wait_until(lambda: _registered(a, sid) and all(s.health()["hall"]["redis"] == "ok" and
                                                        s.health()["hall"]["settled"] for s in (a, b)),
                   "both processes to reach Redis again", 10 * STATED)
        # B's viewer gets frames again, newer than any before the outage, and no error
        after = there.until(lambda m: (is_state(m) and m["seq"] > down) or (isinstance(m, dict) and
                                                                           m.get("type") == "error"),
                            "frames on B after Redis came back", timeout=10 * STATED)
        assert after["type"] == "state" and after["seq"] > before
        # and the hall works as before: a new socket on B joins, a command from B is answered
        with b.connect(sid, token) as late:
            assert late.handshake()["hello"]["role"] == "control"
            assert late.call(type="pause")["playing"] is False
