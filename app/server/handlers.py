"""What each websocket command does, as one table: a handler per command, and what it needs.

Every entry of `HANDLERS` says whether the command needs control of the session (its token),
whether its handler runs under the session's lock, whether it is refused (`busy`) while a long
step runs or while the run plays, and whether it is answered with a frame (the state and its
grid). `execute` applies them the same way for every command, in this order:

1. a command that needs control, sent by a view-only connection: `forbidden`;
2. `check`, for a command whose arguments are refused before the session is looked at (play);
3. a long step running in the session: `busy`;
4. `prepare`, work done before the lock is taken whose result the handler gets (load reads the
   scenario store there, so a slow database never holds the session still);
5. under the lock if the entry says so: playing, `busy`; the handler; the frame (which is always
   built under the lock, taken for it if the handler ran without).

`VIEWER_COMMANDS`, what a view-only connection may send, is read off the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import orjson

from app.engine import ConfigError
from app.engine.config import MAX_SEED
from app.engine.gradcheck import gradient_check
from app.run import StepError
from app.run.batchview import batch_view
from app.run.explain import explain_node
from app.run.questions import pose
from app.scenario import ScenarioError, check_panels
from app.storage import ScenarioStore, StorageError

from . import wire
from .budget import run_heavy
from .commands import CommandError, message_id, parse_command
from .presenting import lesson_scenario, saved_scenario, scenario_presentation
from .questions import ANSWERS_PER_SECOND, Question, close, new_question, record, reveal, send_tally
from .sessions import Connection, Session
from .settings import Settings
from .sweeps import SweepJob, cancel, start

log = logging.getLogger("backprop_lab.handlers")


@dataclass
class Call:
    """One command being answered: who sent it, to which session, on which server."""
    session: Session
    conn: Connection
    command: Any
    re: Any  # the command's id, carried by every answer to it
    settings: Settings
    scenarios: ScenarioStore
    prepared: Any = None  # what the entry's `prepare` made ready before the lock


@dataclass(frozen=True)
class Handler:
    type: str
    run: Callable[[Call], Awaitable[None]]
    control: bool = True  # needs the session's token
    locked: bool = False  # `run` holds the session's lock
    not_while_stepping: bool = False
    not_while_playing: bool = False
    frame: bool = False  # answered with the state and its grid
    check: Callable[[Call], None] | None = None
    prepare: Callable[[Call], Awaitable[Any]] | None = None
    changes_run: bool = False  # once carried out, an open question closes: its truth no longer holds


def failure(exc: Exception, re: Any) -> dict:
    """The answer to a command the server itself failed on: a bug costs one answer, not the connection."""
    return wire.error("internal", f"the server failed on this command: {type(exc).__name__}; it has been logged",
                      None, re)


def _answer(call: Call, message: dict) -> None:
    call.conn.push(("text", wire.encode(wire.reply(message, call.re))))


# --- reading: what viewers may send too ------------------------------------------------------

async def _ack(call: Call) -> None:
    call.conn.ack(call.command.seq)


async def _snapshot(call: Call) -> None:
    """Nothing to do: the frame is the answer."""


async def _explain(call: Call) -> None:
    run = call.session.run
    try:
        answer = wire.explain(explain_node(run, call.command.node))
    except KeyError:
        raise CommandError("not_found", f"explain: node must be a node of the {run.view_name} view's graph, "
                           f"got {call.command.node!r}", "node") from None
    _answer(call, answer)


async def _batch(call: Call) -> None:
    _answer(call, wire.batch(batch_view(call.session.run)))


async def _verify(call: Call) -> None:
    """Backprop's gradients against finite differences: what to check is read under the lock, and
    the check runs in the heavy pool without it, so the session goes on meanwhile."""
    session, settings = call.session, call.settings
    if call.conn.role != "control":
        # a room of viewers must not be able to keep the server's heavy pool busy between them
        now = time.monotonic()
        wait = call.conn.last_verify + settings.verify_interval - now
        if wait > 0:
            raise CommandError("limit", f"verify: a view-only connection may verify once every "
                               f"{settings.verify_interval:g} s; try again in {wait:.1f} s")
        call.conn.last_verify = now
    async with session.lock:
        run = session.run
        # the parameters and batch this iteration's forward pass uses; arrays are never changed
        # in place, so the check can run in a worker thread while the session goes on
        start, batch = run.iteration_inputs()
        params, iteration, arch, l2, l1 = start.params, start.iteration, run.arch, run.config.l2, run.config.l1
    async with session.verify_slot:  # one check at a time per session: each costs ~4 forward passes per parameter
        check = await run_heavy(gradient_check, arch, params, batch.X, batch.T, l2, l1)
    _answer(call, wire.verify(check, iteration, len(batch)))


# --- playing and stepping --------------------------------------------------------------------

async def _pause(call: Call) -> None:
    call.session.stop_playing()
    call.session.changed()


def _check_speed(call: Call) -> None:
    most = call.settings.max_speed
    if not 1 <= call.command.speed <= most:
        raise CommandError("limit", f"play: speed must be between 1 and {most} iterations per second, "
                           f"got {call.command.speed:g}", "speed")


async def _play(call: Call) -> None:
    call.session.start_playing(call.command.speed)
    call.session.changed()


async def _step(call: Call) -> None:
    """A long step runs beside the receiver, which goes on reading: the step stops if its client
    disconnects, takes the session's lock one chunk at a time, and its task sends the answer."""
    _check_step(call)
    call.conn.running = asyncio.create_task(_run_step(call))


