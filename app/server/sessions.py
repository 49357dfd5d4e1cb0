"""Live sessions: a Run, the sockets watching it, the play loop and flow control.

Flow control (docs/protocol.md, *Flow control*; bench/stream.py measures it): each session
keeps one "latest frame" — built lazily, only when some client is ready for it, encoded once
and sent as the same bytes to every viewer. Each connection has a sender task that sends the
newest frame only while the client has fewer than `max_unacked` unacknowledged play frames and
no faster than `max_fps`; older frames are never queued, so a client that stops reading costs
nothing.
Messages that must not be dropped (answers to a client's own commands, `graph`, `config`,
`dataset`) go through a small bounded outbox per connection instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

from starlette.websockets import WebSocketDisconnect

from app.engine import Config, parse_config
from app.run import Run, run_view
from app.run.view import grid_maps
from app.storage import ScenarioStore

from . import wire
from .admission import Claims, token_matches
from .budget import frame_executor, lane
from .presenting import blank_presentation, saved_scenario, scenario_presentation
from .questions import AnswerRate, Question, close as close_question, send_tally
from .settings import Settings
from .sweeps import SweepJob, SweepPool

# how many other processes of a lecture hall one new session may ask to end an idle session for
# it: others make sessions meanwhile, and a refusal soon is better than a request that never ends
ROOM_REQUESTS = 3
# why no session could be given up to make room (refusals say it)
IN_USE = "is open in a page, or was made moments ago for a page still connecting"


@dataclass
class Frame:
    version: int
    seq: int
    state: dict
    state_bytes: bytes
    grid: bytes
    state_text: str = ""  # state_bytes decoded once: a websocket text frame wants str, for every viewer
    built_at: float = 0.0


@dataclass(eq=False)
class Connection:
    role: str  # control | view
    send_str: Callable[[str], Awaitable[None]]
    send_bytes: Callable[[bytes], Awaitable[None]]
    outbox: asyncio.Queue
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    sent_version: int = -1
    sent_seq: int = -1  # the newest frame sent by its sender: a reused frame is never sent twice
    acked: int = -1
    in_flight: deque = field(default_factory=deque)  # seqs of play frames not yet acknowledged
    next_frame_at: float = 0.0  # the earliest moment the next play frame may go
    wants_change: bool = False  # its sender is idle with credit: the next change should wake it
    closing: bool = False
    ending: bool = False  # send what is in the outbox (a last error), then close
    cid: str = ""  # its number in a lecture hall, where its commands run in another process
    running: asyncio.Task | None = None  # a long command (step) running while the receiver reads on
    last_verify: float = float("-inf")  # when this connection last asked for a verify
    answer_rate: AnswerRate = field(default_factory=AnswerRate)  # its answers to questions, paced

    def ack(self, seq: int) -> None:
        self.acked = max(self.acked, seq)
        while self.in_flight and self.in_flight[0] <= self.acked:
            self.in_flight.popleft()
        self.wake.set()

    def push(self, *items: tuple[str, bytes]) -> None:
        """Queue messages that must arrive; a client too far behind to take them is dropped."""
        for item in items:
            try:
                self.outbox.put_nowait(item)
            except asyncio.QueueFull:
                self.closing = True
        self.wake.set()

    def push_frame(self, version: int, seq: int, *items: tuple[str, bytes]) -> None:
        """Queue a frame's messages outside the sender (a command's answer), counted as sent:
        the sender never sends that frame again."""
        self.push(*items)
        self.sent_version = max(self.sent_version, version)
        self.sent_seq = max(self.sent_seq, seq)


class Audience:
    """Sockets watching one session's frames, each sent the newest frame when it has credit: the
    session itself in the process that owns it, or a hall.Mirror of it in another process."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.connections: set[Connection] = set()
        self.version = 0  # bumped by every change; a frame is built for a version at most once
        self.playing = False

    def changed(self) -> None:
        self.version += 1
        self._wake_idle()

    def _wake_idle(self) -> None:
        for conn in self.connections:
            if conn.wants_change:
                conn.wake.set()

    async def next_frame(self, interval: float, newer_than: int) -> Frame:
        """The frame to send now to a reader that last had frame `newer_than`: built by a
        Session, received by a Mirror (each defines it)."""
        raise NotImplementedError  # abstract: Audience itself is never instantiated

    def attach(self, conn: Connection) -> None:
        self.connections.add(conn)

    def detach(self, conn: Connection) -> None:
        self.connections.discard(conn)

    async def sender(self, conn: Connection) -> None:
        """Send what `conn` must get, then the newest frame whenever it has credit.

        A sender sleeps on a timer until its next frame is due and is woken by `changed()`
        only while it is waiting for something new to send: while playing, the run changes
        hundreds of times a second, and waking every viewer's sender for each change would
        cost a room of 200 far more than the frames themselves."""
        interval = 1.0 / self.settings.max_fps
        loop = asyncio.get_running_loop()
        while not conn.closing:
            while not conn.outbox.empty():
                kind, data = conn.outbox.get_nowait()
                if not await self._send(conn, data.decode() if kind == "text" else data):
                    return
            if conn.ending:
                return
            credit = len(conn.in_flight) < self.settings.max_unacked
            if self.version > conn.sent_version and credit:
                now = time.monotonic()
                wait = conn.next_frame_at - now
                if wait > 0:  # wake early only for an outbox message; frames wait their turn
                    conn.wake.clear()
                    timer = loop.call_later(wait, conn.wake.set)
                    await conn.wake.wait()
                    timer.cancel()
                    continue
                frame = await self.next_frame(interval, conn.sent_seq)
                conn.sent_version = frame.version
                if frame.seq <= conn.sent_seq:  # nothing newer than what it has (a mirror between frames)
                    continue
                conn.in_flight.append(frame.seq)
                conn.sent_seq = frame.seq
                # keep a steady cadence (late frames do not push the next one back), but never
                # bank more than half an interval of debt: on average at most max_fps
                conn.next_frame_at = max(conn.next_frame_at + interval, now + interval / 2)
                if not (await self._send(conn, frame.state_text) and await self._send(conn, frame.grid)):
                    return
                await asyncio.sleep(0)  # one viewer's sends must not starve the others
                continue
            conn.wake.clear()
            if conn.outbox.empty():
                conn.wants_change = credit  # without credit, only an ack (which wakes it) can help
                await conn.wake.wait()
                conn.wants_change = False

    async def _send(self, conn: Connection, data: str | bytes) -> bool:
        """Send one message; False (and the connection marked closing) if the client has not taken
        it within `send_timeout`. A client blocked at the TCP level leaves `send` waiting for ever,
        and the blocked write would also hold up the server's pings: the timeout is what ends it."""
        send = conn.send_str if isinstance(data, str) else conn.send_bytes
        try:
            await asyncio.wait_for(send(data), self.settings.send_timeout)
        except (asyncio.TimeoutError, RuntimeError, OSError, WebSocketDisconnect):
            # RuntimeError: the socket was closed while this message waited ("Cannot call send
            # once a close message has been sent"); WebSocketDisconnect: the client left while
            # it was being sent. Either way this client is done
            conn.closing = True
            return False
        return True



