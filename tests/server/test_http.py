"""The HTTP half of the protocol."""

from __future__ import annotations

from .conftest import connect, new_session


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok", "storage": "ok"}


def test_create_session_gives_unguessable_id_and_token(client):
    first, second = client.post("/api/sessions"), client.post("/api/sessions", json={})
    assert first.status_code == second.status_code == 201
    ids = {first.json()["id"], second.json()["id"]}
    assert len(ids) == 2
    for body in (first.json(), second.json()):
        assert len(body["id"]) >= 22 and len(body["token"]) >= 22  # ≥ 128 bits in URL-safe base64
        assert body["id"].replace("-", "").replace("_", "").isalnum()


def test_session_state_over_http_includes_config(client):
    sid, _ = new_session(client, {"hidden": [3], "dataset": {"name": "moons"}})
    body = client.get(f"/api/sessions/{sid}").json()
    assert body["type"] == "state" and body["iteration"] == 0
    assert body["config"]["hidden"] == [3] and body["config"]["dataset"]["name"] == "moons"
    assert set(body["params"]) == {"W1", "b1", "W2", "b2"}


def test_bad_config_is_422_naming_the_field(client):
    response = client.post("/api/sessions", json={"config": {"hidden": [4, 40]}})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_config" and error["field"] == "config.hidden[1]"
    assert "40" in error["message"] and "between 1 and 16" in error["message"]
    assert client.post("/api/sessions", json={"confg": {}}).json()["error"]["field"] == "confg"
    assert client.post("/api/sessions", content=b"{not json").status_code == 422


def test_unknown_session_is_404_with_error_body(client):
    for response in (client.get("/api/sessions/nope"), client.delete("/api/sessions/nope")):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_delete_needs_the_token(client):
    sid, token = new_session(client)
    assert client.delete(f"/api/sessions/{sid}", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.delete(f"/api/sessions/{sid}").status_code == 403
    assert client.get(f"/api/sessions/{sid}").status_code == 200
    assert client.delete(f"/api/sessions/{sid}", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    assert client.get(f"/api/sessions/{sid}").status_code == 404


def test_pages_hand_the_token_only_to_its_holder(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    registry = client.app.state.registry
    sid = page.text.split('data-session="', 1)[1].split('"', 1)[0]
    token = page.text.split('data-token="', 1)[1].split('"', 1)[0]
    with connect(client, sid, token) as peer:  # the page's session is made when its socket connects
        assert peer.hello["hello"]["role"] == "control"
    session = registry.get(sid)
    assert session is not None and session.token == token
    viewer = client.get(f"/s/{session.id}")
    assert viewer.status_code == 200 and session.id in viewer.text and session.token not in viewer.text
    assert session.token in client.get(f"/s/{session.id}?token={session.token}").text
    assert client.get("/s/unknown").status_code == 404


def test_session_cap_refuses_with_limit(make_client):
    client = make_client(max_sessions=2)
    first, second = new_session(client), new_session(client)
    with connect(client, *first), connect(client, *second):  # open in a page: neither may be evicted
        refused = client.post("/api/sessions")
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "limit"
        assert "2" in refused.json()["error"]["message"]
        full = client.get("/")
        assert full.status_code == 429 and "The server is full" in full.text


def test_idle_sessions_expire_but_watched_ones_do_not(make_client):
    client = make_client(idle_timeout=60, unattended_timeout=60)
    registry = client.app.state.registry
    idle, _ = new_session(client)
    watched, token = new_session(client)
    with connect(client, watched, token):
        gone = registry.expire(now=registry.deadline(idle) + 1)
        assert gone == [idle]
        assert registry.get(watched) is not None
    assert registry.expire(now=registry.deadline(watched) - 1) == []
    assert registry.expire(now=registry.deadline(watched) + 1) == [watched]


def test_presets_are_listed_with_what_each_is_about(client):
    presets = client.get("/api/presets").json()
    assert len(presets) >= 8
    for preset in presets:
        assert {"id", "title", "description", "config"} <= set(preset)
        # each one starts a session as it stands
        assert client.post("/api/sessions", json={"config": preset["config"]}).status_code == 201
