"""Classroom mode over HTTP and websockets: scenarios, forks, lessons, joining, and who may do what."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from app.lessons import LESSONS
from app.server.main import create_app
from app.server.network import join_base, origin_allowed
from app.storage import ScenarioStore

from .conftest import connect, new_session, small_settings

ROOT = Path(__file__).resolve().parents[2]
CONFIG = {"hidden": [4, 3], "optimizer": "adam", "lr": 0.02, "dataset": {"name": "moons", "n": 60}, "batch_size": 12}


def numbers(state: dict) -> dict:
    return {k: state[k] for k in ("iteration", "phase", "cursor", "loss", "accuracy", "test_loss", "params", "grads",
                                  "nodes", "example")}


OWNER = {"X-Backprop-Owner": "the-test-browsers-own-key"}  # scenarios are listed only to who saved them


def save(client, sid, **fields) -> str:
    response = client.post("/api/scenarios", json={"session": sid, **fields}, headers=OWNER)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_a_saved_scenario_survives_a_restart_and_runs_on_identically(tmp_path):
    db = tmp_path / "lab" / "scenarios.sqlite3"
    with TestClient(create_app(small_settings(scenario_db=db))) as client:
        sid, token = new_session(client, CONFIG)
        with connect(client, sid, token) as peer:
            peer.call(type="select", example=5)
            peer.call(type="step", unit="iteration", count=37)
            peer.call(type="step", unit="op", count=4)
            saved = peer.state()
            scenario = save(client, sid, title="moons, mid-iteration", notes="look at h1.2", hidden=["charts"])
            reference = peer.call(type="step", unit="iteration", count=100)[0]
    assert db.exists()
    with TestClient(create_app(small_settings(scenario_db=db))) as client:  # a new server, the same file
        listed = client.get("/api/scenarios", headers=OWNER).json()
        assert [(s["id"], s["title"], s["iteration"]) for s in listed] == [(scenario, "moons, mid-iteration", 37)]
        response = client.post("/api/sessions", json={"scenario": scenario})
        assert response.status_code == 201, response.text
        sid2, token2 = response.json()["id"], response.json()["token"]
        with connect(client, sid2, token2) as peer:
            assert peer.hello["presentation"]["title"] == "moons, mid-iteration"
            assert peer.hello["presentation"]["hidden"] == ["charts"]
            assert numbers(peer.hello["state"]) == numbers(saved)
            after = peer.call(type="step", unit="iteration", count=100)[0]
    assert numbers(after) == numbers(reference)


SAVE_THEN_DIE = """
import os, signal, sys
from app.storage import ScenarioStore
scenario_id = ScenarioStore(sys.argv[1]).save({"format": "backprop-lab/scenario", "version": 1, "title": "kept",
                                               "config": {}})