class Session(Audience):
    def __init__(self, session_id: str, token: str, config: Config, settings: Settings, pool: SweepPool | None = None,
                 run: Run | None = None, hall: Any = None):
        super().__init__(settings)
        self.id, self.token = session_id, token
        self.pool = pool  # where this session's seed sweeps run
        self.hall = hall  # the lecture hall this process shares sessions in, if any
        self.remote: dict[str, Any] = {}  # sockets on other processes (hall.RemoteConnection) by key
        self._relay: asyncio.Task | None = None  # publishes frames to them while there are any
        self._relay_wake = asyncio.Event()
        self.run = run if run is not None else Run(config, max_gates=settings.max_gates)
        self.graph_key = self.run.graph_key  # what the last `graph` sent described
        self.lock = asyncio.Lock()
        self.frame_lock = asyncio.Lock()  # one frame built at a time, in the loop or in the frames thread
        self.verify_slot = asyncio.Lock()
        self.seq = 0
        self._frame: Frame | None = None
        self._building: asyncio.Task | None = None  # the play frame being built, awaited by every sender wanting one
        self.stepping = False  # a long step is running: other changes wait for it (busy)
        self.speed = 0.0
        self._play_task: asyncio.Task | None = None
        self.sweep: SweepJob | None = None  # running, or the last one
        self.question: Question | None = None  # the one open question, if any
        self.presentation = blank_presentation()
        self.last_seen = time.monotonic()
        self.last_read = time.monotonic()  # the last ack or command from anyone: is anybody still reading?

    def controlled_by(self, token: str | None) -> bool:
        """Whether `token` is this session's control token: the one place a token is compared."""
        return token_matches(token, self.token)

    # --- frames --------------------------------------------------------------------------

    def changed(self) -> None:
        self.version += 1
        self._wake_idle()
        if self.remote:
            self._relay_wake.set()

    def viewer_count(self) -> int:
        """Its sockets in every process: what the state reports and the connection limit counts."""
        return len(self.connections) + len(self.remote)

    def frame(self) -> Frame:
        """The newest frame, built now if the run changed since the last one."""
        last, version = self._frame, self.version
        if last is None or last.version != version:
            # labelled with the version it was built from, read before building: a play frame is
            # built in a thread, and a change made meanwhile (a pause) must make the next one new
            self.seq += 1
            view = run_view(self.run)
            state = wire.state(view, self.seq, self.state_extra())
            maps = grid_maps(self.run, self.settings.grid_resolution, self.settings.neuron_resolution)
            grid = wire.grid_frame(maps, self.seq)
            encoded = wire.encode(state)
            self._frame = Frame(version, self.seq, state, encoded, grid, encoded.decode(), time.monotonic())
        return self._frame

    async def play_frame(self, reuse_for: float, newer_than: int) -> Frame:
        """The newest frame while playing, for a reader that last had frame `newer_than`.

        While playing the run changes every few milliseconds and each viewer's sender is ready at
        its own moment. So a frame built less than `reuse_for` seconds ago is shared (unless the
        reader has it), and the senders that find none wait together for the one frame being
        built: each going through the lane and the frames thread in turn would cap a room of 200
        near five frames a second each, with the process mostly idle."""
        last = self._frame
        if (last is not None and last.seq > newer_than
                and (last.version == self.version or time.monotonic() - last.built_at < reuse_for)):
            return last
        if self._building is None:
            self._building = asyncio.get_running_loop().create_task(self._build_play_frame())
        # shielded: a reader that leaves does not stop the frame the others are waiting for
        return await asyncio.shield(self._building)

    async def _build_play_frame(self) -> Frame:
        """Background work: it takes its turn in the lane and is built in the frames thread,
        with the session's lock keeping the run still meanwhile."""
        try:
            async with lane(), self.lock, self.frame_lock:
                built = asyncio.get_running_loop().run_in_executor(frame_executor(), self.frame)
                try:
                    return await asyncio.shield(built)
                except asyncio.CancelledError:
                    # the thread cannot be stopped: hold the locks until it is done, so no other
                    # frame is built beside it and the run does not change under it
                    await asyncio.wait([built])
                    raise
        finally:
            self._building = None

    async def next_frame(self, interval: float, newer_than: int) -> Frame:
        if self.playing:
            return await self.play_frame(interval / 2, newer_than)
        async with self.frame_lock:
            return self.frame()

    def state_extra(self) -> dict:
        return {"playing": self.playing, "speed": self.speed, "viewers": self.viewer_count(),
                "weight_seed": self.run.config.weight_seed}

    def reply_frame(self, conn: Connection, re: Any) -> None:
        """Answer a command with the current state (and its grid), carrying `re`."""
        frame = self.frame()
        state_bytes = frame.state_bytes if re is None else wire.encode(wire.reply(frame.state, re))
        conn.push_frame(frame.version, frame.seq, ("text", state_bytes), ("bytes", frame.grid))

    def sync_graph(self, re: Any = None, origin: Connection | None = None, force: bool = False) -> None:
        """Send `graph` to everyone if the run's graph changed (shape, view, or the gates of the example)."""
        key = self.run.graph_key
        if force or key != self.graph_key:
            self.graph_key = key
            self.broadcast(wire.graph(self.run), re, origin)

    def broadcast(self, message: dict, re: Any = None, origin: Connection | None = None) -> None:
        """A message every connection must get (graph, config, dataset); `re` only for the origin."""
        plain = wire.encode(message)
        tagged = plain if re is None else wire.encode(wire.reply(message, re))
        for conn in self.connections:
            conn.push(("text", tagged if conn is origin else plain))
        if self.remote:  # once for every other process; each gives its own sockets the same bytes
            origin_key = getattr(origin, "key", None) if tagged is not plain else None
            self.hall.to_room(self.id, {"k": "push", "as": "text", "origin": origin_key}, plain, tagged)

    def broadcast_bytes(self, data: bytes) -> None:
        for conn in self.connections:
            conn.push(("bytes", data))
        if self.remote:
            self.hall.to_room(self.id, {"k": "push", "as": "bytes"}, data)

    def push_controllers(self, message: bytes) -> None:
        """A message for the controllers only (a question's tally), wherever they are."""
        for conn in self.connections:
            if conn.role == "control":
                conn.push(("text", message))
        if self.remote:
            self.hall.to_room(self.id, {"k": "push", "as": "text", "to": "control"}, message)

    def push_each(self, message_for: Callable[[Any], bytes], re: Any = None, origin: Any = None) -> None:
        """A message that differs by socket (a reveal's own verdict): `message_for(conn)` for every
        socket here; to other processes one publish, with a message of its own for each remote
        socket whose message is not `message_for(None)`."""
        for conn in self.connections:
            message = message_for(conn)
            conn.push(("text", wire.encode(wire.reply(message, re)) if conn is origin else wire.encode(message)))
        if self.remote:
            parts, personal = [wire.encode(message_for(None))], {}
            for key, proxy in self.remote.items():
                message = message_for(proxy)
                if proxy is origin:
                    message = wire.reply(message, re)
                encoded = wire.encode(message)
                if encoded != parts[0]:
                    personal[key] = len(parts)
                    parts.append(encoded)
            self.hall.to_room(self.id, {"k": "push", "as": "text", "personal": personal}, *parts)

    def replace_run(self, run: Run, presentation: dict, re: Any = None, origin: Connection | None = None) -> None:
        """Put the session on another run (a scenario or lesson step loaded) shown as `presentation`:
        playing stops, and everyone gets the new graph, config, dataset and presentation."""
        self.stop_playing()
        self.run = run
        self.presentation = presentation
        self.sync_graph(re, origin, force=True)
        for message in (wire.config(run), wire.dataset(run), wire.presentation(presentation)):
            self.broadcast(message, re, origin)
        self.changed()

    def end_question(self) -> None:
        """The run is about to change: an open question's truth would no longer hold, so it closes."""
        if self.question is not None:
            question, self.question = self.question, None
            close_question(self, question)

    def stop_sweeping(self) -> None:
        if self.sweep is not None and self.sweep.task is not None:
            self.sweep.task.cancel()  # the task stops its workers on the way out

    # --- connections ---------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def attached(self, conn: Connection) -> AsyncIterator[None]:
        """`conn` on this session for the block, and detached however the block ends. It is greeted
        under the lock in the same moment it is attached, so nothing broadcast reaches it before its hello."""
        try:
            async with self.lock:
                self.attach(conn)
                self.greet(conn)
            yield
        finally:
            self.detach(conn)

    def greet(self, conn: Connection) -> None:
        """What a new connection gets, in order: hello, graph, state and its grid, config, dataset, presentation."""
        conn.push(("text", wire.encode(wire.hello(self.id, conn.role, self.settings))),
                  ("text", wire.encode(wire.graph(self.run))))
        self.reply_frame(conn, None)
        conn.push(("text", wire.encode(wire.config(self.run))), ("text", wire.encode(wire.dataset(self.run))),
                  ("text", wire.encode(wire.presentation(self.presentation))))
        if self.question is not None:  # a late joiner can still answer
            conn.push(("text", wire.encode(wire.question(self.question))))

    def attach(self, conn: Connection) -> None:
        self.connections.add(conn)
        self.last_seen = time.monotonic()
        self.changed()  # the viewer count is part of the state

    def detach(self, conn: Connection) -> None:
        self.connections.discard(conn)
        self._left(conn)

    def attach_remote(self, proxy: Any) -> None:
        """A socket on another process joins (hall.py greets it under the lock)."""
        self.remote[proxy.key] = proxy
        self.last_seen = time.monotonic()
        if self._relay is None or self._relay.done():
            self._relay = asyncio.get_running_loop().create_task(self._relay_frames())
        self.changed()

    def detach_remote(self, proxy: Any) -> None:
        if self.remote.pop(proxy.key, None) is not None:
            self._left(proxy)

    def _left(self, conn: Any) -> None:
        if self.question is not None and self.question.answers.pop(conn, None) is not None and self.viewer_count():
            send_tally(self, self.question)  # answers are kept per connection only while it is there
        self.last_seen = time.monotonic()
        if not self.viewer_count():
            self.stop_playing()  # nobody watching: no reason to burn a core
            self.stop_sweeping()
        else:
            self.changed()

    async def _relay_frames(self) -> None:
        """While other processes have viewers, publish each new frame once, at most max_fps: the
        very Frame (bytes) this process's own sockets get, built once for all of them."""
        interval = 1.0 / self.settings.max_fps
        published_seq, relayed_version, next_at = -1, -1, 0.0
        while self.remote:
            if self.version == relayed_version:
                self._relay_wake.clear()
                await self._relay_wake.wait()
                continue
            wait = next_at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            frame = await self.next_frame(interval, published_seq)
            relayed_version = frame.version
            if frame.seq > published_seq and self.remote:
                published_seq = frame.seq
                self.hall.to_room(self.id, {"k": "frame", "seq": frame.seq, "playing": self.playing},
                                  frame.state_bytes, frame.grid)
            next_at = max(next_at + interval, time.monotonic() + interval / 2)

    # --- playing -------------------------------------------------------------------------

    def start_playing(self, speed: float) -> None:
        self.speed = speed
        self.playing = True
        if self._play_task is None or self._play_task.done():
            self._play_task = asyncio.get_running_loop().create_task(self._play_loop())

    def stop_playing(self) -> None:
        self.playing = False
        if self._play_task is not None:
            self._play_task.cancel()
            self._play_task = None

    async def _play_loop(self) -> None:
        """Train at `speed` iterations per second in chunks short enough that the event loop
        never waits more than `chunk_seconds` for us."""
        loop = asyncio.get_running_loop()
        start, done, speed = loop.time(), 0, self.speed
        budget = self.settings.chunk_seconds
        while self.playing:
            if speed != self.speed:  # a new speed restarts the clock
                start, done, speed = loop.time(), 0, self.speed
            if time.monotonic() - self.last_read > self.settings.unread_grace:
                # nobody has read a frame or sent a command for a while: a tab left playing in a
                # drawer, or a script that never acks. Stop, and say so in the state.
                self.playing = False
                self.changed()
                break
            due = int((loop.time() - start) * speed) - done
            if due > 0:
                async with lane(), self.lock:
                    chunk_end = time.perf_counter() + budget
                    for _ in self.run.step("iteration", due):
                        done += 1
                        if time.perf_counter() > chunk_end or self.run.status == "diverged":
                            break
                    if self.run.status == "diverged":
                        self.playing = False  # keep the diverged run on screen, stop burning it
                    self.changed()
                behind = int((loop.time() - start) * speed) - done
                if behind > speed * 0.25:  # cannot keep up: drop the debt rather than grow it
                    start, done = loop.time(), 0
                await asyncio.sleep(0)
            else:
                await asyncio.sleep(max(0.001, (done + 1) / speed - (loop.time() - start)))
        self._play_task = None


