"""The websocket endpoint: one receiver (commands and acks) and one sender per socket."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from app.engine import ConfigError
from app.engine.config import MAX_SEED
from app.engine.gradcheck import gradient_check
from app.run import StepError
from app.run.batchview import batch_view
from app.run.explain import explain_node

from app.scenario import PANELS, ScenarioError
from app.storage import ScenarioStore, StorageError

from . import wire
from .admission import note_commands
from .budget import run_heavy
from .network import handshake_refusal
from .presenting import lesson_scenario, saved_scenario, scenario_presentation
from .commands import VIEWER_COMMANDS, CommandError, message_id, parse_command
from .sessions import Connection, Session, SessionLimit
from .settings import Settings
from .sweeps import SweepJob, cancel, start

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
        command = parse_command(raw)
        if conn.role != "control" and command.type not in VIEWER_COMMANDS:
            raise CommandError("forbidden", f"{command.type} needs control of the session; "
                               "this connection is view-only (join with the session's token to control it)")
        await execute(session, conn, command, re, settings, scenarios)
    except CommandError as exc:
        conn.push(("text", wire.encode(wire.error(exc.code, exc.message, exc.field, re))))
    except Exception as exc:  # a bug must cost one answer, not the connection
        log.exception("command %s failed", raw.get("type") if isinstance(raw, dict) else raw)
        conn.push(("text", wire.encode(wire.error("internal", f"the server failed on this command: "
                                                  f"{type(exc).__name__}; it has been logged", None, re))))


def _plain_ack(raw: Any) -> bool:
    """{"type": "ack", "seq": <int ≥ 0>} and nothing else; anything else takes the validated path,
    where a malformed ack gets its `error` like any other command."""
    return (isinstance(raw, dict) and raw.get("type") == "ack" and len(raw) == 2
            and type(raw.get("seq")) is int and raw["seq"] >= 0)


def _is_plain_ack(text: str) -> bool:
    """A cheap look at a message before parsing it: acks never wait behind a running step."""
    return text.startswith('{"type":"ack"') and len(text) < 48


async def execute(session: Session, conn: Connection, command: Any, re: Any, settings: Settings,
                  scenarios: ScenarioStore) -> None:
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
        _refuse_while_stepping(session, kind)
        session.start_playing(command.speed)
        session.changed()
        async with session.lock:
            session.reply_frame(conn, re)
        return
    if kind in ("verify", "explain", "batch"):
        await _answer_question(session, conn, command, re, settings)
        return
    if kind == "sweep":
        _start_sweep(session, conn, command, re, settings)
        return
    if kind == "step":
        _refuse_while_stepping(session, kind)
        _check_step(session, command, settings)
        # a long step runs beside the receiver, which goes on reading: the step stops if its
        # client disconnects, and takes the session's lock one chunk at a time
        conn.running = asyncio.create_task(_run_step(session, conn, command, re, settings))
        return
    if kind == "load":
        _refuse_while_stepping(session, kind)
        await _load(session, conn, command, re, settings, scenarios)
        return
    if kind == "hide":
        for k, name in enumerate(command.panels):
            if name not in PANELS:
                raise CommandError("invalid_message", f"hide: panels[{k}] must be one of {', '.join(PANELS)}, "
                                   f"got {name[:40]!r}", f"panels[{k}]")
        session.presentation = {**session.presentation, "hidden": list(dict.fromkeys(command.panels))}
        session.broadcast(wire.presentation(session.presentation), re, conn)
        return
    if kind == "sweep_cancel":
        job = session.sweep
        if job is None or not job.running:
            raise CommandError("not_found", "sweep_cancel: no sweep is running in this session")
        cancel(session.pool, job)
        conn.push(("text", wire.encode(wire.reply(wire.sweep_cancelling(job), re))))
        return
    _refuse_while_stepping(session, kind)
    async with session.lock:
        try:
            if kind == "back":
                _refuse_while_playing(session, kind)
                if not 1 <= command.count <= settings.max_step_count:
                    raise CommandError("limit", f"back: count must be between 1 and {settings.max_step_count}, "
                                       f"got {command.count}", "count")
                run.back(command.count)
            elif kind == "view":
                run.set_view(command.view)
                session.sync_graph(re, conn, force=True)
            elif kind == "select":
                run.select(command.example)
            elif kind == "set_params":
                run.set_params(command.params)
            elif kind == "randomize":
                run.randomize(command.weight_seed)
                session.broadcast(wire.config(run), re, conn)
            elif kind == "configure":
                _, data_changed = run.configure(command.config)
                session.sync_graph(re, conn)
                session.broadcast(wire.config(run), re, conn)
                if data_changed:
                    session.broadcast(wire.dataset(run), re, conn)
        except ConfigError as exc:
            raise CommandError("invalid_config", f"{kind}: {exc}", exc.field) from None
        except StepError as exc:
            raise CommandError(exc.code, f"{kind}: {exc}", exc.field) from None
        session.sync_graph(re, conn)  # a new seed or example can change the gate graph
        session.changed()
        session.reply_frame(conn, re)


def _start_sweep(session: Session, conn: Connection, command: Any, re: Any, settings: Settings) -> None:
    """Check the request, then train the seeds in the background; progress and results follow."""
    if session.sweep is not None and session.sweep.running:
        raise CommandError("busy", "sweep: a sweep is already running in this session; cancel it first "
                           "(sweep_cancel) or wait for its results")
    most = settings.max_sweep_seeds
    if command.count is not None and command.seeds is not None:
        raise CommandError("invalid_message", "sweep: give count or seeds, not both", "seeds")
    if command.seeds is not None:
        if not 1 <= len(command.seeds) <= most:
            raise CommandError("limit", f"sweep: seeds must list 1 to {most} weight seeds, got {len(command.seeds)}",
                               "seeds")
        for k, seed in enumerate(command.seeds):
            if not 0 <= seed <= MAX_SEED:
                raise CommandError("invalid_message", f"sweep: seeds[{k}] must be a whole number from 0 to {MAX_SEED}, "
                                   f"got {seed}", f"seeds[{k}]")
        seeds = list(command.seeds)
    else:
        count = 16 if command.count is None else command.count
        if not 1 <= count <= most:
            raise CommandError("limit", f"sweep: count must be between 1 and {most}, got {count}", "count")
        seeds = [secrets.randbelow(MAX_SEED + 1) for _ in range(count)]
    if not 1 <= command.iterations <= settings.max_sweep_iterations:
        raise CommandError("limit", f"sweep: iterations must be between 1 and {settings.max_sweep_iterations}, "
                           f"got {command.iterations}", "iterations")
    pool = session.pool
    slot = pool.claim()
    if slot is None:
        raise CommandError("busy", "sweep: the server is running as many sweeps as it can; try again shortly")
    job = SweepJob(pool.next_id(), session.run.config, seeds, command.iterations, settings.sweep_thumbnail, slot)
    session.sweep = job
    session.broadcast(wire.sweep_started(job), re, conn)
    job.task = start(pool, session, job, re, conn)


async def _load(session: Session, conn: Connection, command: Any, re: Any, settings: Settings,
                scenarios: ScenarioStore) -> None:
    """Put the session on a saved scenario or a lesson step; everyone watching follows."""
    if (command.scenario is None) == (command.lesson is None):
        raise CommandError("invalid_message", "load: give scenario (a saved scenario's id) or lesson (with step), "
                           "one of them", "scenario")
    try:
        if command.lesson is not None:
            scenario, step = lesson_scenario(command.lesson, command.step)
            presentation = scenario_presentation(scenario, None, step)
        else:
            try:
                scenario = await saved_scenario(scenarios, command.scenario)
            except StorageError as exc:  # the reason, not "the server failed": a teacher can act on it
                raise CommandError("storage", f"load: {exc}", "scenario") from None
            if scenario is None:
                raise CommandError("not_found", f"load: no saved scenario {command.scenario!r}", "scenario")
            presentation = scenario_presentation(scenario, command.scenario)
        run = scenario.build_run(settings.max_gates)
    except ScenarioError as exc:
        raise CommandError("invalid_scenario" if command.lesson is None else "not_found", f"load: {exc}",
                           exc.field) from None
    async with session.lock:
        session.replace_run(run, presentation, re, conn)
        session.reply_frame(conn, re)


def _refuse_while_stepping(session: Session, kind: str) -> None:
    if session.stepping:
        raise CommandError("busy", f"{kind}: a long step is running in this session; wait for its answer")


def _refuse_while_playing(session: Session, kind: str) -> None:
    if session.playing:
        raise CommandError("busy", f"{kind}: the run is playing; pause it first")


async def _answer_question(session: Session, conn: Connection, command: Any, re: Any, settings: Settings) -> None:
    """verify, explain and batch read the run and change nothing."""
    run = session.run
    if command.type == "verify" and conn.role != "control":
        # a room of viewers must not be able to keep the server's heavy pool busy between them
        now = time.monotonic()
        wait = conn.last_verify + settings.verify_interval - now
        if wait > 0:
            raise CommandError("limit", f"verify: a view-only connection may verify once every "
                               f"{settings.verify_interval:g} s; try again in {wait:.1f} s")
        conn.last_verify = now
    async with session.lock:
        if command.type == "explain":
            try:
                answer = wire.explain(explain_node(run, command.node))
            except KeyError:
                raise CommandError("not_found", f"explain: node must be a node of the {run.view_name} view's graph, "
                                   f"got {command.node!r}", "node") from None
        elif command.type == "batch":
            answer = wire.batch(batch_view(run))
        else:
            # the parameters and batch this iteration's forward pass uses; arrays are never changed
            # in place, so the check can run in a worker thread while the session goes on
            params, iteration = run.forward_params, (run.start.iteration if run.start and run.position else run.iteration)
            batch = run.work.batch if run.work and run.position else run.trainer.batch()
            arch, l2, l1 = run.arch, run.config.l2, run.config.l1
    if command.type == "verify":
        async with session.verify_slot:  # one check at a time per session: each costs ~4 forward passes per parameter
            check = await run_heavy(gradient_check, arch, params, batch.X, batch.T, l2, l1)
        answer = wire.verify(check, iteration, len(batch))
    conn.push(("text", wire.encode(wire.reply(answer, re))))


def _check_step(session: Session, command: Any, settings: Settings) -> None:
    run = session.run
    if session.playing:
        raise CommandError("busy", "step: the run is playing; pause it first")
    if not 1 <= command.count <= settings.max_step_count:
        raise CommandError("limit", f"step: count must be between 1 and {settings.max_step_count}, got {command.count}",
                           "count")
    try:
        planned = run.iterations_planned(command.unit, command.count)
    except StepError as exc:
        raise CommandError(exc.code, f"step: {exc}", exc.field) from None
    if planned > settings.max_step_iterations:
        raise CommandError("limit", f"step: {command.count} {command.unit}(s) would run {planned} iterations; "
                           f"one step runs at most {settings.max_step_iterations}", "count")


async def _run_step(session: Session, conn: Connection, command: Any, re: Any, settings: Settings) -> None:
    """Step in chunks of `chunk_seconds`, holding the session's lock for one chunk at a time, so
    a viewer joining or another session's click waits for a chunk, not for the whole step."""
    loop = asyncio.get_running_loop()
    session.stepping = True
    try:
        steps = session.run.step(command.unit, command.count)
        finished = False
        while not finished:
            async with session.lock:
                chunk_end = loop.time() + settings.chunk_seconds
                finished = True
                for _ in steps:
                    if loop.time() > chunk_end:
                        finished = False
                        break
                session.changed()
            if not finished:
                await asyncio.sleep(0)
        async with session.lock:
            session.sync_graph(re, conn)  # a new iteration can change the gate graph
            session.changed()
            session.reply_frame(conn, re)
    except StepError as exc:
        conn.push(("text", wire.encode(wire.error(exc.code, f"step: {exc}", exc.field, re))))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug must cost one answer, not the connection
        log.exception("step failed")
        conn.push(("text", wire.encode(wire.error("internal", f"the server failed on this command: "
                                                  f"{type(exc).__name__}; it has been logged", None, re))))
    finally:
        session.stepping = False
