"""The HTML pages' rendering, shared by the route modules."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from .sessions import Registry


def registry(request: Request) -> Registry:
    return request.app.state.registry


def page(request: Request, session_id: str, token: str | None, *, present: bool = False,
         hidden: list[str] | None = None, lesson: str | None = None, step: int = 0) -> HTMLResponse:
    """The app page. Everything it is told goes into data- attributes, escaped by Jinja."""
    context = {"session_id": session_id, "token": token or "", "present": present,
               "hidden": ",".join(hidden or []), "lesson": lesson or "", "step": step}
    return request.app.state.templates.TemplateResponse(request, "index.html", context)


def message_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(
        request, "message.html", {"title": title, "message": message}, status_code=status)
