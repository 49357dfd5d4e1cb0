"""Questions over the wire: ask, answer, tally, reveal, close; the run never moves for them."""

from __future__ import annotations

import asyncio

import pytest

from app.run.questions import Posed
from app.server import questions as service

from .conftest import connect, new_session, run_apart

CONFIG = {"hidden": [3, 2], "dataset": {"n": 24}, "batch_size": 6, "lr": 0.1}
QUESTION_ANSWERS = ("question", "error", "answered", "reveal", "state")


def without_seq(state: dict) -> dict:
    return {k: v for k, v in state.items() if k not in ("seq", "re")}


def next_of(peer, kind: str) -> dict:
    while True:
        item = peer.recv_json()
        if item["type"] == kind:
            return item


def test_the_room_predicts_the_next_value_and_the_reveal_judges_each_answer(client):
    sid, token = new_session(client, CONFIG)
    with connect(client, sid, token) as control, connect(client, sid) as right, connect(client, sid) as wrong:
        control.call(type="step", unit="op", count=2)
        before = without_seq(right.state())
        asked, _ = control.call(answers=QUESTION_ANSWERS, type="ask", kind="number")
        assert asked["type"] == "question" and asked["open"] and asked["target"] == {"node": "h1_2", "quantity": "a"}
        assert asked["node"] == "h1_2" and asked["prompt"] == "What will a(h1.3) be?"
        for viewer in (right, wrong):
            assert next_of(viewer, "question")["id"] == asked["id"]
        assert without_seq(right.state()) == before  # asking moved nothing
        # the truth, found the honest way: a second session, stepped one op further
        twin, twin_token = new_session(client, CONFIG)
        with connect(client, twin, twin_token) as other:
            truth = other.call(type="step", unit="op", count=3)[0]["nodes"]["h1_2"]["a"]
        stored, _ = right.call(answers=QUESTION_ANSWERS, type="answer", question=asked["id"], value=round(truth, 6))
        assert stored == {"type": "answered", "question": asked["id"], "value": round(truth, 6), "re": stored["re"]}
        wrong.call(answers=QUESTION_ANSWERS, type="answer", question=asked["id"], value=truth + 1.0)
        tally = next_of(control, "tally")
        while tally["answers"] < 2:
            tally = next_of(control, "tally")
        assert tally["connected"] == 3 and sum(tally["counts"]["counts"]) == 2
        assert without_seq(right.state()) == before  # answering moved nothing
        revealed, _ = control.call(answers=QUESTION_ANSWERS, type="reveal", question=asked["id"])
        assert revealed["truth"] == pytest.approx(truth, rel=1e-12) and revealed["answers"] == 2
        assert revealed["yours"] is None and revealed["right"] is False
        assert any("a = " in line for line in revealed["explain"]) and revealed["working"]["rows"]
        mine, theirs = next_of(right, "reveal"), next_of(wrong, "reveal")
        assert (mine["right"], theirs["right"]) == (True, False) and theirs["yours"] == pytest.approx(truth + 1.0)
        after = control.call(type="step", unit="op")[0]
        assert after["nodes"]["h1_2"]["a"] == pytest.approx(truth, rel=1e-12)


def test_refusals_name_their_field_and_leave_the_question_as_it_was(client):
    sid, token = new_session(client, CONFIG)
    with connect(client, sid, token) as control, connect(client, sid) as viewer:
        asked, _ = control.call(answers=QUESTION_ANSWERS, type="ask", kind="sign")
        next_of(viewer, "question")
        cases = [
            (viewer, {"type": "answer", "question": "q999999", "value": "+"}, "not_found", "question"),
            (viewer, {"type": "answer", "question": asked["id"], "value": "up"}, "invalid_message", "value"),
            (viewer, {"type": "answer", "question": asked["id"], "value": 1.5}, "invalid_message", "value"),
            (viewer, {"type": "reveal", "question": asked["id"]}, "forbidden", None),
            (viewer, {"type": "ask"}, "forbidden", None),
            (control, {"type": "ask", "kind": "number"}, "busy", "question"),
            (control, {"type": "close_question", "question": "q0"}, "not_found", "question"),
            (control, {"type": "ask", "kind": "colour"}, "invalid_message", "kind"),
        ]
        for peer, command, code, field in cases:
            error, _ = peer.call(answers=QUESTION_ANSWERS, **command)
            assert (error["type"], error["code"], error.get("field")) == ("error", code, field), (command, error)
        stored, _ = viewer.call(answers=QUESTION_ANSWERS, type="answer", question=asked["id"], value="-")
        assert stored["type"] == "answered"  # still open: every refusal left it so
        with connect(client, sid) as late:  # a late joiner gets the open question and can answer
            assert next_of(late, "question")["id"] == asked["id"]
            stored, _ = late.call(answers=QUESTION_ANSWERS, type="answer", question=asked["id"], value="+")
            assert stored["type"] == "answered"


@pytest.mark.parametrize("target, field", [({"node": "h7_0", "quantity": "a"}, "target.node"),
                                           ({"param": "W1", "i": 9, "j": 0, "quantity": "grad"}, "target.i"),
                                           ({"layer": 0}, "target"), ({"next": True, "x": 1}, "target.x")])
def test_an_ask_about_something_that_is_not_there_is_refused(client, target, field):
    sid, token = new_session(client, CONFIG)
    with connect(client, sid, token) as control:
        error, _ = control.call(answers=QUESTION_ANSWERS, type="ask", kind="number", target=target)
        assert error["code"] == "invalid_message" and error["field"] == field


