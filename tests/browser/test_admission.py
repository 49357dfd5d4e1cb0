"""The server against hostile pages, in a real browser: another site's <img> tags of the app page
make no sessions, a name rebound to this machine gets no page and no socket, and a presenter link
with a wrong token loses it from the address bar and says the page is view-only."""

from __future__ import annotations

import http.server
import json
import threading
import urllib.request

import pytest

from .conftest import new_page

STORE = "window.__backprop"


def post_session(live_server: str) -> dict:
    request = urllib.request.Request(live_server + "/api/sessions", data=b"{}", method="POST",
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


@pytest.fixture
def elsewhere():
    """Another site on this machine, serving whatever page a test puts in `pages`. A real server:
    Chromium treats a page.route() origin as public and blocks its requests to loopback, while a
    hostile page on the classroom's own network is as close as this."""
    pages: dict[str, bytes] = {}

    class Site(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path.split("?", 1)[0], b"")
            self.send_response(200 if body else 404)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{server.server_address[1]}", pages  # localhost: another origin than 127.0.0.1
    server.shutdown()
    server.server_close()


def test_another_sites_images_of_the_page_make_no_sessions_and_a_real_page_still_controls(browser, live_server,
                                                                                          live_app, elsewhere):
    registry = live_app.state.registry
    before = set(registry.sessions)
    site, pages = elsewhere
    tags = "".join(f'<img src="{live_server}/?n={i}"><img src="{live_server}/present?n={i}">' for i in range(200))
    pages["/cats.html"] = f"<!doctype html><title>cats</title>{tags}".encode()
    page = new_page(browser, live_server)
    outcomes = []  # the browser refuses the HTML as an image (ORB) only once the server has answered
    page.on("requestfailed", lambda r: outcomes.append(r.failure) if r.url.startswith(live_server) else None)
    page.on("requestfinished", lambda r: outcomes.append("ok") if r.url.startswith(live_server) else None)
    page.goto(f"{site}/cats.html", wait_until="networkidle")
    assert len(outcomes) >= 400 and set(outcomes) <= {"ok", "net::ERR_BLOCKED_BY_ORB"}, set(outcomes)
    assert set(registry.sessions) == before

    page.goto(live_server + "/")
    page.wait_for_function(f"{STORE}.state && {STORE}.grid && {STORE}.role === 'control'")
    sid = page.evaluate("document.body.dataset.session")
    assert set(registry.sessions) == before | {sid}
    page.locator("#step-unit").select_option("iteration")
    page.get_by_role("button", name="Step").click()
    page.wait_for_function(f"{STORE}.state.iteration === 1")
    page.context.close()


def test_a_name_rebound_to_this_machine_gets_no_page_and_no_socket(browser_type, browser_type_launch_args,
                                                                    live_server, live_app):
    port = live_server.rsplit(":", 1)[1]
    session = post_session(live_server)
    args = [*browser_type_launch_args["args"], "--host-resolver-rules=MAP rebound.test 127.0.0.1"]
    rebinding = browser_type.launch(**{**browser_type_launch_args, "args": args})
    try:
        page = rebinding.new_page()
        response = page.goto(f"http://rebound.test:{port}/")
        assert response.status == 421 and "rebound.test" in page.content()
        # the attacker's page, same-origin with the rebound name, tries to drive a session it learnt of
        answer = page.evaluate("""url => new Promise(done => {
            const ws = new WebSocket(url);
            let first = null;
            ws.onmessage = e => { first = first || JSON.parse(e.data); };
            ws.onclose = e => done({first, code: e.code});
        })""", f"ws://rebound.test:{port}/ws/{session['id']}?token={session['token']}")
        assert answer["code"] == 4403 and answer["first"]["code"] == "forbidden"
        assert live_app.state.registry.get(session["id"]).connections == set()
    finally:
        rebinding.close()


def test_a_wrong_token_leaves_the_address_bar_and_the_page_says_it_is_view_only(browser, live_server):
    session = post_session(live_server)
    page = new_page(browser, live_server, viewport={"width": 1280, "height": 800})
    for path, left in ((f"/present/{session['id']}?token=not-the-token&hide=charts",
                        f"/present/{session['id']}?hide=charts"),
                       (f"/s/{session['id']}?token=nope", f"/s/{session['id']}")):
        page.goto(live_server + path)
        page.wait_for_function(f"{STORE}.state && {STORE}.role === 'view'")
        assert page.url.split("#")[0] == live_server + left
        assert "view-only" in page.locator("#token-refused").inner_text()
        assert page.get_by_role("button", name="Step").is_disabled()
    page.goto(f"{live_server}/present/{session['id']}?token={session['token']}&hide=charts")
    page.wait_for_function(f"{STORE}.state && {STORE}.role === 'control'")
    page.wait_for_function("location.search === '?hide=charts'")  # the right one is kept, in the tab only
    assert page.locator("#token-refused").count() == 0
    page.context.close()