def _check_step(call: Call) -> None:
    command, most = call.command, call.settings.max_step_iterations
    if not 1 <= command.count <= call.settings.max_step_count:
        raise CommandError("limit", f"step: count must be between 1 and {call.settings.max_step_count}, "
                           f"got {command.count}", "count")
    try:
        planned = call.session.run.iterations_planned(command.unit, command.count)
    except StepError as exc:
        raise CommandError(exc.code, f"step: {exc}", exc.field) from None
    if planned > most:
        raise CommandError("limit", f"step: {command.count} {command.unit}(s) would run {planned} iterations; "
                           f"one step runs at most {most}", "count")


async def _run_step(call: Call) -> None:
    """Step in chunks of `chunk_seconds`, holding the session's lock for one chunk at a time, so
    a viewer joining or another session's click waits for a chunk, not for the whole step."""
    session, conn, re = call.session, call.conn, call.re
    loop = asyncio.get_running_loop()
    session.stepping = True
    try:
        steps = session.run.step(call.command.unit, call.command.count)
        finished = False
        while not finished:
            async with session.lock:
                chunk_end = loop.time() + call.settings.chunk_seconds
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
    except Exception as exc:
        log.exception("step failed")
        conn.push(("text", wire.encode(failure(exc, re))))
    finally:
        session.stepping = False


# --- changing the run ------------------------------------------------------------------------

def _edits_run(change: Callable[[Call], None]) -> Callable[[Call], Awaitable[None]]:
    """A handler that changes the run in place: the run's own refusals (ConfigError, StepError)
    become the answer, and once it is done everyone's graph follows (a new seed or example can
    change the gate graph) and the frame is stale."""

    @functools.wraps(change)
    async def handler(call: Call) -> None:
        kind = call.command.type
        try:
            change(call)
        except ConfigError as exc:
            raise CommandError("invalid_config", f"{kind}: {exc}", exc.field) from None
        except StepError as exc:
            raise CommandError(exc.code, f"{kind}: {exc}", exc.field) from None
        call.session.sync_graph(call.re, call.conn)
        call.session.changed()

    return handler


@_edits_run
def _back(call: Call) -> None:
    most = call.settings.max_step_count
    if not 1 <= call.command.count <= most:
        raise CommandError("limit", f"back: count must be between 1 and {most}, got {call.command.count}", "count")
    call.session.run.back(call.command.count)


@_edits_run
def _view(call: Call) -> None:
    call.session.run.set_view(call.command.view)
    call.session.sync_graph(call.re, call.conn, force=True)  # the graph is the answer, even to the same view


@_edits_run
def _select(call: Call) -> None:
    call.session.run.select(call.command.example)


@_edits_run
def _set_params(call: Call) -> None:
    call.session.run.set_params(call.command.params)


@_edits_run
def _randomize(call: Call) -> None:
    session = call.session
    session.run.randomize(call.command.weight_seed)
    session.broadcast(wire.config(session.run), call.re, call.conn)


@_edits_run
def _configure(call: Call) -> None:
    session, run = call.session, call.session.run
    _, data_changed = run.configure(call.command.config)
    session.sync_graph(call.re, call.conn)
    session.broadcast(wire.config(run), call.re, call.conn)
    if data_changed:
        session.broadcast(wire.dataset(run), call.re, call.conn)


# --- what is shown ---------------------------------------------------------------------------

async def _read_load(call: Call) -> tuple:
    """The run and presentation of the saved scenario or lesson step asked for, built before the lock."""
    command = call.command
    if (command.scenario is None) == (command.lesson is None):
        raise CommandError("invalid_message", "load: give scenario (a saved scenario's id) or lesson (with step), "
                           "one of them", "scenario")
    try:
        if command.lesson is not None:
            scenario, step = lesson_scenario(command.lesson, command.step)
            presentation = scenario_presentation(scenario, None, step)
        else:
            try:
                scenario = await saved_scenario(call.scenarios, command.scenario)
            except StorageError as exc:  # the reason, not "the server failed": a teacher can act on it
                raise CommandError("storage", f"load: {exc}", "scenario") from None
            if scenario is None:
                raise CommandError("not_found", f"load: no saved scenario {command.scenario!r}", "scenario")
            presentation = scenario_presentation(scenario, command.scenario)
        return scenario.build_run(call.settings.max_gates), presentation
    except ScenarioError as exc:
        raise CommandError("invalid_scenario" if command.lesson is None else "not_found", f"load: {exc}",
                           exc.field) from None


