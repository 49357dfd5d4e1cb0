"""Who gets a session and for how long: pages claim sessions that are made only when their socket
connects, each client address has a cap, idle sessions make room and expire by their controller's
last command, and pages and handshakes answer only to the server's own host names."""

from __future__ import annotations

import contextlib
import re
import time

import orjson
import pytest
from fastapi.testclient import TestClient

from app.server.admission import CLAIM_SECONDS
from app.server.main import create_app
from app.server.network import lan_address

from .conftest import connect, new_session, small_settings


def page_claim(text: str) -> tuple[str, str]:
    return (re.search(r'data-session="([^"]*)"', text).group(1), re.search(r'data-token="([^"]*)"', text).group(1))


def refused(client, path: str, headers: dict | None = None) -> dict:
    """The first message and the close code of a handshake the server turns away."""
    with client.websocket_connect(path, headers=headers or {}) as ws:
        first = orjson.loads(ws.receive_text())
        return {**first, "close": ws.receive()["code"]}


# --- claims --------------------------------------------------------------------------------------

def test_opening_the_page_makes_no_session_until_its_socket_connects(client):
    registry = client.app.state.registry
    pages = [client.get("/") for _ in range(50)]  # as 50 <img> tags on someone else's page would
    assert all(p.status_code == 200 for p in pages)
    assert registry.sessions == {}
    claims = [page_claim(p.text) for p in pages]
    assert len({sid for sid, _ in claims}) == 50
    sid, token = claims[0]
    assert len(token) >= 22 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert client.get(f"/api/sessions/{sid}").status_code == 404  # it does not exist yet
    assert client.get(f"/s/{sid}").status_code == 404

    assert refused(client, f"/ws/{sid}")["close"] == 4404  # a viewer cannot make it
    other_sid, other_token = claims[1]
    for forged in (other_token, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), "x" * 54, "é"):
        answer = refused(client, f"/ws/{sid}?token={forged}")
        assert answer["code"] == "not_found" and answer["close"] == 4404, forged
    assert registry.sessions == {}

    with connect(client, sid, token) as peer:
        assert peer.hello["hello"]["role"] == "control" and peer.hello["hello"]["session"] == sid
        assert peer.call(type="step", unit="iteration", count=3)[0]["iteration"] == 3
    assert list(registry.sessions) == [sid] and registry.get(sid).token == token
    assert client.get(f"/api/sessions/{sid}").json()["iteration"] == 3
    with connect(client, sid, token) as peer:  # the claim does not make it again: the same run
        assert peer.hello["state"]["iteration"] == 3
    with connect(client, sid) as viewer:
        assert viewer.hello["hello"]["role"] == "view"


def test_a_claim_is_only_good_for_its_own_id_and_for_a_while(client):
    claims = client.app.state.registry.claims
    sid, token = claims.issue()
    assert claims.valid(sid, token)
    assert not claims.valid(sid + "A", token)
    assert not claims.valid(sid, token, now=time.time() + CLAIM_SECONDS + 1)
    _, posted = new_session(client)
    assert not claims.valid(sid, posted) and not claims.valid(sid, None) and not claims.valid(sid, "")


def test_present_claims_a_session_made_when_the_presenter_page_connects(client):
    registry = client.app.state.registry
    redirect = client.get("/present?hide=charts&token=stale", follow_redirects=False)
    assert redirect.status_code == 303
    location = redirect.headers["location"]
    assert "hide=charts" in location and "stale" not in location
    assert registry.sessions == {}
    sid, token = re.fullmatch(r"/present/([^?]+)\?token=([^&]+)&hide=charts", location).groups()
    page = client.get(location)
    assert page.status_code == 200 and page_claim(page.text) == (sid, token) and 'data-present="1"' in page.text
    assert client.get(f"/present/{sid}?token=wrong").status_code == 404  # nothing there, and no claim
    assert client.get(f"/present/{sid}").status_code == 404
    with connect(client, sid, token) as peer:
        assert peer.hello["hello"]["role"] == "control"
    assert client.get(f"/present/{sid}").status_code == 200


def test_a_wrong_token_on_a_presenter_link_is_not_put_in_the_page(client):
    sid, token = new_session(client)
    for wrong in ("wrong", "%C3%A9", token[:-1]):
        for path in (f"/present/{sid}?token={wrong}", f"/s/{sid}?token={wrong}"):
            page = client.get(path)
            assert page.status_code == 200, path
            assert page_claim(page.text) == (sid, ""), path
    assert page_claim(client.get(f"/present/{sid}?token={token}").text) == (sid, token)
    bad = client.delete(f"/api/sessions/{sid}", headers={"Authorization": "Bearer \u00e9".encode("latin-1")})
    assert bad.status_code == 403


# --- caps and eviction -----------------------------------------------------------------------

@pytest.fixture
def two_addresses():
    # connect_grace 0: sessions made a moment ago may make room here (one test keeps the grace)
    app = create_app(small_settings(max_sessions_per_client=3, connect_grace=0))
    with TestClient(app, client=("10.0.0.5", 1234)) as first:
        yield first, TestClient(app, client=("10.0.0.6", 1234))


