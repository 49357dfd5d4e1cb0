"""What a route takes from its request, and the FastAPI dependencies that refuse a request.

`SessionOr404` is the path's session, or a 404 `not_found`; `ControlledSession` is that session
for the holder of its control token (`Authorization: Bearer TOKEN`), or a 403 `forbidden`. A
dependency refuses by raising `Refused`, whose response main.py's handler sends as it is.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.storage import ScenarioStore

from .errors import Refused, error_response, not_found
from .sessions import Registry, Session


def registry(request: Request) -> Registry:
    return request.app.state.registry


def store(request: Request) -> ScenarioStore:
    return request.app.state.scenarios


def client_address(request: Request) -> str | None:
    """Whom sessions are counted against. Behind a reverse proxy every client is the proxy: give
    such a server a larger max_sessions_per_client."""
    return request.client.host if request.client else None


def session_or_404(request: Request, session_id: str) -> Session:
    session = registry(request).get(session_id)
    if session is None:
        raise Refused(not_found(session_id))
    return session


SessionOr404 = Annotated[Session, Depends(session_or_404)]


def controlled_session(request: Request, session: SessionOr404) -> Session:
    """The session, for whoever sends its token; an unknown session is still a 404 first.
    Deleting is the one route that asks for it, which its refusal says."""
    auth = request.headers.get("authorization", "")
    token = auth[7:] if auth.lower().startswith("bearer ") else ""
    if not session.controlled_by(token):
        raise Refused(error_response(403, "forbidden", "deleting a session needs its control token as "
                                     "'Authorization: Bearer TOKEN'"))
    return session


ControlledSession = Annotated[Session, Depends(controlled_session)]
