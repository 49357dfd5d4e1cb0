"""Routes of the gate playground: its page, its replay and its scripts (docs/protocol.md).

Stateless: every answer is worked out from the query alone (an expression of at most
MAX_LENGTH characters and MAX_GATES gates, so each costs milliseconds), and the query is the
page's own link, so a link reproduces what it showed. Every parameter is checked here and a
refusal names it, what was wrong and, in an expression, the column.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.run.expression_export import FORMATS, export_expression
from app.run.playground import PRESETS, PlaygroundError, format_values, names_used, parse, parse_values, playground

from . import wire
from .pages import wrong_host

router = APIRouter()

PARAMETERS = ("expr", "values")
MAX_QUERY = 2048  # characters: an expression and its values fit many times over


def _refused(exc: PlaygroundError, request: Request) -> Response:
    if not exc.variables:  # the values refused before the expression was read: still offer its fields
        exc.variables = names_used(request.query_params.get("expr", "")[:MAX_QUERY])
    return Response(wire.encode(wire.playground_refusal(exc)), status_code=422, media_type="application/json")


def _query(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    """The query's parameters, each once and each known. Raises PlaygroundError."""
    if len(request.url.query) > MAX_QUERY:
        raise PlaygroundError("query", f"it is {len(request.url.query)} characters long; at most {MAX_QUERY} are allowed")
    params: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key not in allowed:
            raise PlaygroundError(key[:40], f"is not a parameter here; the parameters are {', '.join(allowed)}")
        if key in params:
            raise PlaygroundError(key, "is given twice")
        params[key] = value
    if "expr" not in params:
        raise PlaygroundError("expr", "is missing: give the expression, such as expr=tanh(x*w%2Bb)")
    return params


@router.get("/playground", response_class=HTMLResponse)
def playground_page(request: Request):
    """The page reads its own link; what is wrong with it, the page shows from the API's refusal."""
    refused = wrong_host(request)
    if refused is not None:
        return refused
    presets = [{**p, "href": "/playground?" + urlencode({"expr": p["expression"], "values": format_values(p["values"])})}
               for p in PRESETS]
    return request.app.state.templates.TemplateResponse(request, "playground.html", {"presets": presets})


@router.get("/api/playground")
def replay(request: Request):
    try:
        params = _query(request, PARAMETERS)
        answer = playground(params["expr"], parse_values(params.get("values", "")))
    except PlaygroundError as exc:
        return _refused(exc, request)
    return Response(wire.encode(wire.playground(answer)), media_type="application/json")


@router.get("/api/playground/export")
def export(request: Request):
    try:
        params = _query(request, (*PARAMETERS, "format"))
        fmt = params.get("format", "numpy")
        if fmt not in FORMATS:
            raise PlaygroundError("format", f"must be one of {', '.join(FORMATS)}, got {fmt[:40]!r}")
        text = export_expression(parse(params["expr"], parse_values(params.get("values", ""))), params["expr"], fmt)
    except PlaygroundError as exc:
        return _refused(exc, request)
    name = f"backprop-lab-expression-{fmt}.py"
    return Response(text, media_type="text/x-python; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})