def test_changing_the_run_closes_the_question_and_a_refused_change_does_not(client):
    sid, token = new_session(client, CONFIG)
    with connect(client, sid, token) as control, connect(client, sid) as viewer:
        asked, _ = control.call(answers=QUESTION_ANSWERS, type="ask", kind="number")
        next_of(viewer, "question")
        refused, _ = control.call(type="step", unit="op", count=10**9)
        assert refused["code"] == "limit"
        assert control.call(answers=QUESTION_ANSWERS, type="answer", question=asked["id"], value=0.5)[0]["type"] == "answered"
        _, before = control.call(type="step", unit="op")
        closed = [m for m in before if isinstance(m, dict) and m["type"] == "question"]
        assert closed and closed[-1]["open"] is False and closed[-1]["id"] == asked["id"]
        assert next_of(viewer, "question")["open"] is False
        error, _ = viewer.call(answers=QUESTION_ANSWERS, type="answer", question=asked["id"], value=0.5)
        assert error["code"] == "not_found"


def test_shape_and_dead_unit_questions_reveal_their_truth(client):
    sid, token = new_session(client, {**CONFIG, "activation": "relu"})
    with connect(client, sid, token) as control, connect(client, sid) as viewer:
        asked, _ = control.call(answers=QUESTION_ANSWERS, type="ask", kind="shape", target={"matrix": "db1"})
        next_of(viewer, "question")
        viewer.call(answers=QUESTION_ANSWERS, type="answer", question=asked["id"], value=[6, 3])
        revealed, _ = control.call(answers=QUESTION_ANSWERS, type="reveal", question=asked["id"])
        assert revealed["truth"] == [3] and revealed["counts"] == {"6×3": 1}
        assert next_of(viewer, "reveal")["right"] is False
        control.call(type="set_params", params={"b1": [0.0, -50.0, 0.0]})
        asked, _ = control.call(answers=QUESTION_ANSWERS, type="ask", kind="choice", target={"layer": 1})
        assert asked["choices"] == ["h1_0", "h1_1", "h1_2", "none"]
        viewer.call(answers=QUESTION_ANSWERS, type="answer", question=asked["id"], value="h1_1")
        control.call(answers=QUESTION_ANSWERS, type="close_question", question=asked["id"])
        assert next_of(viewer, "question")["open"] is False


def test_one_connection_may_answer_only_so_often(client, monkeypatch):
    monkeypatch.setattr(service, "ANSWERS_PER_SECOND", 2)
    sid, token = new_session(client, CONFIG)
    with connect(client, sid, token) as control:
        asked, _ = control.call(answers=QUESTION_ANSWERS, type="ask", kind="sign")
        codes = [control.call(answers=QUESTION_ANSWERS, type="answer", question=asked["id"], value="+")[0]
                 for _ in range(3)]
        assert [c["type"] for c in codes[:2]] == ["answered", "answered"]
        assert codes[2]["code"] == "limit" and codes[2]["field"] == "value"


def test_the_answer_rate_is_a_sliding_window_of_one_second():
    rate = service.AnswerRate()
    assert all(rate.allow(0.01 * k) for k in range(service.ANSWERS_PER_SECOND))
    assert not rate.allow(0.5) and rate.allow(1.001)


def test_tallies_go_out_at_most_four_a_second_and_the_last_answers_are_never_left_out():
    class Conn:
        role = "control"

        def __init__(self):
            self.got = []

        def push(self, *items):
            self.got += items

    class Room:  # the part of a Session a tally reads and writes
        def __init__(self, question):
            self.question, self.connections = question, [Conn()]

        def viewer_count(self):
            return len(self.connections)

        def push_controllers(self, message):
            for conn in self.connections:
                conn.push(("text", message))

    async def scenario():
        posed = Posed("sign", {}, "?", ["+", "-", "0"], "+", None)
        question = service.new_question(posed)
        room = Room(question)
        start = asyncio.get_running_loop().time()
        for k in range(10):  # ten answers within a tenth of a second
            question.answers[k] = "+"
            service.send_tally(room, question, now=question.last_tally + 0.01 if k else None)
        sent_at_once = len(room.connections[0].got)
        await asyncio.sleep(1.0 / service.TALLY_PER_SECOND + 0.05)
        return sent_at_once, room.connections[0].got, asyncio.get_running_loop().time() - start

    sent_at_once, got, _ = run_apart(scenario())  # its own loop: Playwright's may be running here
    assert sent_at_once == 1 and len(got) == 2  # one now, one paced: not ten
    assert b'"answers":10' in got[-1][1]


def test_an_answer_leaves_with_its_connection_and_the_tally_says_so(client):
    sid, token = new_session(client, CONFIG)
    with connect(client, sid, token) as control:
        asked, _ = control.call(answers=QUESTION_ANSWERS, type="ask", kind="sign")
        with connect(client, sid) as viewer:
            next_of(viewer, "question")
            viewer.call(answers=QUESTION_ANSWERS, type="answer", question=asked["id"], value="+")
            tally = next_of(control, "tally")
            while tally["answers"] < 1:
                tally = next_of(control, "tally")
        tally = next_of(control, "tally")
        while tally["answers"] != 0:
            tally = next_of(control, "tally")
        assert tally["counts"] == {"+": 0, "-": 0, "0": 0}
