"""The HTML pages' rendering, shared by the route modules."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from .network import host_served
from .sessions import Registry, SessionLimit


def registry(request: Request) -> Registry:
    return request.app.state.registry


def client_address(request: Request) -> str | None:
    """Whom sessions are counted against. Behind a reverse proxy every client is the proxy: give
    such a server a larger max_sessions_per_client."""
    return request.client.host if request.client else None


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


def limit_page(request: Request, exc: SessionLimit) -> HTMLResponse:
    return message_page(request, 429, "The server is full" if exc.full else "Too many sessions from your address",
                        str(exc))