def test_each_address_holds_at_most_its_cap_and_gives_up_only_its_own_idle_sessions(two_addresses):
    a, b = two_addresses
    registry = a.app.state.registry
    theirs = new_session(b)
    mine = [new_session(a) for _ in range(3)]
    with contextlib.ExitStack() as open_pages:
        peers = [open_pages.enter_context(connect(a, *s)) for s in mine]
        assert peers[0].hello["hello"]["role"] == "control"
        refused_post = a.post("/api/sessions")
        assert refused_post.status_code == 429 and refused_post.json()["error"]["code"] == "limit"
        assert "10.0.0.5" in refused_post.json()["error"]["message"] and "3" in refused_post.json()["error"]["message"]
        page = a.get("/")
        assert page.status_code == 429 and "Too many sessions from your address" in page.text
        assert a.get("/present", follow_redirects=False).status_code == 429
        assert b.post("/api/sessions").status_code == 201  # another address is not held back
    # every page closed: a new session of this address replaces its idlest one, and no one else's
    newest = new_session(a)
    assert len([s for s in mine if registry.get(s[0]) is None]) == 1
    assert registry.get(theirs[0]) is not None and registry.get(newest[0]) is not None
    assert sum(lease.owner == "10.0.0.5" for lease in registry.leases.values()) == 3


def test_a_claimed_page_counts_against_the_address_that_connects_it(two_addresses):
    a, _ = two_addresses
    registry = a.app.state.registry
    with contextlib.ExitStack() as open_pages:
        for _ in range(3):
            open_pages.enter_context(connect(a, *page_claim(a.get("/").text)))
        assert {lease.owner for lease in registry.leases.values()} == {"10.0.0.5"}
        assert a.get("/").status_code == 429
        sid, token = new_session(a.__class__(a.app, client=("10.0.0.7", 1)))  # room for others still
        late = page_claim(TestClient(a.app, client=("10.0.0.6", 1)).get("/").text)
        answer = refused(a, f"/ws/{late[0]}?token={late[1]}")  # claimed elsewhere, connected from a: a's cap
        assert answer["code"] == "limit" and answer["close"] == 1013 and "10.0.0.5" in answer["message"]
        assert registry.get(late[0]) is None and registry.get(sid) is not None


def test_a_full_server_evicts_the_idle_session_nearest_expiry_and_refuses_only_when_none_is_idle(make_client):
    client = make_client(max_sessions=3, max_sessions_per_client=100, connect_grace=0)
    registry = client.app.state.registry
    used, unused, watched = new_session(client), new_session(client), new_session(client)
    with connect(client, *used) as peer:
        peer.call(type="step", unit="iteration")
    with contextlib.ExitStack() as open_pages:
        open_pages.enter_context(connect(client, *watched))
        fourth = new_session(client)  # nobody ever used `unused`: it is nearest its end
        assert registry.get(unused[0]) is None and registry.get(used[0]) is not None
        open_pages.enter_context(connect(client, *fourth))
        fifth = new_session(client)  # `used` is the only idle one left
        assert registry.get(used[0]) is None
        open_pages.enter_context(connect(client, *fifth))
        assert set(registry.sessions) == {watched[0], fourth[0], fifth[0]}
        full = client.post("/api/sessions")
        assert full.status_code == 429 and "the server is full" in full.json()["error"]["message"]
        page = client.get("/")
        assert page.status_code == 429 and "The server is full" in page.text and "every one is open" in page.text
        assert set(registry.sessions) == {watched[0], fourth[0], fifth[0]}


def test_a_session_just_made_for_a_page_still_connecting_is_never_the_one_evicted(make_client):
    """A class making sessions together on a full server: each new one would otherwise evict the
    one made a moment before, whose page then finds it gone."""
    client = make_client(max_sessions=2, max_sessions_per_client=100, connect_grace=60)
    registry = client.app.state.registry
    first, second = new_session(client), new_session(client)
    refused_post = client.post("/api/sessions")
    assert refused_post.status_code == 429
    assert "made moments ago for a page still connecting" in refused_post.json()["error"]["message"]
    assert set(registry.sessions) == {first[0], second[0]}
    registry.leases[first[0]].active -= 61  # its page never came, for longer than the grace
    third = new_session(client)
    assert set(registry.sessions) == {second[0], third[0]}


# --- lifetime --------------------------------------------------------------------------------

