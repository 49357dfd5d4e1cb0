"""The message builders that every answer goes through."""

from __future__ import annotations

from app.server import wire

from .conftest import small_settings


def test_reply_attaches_re_only_when_the_command_had_an_id():
    message = {"type": "explain", "node": "h1_0"}
    assert wire.reply(message, None) == message and "re" not in wire.reply(message, None)
    for re in (7, 0, "c1", ""):  # an id that is falsy is still an id
        assert wire.reply(message, re) == {**message, "re": re}
    assert message == {"type": "explain", "node": "h1_0"}, "the message itself was changed"
    assert "re" not in wire.error("busy", "wait") and wire.error("busy", "wait", re=0)["re"] == 0


def test_hello_states_the_servers_own_limits_and_every_choice():
    hello = wire.hello("sid", "view", small_settings(max_speed=77, max_sweep_seeds=5))
    assert (hello["type"], hello["session"], hello["role"], hello["protocol"]) == ("hello", "sid", "view", 1)
    assert hello["limits"]["speed"] == 77 and hello["limits"]["sweep_seeds"] == 5
    assert hello["choices"]["views"] == ["neuron", "gate"] and "epoch" in hello["choices"]["step_units"]
