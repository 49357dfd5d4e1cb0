"""HTTP error bodies in the protocol's shape: {"error": {"code", "message", "field"?}}."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.responses import Response


class Refused(Exception):
    """A request refused from inside a dependency: `response` is the whole answer (a 404, a 403)."""

    def __init__(self, response: Response):
        super().__init__(response.status_code)
        self.response = response


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    body: dict = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status)


def not_found(session_id: str) -> JSONResponse:
    return error_response(404, "not_found", f"no session {session_id!r}: it may have expired or never existed")
