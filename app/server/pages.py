"""The HTML pages' rendering, shared by the route modules, and the pages' Host refusal."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from .network import host_served
from .sessions import SessionLimit


def wrong_host(request: Request) -> HTMLResponse | None:
    """A 421 page if the request's Host is not one this server answers to (DNS rebinding), else None."""
    host = request.headers.get("host")
    if host_served(host, request.app.state.settings):
        return None
    return message_page(request, 421, "Wrong address for this server",
                        f"This server does not answer to {str(host)[:100]!r}. Open it at its own address: "
                        "localhost on this machine, or the network address it prints when it starts.")


def page(request: Request, session_id: str, token: str | None, *, present: bool = False,
         hidden: list[str] | None = None, lesson: str | None = None, step: int = 0) -> HTMLResponse:
    """The app page. Everything it is told goes into data- attributes, escaped by Jinja."""
    context = {"session_id": session_id, "token": token or "", "present": present,
               "hidden": ",".join(hidden or []), "lesson": lesson or "", "step": step}
    return request.app.state.templates.TemplateResponse(request, "index.html", context)


def message_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(
        request, "message.html", {"title": title, "message": message}, status_code=status)


def no_such_session_page(request: Request, session_id: str) -> HTMLResponse:
    return message_page(request, 404, "No such session", f"There is no session {session_id!r}; it may have expired.")


def limit_page(request: Request, exc: SessionLimit) -> HTMLResponse:
    return message_page(request, 429, "The server is full" if exc.full else "Too many sessions from your address",
                        str(exc))