print(scenario_id, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # no clean shutdown: nothing is flushed or closed at exit
"""


def test_a_save_is_on_disk_once_it_returns_even_if_the_process_is_killed(tmp_path):
    path = str(tmp_path / "scenarios.sqlite3")
    done = subprocess.run([sys.executable, "-c", SAVE_THEN_DIE, path], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert ScenarioStore(path).get(done.stdout.strip())["title"] == "kept"


def test_export_and_import_give_the_same_run(client):
    sid, _ = new_session(client, CONFIG)
    scenario = save(client, sid, title="start")
    exported = client.get(f"/api/scenarios/{scenario}?download=1")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    document = exported.json()
    assert document["format"] == "backprop-lab/scenario" and document["config"]["dataset"]["name"] == "moons"
    imported = client.post("/api/scenarios", content=exported.content)
    assert imported.status_code == 201, imported.text
    assert client.get(f"/api/scenarios/{imported.json()['id']}").json() == document


@pytest.mark.parametrize("body,field,words", [
    (b"{not json", None, "not valid JSON"),
    (b'{"format": "backprop-lab/scenario", "version": 1}', "config", "missing"),
    (b'{"config": {"hidden": [40]}}', "config.hidden[0]", "between"),
    (b'{"config": {}, "hidden": ["menu"]}', "hidden[0]", "must be one of"),
    (b'{"config": {}, "run": {"iteration": 3, "params": {"W1": [[1]]}}}', "run.params.W1", "shape"),
    (b'{"config": {}, "titel": "typo"}', "titel", "not a field"),
    (b'[1, 2, 3]', "scenario", "must be an object"),
])
def test_bad_scenario_files_are_refused_with_their_reason(client, body, field, words):
    save(client, new_session(client)[0])
    before = client.get("/api/scenarios", headers=OWNER).json()
    response = client.post("/api/scenarios", content=body, headers=OWNER)
    assert response.status_code == 422
    error = response.json()["error"]
    assert words in error["message"]
    assert error.get("field") == field
    assert client.get("/api/scenarios", headers=OWNER).json() == before, "a refused file was stored"


def test_saving_names_bad_fields_and_unknown_sessions(client):
    sid, _ = new_session(client)
    assert client.post("/api/scenarios", json={"session": "nope"}).status_code == 404
    response = client.post("/api/scenarios", json={"session": sid, "title": "x" * 1000})
    assert response.status_code == 422 and response.json()["error"]["field"] == "title"
    response = client.post("/api/scenarios", json={"session": sid, "colour": "red"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "colour"
    assert client.post("/api/sessions", json={"scenario": "nope"}).status_code == 404
    assert client.get("/api/scenarios/nope").status_code == 404


def test_a_fork_starts_exactly_here_and_then_goes_its_own_way(client):
    sid, token = new_session(client, CONFIG)
    with connect(client, sid, token) as presenter, connect(client, sid) as viewer:
        presenter.call(type="step", unit="iteration", count=20)
        presenter.call(type="step", unit="op", count=3)
        here = presenter.state()
        response = client.post(f"/api/sessions/{sid}/fork")  # a viewer may fork: it needs no token
        assert response.status_code == 201
        fork = response.json()
        assert fork["id"] != sid and fork["token"] != token
        with connect(client, fork["id"], fork["token"]) as mine:
            assert mine.hello["hello"]["role"] == "control"
            assert numbers(mine.hello["state"]) == numbers(here)
            presenter.call(type="step", unit="iteration", count=10)
            assert numbers(mine.state()) == numbers(here), "the original's steps reached the fork"
            mine.call(type="back", count=2)
            mine.call(type="configure", config={"lr": 0.5})
            original = presenter.state()
            assert original["iteration"] == 30 and numbers(viewer.state()) == numbers(original)
            assert original["params"] != mine.state()["params"] and mine.state()["iteration"] == 20
        # the original's token does not control the fork
        with connect(client, fork["id"], token) as other:
            assert other.hello["hello"]["role"] == "view"
    assert client.post("/api/sessions/nope/fork").status_code == 404


def test_a_fork_shows_every_panel_the_presenter_hid(client):
    sid, token = new_session(client)
    lesson = LESSONS[0]
    step = next(k for k, s in enumerate(lesson["steps"]) if "inspector" in s["hidden_panels"])
    with connect(client, sid, token) as presenter, connect(client, sid) as viewer:
        presenter.call(type="load", lesson=lesson["id"], step=step)
        shown, _ = presenter.call(answers=("presentation",), type="hide", panels=["inspector", "controls", "charts"])
        presenter.call(type="step", unit="iteration", count=3)
        presenter.call(type="step", unit="op", count=2)
        here = viewer.state()
        response = client.post(f"/api/sessions/{sid}/fork")
        assert response.status_code == 201
        fork = response.json()
        with connect(client, fork["id"], fork["token"]) as mine:
            copied = mine.hello["presentation"]
            assert copied["hidden"] == []
            assert (copied["title"], copied["notes"]) == (shown["title"], shown["notes"]) != ("", "")
            assert numbers(mine.hello["state"]) == numbers(here)
        # the presenter's room keeps its panels hidden
        with connect(client, sid) as late:
            assert late.hello["presentation"]["hidden"] == ["inspector", "controls", "charts"]


def test_a_lesson_steps_every_watcher_through_its_scenarios(client):
    sid, token = new_session(client)
    lesson = LESSONS[0]
    with connect(client, sid, token) as presenter, connect(client, sid) as viewer:
        for step in (0, 2, 1):
            answer, before = presenter.call(type="load", lesson=lesson["id"], step=step)
            assert answer["type"] == "state" and answer["iteration"] == 0
            shown = next(m for m in before if isinstance(m, dict) and m["type"] == "presentation")
            assert shown["title"] == lesson["steps"][step]["title"]
            assert shown["lesson"] == {"id": lesson["id"], "title": lesson["title"], "step": step,
                                       "steps": len(lesson["steps"])}
            expected_view = lesson["steps"][step]["view"]
            while True:  # the viewer gets the same presentation, graph and state
                item = viewer.recv()
                if isinstance(item, dict) and item["type"] == "presentation":
                    assert item == {k: v for k, v in shown.items() if k != "re"}
                    break
            assert viewer.state()["view"] == expected_view
        error, _ = presenter.call(type="load", lesson=lesson["id"], step=len(lesson["steps"]))
        assert error["code"] == "not_found" and error["field"] == "step"
        error, _ = presenter.call(type="load", lesson="no-such-lesson")
        assert error["field"] == "lesson"
        error, _ = presenter.call(type="load")
        assert error["code"] == "invalid_message"


def test_load_and_hide_are_for_the_presenter_only(client):
    sid, token = new_session(client)
    with connect(client, sid, token) as presenter, connect(client, sid) as viewer:
        before = viewer.state()
        for command in ({"type": "load", "lesson": LESSONS[0]["id"]}, {"type": "hide", "panels": ["controls"]},
                        {"type": "step"}, {"type": "play"}, {"type": "randomize"}, {"type": "configure", "config": {}}):
            error, _ = viewer.call(**command)
            assert error["type"] == "error" and error["code"] == "forbidden", command
        assert numbers(viewer.state()) == numbers(before)
        answer, _ = presenter.call(answers=("presentation", "error"), type="hide", panels=["controls", "charts"])
        assert answer["hidden"] == ["controls", "charts"]
        error, _ = presenter.call(type="hide", panels=["controls", "<b>"])
        assert error["field"] == "panels[1]"


def test_the_join_link_and_its_qr_code_never_carry_the_token(client):
    sid, token = new_session(client)
    join = client.get(f"/api/sessions/{sid}/join").json()
    assert join["url"].endswith(f"/s/{sid}") and token not in join["url"]
    qr = client.get(join["qr"])
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")
    assert qr.text.lstrip().startswith("<svg") and token.encode() not in qr.content
    page = client.get(f"/present/{sid}?token={token}")
    assert page.status_code == 200 and 'data-present="1"' in page.text
    assert client.get("/api/sessions/nope/qr.svg").status_code == 404


def test_the_join_address_is_the_lan_one_when_serving_every_interface(monkeypatch):
    import app.server.network as network

    monkeypatch.setattr(network, "lan_address", lambda: "192.168.1.23")
    assert join_base("http://127.0.0.1:8000/", "0.0.0.0", 8000, None) == "http://192.168.1.23:8000"
    assert join_base("http://localhost:8000/", "127.0.0.1", 8000, None) == "http://localhost:8000"
    assert join_base("http://10.0.0.5:8000/", "0.0.0.0", 8000, None) == "http://10.0.0.5:8000"
    assert join_base("http://127.0.0.1:8000/", "0.0.0.0", 8000, "https://lab.example/") == "https://lab.example"


def test_a_presenter_link_with_bad_panels_is_refused_by_name(client):
    sid, token = new_session(client)
    response = client.get(f"/present/{sid}?token={token}&hide=controls,sidebar")
    assert response.status_code == 422 and "hide[1]" in response.text and "sidebar" in response.text
    response = client.get(f"/present/{sid}?token={token}&lesson=nope")
    assert response.status_code == 422 and "lesson" in response.text
    redirect = client.get("/present?hide=charts", follow_redirects=False)
    assert redirect.status_code == 303 and "hide=charts" in redirect.headers["location"]


def test_websockets_from_other_sites_are_refused(make_client):
    assert origin_allowed(None, "127.0.0.1:8000", [])
    assert origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000", [])
    assert not origin_allowed("http://evil.example", "127.0.0.1:8000", [])
    assert origin_allowed("https://lab.school.example", "127.0.0.1:8000", ["https://lab.school.example/"])
    client = make_client(allowed_origins=["http://trusted.example"])
    sid, token = new_session(client)
    with client.websocket_connect(f"/ws/{sid}?token={token}", headers={"host": "localhost",
                                                                       "origin": "http://evil.example"}) as ws:
        error = orjson.loads(ws.receive_text())
        assert error["type"] == "error" and error["code"] == "forbidden" and "evil.example" in error["message"]
        assert ws.receive()["code"] == 4403
    for origin in ("http://localhost", "http://trusted.example"):
        with client.websocket_connect(f"/ws/{sid}", headers={"host": "localhost", "origin": origin}) as ws:
            assert orjson.loads(ws.receive_text())["type"] == "hello"


def test_every_page_and_answer_forbids_anything_external(client):
    sid, token = new_session(client)
    for path in ("/", f"/s/{sid}", f"/present/{sid}", "/api/presets", "/healthz", "/static/js/main.js"):
        response = client.get(path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe" not in csp, path
        assert "http" not in csp and "*" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"


def test_a_share_link_opens_a_private_session_at_the_saved_state(client):
    sid, token = new_session(client, CONFIG)
    with connect(client, sid, token) as peer:
        peer.call(type="step", unit="iteration", count=12)
        here = peer.state()
    scenario = save(client, sid, title="<img src=x onerror=alert(1)>")
    page = client.get(f"/scenario/{scenario}")
    assert page.status_code == 200
    assert "<img src=x" not in page.text  # titles reach the page only over the socket, as text
    new_sid = page.text.split('data-session="', 1)[1].split('"', 1)[0]
    assert new_sid != sid
    state = client.get(f"/api/sessions/{new_sid}").json()
    assert state["iteration"] == 12 and state["params"] == here["params"]
    assert client.get("/scenario/nope").status_code == 404


def test_serve_on_every_interface_says_where_the_room_joins():
    from app.server.serve import addresses

    assert addresses("0.0.0.0", 8000, "192.168.1.23")[1].startswith("Others on your network join at "
                                                                    "http://192.168.1.23:8000")
    assert "No network address" in addresses("0.0.0.0", 8000, None)[1]
    assert addresses("127.0.0.1", 8000, "192.168.1.23") == ["Backprop Lab is serving at http://127.0.0.1:8000"]


def test_the_command_line_prints_the_lan_address_when_serving_every_interface():
    import socket

    from app.server.network import lan_address

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "app", "serve", "--host", "0.0.0.0", "--port", str(port)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = [process.stdout.readline().strip() for _ in range(2)]
    finally:
        process.terminate()
        process.wait(10)
    assert lines[0] == f"Backprop Lab is serving at http://127.0.0.1:{port} on this machine"
    lan = lan_address()
    assert (f"http://{lan}:{port}" in lines[1]) if lan else ("No network address" in lines[1])


def test_an_old_scenario_file_with_hidden_opens_with_those_panels_hidden(client):
    sid, _ = new_session(client, CONFIG)
    document = client.get(f"/api/scenarios/{save(client, sid)}").json()
    old = {k: v for k, v in document.items() if k != "hidden_panels"} | {"hidden": ["charts", "inspector"]}
    imported = client.post("/api/scenarios", json=old, headers=OWNER)
    assert imported.status_code == 201, imported.text
    opened = client.post("/api/sessions", json={"scenario": imported.json()["id"]}).json()
    with connect(client, opened["id"], opened["token"]) as peer:
        assert peer.hello["presentation"]["hidden"] == ["charts", "inspector"]
    both = client.post("/api/scenarios", json={**old, "hidden_panels": ["charts"]}, headers=OWNER)
    assert both.status_code == 422 and both.json()["error"]["field"] == "hidden"


def test_saving_writes_hidden_panels_whichever_name_the_request_used(client):
    sid, _ = new_session(client, CONFIG)
    for body in ({"hidden": ["charts"]}, {"hidden_panels": ["charts"]}):
        document = client.get(f"/api/scenarios/{save(client, sid, **body)}").json()
        assert document["hidden_panels"] == ["charts"] and "hidden" not in document
        assert document["config"]["hidden"] == CONFIG["hidden"]
    refused = client.post("/api/scenarios", json={"session": sid, "hidden": ["charts"], "hidden_panels": []})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "hidden"