async def _load(call: Call) -> None:
    """Put the session on the saved scenario or lesson step; everyone watching follows."""
    run, presentation = call.prepared
    call.session.replace_run(run, presentation, call.re, call.conn)


async def _hide(call: Call) -> None:
    session = call.session
    try:
        panels = check_panels(call.command.panels, "panels")
    except ScenarioError as exc:
        raise CommandError("invalid_message", f"hide: {exc}", exc.field) from None
    session.presentation = {**session.presentation, "hidden": panels}
    session.broadcast(wire.presentation(session.presentation), call.re, call.conn)


# --- sweeps ----------------------------------------------------------------------------------

async def _sweep(call: Call) -> None:
    """Check the request, then train the seeds in the background; progress and results follow."""
    session, command, settings = call.session, call.command, call.settings
    if session.sweep is not None and session.sweep.running:
        raise CommandError("busy", "sweep: a sweep is already running in this session; cancel it first "
                           "(sweep_cancel) or wait for its results")
    seeds = _sweep_seeds(command, settings.max_sweep_seeds)
    if not 1 <= command.iterations <= settings.max_sweep_iterations:
        raise CommandError("limit", f"sweep: iterations must be between 1 and {settings.max_sweep_iterations}, "
                           f"got {command.iterations}", "iterations")
    pool = session.pool
    slot = pool.claim()
    if slot is None:
        raise CommandError("busy", "sweep: the server is running as many sweeps as it can; try again shortly")
    job = SweepJob(pool.next_id(), session.run.config, seeds, command.iterations, settings.sweep_thumbnail, slot)
    session.sweep = job
    session.broadcast(wire.sweep_started(job), call.re, call.conn)
    job.task = start(pool, session, job, call.re, call.conn)


def _sweep_seeds(command: Any, most: int) -> list[int]:
    """The seeds given, checked, or `count` fresh random ones (16 if neither is given)."""
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
        return list(command.seeds)
    count = 16 if command.count is None else command.count
    if not 1 <= count <= most:
        raise CommandError("limit", f"sweep: count must be between 1 and {most}, got {count}", "count")
    return [secrets.randbelow(MAX_SEED + 1) for _ in range(count)]


async def _cancel_sweep(call: Call) -> None:
    job = call.session.sweep
    if job is None or not job.running:
        raise CommandError("not_found", "sweep_cancel: no sweep is running in this session")
    cancel(call.session.pool, job)
    _answer(call, wire.sweep_cancelling(job))


# --- predict, then reveal -----------------------------------------------------------------------

async def _ask(call: Call) -> None:
    """Open a question; its truth is worked out now, on a fork, and the run does not move."""
    session, command = call.session, call.command
    if session.question is not None:
        raise CommandError("busy", f"ask: question {session.question.id} is open; reveal or close it first", "question")
    try:
        # the truth is worked out on a fork, a walk of up to a whole iteration: in a worker thread,
        # with this session's lock held, so every other session goes on meanwhile
        posed = await asyncio.to_thread(pose, session.run, command.kind, command.target, command.prompt, command.fade)
    except StepError as exc:
        raise CommandError("invalid_message", f"ask: {exc}", exc.field) from None
    session.question = new_question(posed)
    session.broadcast(wire.question(session.question), call.re, call.conn)


def _open_question(call: Call) -> Question:
    question, asked = call.session.question, call.command.question
    if question is None or question.id != asked:
        now = f"the open question is {question.id}" if question is not None else "no question is open"
        raise CommandError("not_found", f"{call.command.type}: question {asked!r} is not open ({now})", "question")
    return question


async def _answer_question(call: Call) -> None:
    """Store this connection's answer (a later one replaces it) and tell the controllers the tally."""
    question = _open_question(call)
    if not call.conn.answer_rate.allow(time.monotonic()):
        raise CommandError("limit", f"answer: at most {ANSWERS_PER_SECOND} answers a second from one connection",
                           "value")
    try:
        value = record(question, call.conn, call.command.value)
    except StepError as exc:
        raise CommandError("invalid_message", f"answer: {exc}", exc.field) from None
    _answer(call, wire.answered(question, value))
    send_tally(call.session, question)


