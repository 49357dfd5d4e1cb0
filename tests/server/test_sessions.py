"""A session's connections: attached with their greeting, and always detached."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from app.engine import parse_config
from app.server.sessions import Connection, Session

from .conftest import run_apart, small_settings


async def _nowhere(_):
    pass


def test_attached_greets_first_and_detaches_however_the_block_ends():
    async def scenario():
        session = Session("s", "t", parse_config(), small_settings())
        conn = Connection("view", _nowhere, _nowhere, asyncio.Queue(16))
        with pytest.raises(RuntimeError):
            async with session.attached(conn):
                assert session.connections == {conn}
                raise RuntimeError("the socket broke")
        assert not session.connections
        sent = [conn.outbox.get_nowait() for _ in range(conn.outbox.qsize())]
        return [orjson.loads(data)["type"] if kind == "text" else "grid" for kind, data in sent]

    assert run_apart(scenario()) == ["hello", "graph", "state", "grid", "config", "dataset", "presentation"]


def test_a_frame_reused_for_the_room_is_never_given_twice_to_one_reader():
    """While playing, a frame built moments ago is shared by every viewer ready at about that
    time; a reader that already has it must get a newer one (the hall's CI run caught a
    viewer sent frame 15 twice)."""
    async def scenario():
        session = Session("s", "t", parse_config(), small_settings())
        session.playing = True  # frames as while playing, without the play loop moving the run
        interval = 1000.0  # reuse for 500 s: the test does not depend on how fast it runs
        first = await session.next_frame(interval, newer_than=-1)
        session.changed()
        shared = await session.next_frame(interval, newer_than=-1)  # another viewer, just after
        mine = await session.next_frame(interval, newer_than=first.seq)  # the one that had `first`
        return first.seq, shared.seq, mine.seq

    first, shared, mine = run_apart(scenario())
    assert shared == first, "a viewer new to the frame shares the one just built"
    assert mine > first, "a viewer that has it is never given it again"


def test_a_viewer_answered_with_a_frame_is_not_sent_that_frame_again():
    async def scenario():
        sent: list[int] = []
        done = asyncio.Event()

        async def record(text):
            sent.append(orjson.loads(text)["seq"])
            if len(sent) == 2:
                done.set()

        session = Session("s", "t", parse_config(), small_settings(max_fps=0.001))
        session.playing = True
        conn = Connection("control", record, _nowhere, asyncio.Queue(16))
        session.frame()
        session.reply_frame(conn, "c1")  # its answer carries the current frame
        session.changed()  # and the run moves on at once
        sender = asyncio.get_running_loop().create_task(session.sender(conn))
        await asyncio.wait_for(done.wait(), 30)
        conn.closing = True
        conn.wake.set()
        await sender
        return sent

    answered, next_frame = run_apart(scenario())
    assert next_frame > answered


def test_viewers_wanting_a_play_frame_at_once_wait_for_one_build_together():
    """A room's senders that find no fresh frame share the one being built: each taking its own
    turn through the lane and the frames thread capped 200 viewers near 5 frames a second."""
    async def scenario():
        session = Session("s", "t", parse_config(), small_settings())
        session.playing = True
        builds = []
        build = session.frame

        def counted():
            builds.append(1)
            return build()

        session.frame = counted
        session.changed()
        frames = await asyncio.gather(*(session.play_frame(0.0, newer_than=-1) for _ in range(50)))
        return {frame.seq for frame in frames}, len(builds)

    seqs, builds = run_apart(scenario())
    assert len(seqs) == 1 and builds == 1


def test_a_pause_while_a_play_frame_is_being_built_is_in_the_next_frame():
    """The play frame is built in a thread while the loop goes on: a pause arriving after the
    thread read `playing` but before it finished must not be answered with that frame (CI saw the
    page stay on "playing" after Pause: the frame was labelled with the version after the pause)."""
    import threading

    async def scenario():
        session = Session("s", "t", parse_config(), small_settings())
        session.playing = True
        session.changed()
        read, paused = threading.Event(), threading.Event()
        extra = session.state_extra

        def read_then_wait_for_the_pause():
            values = extra()
            read.set()
            paused.wait(30)
            return values

        session.state_extra = read_then_wait_for_the_pause
        building = asyncio.get_running_loop().create_task(session.play_frame(0.0, newer_than=-1))
        await asyncio.to_thread(read.wait, 30)
        session.stop_playing()  # what the pause command does, in the loop, while the thread builds
        session.changed()
        paused.set()
        built = await building
        session.state_extra = extra
        async with session.lock:  # as the pause's reply is built
            answer = session.frame()
        return built.state["playing"], answer.state["playing"], answer.seq > built.seq

    built_playing, answer_playing, newer = run_apart(scenario())
    assert built_playing is True, "the thread's frame was read before the pause"
    assert answer_playing is False and newer, "the pause's answer is a new frame that says paused"
