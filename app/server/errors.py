"""HTTP error bodies in the protocol's shape: {"error": {"code", "message", "field"?}}."""

from __future__ import annotations

from fastapi.responses import JSONResponse


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    body: dict = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status)


def not_found(session_id: str) -> JSONResponse:
    return error_response(404, "not_found", f"no session {session_id!r}: it may have expired or never existed")
