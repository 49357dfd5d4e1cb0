"""The routes' shared refusals: an unknown session is 404, a wrong control token 403, on every route
that takes them, with the same body everywhere."""

from __future__ import annotations

from fastapi.routing import APIRoute

from app.server import classroom, http
from app.server.dependencies import controlled_session, session_or_404

from .conftest import connect, new_session

SESSION_ROUTES = {("GET", "/api/sessions/{session_id}"), ("DELETE", "/api/sessions/{session_id}"),
                  ("POST", "/api/sessions/{session_id}/fork"), ("GET", "/api/sessions/{session_id}/join"),
                  ("GET", "/api/sessions/{session_id}/qr.svg"), ("GET", "/api/sessions/{session_id}/export")}


def routes_depending_on(dependency) -> set[tuple[str, str]]:
    def depends(dependant) -> bool:
        return any(d.call is dependency or depends(d) for d in dependant.dependencies)

    routes = [*http.router.routes, *classroom.router.routes]
    return {(method, route.path) for route in routes if isinstance(route, APIRoute) and depends(route.dependant)
            for method in route.methods}


def test_every_route_about_one_session_answers_404_for_an_unknown_one(client):
    assert routes_depending_on(session_or_404) == SESSION_ROUTES
    sid, token = new_session(client)
    for method, path in sorted(SESSION_ROUTES):
        response = client.request(method, path.format(session_id="nope"), headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 404, (method, path)
        assert response.json() == {"error": {"code": "not_found",
                                             "message": "no session 'nope': it may have expired or never existed"}}
        assert "default-src 'self'" in response.headers["content-security-policy"], "the refusal lost its headers"
    assert client.get(f"/api/sessions/{sid}").status_code == 200


def test_deleting_needs_the_sessions_own_token_and_nothing_else_does(client):
    assert routes_depending_on(controlled_session) == {("DELETE", "/api/sessions/{session_id}")}
    sid, token = new_session(client)
    other, other_token = new_session(client)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {other_token}"},
                    {"Authorization": token}, {"Authorization": "Bearer \u00e9t\u00e9".encode("latin-1")}):
        response = client.delete(f"/api/sessions/{sid}", headers=headers)
        assert response.status_code == 403, headers
        assert response.json() == {"error": {"code": "forbidden", "message": "deleting a session needs its control "
                                             "token as 'Authorization: Bearer TOKEN'"}}
    with connect(client, sid, token) as peer:
        assert peer.state()["type"] == "state", "a refused delete closed the session"
    assert client.delete(f"/api/sessions/{sid}", headers={"authorization": f"bearer {token}"}).status_code == 204
    assert client.get(f"/api/sessions/{sid}").status_code == 404
    assert client.get(f"/api/sessions/{other}").status_code == 200
