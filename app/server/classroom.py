"""Classroom routes: the presenter page, joining, forks, saved scenarios and lessons."""

from __future__ import annotations

import asyncio
import io
import re
from urllib.parse import urlencode

import orjson
import segno
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from app import __version__
from app.lessons import LESSONS, lesson_summary
from app.scenario import Scenario, ScenarioError, capture, check_panels, from_document, to_document
from app.storage import StorageLimit

from . import wire
from .dependencies import SessionOr404, client_address, registry, store
from .errors import Refused, error_response, not_found
from .forwarding import ask_owner
from .pages import limit_page, message_page, no_such_session_page, page, wrong_host
from .network import join_base
from .presenting import forked_presentation, lesson_scenario
from .sessions import SessionLimit

router = APIRouter()


def parse_hidden(value: str | None) -> list[str]:
    """`?hide=controls,charts` → ["controls", "charts"], refusing unknown names."""
    return check_panels([n for n in (value or "").split(",") if n], "hide")


# --- pages ---------------------------------------------------------------------------------

@router.get("/present", response_class=HTMLResponse)
def new_presentation(request: Request):
    """A session to present, claimed but not made until the page connects (as `GET /`); the page is
    reached with its token, which the page then hides."""
    refused = wrong_host(request)
    if refused is not None:
        return refused
    try:
        session_id, token = registry(request).claim(client_address(request))
    except SessionLimit as exc:
        return limit_page(request, exc)
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
    return RedirectResponse(f"/present/{session_id}?token={token}" + (f"&{query}" if query else ""), 303)


@router.get("/present/{session_id}", response_class=HTMLResponse)
def present_session(request: Request, session_id: str, token: str | None = None, hide: str | None = None,
                    lesson: str | None = None, step: int = 0):
    refused = wrong_host(request)
    if refused is not None:
        return refused
    session = registry(request).get(session_id)
    if session is not None:
        control = session.controlled_by(token)
    elif registry(request).claimed(session_id, token):
        control = True  # just claimed by /present: the session is made when this page connects
    else:
        return no_such_session_page(request, session_id)
    try:
        hidden = parse_hidden(hide)
        if lesson is not None:
            lesson_scenario(lesson, step)
    except ScenarioError as exc:
        return message_page(request, 422, "That link is not right", str(exc))
    # a wrong token is not echoed into the page: the page then drops it from the address bar
    return page(request, session_id, token if control else None, present=True, hidden=hidden,
                lesson=lesson, step=step)


@router.get("/scenario/{scenario_id}", response_class=HTMLResponse)
async def open_scenario(request: Request, scenario_id: str):
    """A share link: a new private session at exactly the saved state."""
    try:
        session = await registry(request).open_scenario(store(request), scenario_id, client_address(request))
        if session is None:
            return message_page(request, 404, "No such scenario", f"There is no saved scenario {scenario_id!r}.")
    except ScenarioError as exc:
        return message_page(request, 422, "This scenario cannot be loaded", str(exc))
    except SessionLimit as exc:
        return message_page(request, 429, "The server is full", str(exc))
    return page(request, session.id, session.token)


# --- sessions: fork and join -------------------------------------------------------------

@router.post("/api/sessions/{session_id}/fork", status_code=201)
async def fork_session(request: Request, session: SessionOr404):
    """A private copy at exactly the current state (cursor and `back` history too), for anyone
    watching; the copy's token goes to whoever asked, the original is untouched."""
    async with session.lock:
        run = session.run.fork()
        presentation = forked_presentation(session.presentation)
    try:
        copy = await registry(request).open(run.config, run, presentation, owner=client_address(request))
    except SessionLimit as exc:
        return error_response(429, "limit", str(exc))
    return JSONResponse({"id": copy.id, "token": copy.token, "forked_from": session.id}, status_code=201)


def _join_url(request: Request, session_id: str) -> str:
    settings = request.app.state.settings
    base = join_base(str(request.base_url), settings.host, settings.port, settings.public_url)
    return f"{base}/s/{session_id}"  # never the token: whoever scans this only watches


@router.get("/api/sessions/{session_id}/join")
def join_link(request: Request, session: SessionOr404):
    return {"url": _join_url(request, session.id), "qr": f"/api/sessions/{session.id}/qr.svg",
            "viewers": session.viewer_count()}