def test_unused_sessions_expire_quickly_and_only_commands_from_a_controller_keep_one(make_client):
    client = make_client(idle_timeout=1800, unattended_timeout=300)
    registry = client.app.state.registry
    posted, _ = new_session(client)
    made = registry.leases[posted].active
    assert registry.deadline(posted) == made + 300
    assert registry.expire(now=made + 299) == []
    assert registry.expire(now=made + 301) == [posted]

    sid, token = new_session(client)
    with connect(client, sid, token) as peer:
        before = time.monotonic()
        peer.call(type="select", example=1)
    deadline = registry.deadline(sid)
    assert before + 1800 <= deadline <= time.monotonic() + 1800  # from the command, at the longer timeout

    with connect(client, sid, token) as peer:  # reconnecting, acking, a viewer's reads: none of it counts
        peer.send(type="ack", seq=peer.hello["state"]["seq"])
        with connect(client, sid) as viewer:
            viewer.call(type="explain", node="h1_0", answers=("explain",))
        peer.state()  # everything before it has been read: a command, so it counts
    deadline = registry.deadline(sid)
    for _ in range(3):
        with connect(client, sid, token) as peer:
            peer.send(type="ack", seq=peer.hello["state"]["seq"])
        with connect(client, sid):
            pass
    assert registry.deadline(sid) == deadline

    with connect(client, sid):  # a session with a page open is kept however old its clock
        assert registry.expire(now=deadline + 10**6) == []
    assert registry.expire(now=deadline - 1) == []
    assert registry.expire(now=deadline + 1) == [sid]


# --- the server's own host names -------------------------------------------------------------

def test_a_rebound_host_gets_no_page_and_no_socket(make_client):
    client = make_client(allowed_origins=["https://lab.school.example"], public_url="http://class.example:8000")
    registry = client.app.state.registry
    sid, token = new_session(client)
    evil = {"host": "evil.example:8000", "origin": "http://evil.example:8000"}  # a page whose name now points here
    answer = refused(client, f"/ws/{sid}?token={token}", evil)
    assert answer["code"] == "forbidden" and answer["close"] == 4403 and "evil.example" in answer["message"]
    claimed = page_claim(client.get("/", headers={"host": "localhost:8000"}).text)
    assert refused(client, f"/ws/{claimed[0]}?token={claimed[1]}", evil)["close"] == 4403
    assert registry.get(claimed[0]) is None

    for path in ("/", "/present", f"/s/{sid}", f"/s/{sid}?token={token}", f"/present/{sid}?token={token}"):
        page = client.get(path, headers={"host": "evil.example:8000"}, follow_redirects=False)
        assert page.status_code == 421 and "evil.example" in page.text and token not in page.text, path
    assert list(registry.sessions) == [sid]

    for host, origin in (("localhost:8000", "http://localhost:8000"), ("127.0.0.1:8000", "http://127.0.0.1:8000"),
                         ("[::1]:8000", "http://[::1]:8000"), ("lab.school.example", "https://lab.school.example"),
                         ("class.example:8000", "http://class.example:8000")):
        with client.websocket_connect(f"/ws/{sid}?token={token}", headers={"host": host, "origin": origin}) as ws:
            assert orjson.loads(ws.receive_text())["role"] == "control", host
        assert client.get(f"/s/{sid}", headers={"host": host}).status_code == 200, host


def test_serving_every_interface_answers_to_this_machines_own_addresses(make_client):
    lan = lan_address()
    assert lan is not None, "this test needs a machine with a network address besides loopback"
    everywhere = make_client(host="0.0.0.0")
    only_here = make_client()
    for client, served in ((everywhere, True), (only_here, False)):
        sid, token = new_session(client)
        headers = {"host": f"{lan}:8000", "origin": f"http://{lan}:8000"}
        with client.websocket_connect(f"/ws/{sid}?token={token}", headers=headers) as ws:
            first = orjson.loads(ws.receive_text())
        assert (first["type"] == "hello") == served
        assert (client.get("/", headers={"host": f"{lan}:8000"}).status_code == 200) == served
    # an address that is not this machine's is no more served than a name would be
    answer = refused(everywhere, f"/ws/{sid}", {"host": "203.0.113.9:8000", "origin": "http://203.0.113.9:8000"})
    assert answer["close"] == 4403


def test_forks_and_share_links_count_against_the_asking_address(two_addresses):
    a, b = two_addresses
    registry = a.app.state.registry
    original = new_session(b)
    with connect(b, *original):  # kept open: it is never the one evicted
        saved = b.post("/api/scenarios", json={"session": original[0]},
                       headers={"X-Backprop-Owner": "owner-of-b-0123456789"}).json()["id"]
        with contextlib.ExitStack() as open_pages:
            for _ in range(3):  # forks by 10.0.0.5, each watched, up to its cap
                fork = a.post(f"/api/sessions/{original[0]}/fork")
                assert fork.status_code == 201
                open_pages.enter_context(connect(a, fork.json()["id"], fork.json()["token"]))
            refused = a.post(f"/api/sessions/{original[0]}/fork")
            assert refused.status_code == 429 and "10.0.0.5" in refused.json()["error"]["message"]
            assert a.get(f"/scenario/{saved}").status_code == 429
            assert a.post("/api/sessions", json={"scenario": saved}).status_code == 429
        assert sum(lease.owner == "10.0.0.5" for lease in registry.leases.values()) == 3
