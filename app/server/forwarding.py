"""HTTP requests about a session another process of the lecture hall owns, answered by the owner.

Behind `--workers N` (or a load balancer) a request for `/s/{id}`, `/present/{id}` or
`/api/sessions/{id}/…` reaches whichever process the kernel picks. When that is not the
session's owner, `ForwardToOwner` sends the request over the hall to the owner, which runs it
through its own app (`call_app`, every middleware and check included) and sends back status,
headers and body. So every route works as it does in one process, with no second copy of
any route; the client's address travels with it, so the per-address caps still count it.
"""

from __future__ import annotations

import re
from typing import Any

from . import wire
from .bus import HallUnavailable

SESSION_PATH = re.compile(r"^/(?:api/sessions|s|present)/([A-Za-z0-9_-]{1,64})(?:/|$)")
FORWARDED = "backprop.forwarded"  # set in a forwarded request's scope: it is never forwarded twice


class ForwardToOwner:
    """Plain ASGI middleware, outermost: anything not about a session owned elsewhere passes through."""

    def __init__(self, app, state):
        self.app, self.state = app, state

    async def __call__(self, scope, receive, send):
        hall = getattr(self.state, "hall", None)
        if scope["type"] != "http" or hall is None or scope.get(FORWARDED):
            return await self.app(scope, receive, send)
        match = SESSION_PATH.match(scope["path"])
        if match is None or match[1] in self.state.registry.sessions:
            return await self.app(scope, receive, send)
        found = await hall.lookup(match[1])
        if found is None:  # nobody's: the route answers (404, or a page whose session is only claimed)
            return await self.app(scope, receive, send)
        body = await _read_body(receive, self.state.settings.max_scenario_bytes)
        if body is None:
            return await _respond(send, 413, [["content-type", "application/json"]], wire.encode(
                wire.error("limit", f"a request body may be at most {self.state.settings.max_scenario_bytes} bytes")))
        await _respond(send, *await ask_owner(hall, found[0], scope, body))


async def ask_owner(hall, owner: str, scope, body: bytes) -> tuple[int, list, bytes]:
    """The owner's answer to the request `scope` with `body`; a 503 if it does not answer in time."""
    try:
        header, parts = await hall.request(owner, {"http": _request(scope)}, body)
    except HallUnavailable as exc:
        return 503, [["content-type", "application/json"]], wire.encode(
            wire.error("limit", f"{exc}; try again in a moment"))
    return header["status"], header["headers"], parts[0] if parts else b""


async def _read_body(receive, limit: int) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            return None
        if not message.get("more_body"):
            return b"".join(chunks)


def _request(scope) -> dict:
    """The parts of an HTTP scope the owner needs to run the same request (as JSON)."""
    return {"method": scope["method"], "scheme": scope.get("scheme", "http"), "path": scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope.get("headers", [])],
            "client": list(scope["client"]) if scope.get("client") else None,
            "server": list(scope["server"]) if scope.get("server") else None}


async def _respond(send, status: int, headers: list, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]})
    await send({"type": "http.response.body", "body": body})


async def call_app(app, request: dict, body: bytes) -> tuple[int, list, bytes]:
    """Run a forwarded request through `app`; its status, headers and body."""
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": request["method"],
        "scheme": request["scheme"], "path": request["path"], "raw_path": request["path"].encode(),
        "query_string": request["query"].encode("latin-1"), "root_path": "",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request["headers"]],
        "client": tuple(request["client"]) if request["client"] else None,
        "server": tuple(request["server"]) if request["server"] else None, FORWARDED: True}
    delivered = False

    async def receive():
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    status, headers, chunks = 500, [], []

    async def send(message):
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, headers, b"".join(chunks)