@router.get("/api/sessions/{session_id}/qr.svg")
def join_qr(request: Request, session: SessionOr404):
    out = io.BytesIO()
    # error level M survives a smudged projector; a 4-module quiet zone is what scanners expect
    segno.make(_join_url(request, session.id), error="m", micro=False).save(
        out, kind="svg", scale=8, border=4, dark="#000", light="#fff", xmldecl=False, svgns=True)
    return Response(out.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


# --- scenarios ---------------------------------------------------------------------------

def _scenario_error(exc: ScenarioError) -> JSONResponse:
    return error_response(422, "invalid_scenario", str(exc), exc.field)


OWNER_HEADER = "X-Backprop-Owner"
OWNER_KEY = re.compile(r"[A-Za-z0-9_-]{16,128}")


def _owner(request: Request) -> str | None | JSONResponse:
    """The caller's owner key (their browser's own random key), None without one, or a refusal.
    Whoever holds the key owns what was saved with it, so it must be long enough not to guess."""
    key = request.headers.get(OWNER_HEADER)
    if key is None:
        return None
    if not OWNER_KEY.fullmatch(key):
        return error_response(422, "invalid_message", f"{OWNER_HEADER} must be 16 to 128 URL-safe base64 characters "
                              "(A-Z, a-z, 0-9, - and _), a random key the page keeps", OWNER_HEADER)
    return key


@router.post("/api/scenarios", status_code=201)
async def save_scenario(request: Request):
    """Save a live session's state (`{"session", "title", "notes", "hidden_panels"}`), or import a
    scenario document (an exported file). Either way the stored document is checked first."""
    owner = _owner(request)
    if isinstance(owner, Response):
        return owner
    raw = await request.body()
    settings = request.app.state.settings
    if len(raw) > settings.max_scenario_bytes:
        return error_response(413, "limit", f"a scenario may be at most {settings.max_scenario_bytes} bytes, "
                              f"got {len(raw)}")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return error_response(422, "invalid_message", f"the body is not valid JSON: {exc}")
    elsewhere = await _owner_elsewhere(request, body)
    if elsewhere is not None:  # a session another process of the hall owns: that process saves it
        status, headers, answer = await ask_owner(request.app.state.hall, elsewhere, request.scope, raw)
        return Response(answer, status, headers={k: v for k, v in headers if k != "content-length"})
    try:
        if isinstance(body, dict) and "session" in body:
            scenario = await _capture(request, body)
        else:
            scenario = from_document(body)
            scenario.build_run(settings.max_gates)  # proves the saved run fits its config
        document = to_document(scenario, __version__)
    except ScenarioError as exc:
        return _scenario_error(exc)
    address = request.client.host if request.client else None
    try:
        scenario_id = await asyncio.to_thread(store(request).save, document, owner, address)
    except StorageLimit as exc:
        return error_response(429, "limit", str(exc))
    return JSONResponse({"id": scenario_id, "url": f"/scenario/{scenario_id}"}, status_code=201)


async def _owner_elsewhere(request: Request, body) -> str | None:
    """The process that owns the session a save names, when it is not this one (in a lecture hall)."""
    hall = request.app.state.hall
    if hall is None or not isinstance(body, dict) or not isinstance(body.get("session"), str):
        return None
    if registry(request).get(body["session"]) is not None:
        return None
    found = await hall.lookup(body["session"])
    return None if found is None else found[0]


CAPTURE_FIELDS = ("session", "title", "notes", "hidden_panels", "hidden")  # hidden: the old name, still taken


async def _capture(request: Request, body: dict) -> Scenario:
    unknown = sorted(set(body) - set(CAPTURE_FIELDS))
    if unknown:
        raise ScenarioError(unknown[0], f"is not a known field here; saving a session takes {', '.join(CAPTURE_FIELDS)}")
    session_id = body["session"]  # from the body, not the path: any JSON value, shown cut short
    session = registry(request).get(session_id) if isinstance(session_id, str) else None
    if session is None:
        raise Refused(not_found(str(session_id)[:64]))
    async with session.lock:
        live = to_document(capture(session.run), __version__)
    del live["hidden_panels"]  # the body's, under whichever name it gives them
    # title, notes and the panels go through the same checks an imported file gets
    return from_document({**live, **{k: body[k] for k in CAPTURE_FIELDS[1:] if k in body}})


@router.get("/api/scenarios")
async def list_scenarios(request: Request):
    """The caller's own scenarios: without an owner key, none. Others' are reached only by their link."""
    owner = _owner(request)
    if isinstance(owner, Response):
        return owner
    return await asyncio.to_thread(store(request).list, owner)


@router.get("/api/scenarios/{scenario_id}")
async def get_scenario(request: Request, scenario_id: str, download: bool = False):
    doc = await asyncio.to_thread(store(request).get, scenario_id)
    if doc is None:
        return error_response(404, "not_found", f"no saved scenario {scenario_id!r}")
    headers = {"Content-Disposition": f'attachment; filename="scenario-{scenario_id}.json"'} if download else {}
    return Response(wire.encode(doc), media_type="application/json", headers=headers)


@router.delete("/api/scenarios/{scenario_id}", status_code=204)
async def delete_scenario(request: Request, scenario_id: str):
    owner = _owner(request)
    if isinstance(owner, Response):
        return owner
    outcome = await asyncio.to_thread(store(request).delete, scenario_id, owner)
    if outcome == "missing":
        return error_response(404, "not_found", f"no saved scenario {scenario_id!r}")
    if outcome == "forbidden":
        return error_response(403, "forbidden", f"scenario {scenario_id!r} is not yours to delete: only the browser "
                              f"that saved it may (by its {OWNER_HEADER} key)")
    return Response(status_code=204)


# --- lessons -----------------------------------------------------------------------------

@router.get("/api/lessons")
def list_lessons() -> list[dict]:
    return [lesson_summary(item) for item in LESSONS]
