"""The scenario database broken under a running server: corrupt, locked, deleted, in the way of
a folder or under a file. Each failure is a 503 `storage` error in JSON that names the file
and the reason, with the security headers; everything else keeps working; /healthz says so;
and the server recovers by itself once the file is mended."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.server.main import create_app

from .conftest import new_session, small_settings

OWNER = {"X-Backprop-Owner": "owner-key-of-the-test-0"}


@pytest.fixture
def served(tmp_path):
    """A server whose database is `tmp_path/lab/scenarios.sqlite3`; yields (client, path)."""
    db = tmp_path / "lab" / "scenarios.sqlite3"
    with TestClient(create_app(small_settings(scenario_db=db, storage_timeout=0.3))) as client:
        yield client, db


def save(client, sid):
    return client.post("/api/scenarios", json={"session": sid, "title": "kept"}, headers=OWNER)


def remove_database(db: Path) -> None:
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        path.unlink(missing_ok=True)


def assert_storage_error(response, *words) -> str:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    error = response.json()["error"]
    assert error["code"] == "storage"
    for word in words:
        assert word in error["message"], error["message"]
    return error["message"]


def assert_the_rest_works(client) -> None:
    sid, _ = new_session(client)
    assert client.get(f"/api/sessions/{sid}").status_code == 200
    assert client.get("/").status_code == 200
    assert client.get("/api/presets").status_code == 200


def health(client) -> dict:
    response = client.get("/healthz")
    assert response.status_code == 200  # degraded is still an answer: sessions run without storage
    return response.json()


def test_a_corrupt_file_is_named_in_the_error_and_the_server_recovers_when_it_is_replaced(served):
    client, db = served
    sid, _ = new_session(client)
    kept = save(client, sid).json()["id"]
    assert health(client) == {"status": "ok", "storage": "ok"}
    remove_database(db)
    db.write_bytes(os.urandom(8192))

    assert_storage_error(save(client, sid), "save", str(db), "file is not a database")
    assert_storage_error(client.get("/api/scenarios", headers=OWNER), str(db), "file is not a database")
    assert_storage_error(client.get(f"/api/scenarios/{kept}"), str(db))
    assert_storage_error(client.post("/api/sessions", json={"scenario": kept}), str(db))
    assert_storage_error(client.delete(f"/api/scenarios/{kept}", headers=OWNER), str(db))
    assert_the_rest_works(client)
    status = health(client)
    assert status["status"] == "degraded" and str(db) in status["storage"] and "not a database" in status["storage"]

    db.unlink()  # the operator moves the broken file away
    assert health(client) == {"status": "ok", "storage": "ok"}
    assert save(client, sid).status_code == 201


def test_a_file_deleted_while_the_server_runs_is_made_again(served):
    client, db = served
    sid, _ = new_session(client)
    first = save(client, sid).json()["id"]
    remove_database(db)
    assert client.get(f"/api/scenarios/{first}").status_code == 404
    response = save(client, sid)
    assert response.status_code == 201, response.text
    second = response.json()["id"]
    assert [s["id"] for s in client.get("/api/scenarios", headers=OWNER).json()] == [second]
    assert client.get(f"/api/scenarios/{second}").json()["title"] == "kept"
    shutil.rmtree(db.parent)  # the whole folder too
    assert health(client) == {"status": "ok", "storage": "ok"}
    assert save(client, sid).status_code == 201


def test_a_locked_database_refuses_a_save_as_busy_after_the_short_timeout(served):
    client, db = served
    sid, _ = new_session(client)
    kept = save(client, sid).json()["id"]
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        response = save(client, sid)
        waited = time.monotonic() - started
        message = assert_storage_error(response, "busy", str(db), "database is locked")
        assert "0.3 s" in message
        assert waited < 5, f"a save waited {waited:.1f} s for the lock"  # it was 10 s, SQLite's timeout then
        assert client.get(f"/api/scenarios/{kept}").status_code == 200  # readers pass a writer in WAL mode
        assert_the_rest_works(client)
        status = health(client)
        assert status["status"] == "degraded" and "busy" in status["storage"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert health(client) == {"status": "ok", "storage": "ok"}
    assert save(client, sid).status_code == 201


def test_a_folder_where_the_file_belongs_is_named_as_such(served):
    client, db = served
    sid, _ = new_session(client)
    db.mkdir(parents=True)
    assert_storage_error(save(client, sid), str(db), "is a folder")
    assert_storage_error(client.get("/api/scenarios", headers=OWNER), str(db), "is a folder")
    assert_the_rest_works(client)
    assert "is a folder" in health(client)["storage"]
    db.rmdir()
    assert health(client)["status"] == "ok"
    assert save(client, sid).status_code == 201


def test_a_path_under_a_file_cannot_be_created_and_says_why(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    db = blocker / "scenarios.sqlite3"
    with TestClient(create_app(small_settings(scenario_db=db))) as client:
        sid, _ = new_session(client)
        assert_storage_error(save(client, sid), str(db), f"{blocker} is a file, not a folder")
        assert health(client) == {"status": "degraded",
                                  "storage": f"the scenario database {db} cannot be created: {blocker} is a file, "
                                             "not a folder"}
        assert_the_rest_works(client)
        blocker.unlink()
        assert health(client)["status"] == "ok"
        assert save(client, sid).status_code == 201


def test_reading_and_checking_health_write_nothing(served):
    client, db = served
    assert health(client) == {"status": "ok", "storage": "ok"}
    assert client.get("/api/scenarios", headers=OWNER).json() == []
    assert client.get("/api/scenarios/nope").status_code == 404
    assert client.delete("/api/scenarios/nope", headers=OWNER).status_code == 404
    assert not db.parent.exists(), "a server that never saved made its database"


def test_a_share_link_opened_in_a_tab_says_what_failed_as_a_page(served):
    client, db = served
    db.mkdir(parents=True)
    response = client.get("/scenario/abc", headers={"accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert "is a folder" in response.text and str(db) in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_any_other_failure_is_json_with_the_security_headers(tmp_path):
    app = create_app(small_settings(scenario_db=tmp_path / "s.sqlite3"))

    @app.get("/api/broken")
    def broken():
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/broken")
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/json"
        error = response.json()["error"]
        assert error["code"] == "internal" and "RuntimeError" in error["message"]
        assert "a bug" not in error["message"]  # the traceback goes to the log, not to strangers
        for header in ("content-security-policy", "x-content-type-options", "referrer-policy"):
            assert len(response.headers.get_list(header)) == 1, header
        assert_the_rest_works(client)
