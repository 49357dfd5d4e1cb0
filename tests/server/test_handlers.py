"""The command table: one handler per command, what viewers may send, and what each entry declares
holding over the wire."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.lessons import LESSONS
from app.server.commands import COMMAND_TYPES
from app.server.handlers import HANDLERS, VIEWER_COMMANDS, Handler, _table

from .conftest import connect, new_session

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
CONFIG = {"hidden": [3], "dataset": {"n": 40}, "batch_size": 10}

# a valid command of every type, harmless to send: the sweep is refused by its own limit, so no
# worker process starts
SAMPLES = {
    "ack": {"seq": 0}, "snapshot": {}, "explain": {"node": "h1_0"}, "batch": {}, "verify": {},
    "pause": {}, "play": {"speed": 5}, "step": {"unit": "op"}, "back": {"count": 1},
    "view": {"view": "gate"}, "select": {"example": 1}, "set_params": {"params": {}},
    "randomize": {"weight_seed": 7}, "configure": {"config": {"lr": 0.5}},
    "load": {"lesson": LESSONS[0]["id"], "step": 1}, "hide": {"panels": ["charts"]},
    "sweep": {"count": 2, "iterations": 0}, "sweep_cancel": {},
    "ask": {"kind": "sign"}, "answer": {"question": "q0", "value": "+"}, "reveal": {"question": "q0"},
    "close_question": {"question": "q0"},
}
ANSWERS = ("state", "error", "explain", "batch", "verify", "presentation", "question", "answered", "reveal")


def test_every_command_type_has_exactly_one_handler():
    assert sorted(HANDLERS) == sorted(COMMAND_TYPES)
    assert all(kind == handler.type for kind, handler in HANDLERS.items())
    assert sorted(SAMPLES) == sorted(COMMAND_TYPES), "a new command needs a sample here"
    with pytest.raises(ValueError, match="two handlers"):
        _table(Handler("ack", HANDLERS["ack"].run), Handler("ack", HANDLERS["snapshot"].run))


def test_what_a_viewer_may_send_is_what_the_protocol_says():
    text = " ".join(PROTOCOL.read_text().split())
    sentence = re.search(r"A viewer \(no token\) may send only (.*?); anything else is `forbidden`", text).group(1)
    assert set(re.findall(r"`(\w+)`", sentence)) == set(VIEWER_COMMANDS) == {"snapshot", "ack", "verify", "explain",
                                                                            "batch", "answer"}


def everything_but_seq(state: dict) -> dict:
    return {k: v for k, v in state.items() if k not in ("seq", "re")}


@pytest.mark.parametrize("kind", [k for k in COMMAND_TYPES if k not in VIEWER_COMMANDS])
def test_a_viewer_sending_a_control_command_is_forbidden_and_nothing_changes(client, kind):
    sid, token = new_session(client, CONFIG)
    with connect(client, sid, token) as control, connect(client, sid) as viewer:
        control.call(type="step", unit="op", count=3)
        before, shown = viewer.state(), viewer.hello["presentation"]
        error, _ = viewer.call(answers=ANSWERS + ("sweep_progress",), type=kind, **SAMPLES[kind])
        assert (error["type"], error["code"]) == ("error", "forbidden") and kind in error["message"]
        assert everything_but_seq(viewer.state()) == everything_but_seq(before)
        assert client.app.state.registry.get(sid).sweep is None
    with connect(client, sid) as late:
        assert late.hello["presentation"] == shown


def test_while_a_long_step_runs_exactly_the_entries_that_say_so_are_busy(client):
    sid, token = new_session(client, CONFIG)
    session = client.app.state.registry.get(sid)
    with connect(client, sid, token) as control:
        session.stepping = True  # as a long step of another connection would hold it, without the timing
        try:
            for kind in COMMAND_TYPES:
                if kind == "ack":  # an ack has no answer to look at
                    continue
                answer, _ = control.call(answers=ANSWERS, type=kind, **SAMPLES[kind])
                busy = answer["type"] == "error" and answer["code"] == "busy"
                assert busy == HANDLERS[kind].not_while_stepping, (kind, answer)
                if busy:
                    assert answer["message"] == f"{kind}: a long step is running in this session; wait for its answer"
        finally:
            session.stepping = False


def test_while_playing_only_step_back_and_ask_are_busy():
    assert {kind for kind, handler in HANDLERS.items() if handler.not_while_playing} == {"step", "back", "ask"}
