"""The websocket endpoint: one receiver (commands and acks) and one sender per socket.

The receiver parses each command and hands it to `handlers.execute`, which knows what every
command needs and does; this module knows sockets: the handshake, closing, reading in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from app.storage import ScenarioStore

from . import wire
from .admission import note_commands
from .commands import CommandError, message_id, parse_command
from .handlers import Call, execute, failure
from .network import handshake_refusal
from .sessions import Connection, Session, SessionLimit
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
        session = registry.redeem(session_id, token, websocket.client.host if websocket.client else None)
    except SessionLimit as exc:
        await _refuse(websocket, wire.error("limit", str(exc)), CLOSE_TRY_LATER)
        return
    if session is None:
        await _refuse(websocket, wire.error("not_found", f"no session {session_id!r}: it may have expired"), CLOSE_GONE)
        return
    role = "control" if session.controlled_by(token) else "view"
    if role == "control":  # only a controller's commands keep a session alive
        note_commands(websocket, lambda: registry.used(session.id))
    if len(session.connections) >= settings.max_connections_per_session:
        await _refuse(websocket, wire.error("limit", f"this session already has its maximum of "
                                            f"{settings.max_connections_per_session} connections"), CLOSE_TRY_LATER)
        return
    conn = Connection(role, websocket.send_text, websocket.send_bytes, asyncio.Queue(settings.outbox_size))
    async with session.attached(conn):
        await _serve(websocket, session, conn, settings)


async def _refuse(websocket: WebSocket, error: dict, code: int) -> None:
    await websocket.send_text(wire.encode(error).decode())
    await websocket.close(code)


async def _serve(websocket: WebSocket, session: Session, conn: Connection, settings: Settings) -> None:
    """Send and receive until either side ends; whatever happens, neither task (nor a long step) outlives it."""
    sender = asyncio.create_task(session.sender(conn))
    # two long-lived tasks and one wait: a task and a wait per message (every ack of every
    # viewer) cost a room of 200 more than a quarter of the server's time
    receiver = asyncio.create_task(_receive(websocket, session, conn, settings, websocket.app.state.scenarios))
    try:
        done, _ = await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
        if receiver in done:
            receiver.result()  # a failure in it is raised here, after the cleanup below
        else:  # the sender ended: the client fell too far behind, or the session is gone
            receiver.cancel()
            code = CLOSE_TOO_SLOW if session.id in websocket.app.state.registry.sessions else CLOSE_GONE
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


async def _receive(websocket: WebSocket, session: Session, conn: Connection, settings: Settings,
                   scenarios: ScenarioStore) -> None:
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
        if conn.running is not None and not conn.running.done() and not _is_plain_ack(text):
            await conn.running  # commands are answered in the order they came
        await handle_text(session, conn, text, settings, scenarios)
        # the outbox is bounded: a client that sends without reading waits here, not in memory;
        # one that reads promptly always has room for the whole answer to its next command
        while conn.outbox.qsize() > settings.outbox_size - REPLY_ROOM and not conn.closing:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0)  # the other viewers' senders drain what this command broadcast


async def handle_text(session: Session, conn: Connection, text: str, settings: Settings,
                      scenarios: ScenarioStore) -> None:
    session.last_read = time.monotonic()  # someone is still there: a playing session keeps playing
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        conn.push(("text", wire.encode(wire.error("invalid_message", f"not valid JSON: {exc}"))))
        return
    if _plain_ack(raw):  # every viewer acks every frame: the common case skips the full validation
        conn.ack(raw["seq"])
        return
    re = message_id(raw)
    try:
        await execute(Call(session, conn, parse_command(raw), re, settings, scenarios))
    except CommandError as exc:
        conn.push(("text", wire.encode(wire.error(exc.code, exc.message, exc.field, re))))
    except Exception as exc:
        log.exception("command %s failed", raw.get("type") if isinstance(raw, dict) else raw)
        conn.push(("text", wire.encode(failure(exc, re))))


def _plain_ack(raw: Any) -> bool:
    """{"type": "ack", "seq": <int ≥ 0>} and nothing else; anything else takes the validated path,
    where a malformed ack gets its `error` like any other command."""
    return (isinstance(raw, dict) and raw.get("type") == "ack" and len(raw) == 2
            and type(raw.get("seq")) is int and raw["seq"] >= 0)


def _is_plain_ack(text: str) -> bool:
    """A cheap look at a message before parsing it: acks never wait behind a running step."""
    return text.startswith('{"type":"ack"') and len(text) < 48
