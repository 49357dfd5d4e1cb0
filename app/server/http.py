"""HTTP routes: the page, the health check and the session API."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from app.engine import ConfigError, config_to_dict, parse_config
from app.presets import PRESETS
from app.run.export import FORMATS as EXPORT_FORMATS, export
from app.scenario import ScenarioError

from . import wire
from .dependencies import ControlledSession, SessionOr404, client_address, registry, store
from .errors import error_response
from .hall import describe
from .pages import limit_page, no_such_session_page, page, wrong_host
from .sessions import SessionLimit

router = APIRouter()


@router.get("/healthz")
def healthz(request: Request) -> dict:
    """Still 200 when storage fails: the server runs sessions without it. `problem()` only reads,
    so a monitor polling this never writes to the database."""
    problem = request.app.state.scenarios.problem()
    hall = describe(request.app.state.hall)
    return ({"status": "degraded", "storage": problem} if problem else {"status": "ok", "storage": "ok"}) | hall


@router.get("/", response_class=HTMLResponse)
def new_private_session(request: Request):
    """The page of a session that does not exist yet: its id and token are a claim, and the
    session is made when the page's websocket connects. A GET anyone's page can trigger (an
    <img>, a prefetch) must cost nothing."""
    refused = wrong_host(request)
    if refused is not None:
        return refused
    try:
        session_id, token = registry(request).claim(client_address(request))
    except SessionLimit as exc:
        return limit_page(request, exc)
    return page(request, session_id, token)


@router.get("/s/{session_id}", response_class=HTMLResponse)
def join_session(request: Request, session_id: str, token: str | None = None):
    refused = wrong_host(request)
    if refused is not None:
        return refused
    session = registry(request).get(session_id)
    if session is None:
        return no_such_session_page(request, session_id)
    return page(request, session.id, session.token if session.controlled_by(token) else None)


@router.get("/api/presets")
def list_presets() -> list[dict]:
    return PRESETS


@router.post("/api/sessions", status_code=201)
async def create_session(request: Request):
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        return error_response(422, "invalid_message", f"the body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        return error_response(422, "invalid_message", "the body must be a JSON object like {\"config\": {...}}")
    unknown = sorted(set(body) - {"config", "scenario"})
    if unknown:
        return error_response(422, "invalid_message", f"{unknown[0]} is not a known field; known fields here: "
                              "config, scenario", unknown[0])
    if "scenario" in body:
        return await _session_from_scenario(request, body)
    try:
        config = parse_config(body.get("config") or {})
    except ConfigError as exc:
        return error_response(422, "invalid_config", f"config.{exc}", f"config.{exc.field}")
    try:
        session = await registry(request).open(config, owner=client_address(request))
    except SessionLimit as exc:
        return error_response(429, "limit", str(exc))
    return JSONResponse({"id": session.id, "token": session.token}, status_code=201)


@router.get("/api/sessions/{session_id}")
async def read_session(session: SessionOr404):
    async with session.lock:
        body = {**session.frame().state, "config": config_to_dict(session.run.config)}
    return Response(wire.encode(body), media_type="application/json")


@router.get("/api/sessions/{session_id}/export")
async def export_session(session: SessionOr404, format: str = "numpy"):  # noqa: A002 - the protocol's name
    """The iteration on screen as a script that checks it, or as data (docs/protocol.md)."""
    if format not in EXPORT_FORMATS:
        return error_response(422, "invalid_message", f"format must be one of {', '.join(EXPORT_FORMATS)}, "
                              f"got {format[:40]!r}", "format")
    async with session.lock:
        text, media_type, extension = export(session.run, format, f"Backprop Lab session {session.id}")
        iteration = session.run.iteration_inputs()[0].iteration
    name = f"backprop-lab-{session.id}-iteration-{iteration}.{extension}"
    return Response(text, media_type=media_type, headers={"content-disposition": f'attachment; filename="{name}"'})


@router.delete("/api/sessions/{session_id}", status_code=204)
async def delete_session(request: Request, session: ControlledSession):
    registry(request).remove(session.id, "the presenter ended this session")
    for conn in list(session.connections):
        conn.closing = True  # ends its sender, which closes the socket
        conn.wake.set()
    return Response(status_code=204)


async def _session_from_scenario(request: Request, body: dict):
    scenario_id = body["scenario"]
    if "config" in body:
        return error_response(422, "invalid_message", "give config or scenario, not both", "scenario")
    if not isinstance(scenario_id, str) or not 1 <= len(scenario_id) <= 64:
        return error_response(422, "invalid_message", "scenario must be the id of a saved scenario (text)", "scenario")
    try:
        session = await registry(request).open_scenario(store(request), scenario_id, client_address(request))
        if session is None:
            return error_response(404, "not_found", f"no saved scenario {scenario_id!r}", "scenario")
    except ScenarioError as exc:
        return error_response(422, "invalid_scenario", str(exc), exc.field)
    except SessionLimit as exc:
        return error_response(429, "limit", str(exc))
    return JSONResponse({"id": session.id, "token": session.token}, status_code=201)
