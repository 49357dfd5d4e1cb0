"""Saved scenarios belong to whoever saved them (by the owner key their browser keeps): only they
see them listed or may delete them, anyone with the link may load them, and every owner and
every client address has a quota."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient

from app.server.main import create_app
from app.storage import ScenarioStore

from .conftest import new_session, small_settings

ALICE = {"X-Backprop-Owner": "alice-0123456789abcdefAB"}
BOB = {"X-Backprop-Owner": "bob_0123456789abcdefABCD"}
TINY = {"title": "tiny", "config": {}}


@pytest.fixture
def make(make_client, tmp_path):
    """A server on its own database, with any settings changed."""
    return lambda **overrides: make_client(**{"scenario_db": tmp_path / "scenarios.sqlite3", **overrides})


def save(client, headers=None, body=None):
    return client.post("/api/scenarios", json=body or TINY, headers=headers or {})


def saved(client, headers=None, title="tiny") -> str:
    response = save(client, headers, {**TINY, "title": title})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def listed(client, headers=None) -> list[str]:
    response = client.get("/api/scenarios", headers=headers or {})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


def test_each_owner_lists_only_their_own_and_anyone_may_load_by_link(make):
    client = make()
    a1, a2 = saved(client, ALICE, "first"), saved(client, ALICE, "second")
    b1 = saved(client, BOB)
    nobody = saved(client)  # a script without a key: stored, shareable, listed to no one
    assert listed(client, ALICE) == [a2, a1]
    assert listed(client, BOB) == [b1]
    assert listed(client) == []
    for scenario in (a1, b1, nobody):
        assert client.get(f"/api/scenarios/{scenario}", headers=BOB).status_code == 200
        assert client.get(f"/api/scenarios/{scenario}").status_code == 200
        assert client.get(f"/scenario/{scenario}").status_code == 200
        assert client.post("/api/sessions", json={"scenario": scenario}).status_code == 201
    sid, _ = new_session(client)
    from_session = save(client, BOB, {"session": sid, "title": "live"}).json()["id"]
    assert listed(client, BOB) == [from_session, b1]


def test_only_the_owner_may_delete_and_then_the_link_is_gone(make):
    client = make()
    mine, theirs, nobodys = saved(client, ALICE), saved(client, BOB), saved(client)
    for headers in (BOB, {}):
        response = client.delete(f"/api/scenarios/{mine}", headers=headers)
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert client.delete(f"/api/scenarios/{nobodys}", headers=ALICE).status_code == 403
    assert client.delete(f"/api/scenarios/{theirs}", headers=ALICE).status_code == 403
    assert client.get(f"/api/scenarios/{mine}").status_code == 200, "a refused delete deleted"

    response = client.delete(f"/api/scenarios/{mine}", headers=ALICE)
    assert response.status_code == 204 and response.content == b""
    assert client.get(f"/api/scenarios/{mine}").status_code == 404
    assert client.get(f"/scenario/{mine}").status_code == 404
    assert listed(client, ALICE) == []
    assert listed(client, BOB) == [theirs]
    response = client.delete(f"/api/scenarios/{mine}", headers=ALICE)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert client.delete("/api/scenarios/never-was", headers=ALICE).status_code == 404


@pytest.mark.parametrize("key", ["short", "x" * 129, "spaces are not allowed here", "ключ-ключ-ключ-ключ"])
def test_a_malformed_owner_key_is_refused_naming_the_header(make, key):
    client = make()
    headers = {"X-Backprop-Owner": key.encode()}
    for response in (save(client, headers), client.get("/api/scenarios", headers=headers),
                     client.delete("/api/scenarios/x", headers=headers)):
        assert response.status_code == 422
        assert response.json()["error"] == {"code": "invalid_message", "field": "X-Backprop-Owner",
                                            "message": response.json()["error"]["message"]}
        assert "X-Backprop-Owner" in response.json()["error"]["message"]
    assert listed(client) == []


def test_an_owner_has_a_quota_and_deleting_makes_room(make):
    client = make(max_scenarios_per_owner=3)
    kept = [saved(client, ALICE) for _ in range(3)]
    response = save(client, ALICE)
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "limit" and "max_scenarios_per_owner = 3" in error["message"]
    assert len(listed(client, ALICE)) == 3, "a refused save was stored"
    saved(client, BOB)  # someone else's quota is their own
    assert client.delete(f"/api/scenarios/{kept[0]}", headers=ALICE).status_code == 204
    saved(client, ALICE)


def test_an_address_has_a_quota_whatever_keys_it_sends(make):
    client = make(max_scenarios_per_address=3)
    saved(client, ALICE)
    saved(client, BOB)
    saved(client)
    for headers in ({"X-Backprop-Owner": "a-fresh-key-every-time-1"}, {}):
        response = save(client, headers)
        assert response.status_code == 429
        error = response.json()["error"]
        assert error["code"] == "limit" and "max_scenarios_per_address = 3" in error["message"]
        assert "testclient" in error["message"]  # the address, as the server saw it


def test_an_address_has_a_quota_in_bytes(make):
    measuring = make()
    size = len(measuring.get(f"/api/scenarios/{saved(measuring, ALICE)}").content)
    limit = max(1024, 2 * size + size // 2)
    client = make(max_scenario_storage_per_address=limit)  # the same file: the save above counts
    fits = limit // size - 1
    assert fits >= 1
    for _ in range(fits):
        saved(client, BOB)
    response = save(client, BOB)
    assert response.status_code == 429
    assert "max_scenario_storage_per_address" in response.json()["error"]["message"]
    assert len(listed(client, BOB)) == fits


def test_a_version_1_file_gains_owners_and_keeps_its_scenarios(tmp_path):
    db = tmp_path / "old.sqlite3"
    with sqlite3.connect(db) as old:
        old.execute("CREATE TABLE scenarios (id TEXT PRIMARY KEY, title TEXT NOT NULL, created REAL NOT NULL, "
                    "document BLOB NOT NULL)")
        old.execute("INSERT INTO scenarios VALUES ('old1', 'from before', 1.0, ?)",
                    (b'{"format": "backprop-lab/scenario", "version": 1, "title": "from before", "config": {}}',))
    old.close()
    with TestClient(create_app(small_settings(scenario_db=db))) as client:
        assert client.get("/api/scenarios/old1").json()["title"] == "from before"
        assert listed(client, ALICE) == []  # it belongs to no one: shareable, never listed
        assert client.delete("/api/scenarios/old1", headers=ALICE).status_code == 403
        mine = saved(client, ALICE)
        assert listed(client, ALICE) == [mine]
    with sqlite3.connect(db) as check:
        columns = {row[1] for row in check.execute("PRAGMA table_info(scenarios)")}
        owners = dict(check.execute("SELECT id, owner FROM scenarios"))
    check.close()
    assert {"owner", "address"} <= columns
    assert owners["old1"] is None
    assert ALICE["X-Backprop-Owner"] not in owners[mine], "the key itself is stored, not its hash"


def test_two_stores_on_one_old_file_migrate_once(tmp_path):
    db = tmp_path / "old.sqlite3"
    with sqlite3.connect(db) as old:
        old.execute("CREATE TABLE scenarios (id TEXT PRIMARY KEY, title TEXT NOT NULL, created REAL NOT NULL, "
                    "document BLOB NOT NULL)")
    old.close()
    first, second = ScenarioStore(db), ScenarioStore(db)
    a = first.save({"config": {}}, "owner-one-0123456789", "1.2.3.4")
    b = second.save({"config": {}}, "owner-one-0123456789", "1.2.3.4")
    assert {s["id"] for s in first.list("owner-one-0123456789")} == {a, b}
