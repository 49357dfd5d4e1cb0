"""The websocket endpoint: one receiver (commands and acks) and one sender per socket."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from app.engine import ConfigError, limits
from app.run import StepError

from . import wire
from .commands import VIEWER_COMMANDS, CommandError, message_id, parse_command
from .sessions import Connection, Session
from .settings import Settings

router = APIRouter()

CLOSE_TOO_BIG = 1009
CLOSE_GONE = 4404
CLOSE_TOO_SLOW = 4408


def hello_limits(settings: Settings) -> dict:
    return {**limits(), "message_bytes": settings.max_message_bytes, "speed": settings.max_speed,
            "step_count": settings.max_step_count, "step_iterations": settings.max_step_iterations,
            "fps": settings.max_fps, "unacked_frames": settings.max_unacked}


@router.websocket("/ws/{session_id}")
async def websocket_endpoint(websocket: WebSocket, session_id: str, token: str | None = None):
    settings: Settings = websocket.app.state.settings
    await websocket.accept()
    session = websocket.app.state.registry.get(session_id)
    if session is None:
        await websocket.send_text(wire.encode(wire.error("not_found", f"no session {session_id!r}: it may have expired")).decode())
        await websocket.close(CLOSE_GONE)
        return
    if len(session.connections) >= settings.max_connections_per_session:
        await websocket.send_text(wire.encode(wire.error("limit", f"this session already has its maximum of "
                                                         f"{settings.max_connections_per_session} connections")).decode())
        await websocket.close(1013)
        return
    role = "control" if token is not None and secrets.compare_digest(token, session.token) else "view"
    conn = Connection(role, _text_sender(websocket), websocket.send_bytes, asyncio.Queue(settings.outbox_size))
    async with session.lock:
        session.attach(conn)
        conn.push(("text", wire.encode(wire.hello(session.id, role, hello_limits(settings)))),
                  ("text", wire.encode(wire.graph(session.run))))
        session.reply_frame(conn, None)
        conn.push(("text", wire.encode(wire.config(session.run))), ("text", wire.encode(wire.dataset(session.run))))
    sender = asyncio.create_task(session.sender(conn))
    try:
        await _receive(websocket, session, conn, settings, sender)
    finally:
        sender.cancel()
        session.detach(conn)


def _text_sender(websocket: WebSocket):
    async def send(data: bytes) -> None:  # orjson gives UTF-8 bytes; a text frame wants str
        await websocket.send_text(data.decode())
    return send


async def _receive(websocket: WebSocket, session: Session, conn: Connection, settings: Settings,
                   sender: asyncio.Task) -> None:
    while True:
        receive = asyncio.ensure_future(websocket.receive())
        done, _ = await asyncio.wait({receive, sender}, return_when=asyncio.FIRST_COMPLETED)
        if receive not in done:  # the sender ended: the client fell too far behind, or the session is gone
            receive.cancel()
            await websocket.close(CLOSE_TOO_SLOW if session.id in websocket.app.state.registry.sessions else CLOSE_GONE)
            return
        message = receive.result()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            conn.push(("text", wire.encode(wire.error("invalid_message", "binary frames are not commands; send JSON text"))))
            continue
        if len(text) > settings.max_message_bytes or len(text.encode()) > settings.max_message_bytes:
            await websocket.close(CLOSE_TOO_BIG, f"message larger than {settings.max_message_bytes} bytes")
            return
        await handle_text(session, conn, text, settings)
        # the outbox is bounded: a client that sends without reading waits here, not in memory
        while conn.outbox.full() and not conn.closing:
            await asyncio.sleep(0.01)


async def handle_text(session: Session, conn: Connection, text: str, settings: Settings) -> None:
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        conn.push(("text", wire.encode(wire.error("invalid_message", f"not valid JSON: {exc}"))))
        return
    re = message_id(raw)
    try:
        command = parse_command(raw)
        if conn.role != "control" and command.type not in VIEWER_COMMANDS:
            raise CommandError("forbidden", f"{command.type} needs control of the session; "
                               "this connection is view-only (join with the session's token to control it)")
        await execute(session, conn, command, re, settings)
    except CommandError as exc:
        conn.push(("text", wire.encode(wire.error(exc.code, exc.message, exc.field, re))))


async def execute(session: Session, conn: Connection, command: Any, re: Any, settings: Settings) -> None:
    kind, run = command.type, session.run
    if kind == "ack":
        conn.ack(command.seq)
        return
    if kind == "snapshot":
        async with session.lock:
            session.reply_frame(conn, re)
        return
    if kind == "pause":
        session.stop_playing()
        session.changed()
        async with session.lock:
            session.reply_frame(conn, re)
        return
    if kind == "play":
        if not 1 <= command.speed <= settings.max_speed:
            raise CommandError("limit", f"play: speed must be between 1 and {settings.max_speed} iterations per "
                               f"second, got {command.speed:g}", "speed")
        session.start_playing(command.speed)
        session.changed()
        async with session.lock:
            session.reply_frame(conn, re)
        return
    async with session.lock:
        try:
            if kind == "step":
                await _step(session, command, settings)
            elif kind == "select":
                run.select(command.example)
            elif kind == "set_params":
                run.set_params(command.params)
            elif kind == "randomize":
                run.randomize(command.weight_seed)
                session.broadcast(wire.config(run), re, conn)
            elif kind == "configure":
                shape_changed, data_changed = run.configure(command.config)
                if shape_changed:
                    session.broadcast(wire.graph(run), re, conn)
                session.broadcast(wire.config(run), re, conn)
                if data_changed:
                    session.broadcast(wire.dataset(run), re, conn)
        except ConfigError as exc:
            raise CommandError("invalid_config", f"{kind}: {exc}", exc.field) from None
        except StepError as exc:
            raise CommandError("invalid_message", f"{kind}: {exc}", exc.field) from None
        session.changed()
        session.reply_frame(conn, re)


async def _step(session: Session, command: Any, settings: Settings) -> None:
    run = session.run
    if session.playing:
        raise CommandError("busy", "step: the run is playing; pause it first")
    if not 1 <= command.count <= settings.max_step_count:
        raise CommandError("limit", f"step: count must be between 1 and {settings.max_step_count}, got {command.count}",
                           "count")
    planned = run.iterations_planned(command.unit, command.count)
    if planned > settings.max_step_iterations:
        raise CommandError("limit", f"step: {command.count} {command.unit}(s) would run {planned} iterations; "
                           f"one step runs at most {settings.max_step_iterations}", "count")
    loop = asyncio.get_running_loop()
    chunk_end = loop.time() + settings.chunk_seconds
    for _ in run.step(command.unit, command.count):
        if loop.time() > chunk_end:  # long steps share the event loop with everyone else
            await asyncio.sleep(0)
            chunk_end = loop.time() + settings.chunk_seconds