async def _reveal(call: Call) -> None:
    question = _open_question(call)
    call.session.question = None
    reveal(call.session, question, call.re, call.conn)


async def _close_question(call: Call) -> None:
    question = _open_question(call)
    call.session.question = None
    close(call.session, question, call.re, call.conn)


# --- the table -------------------------------------------------------------------------------

def _table(*handlers: Handler) -> dict[str, Handler]:
    """The handlers by command type; a type given twice is a mistake, not a replacement."""
    table: dict[str, Handler] = {}
    for handler in handlers:
        if handler.type in table:
            raise ValueError(f"two handlers for the command {handler.type!r}")
        table[handler.type] = handler
    return table


HANDLERS = _table(
    # reading, which viewers may do too
    Handler("ack", _ack, control=False),
    Handler("snapshot", _snapshot, control=False, frame=True),
    Handler("explain", _explain, control=False, locked=True),
    Handler("batch", _batch, control=False, locked=True),
    Handler("verify", _verify, control=False),  # takes the lock only to read what to check
    # playing and stepping
    Handler("pause", _pause, frame=True),
    Handler("play", _play, check=_check_speed, not_while_stepping=True, frame=True, changes_run=True),
    # its task answers with the frame
    Handler("step", _step, not_while_stepping=True, not_while_playing=True, changes_run=True),
    # changing the run
    Handler("back", _back, not_while_stepping=True, locked=True, not_while_playing=True, frame=True, changes_run=True),
    Handler("view", _view, not_while_stepping=True, locked=True, frame=True, changes_run=True),
    Handler("select", _select, not_while_stepping=True, locked=True, frame=True, changes_run=True),
    Handler("set_params", _set_params, not_while_stepping=True, locked=True, frame=True, changes_run=True),
    Handler("randomize", _randomize, not_while_stepping=True, locked=True, frame=True, changes_run=True),
    Handler("configure", _configure, not_while_stepping=True, locked=True, frame=True, changes_run=True),
    # what is shown
    Handler("load", _load, not_while_stepping=True, prepare=_read_load, locked=True, frame=True, changes_run=True),
    Handler("hide", _hide),
    # sweeps, which train apart from the session's run
    Handler("sweep", _sweep),
    Handler("sweep_cancel", _cancel_sweep),
    # predict, then reveal: anyone may answer; asking reads the run, so it waits for a step or play
    Handler("ask", _ask, not_while_stepping=True, locked=True, not_while_playing=True),
    Handler("answer", _answer_question, control=False),
    Handler("reveal", _reveal),
    Handler("close_question", _close_question),
)

# what a viewer (no token) may send: questions about the run, nothing that changes it
VIEWER_COMMANDS = tuple(kind for kind, handler in HANDLERS.items() if not handler.control)


async def execute(call: Call) -> None:
    """Answer one parsed command as its entry in the table says; a refusal is raised as CommandError."""
    kind, entry, session = call.command.type, HANDLERS[call.command.type], call.session
    if entry.control and call.conn.role != "control":
        raise CommandError("forbidden", f"{kind} needs control of the session; "
                           "this connection is view-only (join with the session's token to control it)")
    if entry.check is not None:
        entry.check(call)
    if entry.not_while_stepping and session.stepping:
        raise CommandError("busy", f"{kind}: a long step is running in this session; wait for its answer")
    if entry.prepare is not None:
        call.prepared = await entry.prepare(call)
    async with _locked_if(entry.locked, session):
        if entry.not_while_playing and session.playing:
            raise CommandError("busy", f"{kind}: the run is playing; pause it first")
        await entry.run(call)
        if entry.changes_run:
            session.end_question()
        if entry.frame:
            async with _locked_if(not entry.locked, session):
                session.reply_frame(call.conn, call.re)


def _locked_if(lock: bool, session: Session) -> contextlib.AbstractAsyncContextManager:
    return session.lock if lock else contextlib.nullcontext()


# --- reading a socket's text ---------------------------------------------------------------

async def handle_text(session: Session, conn: Connection, text: str, settings: Settings,
                      scenarios: ScenarioStore) -> None:
    session.last_read = time.monotonic()  # someone is still there: a playing session keeps playing
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        conn.push(("text", wire.encode(wire.error("invalid_message", f"not valid JSON: {exc}"))))
        return
    if plain_ack(raw):  # every viewer acks every frame: the common case skips the full validation
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


def plain_ack(raw: Any) -> bool:
    """{"type": "ack", "seq": <int ≥ 0>} and nothing else; anything else takes the validated path,
    where a malformed ack gets its `error` like any other command."""
    return (isinstance(raw, dict) and raw.get("type") == "ack" and len(raw) == 2
            and type(raw.get("seq")) is int and raw["seq"] >= 0)
