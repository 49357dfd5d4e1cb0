"""The lecture hall: many server processes sharing sessions over Redis (docs/scaling.md).

Only with `BACKPROP_REDIS_URL`; without it nothing here runs and a process keeps its sessions.

- A session lives in the process that made it, its **owner**. Redis holds the registry: a key
  per session (owner, a hash of its token) and one per process, both renewed by the owner's
  heartbeat with a TTL, so a dead owner's registrations vanish by themselves.
- The owner encodes each frame once (the same `Frame` its own sockets get) and publishes it
  once to the session's room channel, but only while some other process has viewers. Every
  process with local viewers of a session subscribes to its room once and keeps a `Mirror`:
  the newest frame, sent to each local socket with the same credit-based flow control an owner
  uses, so a slow device never slows the owner or anyone else.
- A socket on another process is a `RemoteConnection` at the owner: its commands come through
  the owner's inbox channel, in order, and run through the very handlers a local socket's do;
  whatever is pushed to it (answers, errors, its greeting, a reveal's verdict) is published to
  its process, addressed to it.
- Viewers elsewhere of a session whose owner died are told within `hall_ttl + hall_heartbeat`.

Redis pub/sub delivers at most once, and in order from one connection: every publish of a
process goes through one connection (`_publisher`), and every subscription through another
(`_reader`), so a greeting and the broadcasts after it arrive in the order they were made.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import secrets
import socket
import time
from collections import Counter, deque
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from . import wire
from .bus import RESERVE, BadEnvelope, HallUnavailable, Names, pack, token_hash, unpack
from .forwarding import call_app
from .handlers import handle_text
from .questions import AnswerRate
from .sessions import Audience, Connection, Frame, Session
from .settings import redacted

log = logging.getLogger("backprop_lab.hall")

QUEUE_LIMIT = 20_000  # publishes waiting while Redis is away; past it they are dropped (at most once anyway)
BATCH = 256  # publishes sent in one round trip
CONNECT_ATTEMPTS = 25  # at startup, 0.2 s apart: Redis started beside us may take a moment


class RemoteConnection:
    """A socket on another process, as the session's owner sees it (handlers.Call's `conn`)."""

    def __init__(self, hall: "Hall", session_id: str, process: str, cid: str, role: str):
        self.hall, self.session_id, self.process, self.cid, self.role = hall, session_id, process, cid, role
        self.key = f"{process}/{cid}"
        self.running: asyncio.Task | None = None
        self.last_verify = float("-inf")
        self.answer_rate = AnswerRate()
        self.closing = False
        self.sent_version = -1
        self.sent_seq = -1
        self.session: Session | None = None
        self.queue: deque = deque()  # what its process sent for it (join, commands, leave), in order
        self.worker: asyncio.Task | None = None

    def ack(self, seq: int) -> None:
        """Frames are flow-controlled by the socket's own process; nothing to do here."""

    def push(self, *items: tuple[str, bytes], **extra) -> None:
        for kind, data in items:
            self.hall.send_to(self.process, {"k": "to", "sid": self.session_id, "cid": self.cid, "as": kind, **extra},
                              data)

    def push_frame(self, version: int, seq: int, *items: tuple[str, bytes]) -> None:
        """A frame as a command's answer: its seq goes along, so the socket's own process counts
        it as sent and does not send the same frame again when the owner publishes it."""
        self.sent_version, self.sent_seq = max(self.sent_version, version), max(self.sent_seq, seq)
        self.push(*items, seq=seq)


class Mirror(Audience):
    """A session owned elsewhere, as this process's sockets see it: the newest frame published."""

    def __init__(self, session_id: str, owner: str, settings):
        super().__init__(settings)
        self.id, self.owner = session_id, owner
        self.latest: Frame | None = None
        self.read = False  # a local socket acked or sent something since the last heartbeat
        self.ended: str | None = None
        self.by_cid: dict[str, Connection] = {}

    async def next_frame(self, interval: float, newer_than: int) -> Frame:
        return self.latest

    def take_frame(self, seq: int, playing: bool, state: bytes, grid: bytes) -> None:
        if self.latest is not None and seq <= self.latest.seq:
            return
        self.latest = Frame(seq, seq, {}, state, grid, state.decode(), time.monotonic())
        self.playing = playing
        self.version = seq  # the owner's frame number is the version here: never bumped on its own
        self._wake_idle()

    def end(self, reason: str) -> None:
        """The session is gone: every local socket gets `reason`, then is closed (4404)."""
        self.ended = reason
        message = wire.encode(wire.error("not_found", reason))
        for conn in list(self.connections):
            conn.push(("text", message))
            conn.ending = True
            conn.wake.set()


