"""The websocket endpoint: one receiver (commands and acks) and one sender per socket.

The receiver parses each command and hands it to `handlers.execute`, which knows what every
command needs and does; this module knows sockets: the handshake, closing, reading in order.
In a lecture hall a socket for a session another process owns is served from this process's
mirror of it, and its commands go to the owner (hall.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

import orjson
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from . import wire
from .admission import note_commands, token_matches
from .bus import HallUnavailable, token_hash
from .handlers import handle_text, plain_ack
from .network import handshake_refusal
from .sessions import Audience, Connection, Session, SessionLimit, SessionTaken
from .settings import Settings

router = APIRouter()
log = logging.getLogger("backprop_lab.ws")

CLOSE_TOO_BIG = 1009
CLOSE_GONE = 4404
CLOSE_TOO_SLOW = 4408
CLOSE_FORBIDDEN = 4403
CLOSE_TRY_LATER = 1013


@router.websocket("/ws/{session_id}")
async def websocket_endpoint(websocket: WebSocket, session_id: str, token: str | None = None):
    settings: Settings = websocket.app.state.settings
    await websocket.accept()
    refusal = handshake_refusal(websocket.headers.get("origin"), websocket.headers.get("host"), settings)
    if refusal is not None:
        await _refuse(websocket, wire.error("forbidden", refusal), CLOSE_FORBIDDEN)
        return
    registry = websocket.app.state.registry
    try:  # a page's claim becomes its session here, on connect, and counts against its address
        session = await registry.redeem(session_id, token, websocket.client.host if websocket.client else None)
    except SessionTaken:
        session = None  # another process of the hall made it a moment ago: it is served from there
    except SessionLimit as exc:
        await _refuse(websocket, wire.error("limit", str(exc)), CLOSE_TRY_LATER)
        return
    hall = websocket.app.state.hall
    if session is None and hall is not None:
        elsewhere = await hall.lookup(session_id)
        if elsewhere is not None:
            await _serve_elsewhere(websocket, hall, session_id, token, *elsewhere, settings)
            return
        if not hall.settled():  # Redis is back but not every process has registered again: not "gone"
            await _refuse(websocket, wire.error("limit", "the lecture hall is reconnecting to Redis; try again in a "
                                                "moment"), CLOSE_TRY_LATER)
            return
    if session is None:
        await _refuse(websocket, wire.error("not_found", f"no session {session_id!r}: it may have expired"), CLOSE_GONE)
        return
    role = "control" if session.controlled_by(token) else "view"
    if role == "control":  # only a controller's commands keep a session alive
        note_commands(websocket, lambda: registry.used(session.id))
    if session.viewer_count() >= settings.max_connections_per_session:
        await _refuse(websocket, wire.error("limit", f"this session already has its maximum of "
                                            f"{settings.max_connections_per_session} connections"), CLOSE_TRY_LATER)
        return
    conn = Connection(role, websocket.send_text, websocket.send_bytes, asyncio.Queue(settings.outbox_size))
    scenarios = websocket.app.state.scenarios

    async def run_command(text: str) -> None:
        if conn.running is not None and not conn.running.done() and not _is_plain_ack(text):
            await conn.running  # commands are answered in the order they came
        await handle_text(session, conn, text, settings, scenarios)

    async with session.attached(conn):
        await _serve(websocket, session, conn, settings, run_command, lambda: session.id in registry.sessions)


async def _serve_elsewhere(websocket: WebSocket, hall, session_id: str, token: str | None, owner: str,
                           hashed_token: str, settings: Settings) -> None:
    """A session another process of the lecture hall owns: its frames come from this process's
    mirror of it, and every command goes to the owner, whose answers come back to this socket."""
    role = "control" if token and token_matches(token_hash(token), hashed_token) else "view"
    try:
        mirror = await hall.watch(session_id, owner)
    except HallUnavailable as exc:
        await _refuse(websocket, wire.error("limit", f"cannot reach this session right now: {exc}"), CLOSE_TRY_LATER)
        return
    conn = Connection(role, websocket.send_text, websocket.send_bytes, asyncio.Queue(settings.outbox_size))
    try:
        refused = await hall.join(mirror, conn, role)
        if refused is not None:
            code = CLOSE_TRY_LATER if refused["code"] == "limit" else CLOSE_GONE
            await _refuse(websocket, wire.error(refused["code"], refused["message"]), code)
            return

        async def run_command(text: str) -> None:
            try:
                raw = orjson.loads(text)
            except orjson.JSONDecodeError:
                raw = None
            if plain_ack(raw):  # flow control is this process's own: acks stay here
                conn.ack(raw["seq"])
                mirror.read = True
            else:
                hall.forward(mirror, conn, text)

        await _serve(websocket, mirror, conn, settings, run_command, lambda: mirror.ended is None)
    finally:
        hall.leave(mirror, conn)


async def _refuse(websocket: WebSocket, error: dict, code: int) -> None:
    await websocket.send_text(wire.encode(error).decode())
    await websocket.close(code)


async def _serve(websocket: WebSocket, audience: Audience, conn: Connection, settings: Settings,
                 run_command: Callable[[str], Awaitable[None]], still_there: Callable[[], bool]) -> None:
    """Send and receive until either side ends; whatever happens, neither task (nor a long step) outlives it."""
    sender = asyncio.create_task(audience.sender(conn))
    # two long-lived tasks and one wait: a task and a wait per message (every ack of every
    # viewer) cost a room of 200 more than a quarter of the server's time
    receiver = asyncio.create_task(_receive(websocket, conn, settings, run_command))
    try:
        done, _ = await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
        if receiver in done:
            receiver.result()  # a failure in it is raised here, after the cleanup below
        else:  # the sender ended: the client fell too far behind, or the session is gone
            receiver.cancel()
            code = CLOSE_TOO_SLOW if still_there() else CLOSE_GONE
            try:  # a client blocked at the TCP level cannot take the close frame either: do not wait on it
                await asyncio.wait_for(websocket.close(code), settings.send_timeout)
            except (asyncio.TimeoutError, RuntimeError, WebSocketDisconnect):
                pass
    finally:
        for task in (sender, receiver, conn.running):
            if task is not None:
                task.cancel()


# the most messages one command's answer can hold (load: graph, config, dataset, presentation,
# state and its grid, and an error): the receiver reads the next command only with this much room
REPLY_ROOM = 8


async def _receive(websocket: WebSocket, conn: Connection, settings: Settings,
                   run_command: Callable[[str], Awaitable[None]]) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            if conn.running is not None:
                conn.running.cancel()  # a long step stops when the client who asked for it has gone
            return
        text = message.get("text")
        if text is None:
            conn.push(("text", wire.encode(wire.error("invalid_message", "binary frames are not commands; send JSON text"))))
            continue
        if len(text) > settings.max_message_bytes or len(text.encode()) > settings.max_message_bytes:
            await websocket.close(CLOSE_TOO_BIG, f"message larger than {settings.max_message_bytes} bytes")
            return
        await run_command(text)
        # the outbox is bounded: a client that sends without reading waits here, not in memory;
        # one that reads promptly always has room for the whole answer to its next command
        while conn.outbox.qsize() > settings.outbox_size - REPLY_ROOM and not conn.closing:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0)  # the other viewers' senders drain what this command broadcast


def _is_plain_ack(text: str) -> bool:
    """A cheap look at a message before parsing it: acks never wait behind a running step."""
    return text.startswith('{"type":"ack"') and len(text) < 48
