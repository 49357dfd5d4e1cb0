"""HTTP routes: the page, the health check and the session API."""

from __future__ import annotations

import secrets

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from app.engine import ConfigError, config_to_dict, parse_config
from app.presets import PRESETS

from . import wire
from .errors import error_response, not_found
from .sessions import Registry, SessionLimit

router = APIRouter()


def registry(request: Request) -> Registry:
    return request.app.state.registry


def _page(request: Request, session_id: str, token: str | None, status: int = 200) -> HTMLResponse:
    templates = request.app.state.templates
    return templates.TemplateResponse(request, "index.html", {"session_id": session_id, "token": token or ""},
                                      status_code=status)


def _message_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(
        request, "message.html", {"title": title, "message": message}, status_code=status)


@router.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/", response_class=HTMLResponse)
def new_private_session(request: Request):
    try:
        session = registry(request).create(parse_config())
    except SessionLimit as exc:
        return _message_page(request, 429, "The server is full", str(exc))
    return _page(request, session.id, session.token)


@router.get("/s/{session_id}", response_class=HTMLResponse)
def join_session(request: Request, session_id: str, token: str | None = None):
    session = registry(request).get(session_id)
    if session is None:
        return _message_page(request, 404, "No such session", f"There is no session {session_id!r}; it may have expired.")
    control = token is not None and secrets.compare_digest(token, session.token)
    return _page(request, session.id, session.token if control else None)


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
    unknown = sorted(set(body) - {"config"})
    if unknown:
        return error_response(422, "invalid_message", f"{unknown[0]} is not a known field; known fields here: config",
                              unknown[0])
    try:
        config = parse_config(body.get("config") or {})
    except ConfigError as exc:
        return error_response(422, "invalid_config", f"config.{exc}", f"config.{exc.field}")
    try:
        session = registry(request).create(config)
    except SessionLimit as exc:
        return error_response(429, "limit", str(exc))
    return JSONResponse({"id": session.id, "token": session.token}, status_code=201)


@router.get("/api/sessions/{session_id}")
async def read_session(request: Request, session_id: str):
    session = registry(request).get(session_id)
    if session is None:
        return not_found(session_id)
    async with session.lock:
        body = {**session.frame().state, "config": config_to_dict(session.run.config)}
    return Response(wire.encode(body), media_type="application/json")


@router.delete("/api/sessions/{session_id}", status_code=204)
async def delete_session(request: Request, session_id: str):
    session = registry(request).get(session_id)
    if session is None:
        return not_found(session_id)
    auth = request.headers.get("authorization", "")
    token = auth[7:] if auth.lower().startswith("bearer ") else ""
    if not secrets.compare_digest(token, session.token):
        return error_response(403, "forbidden", "deleting a session needs its control token as 'Authorization: Bearer TOKEN'")
    registry(request).remove(session_id)
    for conn in list(session.connections):
        conn.closing = True  # ends its sender, which closes the socket
        conn.wake.set()
    return Response(status_code=204)