class SessionTaken(Exception):
    """Another process of the lecture hall made this session id first: it is that process's."""


class SessionLimit(Exception):
    """No room for another session. `full`: the whole server is at its cap (else one client
    address is at its own)."""

    def __init__(self, message: str, full: bool = True):
        super().__init__(message)
        self.full = full


@dataclass
class Lease:
    """What the registry keeps beside a session: who made it, and when a controller last used it."""
    owner: str | None  # the client address that asked for it; None when the caller did not say
    active: float  # time.monotonic() when it was made, then of each command from a controller
    used: bool = False  # a controller has sent it a command


class Registry:
    """Every live session of this process: the caps (overall and per client address), expiry,
    eviction, and sessions made only when a page's websocket redeems its claim.

    Lifetime (docs/protocol.md, *Sessions*, "Lifetime"): a session with a connection open is kept. One
    with none expires `idle_timeout` after its controller's last command, or `unattended_timeout`
    after it was made if no controller ever sent one. Connecting, acks and viewers never move that
    clock, so reconnecting keeps nothing alive. When a cap is reached the idle session nearest its
    expiry makes room; only when every session counted is open somewhere is a newcomer refused."""

    def __init__(self, settings: Settings, pool: SweepPool | None = None):
        self.settings, self.pool = settings, pool
        self.sessions: dict[str, Session] = {}
        self.leases: dict[str, Lease] = {}
        self.claims = Claims()
        self.hall: Any = None  # a hall.Hall when sessions are shared with other processes (set by main.py)

    def share_claims(self, secret: bytes) -> None:
        """Claims signed with a secret every process of the hall shares: a page one process served
        may connect to another."""
        self.claims = Claims(secret)

    def create(self, config: Config, run: Run | None = None, presentation: dict | None = None, *,
               owner: str | None = None, session_id: str | None = None, token: str | None = None) -> Session:
        """A new session of `config`, or of an already built `run` (a fork, a scenario), asked for by
        the client at address `owner`. Raises SessionLimit when there is no room even by eviction."""
        self.expire()
        self._make_room(owner, evict=True)
        # 128 random bits of id
        return self._add(session_id or secrets.token_urlsafe(16), token or secrets.token_urlsafe(24), config, run,
                         presentation, owner)

    def _add(self, session_id: str, token: str, config: Config, run: Run | None, presentation: dict | None,
             owner: str | None) -> Session:
        session = Session(session_id, token, config, self.settings, self.pool, run, self.hall)
        if presentation is not None:
            session.presentation = presentation
        self.sessions[session_id] = session
        self.leases[session_id] = Lease(owner, time.monotonic())
        return session

    async def open_scenario(self, store: ScenarioStore, scenario_id: str, owner: str | None) -> Session | None:
        """A new session at exactly a saved scenario, or None if there is no such scenario.
        Raises ScenarioError if it no longer loads, SessionLimit if the server is full."""
        scenario = await saved_scenario(store, scenario_id)
        if scenario is None:
            return None
        run = scenario.build_run(self.settings.max_gates)
        # counted against the asking address: a share link in a page of <img> tags is a session per tag
        return await self.open(scenario.config, run, scenario_presentation(scenario, scenario_id), owner=owner)

    async def open(self, config: Config, run: Run | None = None, presentation: dict | None = None, *,
                   owner: str | None = None, session_id: str | None = None, token: str | None = None) -> Session:
        """`create`, and in a lecture hall also counted against the caps of every process together:
        when the hall is full (or the address is at its cap), this process's idle session nearest
        expiry makes room (the address's own), else another process's, else SessionLimit. Raises
        SessionTaken when another process has just made `session_id`."""
        if self.hall is None:
            return self.create(config, run, presentation, owner=owner, session_id=session_id, token=token)
        self.expire()
        self._make_room(owner, evict=True)
        session_id = session_id or secrets.token_urlsafe(16)
        token = token or secrets.token_urlsafe(24)
        asked_elsewhere = 0
        while True:
            try:
                answer = await self.hall.reserve(session_id, token, owner)
            except Exception as exc:  # HallUnavailable: a session nobody else could find is no use
                raise SessionLimit(f"sessions cannot be made right now: {exc}") from None
            if answer == "taken":
                raise SessionTaken(session_id)
            if answer == "ok":
                break
            client_full = answer == "client_full"
            if self.evict_idlest(owner if client_full else None):
                continue
            # none idle here: another process may hold one (a few tries: others make sessions too)
            if asked_elsewhere < ROOM_REQUESTS and await self.hall.make_room_elsewhere(owner, client_full):
                asked_elsewhere += 1
                continue
            raise self._hall_full(owner, client_full)
        return self._add(session_id, token, config, run, presentation, owner)  # the hall has counted it

    def evict_idlest(self, owner: str | None) -> bool:
        """End this process's idle session nearest expiry (among `owner`'s if given), to make room
        for a new one; whether there was one."""
        victim = self._idlest(self.sessions if owner is None else self.made_for(owner))
        if victim is not None:
            self.remove(victim, "the session was closed to make room for a new one")
        return victim is not None

    def _hall_full(self, owner: str | None, client_full: bool) -> SessionLimit:
        if client_full:
            return SessionLimit(f"your address ({owner}) already holds the most sessions one address may "
                                f"({self.settings.max_sessions_per_client}) across this lecture hall's processes, "
                                f"and every one of them {IN_USE}; close one and try again", full=False)
        return SessionLimit(f"the lecture hall is full: its processes hold their maximum of "
                            f"{self.settings.max_sessions} sessions between them and every one {IN_USE}; "
                            "try again in a few minutes")

    def claim(self, owner: str | None) -> tuple[str, str]:
        """An id and token for a page; the session is made when its websocket connects (`redeem`).
        Raises SessionLimit now if that would be refused, so the page can say so instead."""
        self.expire()
        self._make_room(owner, evict=False)
        return self.claims.issue()

    def claimed(self, session_id: str, token: str | None) -> bool:
        return self.claims.valid(session_id, token)

    async def redeem(self, session_id: str, token: str | None, owner: str | None) -> Session | None:
        """Session `session_id`, made now with the default config if it does not exist yet and
        `token` is a claim on it; None if neither. Raises SessionLimit, and SessionTaken when
        another process of the hall made it first."""
        session = self.sessions.get(session_id)
        if session is None and self.claims.valid(session_id, token):
            session = await self.open(parse_config(), owner=owner, session_id=session_id, token=token)
        return session

    def used(self, session_id: str, now: float | None = None) -> None:
        """A controller sent a command: the session's clock starts again."""
        lease = self.leases.get(session_id)
        if lease is not None:
            lease.active, lease.used = (time.monotonic() if now is None else now), True

    def deadline(self, session_id: str) -> float:
        """When (time.monotonic()) the session expires unless a connection is open then."""
        lease = self.leases[session_id]
        timeout = self.settings.idle_timeout
        if not lease.used:  # never the longer of the two: an unused session is the first to go
            timeout = min(timeout, self.settings.unattended_timeout)
        return lease.active + timeout

    def made_for(self, owner: str) -> list[str]:
        """The sessions here made for client address `owner` (what its cap counts)."""
        return [sid for sid, lease in self.leases.items() if lease.owner == owner]

    def _idlest(self, session_ids) -> str | None:
        """The idle session nearest expiry: none open in a page, nor just made for a page still
        connecting (in a burst of new sessions, each would otherwise evict the one before)."""
        now = time.monotonic()
        idle = [sid for sid in session_ids if not self.sessions[sid].viewer_count() and not self._arriving(sid, now)]
        return min(idle, key=self.deadline, default=None)

    def _arriving(self, session_id: str, now: float) -> bool:
        lease = self.leases.get(session_id)
        return lease is not None and not lease.used and now - lease.active < self.settings.connect_grace

    def _make_room(self, owner: str | None, evict: bool) -> None:
        """Room for one more session from `owner`, evicting an idle session if `evict`; raises
        SessionLimit if there is none even so."""
        most = self.settings.max_sessions_per_client
        if owner is not None:
            theirs = self.made_for(owner)
            if len(theirs) >= most:
                victim = self._idlest(theirs)
                if victim is None:
                    raise SessionLimit(f"your address ({owner}) already holds {len(theirs)} sessions, the most one "
                                       f"address may ({most}), and every one {IN_USE}; close one and try again",
                                       full=False)
                if not evict:
                    return  # its own idle session would go: that makes room under both caps
                # an address at its cap gives up its own idle session, no one else's
                self.remove(victim, "the session was closed to make room for a new one")
        if len(self.sessions) >= self.settings.max_sessions:
            victim = self._idlest(self.sessions)
            if victim is None:
                raise SessionLimit(f"the server is full: it holds its maximum of {self.settings.max_sessions} "
                                   f"sessions and every one {IN_USE}; try again in a few minutes")
            if evict:
                self.remove(victim, "the session was closed to make room for a new one")

    def get(self, session_id: str) -> Session | None:
        return self.sessions.get(session_id)

    def remove(self, session_id: str, reason: str = "the session has ended") -> Session | None:
        """End a session here; in a lecture hall its viewers in other processes are told `reason`."""
        session = self.sessions.pop(session_id, None)
        lease = self.leases.pop(session_id, None)
        if session is not None:
            session.stop_playing()
            session.stop_sweeping()
            if self.hall is not None:
                self.hall.released(session, lease.owner if lease else None, reason)
        return session

    def expire(self, now: float | None = None) -> list[str]:
        now = time.monotonic() if now is None else now
        gone = [sid for sid, s in self.sessions.items() if not s.viewer_count() and now > self.deadline(sid)]
        for sid in gone:
            self.remove(sid, "the session expired: nobody had used it for a while")
        return gone

    def close_all(self) -> None:
        for sid in list(self.sessions):
            self.remove(sid, "the server process running this session has stopped, so the session is gone")