class Hall:
    def __init__(self, settings, registry, app=None):
        self.settings, self.registry, self.app = settings, registry, app
        self.names = Names(settings.hall_prefix)
        self.id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        timeouts = {"socket_timeout": max(2.0, settings.hall_ttl), "socket_connect_timeout": 2.0}
        self.redis = aioredis.from_url(settings.redis_url, **timeouts)
        # every publish on one connection, so they reach Redis (and every subscriber) in order
        self._publish_redis = aioredis.from_url(settings.redis_url, single_connection_client=True, **timeouts)
        self.outgoing: asyncio.Queue = asyncio.Queue(QUEUE_LIMIT)
        self.dropped = 0  # publishes lost while Redis was away
        self.published = 0  # publishes and bytes sent (bench/lecture.py reads them from /healthz)
        self.published_bytes = 0
        self.mirrors: dict[str, Mirror] = {}
        self.proxies: dict[str, RemoteConnection] = {}  # "process/cid" → the socket elsewhere
        self.waiting: dict[str, asyncio.Future] = {}  # joins and requests awaiting their answer
        self.wanted: set[str] = {self.names.inbox(self.id)}  # channels the reader subscribes to
        self._subscribed: dict[str, asyncio.Future] = {}
        self._pubsub = None
        self.up_since: float | None = None  # when Redis last became reachable (deaths are judged after a grace)
        self.listening = False  # subscribed to this process's inbox: others can reach it
        self._run_id: str | None = None  # the Redis server's run id: a new one means it restarted, empty
        self._cids = itertools.count(1)
        self._tasks: list[asyncio.Task] = []
        self._reserve = None
        self._clients_counted: set[str] = set()  # addresses this process may have a count for in Redis
        # every statement of this process's counts is worked out and sent while holding this, so
        # Redis applies them in the order they were worked out (a beat's pipeline is read in
        # chunks: a reservation's newer count could otherwise land before the beat's older one)
        self._stating = asyncio.Lock()

    # --- lifetime --------------------------------------------------------------------------

    async def start(self) -> None:
        """Reach Redis (or raise RuntimeError saying why not), share the claim secret, listen."""
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                await self.redis.ping()
                break
            except (RedisError, OSError) as exc:
                if attempt == CONNECT_ATTEMPTS - 1:
                    raise RuntimeError(f"cannot reach Redis at BACKPROP_REDIS_URL ({redacted(self.settings.redis_url)}): "
                                       f"{exc}") from None
                await asyncio.sleep(0.2)
        await self.redis.set(self.names.claim_secret, secrets.token_hex(32), nx=True)
        secret = await self.redis.get(self.names.claim_secret)
        self.registry.share_claims(bytes.fromhex(secret.decode()))
        self._reserve = self.redis.register_script(RESERVE)
        await self._beat()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._publisher()), loop.create_task(self._reader()),
                       loop.create_task(self._heartbeat())]
        await self._wait_subscribed(self.names.inbox(self.id))

    async def stop(self) -> None:
        """The registry has already removed (and announced) this process's sessions."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._drain(), 1.0)
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                pipe = self.redis.pipeline(transaction=False)
                pipe.delete(self.names.process(self.id))
                pipe.hdel(self.names.counts, self.id)
                for address in self._clients_counted:
                    pipe.hdel(self.names.client(address), self.id)
                await pipe.execute()
        for client in (self.redis, self._publish_redis):
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _drain(self) -> None:
        while not self.outgoing.empty():
            await asyncio.sleep(0.01)

    # --- publishing (one connection, in order) ---------------------------------------------

    def publish(self, channel: str, data: bytes) -> None:
        try:
            self.outgoing.put_nowait((channel, data))
        except asyncio.QueueFull:
            self.dropped += 1

    def send_to(self, process: str, header: dict, *parts: bytes) -> None:
        self.publish(self.names.inbox(process), pack(header, *parts))

    def to_room(self, session_id: str, header: dict, *parts: bytes) -> None:
        self.publish(self.names.room(session_id), pack(header, *parts))

    async def _publisher(self) -> None:
        while True:
            batch = [await self.outgoing.get()]
            while len(batch) < BATCH and not self.outgoing.empty():
                batch.append(self.outgoing.get_nowait())
            for attempt in (1, 2):  # once more on a fresh connection: the old one may predate a Redis restart
                pipe = self._publish_redis.pipeline(transaction=False)
                for channel, data in batch:
                    pipe.publish(channel, data)
                try:
                    await pipe.execute()
                    self.published += len(batch)
                    self.published_bytes += sum(len(data) for _, data in batch)
                    break
                except (RedisError, OSError) as exc:
                    if attempt == 2:
                        self.dropped += len(batch)
                        log.warning("hall: %d publishes lost, Redis unreachable: %s", len(batch), exc)
                        await asyncio.sleep(0.2)

    # --- subscribing (one connection) ------------------------------------------------------

    async def _wait_subscribed(self, channel: str) -> None:
        future = self._subscribed.get(channel)
        if future is None or future.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(future), self.settings.hall_ttl)
        except asyncio.TimeoutError:
            raise HallUnavailable("Redis did not confirm a subscription in time") from None

    def _want(self, channel: str) -> None:
        self.wanted.add(channel)
        self._subscribed[channel] = asyncio.get_running_loop().create_future()
        if self._pubsub is not None:
            asyncio.get_running_loop().create_task(self._subscribe(channel))

    async def _subscribe(self, channel: str) -> None:
        with contextlib.suppress(RedisError, OSError, AttributeError):
            await self._pubsub.subscribe(channel)  # the reader resolves the wait when Redis confirms

    def _unwant(self, channel: str) -> None:
        self.wanted.discard(channel)
        self._subscribed.pop(channel, None)
        if self._pubsub is not None:
            pubsub = self._pubsub

            async def unsubscribe():
                with contextlib.suppress(RedisError, OSError, AttributeError):
                    await pubsub.unsubscribe(channel)
            asyncio.get_running_loop().create_task(unsubscribe())

    async def _reader(self) -> None:
        """Read every channel this process wants; on a lost connection, connect again and
        subscribe again to all of them (backing off up to 1 s)."""
        backoff = 0.1
        while True:
            pubsub = self.redis.pubsub()
            try:
                for channel in list(self.wanted):
                    self._subscribed.setdefault(channel, asyncio.get_running_loop().create_future())
                await pubsub.subscribe(*self.wanted)
                self._pubsub = pubsub
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is None:
                        continue
                    backoff = 0.1
                    channel = message["channel"].decode()
                    if message["type"] == "subscribe":
                        if channel == self.names.inbox(self.id):
                            self.listening = True
                        future = self._subscribed.get(channel)
                        if future is not None and not future.done():
                            future.set_result(None)
                    elif message["type"] == "message":
                        self._dispatch(channel, message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("hall: lost the subscription connection (%s); reconnecting", exc)
            finally:
                self._pubsub, self.listening = None, False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            self.up_since = None
            await asyncio.sleep(backoff)
            backoff = min(1.0, backoff * 2)

    def _dispatch(self, channel: str, data: bytes) -> None:
        try:
            header, parts = unpack(data)
        except BadEnvelope:
            log.warning("hall: ignored a message on %s that is not an envelope", channel)
            return
        try:
            if channel == self.names.inbox(self.id):
                self._inbox(header, parts)
            else:
                mirror = self.mirrors.get(channel.rsplit(":", 1)[-1])
                if mirror is not None:
                    self._room(mirror, header, parts)
        except Exception:  # one bad message must not end the reader
            log.exception("hall: failed on a %r message", header.get("k"))

    # --- the registry ----------------------------------------------------------------------

    async def reserve(self, session_id: str, token: str, owner: str | None) -> str:
        """'ok' (the id is this process's now, counted against both caps), 'client_full' (the cap
        of `owner`, the asking address), 'full' (the hall's cap) or 'taken'."""
        if owner is not None:
            self._clients_counted.add(owner)  # a lost reply may leave a count: the next beat clears it
        try:
            async with self._stating:  # the caller adds the session before anything else states counts
                held, held_client = self._held(owner)
                answer = await self._reserve(
                    keys=[self.names.counts, self.names.session(session_id), self.names.client(owner or "")],
                    args=[self.id, self.settings.max_sessions, self.names.process(""), token_hash(token),
                          int(self.settings.hall_ttl * 1000),
                          0 if owner is None else self.settings.max_sessions_per_client, held, held_client])
        except (RedisError, OSError) as exc:
            raise HallUnavailable(f"Redis is unreachable ({exc})") from None
        return answer.decode() if isinstance(answer, bytes) else str(answer)

    async def make_room_elsewhere(self, owner: str | None, client_full: bool) -> bool:
        """Ask the other processes, those holding the most first, to end an idle session (one of
        address `owner`'s if `client_full`); whether one did, its count restated in Redis already."""
        try:
            held = await self.redis.hgetall(self.names.client(owner) if client_full else self.names.counts)
        except (RedisError, OSError):
            return False
        counts = {process.decode(): int(n) for process, n in held.items()}
        for process in sorted(counts, key=counts.get, reverse=True):
            if process == self.id or counts[process] <= 0:
                continue
            try:
                answer, _ = await self.request(process, {"evict": True,
                                                         "client": owner if client_full else None})
            except HallUnavailable:
                # no answer in time: it may have ended one all the same, so the caller's next
                # reservation looks again before anyone else is asked (each ask may cost a session)
                return True
            if answer.get("evicted"):
                return True
        return False

    async def _evict_for_another(self, header: dict) -> None:
        """Another process is refused a session for want of room: end this process's idle session
        nearest expiry (of the address asked about, if any), and answer once Redis counts it gone."""
        owner = header.get("client") if isinstance(header.get("client"), str) else None
        evicted = self.registry.evict_idlest(owner)
        if evicted:  # answered once Redis counts it gone, so the asker's next reservation sees the room
            with contextlib.suppress(RedisError, OSError):  # else the next beat states it
                await self._restate(owner)
        self.send_to(header["from"], {"k": "answer", "rid": header["rid"], "evicted": evicted})

    def _held(self, owner: str | None) -> tuple[int, int]:
        """How many sessions this process holds, and how many for address `owner`: what it writes
        to Redis as its share of both caps."""
        total = len(self.registry.sessions)
        if owner is None:
            return total, 0
        return total, len(self.registry.made_for(owner))

    def released(self, session: Session, owner: str | None, reason: str) -> None:
        """`session`, made for address `owner`, left this process (deleted, expired, evicted,
        shutting down): unregister it, and tell its viewers elsewhere why."""
        if session.remote:
            self.to_room(session.id, {"k": "gone", "reason": reason})
        for proxy in list(session.remote.values()):
            self._forget(proxy)
        session.remote.clear()
        loop = asyncio.get_running_loop()
        loop.create_task(self._unregister(session.id, owner))

    async def _unregister(self, session_id: str, owner: str | None) -> None:
        """Its key goes, and this process's counts are restated as they are when this runs."""
        with contextlib.suppress(RedisError, OSError):
            await self._restate(owner, forget=session_id)

    async def _restate(self, owner: str | None, forget: str | None = None) -> None:
        """Write this process's counts as they are now (its total, and address `owner`'s), and
        delete session `forget`'s key, in one round trip."""
        async with self._stating:
            held, held_client = self._held(owner)
            pipe = self.redis.pipeline(transaction=False)
            if forget is not None:
                pipe.delete(self.names.session(forget))
            pipe.hset(self.names.counts, self.id, held)
            if owner is not None:
                if held_client:
                    pipe.hset(self.names.client(owner), self.id, held_client)
                else:
                    pipe.hdel(self.names.client(owner), self.id)
            await pipe.execute()

    async def lookup(self, session_id: str) -> tuple[str, str] | None:
        """(owner process, token hash) of a session registered by another process, or None."""
        try:
            found = await self.redis.hmget(self.names.session(session_id), "owner", "token")
        except (RedisError, OSError):
            return None
        if found[0] is None or found[1] is None:
            return None
        owner = found[0].decode()
        return None if owner == self.id else (owner, found[1].decode())

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.hall_heartbeat)
            try:
                await self._beat()
                await self._judge()
            except (RedisError, OSError) as exc:
                self.up_since = None
                log.warning("hall: heartbeat failed (%s)", exc)

    async def _beat(self) -> None:
        """Renew this process's key and its sessions' registrations (recreating them after a Redis
        restart), its count, and tell owners which of their sessions are read here."""
        async with self._stating:
            info = await self._renew()
        if self.up_since is None or info.get("run_id") != self._run_id:
            # first beat since Redis was unreachable, or since it restarted (a new run_id; it may
            # have restarted between two beats, empty): deaths are judged only after a grace
            self.up_since, self._run_id = time.monotonic(), info.get("run_id")
        for mirror in list(self.mirrors.values()):
            if mirror.connections and mirror.read:
                mirror.read = False
                self.send_to(mirror.owner, {"k": "read", "sid": mirror.id})

    async def _renew(self) -> dict:
        """One pipeline: this process's key, its sessions' registrations and its counts, stated as
        they are now; Redis's server info (its run id) is the answer."""
        ttl = int(self.settings.hall_ttl * 1000)
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self.names.process(self.id), b"1", px=ttl)
        now_mono, now_wall = time.monotonic(), time.time()
        for sid, session in list(self.registry.sessions.items()):
            key = self.names.session(sid)
            deadline = self.registry.deadline(sid) if sid in self.registry.leases else now_mono
            pipe.hset(key, mapping={"owner": self.id, "token": token_hash(session.token),
                                    "expires": f"{now_wall + deadline - now_mono:.0f}"})
            pipe.pexpire(key, ttl)
        pipe.hset(self.names.counts, self.id, len(self.registry.sessions))
        by_client = Counter(lease.owner for lease in self.registry.leases.values() if lease.owner is not None)
        for address, held in by_client.items():
            pipe.hset(self.names.client(address), self.id, held)
            pipe.pexpire(self.names.client(address), ttl)
        gone = self._clients_counted - by_client.keys()  # none of theirs left here
        for address in gone:
            pipe.hdel(self.names.client(address), self.id)
        pipe.info("server")
        *_, info = await pipe.execute()
        # an address whose reservation waited for this beat stays listed for the next one
        self._clients_counted = (self._clients_counted - gone) | set(by_client)
        return info

    def settled(self) -> bool:
        """Whether a missing key means death (or no such session): not in the first moments after
        Redis came back (a restarted Redis is empty until every process has beaten once)."""
        grace = self.settings.hall_ttl + self.settings.hall_heartbeat
        return self.up_since is not None and time.monotonic() - self.up_since >= grace

    async def _judge(self) -> None:
        """Owners gone: their mirrors here end. Processes gone: their sockets leave our sessions."""
        if not self.settled():
            return
        mirrors = list(self.mirrors.values())
        processes = sorted({proxy.process for proxy in self.proxies.values()})
        if not mirrors and not processes:
            return
        pipe = self.redis.pipeline(transaction=False)
        for mirror in mirrors:
            pipe.hget(self.names.session(mirror.id), "owner")
        for process in processes:
            pipe.exists(self.names.process(process))
        answers = await pipe.execute()
        for mirror, owner in zip(mirrors, answers):
            if owner is None or owner.decode() != mirror.owner:
                self._end_mirror(mirror, "the server process running this session has stopped, so the session "
                                 "is gone")
        for process, alive in zip(processes, answers[len(mirrors):]):
            if not alive:
                for proxy in [p for p in self.proxies.values() if p.process == process]:
                    self._leave(proxy)

    # --- this process's side of a session owned elsewhere ------------------------------------

    async def watch(self, session_id: str, owner: str) -> Mirror:
        """The mirror of a session owned by `owner`, subscribed to its room before this returns."""
        mirror = self.mirrors.get(session_id)
        if mirror is None or mirror.ended:
            mirror = self.mirrors[session_id] = Mirror(session_id, owner, self.settings)
            self._want(self.names.room(session_id))
        await self._wait_subscribed(self.names.room(session_id))
        return mirror

    def unwatch(self, mirror: Mirror) -> None:
        if not mirror.connections and not mirror.by_cid and self.mirrors.get(mirror.id) is mirror:
            del self.mirrors[mirror.id]
            self._unwant(self.names.room(mirror.id))

    def _end_mirror(self, mirror: Mirror, reason: str) -> None:
        mirror.end(reason)
        if self.mirrors.get(mirror.id) is mirror:
            del self.mirrors[mirror.id]
            self._unwant(self.names.room(mirror.id))

    async def join(self, mirror: Mirror, conn: Connection, role: str) -> dict | None:
        """Ask the owner to take `conn` as one of the session's sockets. None once it has, with the
        greeting in `conn`'s outbox; else the refusal ({code, message})."""
        conn.cid = str(next(self._cids))
        mirror.by_cid[conn.cid] = conn
        future = self.waiting[f"join/{conn.cid}"] = asyncio.get_running_loop().create_future()
        self.send_to(mirror.owner, {"k": "join", "sid": mirror.id, "from": self.id, "cid": conn.cid, "role": role})
        try:
            return await asyncio.wait_for(future, self.settings.hall_ttl + self.settings.hall_heartbeat)
        except asyncio.TimeoutError:
            mirror.by_cid.pop(conn.cid, None)
            return {"code": "not_found", "message": "the server process running this session did not answer; "
                    "it may have stopped"}
        finally:
            self.waiting.pop(f"join/{conn.cid}", None)

    def forward(self, mirror: Mirror, conn: Connection, text: str) -> None:
        mirror.read = True
        self.send_to(mirror.owner, {"k": "cmd", "sid": mirror.id, "from": self.id, "cid": conn.cid}, text.encode())

    def leave(self, mirror: Mirror, conn: Connection) -> None:
        mirror.by_cid.pop(conn.cid, None)
        mirror.detach(conn)
        if not mirror.ended:
            self.send_to(mirror.owner, {"k": "leave", "sid": mirror.id, "from": self.id, "cid": conn.cid})
        self.unwatch(mirror)

    def _room(self, mirror: Mirror, header: dict, parts: list[bytes]) -> None:
        kind = header.get("k")
        if kind == "frame":
            mirror.take_frame(header["seq"], header["playing"], parts[0], parts[1])
        elif kind == "push":
            control_only, origin, personal = header.get("to") == "control", header.get("origin"), header.get("personal")
            for conn in list(mirror.connections):
                if control_only and conn.role != "control":
                    continue
                key = f"{self.id}/{conn.cid}"
                index = 1 if origin == key else (personal or {}).get(key, 0)
                conn.push((header["as"], parts[index]))
        elif kind == "gone":
            self._end_mirror(mirror, header["reason"])

    def _inbox(self, header: dict, parts: list[bytes]) -> None:
        kind = header.get("k")
        if kind in ("join", "cmd", "leave"):
            self._for_owner(header, parts)
        elif kind == "read":
            session = self.registry.get(header["sid"])
            if session is not None:
                session.last_read = time.monotonic()
        elif kind == "to":
            conn = self._local(header)
            if conn is not None:
                if "seq" in header:  # a frame: here a mirror's version is the owner's frame number
                    conn.push_frame(header["seq"], header["seq"], (header["as"], parts[0]))
                else:
                    conn.push((header["as"], parts[0]))
        elif kind in ("joined", "refused"):
            conn = self._local(header)
            future = self.waiting.get(f"join/{header['cid']}")
            if conn is not None and future is not None and not future.done():
                mirror = self.mirrors.get(header["sid"])
                if kind == "joined" and mirror is not None:
                    conn.sent_version = header["seq"]
                    conn.sent_seq = header["seq"]
                    mirror.attach(conn)
                future.set_result(None if kind == "joined" else header)
        elif kind == "request" and header.get("evict"):
            asyncio.get_running_loop().create_task(self._evict_for_another(header))
        elif kind == "request":
            asyncio.get_running_loop().create_task(self._answer_request(header, parts))
        elif kind == "answer":
            future = self.waiting.get(f"request/{header['rid']}")
            if future is not None and not future.done():
                future.set_result((header, parts))

    def _local(self, header: dict) -> Connection | None:
        mirror = self.mirrors.get(header.get("sid"))
        return None if mirror is None else mirror.by_cid.get(header.get("cid"))

    # --- the owner's side of its sessions' sockets elsewhere --------------------------------

    def _for_owner(self, header: dict, parts: list[bytes]) -> None:
        """Queue a join, command or leave for its socket; each socket's are carried out in order."""
        key = f"{header['from']}/{header['cid']}"
        proxy = self.proxies.get(key)
        if header["k"] == "join":
            if proxy is not None:
                return
            proxy = self.proxies[key] = RemoteConnection(self, header["sid"], header["from"], header["cid"],
                                                         "control" if header.get("role") == "control" else "view")
        elif proxy is None:
            return  # a command from a socket that has left (or never joined): nobody to answer
        proxy.queue.append((header, parts))
        if proxy.worker is None or proxy.worker.done():
            proxy.worker = asyncio.get_running_loop().create_task(self._work(proxy))

    async def _work(self, proxy: RemoteConnection) -> None:
        while proxy.queue:
            header, parts = proxy.queue.popleft()
            try:
                if header["k"] == "join":
                    await self._join(proxy, header["sid"])
                elif header["k"] == "leave":
                    self._leave(proxy)
                elif proxy.session is not None:
                    if proxy.running is not None and not proxy.running.done():
                        await proxy.running  # commands are answered in the order they came
                    if proxy.role == "control":
                        self.registry.used(proxy.session.id)
                    await handle_text(proxy.session, proxy, parts[0].decode(), self.settings, self.app.state.scenarios)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("hall: failed on a %r from %s", header["k"], proxy.key)

    async def _join(self, proxy: RemoteConnection, session_id: str) -> None:
        session = self.registry.get(session_id)
        refusal = None
        if session is None:
            refusal = ("not_found", f"no session {session_id!r}: it may have expired")
        elif session.viewer_count() >= self.settings.max_connections_per_session:
            refusal = ("limit", f"this session already has its maximum of "
                       f"{self.settings.max_connections_per_session} connections")
        if refusal is not None:
            self.proxies.pop(proxy.key, None)
            self.send_to(proxy.process, {"k": "refused", "sid": session_id, "cid": proxy.cid,
                                         "code": refusal[0], "message": refusal[1]})
            return
        async with session.lock:
            proxy.session = session
            session.attach_remote(proxy)
            session.greet(proxy)
            seq = session.frame().seq
        self.send_to(proxy.process, {"k": "joined", "sid": session_id, "cid": proxy.cid, "seq": seq})

    def _leave(self, proxy: RemoteConnection) -> None:
        if proxy.running is not None:
            proxy.running.cancel()  # a long step stops when the client who asked for it has gone
        self._forget(proxy)
        if proxy.session is not None:
            proxy.session.detach_remote(proxy)

    def _forget(self, proxy: RemoteConnection) -> None:
        self.proxies.pop(proxy.key, None)
        if proxy.worker is not None and proxy.worker is not asyncio.current_task():
            proxy.worker.cancel()

    # --- requests between processes: an HTTP request for a session owned elsewhere ----------

    async def request(self, owner: str, header: dict, body: bytes = b"") -> tuple[dict, list[bytes]]:
        rid = secrets.token_hex(8)
        future = self.waiting[f"request/{rid}"] = asyncio.get_running_loop().create_future()
        self.send_to(owner, {**header, "k": "request", "rid": rid, "from": self.id}, body)
        try:
            return await asyncio.wait_for(future, self.settings.hall_ttl + self.settings.hall_heartbeat)
        except asyncio.TimeoutError:
            raise HallUnavailable("the server process holding this session did not answer") from None
        finally:
            self.waiting.pop(f"request/{rid}", None)

    async def _answer_request(self, header: dict, parts: list[bytes]) -> None:
        try:
            status, headers, body = await call_app(self.app, header["http"], parts[0] if parts else b"")
        except Exception:
            log.exception("hall: a forwarded request failed")
            status, headers, body = 500, [["content-type", "application/json"]], wire.encode(
                wire.error("internal", "the server failed on this request; it has been logged"))
        self.send_to(header["from"], {"k": "answer", "rid": header["rid"], "status": status, "headers": headers}, body)


def describe(hall: Hall | None) -> dict:
    """What /healthz says about the hall (bench/lecture.py reads the counters)."""
    if hall is None:
        return {}
    reachable = hall.up_since is not None and hall.listening
    return {"hall": {"process": hall.id, "redis": "ok" if reachable else "unreachable", "settled": hall.settled(),
                     "sessions": len(hall.registry.sessions), "mirrors": len(hall.mirrors),
                     "published": hall.published, "published_bytes": hall.published_bytes,
                     "dropped": hall.dropped}}
