"""The step-through messages over the websocket: back, view, explain, verify, batch."""

from __future__ import annotations

import pytest

from .conftest import connect, new_session

CONFIG = {"hidden": [2], "dataset": {"n": 20}, "batch_size": 5, "init": "integers", "activation": "tanh"}


def ask(peer, answer_type: str, **command) -> tuple[dict, list]:
    """A command answered by a message of `answer_type` (or an error)."""
    return peer.call(answers=(answer_type, "error"), **command)


@pytest.fixture
def control(client):
    sid, token = new_session(client, CONFIG)
    with connect(client, sid, token) as peer:
        peer.sid = sid
        yield peer


def without_seq(state: dict) -> dict:
    return {k: v for k, v in state.items() if k not in ("seq", "re", "viewers")}


def test_every_state_with_a_cursor_explains_it_and_back_retraces_the_walk(control):
    states = [control.state()]
    assert states[0]["cursor"] is None and "explain" not in states[0] and states[0]["can_back"] == 0
    for _ in range(12):  # 2-2-1: 4 forward + 3 backward + 3 update = 10 ops, then two more
        state, _ = control.call(type="step", unit="op")
        assert state["explain"]["node"] == state["cursor"] and state["explain"]["lines"]
        states.append(state)
    assert states[10]["iteration"] == 1 and states[11]["iteration"] == 1 and states[11]["phase"] == "forward"
    for expected in reversed(states[:-1]):
        state, _ = control.call(type="back")
        assert without_seq(state) == without_seq(expected)
    refused, _ = control.call(type="back")
    assert refused["type"] == "error" and refused["field"] == "count" and "nothing has been stepped" in refused["message"]
    assert without_seq(control.state()) == without_seq(states[0])


def test_back_is_refused_while_playing_and_beyond_the_limit(client):
    sid, token = new_session(client, CONFIG)
    with connect(client, sid, token) as peer:
        peer.call(type="step", unit="op", count=3)
        refused, _ = peer.call(type="back", count=4)
        assert refused["code"] == "invalid_message" and "at most 3" in refused["message"]
        refused, _ = peer.call(type="back", count=0)
        assert refused["code"] == "limit" and refused["field"] == "count"
        peer.call(type="play", speed=5)
        refused, _ = peer.call(type="back")
        assert refused["code"] == "busy"


def test_view_answers_with_graph_then_state_and_keeps_the_place(control):
    control.call(type="step", unit="op", count=2)  # forward, h1_1 done
    state, before = control.call(type="view", view="gate")
    graphs = [m for m in before if isinstance(m, dict) and m["type"] == "graph"]
    assert len(graphs) == 1 and graphs[0]["view"] == "gate" and graphs[0]["re"] == state["re"]
    gate = graphs[0]
    ids = {n["id"] for n in gate["nodes"]}
    assert {"x1", "x2", "W1[0][0]", "b2[0]"} <= ids and set(state["nodes"]) == ids
    assert state["view"] == "gate" and state["phase"] == "forward"
    cursor = next(n for n in gate["nodes"] if n["id"] == state["cursor"])
    assert cursor["of"] == "h1_1" and cursor["role"] == "a" and cursor["rule"].startswith("tanh")
    assert all(e["src"] in ids and e["dst"] in ids for e in gate["edges"])
    state, _ = control.call(type="step", unit="op")
    assert state["explain"]["lines"][0].startswith("Forward through gate")
    state, before = control.call(type="view", view="neuron")
    assert state["view"] == "neuron" and state["cursor"] == "h1_1"
    assert [m["view"] for m in before if isinstance(m, dict) and m["type"] == "graph"] == ["neuron"]


def test_a_bad_view_is_refused_naming_the_choices(control):
    refused, _ = control.call(type="view", view="matrix")
    assert refused["type"] == "error" and refused["field"] == "view" and "neuron" in refused["message"]


def test_the_gate_view_is_refused_for_a_big_network(make_client):
    client = make_client(max_gates=50)
    sid, token = new_session(client, {"hidden": [8, 8]})
    with connect(client, sid, token) as peer:
        refused, _ = peer.call(type="view", view="gate")
        assert refused["code"] == "limit" and refused["field"] == "view" and "at most 50" in refused["message"]
        assert peer.state()["view"] == "neuron"


def test_explain_any_node_and_refuse_an_unknown_one(control):
    control.call(type="step", unit="pass", count=2)
    answer, _ = ask(control, "explain", type="explain", node="h1_0")
    assert answer["node"] == "h1_0"
    assert any(line.startswith("z = ") for line in answer["lines"]) and any(line.startswith("dL/dz") for line in answer["lines"])
    refused, _ = ask(control, "explain", type="explain", node="h7_7")
    assert refused["code"] == "not_found" and refused["field"] == "node"


def test_verify_checks_the_gradients_by_finite_differences(control):
    control.call(type="step", unit="op", count=3)
    answer, _ = ask(control, "verify", type="verify")
    assert answer["max_rel_error"] < 1e-6 and answer["checked"] == 9 and answer["batch"] == 5
    assert answer["worst"].startswith(("W", "b")) and answer["iteration"] == 0


def test_batch_shows_each_layer_with_shapes(control):
    control.call(type="step", unit="pass", count=2)
    answer, _ = ask(control, "batch", type="batch")
    first = answer["layers"][0]
    assert answer["n"] == 5 and first["shapes"]["X"] == [5, 2] and first["shapes"]["W"] == [2, 2]
    assert len(first["Z"]) == 5 and len(first["dW"]) == 2 and len(first["db"]) == 2


def test_a_viewer_may_ask_but_not_step_back_or_switch_views(client):
    sid, token = new_session(client, CONFIG)
    with connect(client, sid, token) as owner, connect(client, sid) as viewer:
        owner.call(type="step", unit="op", count=2)
        for kind in ("explain", "verify", "batch"):
            extra = {"node": "h1_0"} if kind == "explain" else {}
            answer, _ = ask(viewer, kind, type=kind, **extra)
            assert answer["type"] == kind
        for command in ({"type": "back"}, {"type": "view", "view": "gate"}):
            refused, _ = viewer.call(**command)
            assert refused["code"] == "forbidden"
