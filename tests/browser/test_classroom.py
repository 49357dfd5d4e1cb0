"""Classroom mode in the page: a presenter and a viewer side by side, the keys, the lesson,
hidden panels in the link, making a copy, and other people's words shown only as text."""

from __future__ import annotations

import json
import urllib.request

import pytest

from .conftest import new_page, screenshot

STORE = "window.__backprop"
BOUNDARY = "document.getElementById('boundary').toDataURL()"


def api(live_server: str, path: str, body: dict | None = None, headers: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(live_server + path, data=data, method="POST" if data is not None else "GET",
                                     headers={"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def open_page(browser, url: str, width: int = 1280, height: int = 800):
    page = new_page(browser, url.split("/", 3)[0] + "//" + url.split("/", 3)[2], viewport={"width": width, "height": height})
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.goto(url)
    page.wait_for_function(f"{STORE}.grid && {STORE}.state && {STORE}.presentation && {STORE}.drawnSeq === {STORE}.state.seq")
    return page


def settled(page) -> None:
    """The newest state has arrived and been painted with its own grid."""
    page.wait_for_function(f"{STORE}.drawnSeq === {STORE}.state.seq && {STORE}.grid.seq === {STORE}.state.seq")


@pytest.fixture
def classroom(browser, live_server):
    """A presenter page (with the token) and a viewer page (the join link) on one session."""
    session = api(live_server, "/api/sessions", {"config": {"hidden": [3], "dataset": {"name": "circle", "n": 80}}})
    presenter = open_page(browser, f"{live_server}/s/{session['id']}?token={session['token']}")
    viewer = open_page(browser, f"{live_server}/s/{session['id']}")
    yield session, presenter, viewer
    assert presenter.errors == [] and viewer.errors == []
    presenter.close()
    viewer.close()


def test_the_viewer_shows_the_presenters_iteration_cursor_and_boundary(classroom):
    session, presenter, viewer = classroom
    assert viewer.evaluate(f"{STORE}.role") == "view"
    presenter.locator("#step-unit").select_option("iteration")
    for _ in range(3):
        presenter.get_by_role("button", name="Step").click()
    presenter.wait_for_function(f"{STORE}.state.iteration === 3")
    presenter.locator("body").press("ArrowRight")  # into iteration 4, op by op: the cursor moves
    presenter.locator("body").press("ArrowRight")
    presenter.wait_for_function(f"{STORE}.state.cursor !== null && {STORE}.state.phase === 'forward'")
    settled(presenter)
    want = presenter.evaluate(f"[{STORE}.state.iteration, {STORE}.state.cursor, {STORE}.state.seq]")
    viewer.wait_for_function(f"{STORE}.state.iteration === {want[0]} && {STORE}.state.cursor === '{want[1]}'")
    settled(viewer)
    assert viewer.locator("#iteration").inner_text() == "3"
    assert viewer.evaluate(f"{STORE}.state.params") == presenter.evaluate(f"{STORE}.state.params")
    assert viewer.evaluate(f"{STORE}.state.nodes") == presenter.evaluate(f"{STORE}.state.nodes")
    assert viewer.evaluate(BOUNDARY) == presenter.evaluate(BOUNDARY), "the viewer's boundary pixels differ"
    # the inspector says the same thing on both screens
    assert viewer.locator("#explain").inner_text() == presenter.locator("#explain").inner_text() != ""
    presenter.wait_for_function(f"{STORE}.state.viewers === 2")
    screenshot(viewer, "classroom-viewer")


def test_a_viewer_cannot_drive_the_run(classroom, live_server):
    session, presenter, viewer = classroom
    for name in ("Play", "Step", "Re-randomize weights"):
        assert viewer.get_by_role("button", name=name).is_disabled()
    assert viewer.locator("#lesson").is_disabled()
    before = viewer.evaluate(f"{STORE}.state.iteration")
    for key in ("Space", "ArrowRight", "r", "g", "PageDown"):
        viewer.locator("body").press(key)
    presenter.locator("#step-unit").select_option("iteration")
    presenter.get_by_role("button", name="Step").click()
    presenter.wait_for_function(f"{STORE}.state.iteration === {before + 1}")
    viewer.wait_for_function(f"{STORE}.state.iteration === {before + 1}")
    state = presenter.evaluate(f"{STORE}.state")
    assert (state["playing"], state["cursor"], state["view"]) == (False, "loss", "neuron") or state["view"] == "neuron"
    assert presenter.evaluate(f"{STORE}.config.weight_seed") == 0, "a viewer's r re-randomized the run"
    assert not state["playing"]


def test_make_my_own_copy_gives_the_viewer_a_run_of_their_own(classroom):
    session, presenter, viewer = classroom
    presenter.locator("#step-unit").select_option("iteration")
    presenter.get_by_role("button", name="Step").click()
    presenter.wait_for_function(f"{STORE}.state.iteration === 1")
    viewer.wait_for_function(f"{STORE}.state.iteration === 1")
    params = viewer.evaluate(f"{STORE}.state.params")
    viewer.get_by_role("button", name="Make my own copy").click()
    viewer.wait_for_url(lambda url: session["id"] not in url and "/s/" in url)
    viewer.wait_for_function(f"{STORE}.role === 'control' && {STORE}.state && {STORE}.grid")
    assert viewer.evaluate(f"{STORE}.state.iteration") == 1
    assert viewer.evaluate(f"{STORE}.state.params") == params
    assert viewer.get_by_role("button", name="Step").is_enabled()
    viewer.locator("#step-unit").select_option("iteration")
    viewer.get_by_role("button", name="Step").click()
    viewer.wait_for_function(f"{STORE}.state.iteration === 2")
    assert presenter.evaluate(f"{STORE}.state.iteration") == 1, "the copy's step moved the original"


def test_a_whole_lesson_runs_from_the_keyboard_in_the_presenter_view(browser, live_server):
    page = open_page(browser, f"{live_server}/present?lesson=backprop-in-10&step=0", 1920, 1080)
    lessons = api(live_server, "/api/lessons")
    steps = lessons[0]["steps"]
    page.wait_for_function(f"{STORE}.presentation.lesson && {STORE}.presentation.lesson.step === 0")
    assert "token" not in page.url, "the projector shows the address bar: the token must not be in it"
    assert page.locator("#scene-title").inner_text() == steps[0]["title"]
    assert page.locator("#join-url").inner_text().endswith("/s/" + page.evaluate("document.body.dataset.session"))
    page.wait_for_function("document.getElementById('join-qr').naturalWidth > 0")
    body = page.locator("body")
    for _ in range(3):
        body.press("ArrowRight")
    page.wait_for_function(f"{STORE}.state.cursor !== null")
    body.press("ArrowLeft")
    page.wait_for_function(f"{STORE}.state.can_back >= 1")
    screenshot(page, "presenter-1920")
    for k in range(1, len(steps)):
        body.press("PageDown")
        page.wait_for_function(f"{STORE}.presentation.lesson.step === {k}")
        page.wait_for_function(f"document.getElementById('scene-title').textContent === {json.dumps(steps[k]['title'])}")
        assert f"step={k}" in page.url
    body.press("PageUp")
    page.wait_for_function(f"{STORE}.presentation.lesson.step === {len(steps) - 2}")
    seed = page.evaluate(f"{STORE}.config.weight_seed")
    body.press("r")
    page.wait_for_function(f"{STORE}.config.weight_seed !== {seed}")
    body.press("g")
    page.wait_for_function(f"{STORE}.graph.view === 'gate'")
    body.press("g")
    page.wait_for_function(f"{STORE}.graph.view === 'neuron'")
    body.press("Space")
    page.wait_for_function(f"{STORE}.state.playing && {STORE}.state.iteration > 5")
    body.press("Space")
    page.wait_for_function(f"!{STORE}.state.playing")
    assert page.errors == []
    page.close()


def test_hidden_panels_are_kept_in_the_link_and_reach_the_viewers(browser, live_server):
    page = open_page(browser, f"{live_server}/present", 1920, 1080)
    session = page.evaluate("document.body.dataset.session")
    viewer = open_page(browser, f"{live_server}/s/{session}")
    page.locator("#panels-menu summary").click()  # the switches live in the header's "panels" menu
    page.get_by_label("Show settings").uncheck()
    page.get_by_label("Show charts").uncheck()
    page.wait_for_function(f"{STORE}.presentation.hidden.join() === 'controls,charts'")
    page.wait_for_function("location.search.includes('hide=controls%2Ccharts')")
    assert page.locator(".controls").is_hidden() and page.locator("#chart").is_hidden()
    assert page.locator("#boundary").is_visible()
    viewer.wait_for_function("document.querySelector('.controls').hidden && document.getElementById('chart').hidden")
    link = page.url
    page.close()
    again = open_page(browser, link, 1920, 1080)  # the link alone brings the same panels back
    again.wait_for_function("document.querySelector('.controls').hidden && document.getElementById('grad-chart').hidden")
    assert again.evaluate(f"{STORE}.role") == "view"  # the link has no token in it: it is safe to share
    viewer.close()
    again.close()


XSS_TITLE = '<img src=x onerror="window.__xss = 1">Lesson & "quotes"'
XSS_NOTES = "<script>window.__xss = 2</script><b>bold?</b>"


def test_titles_and_notes_are_shown_as_text_never_as_markup(browser, live_server):
    session = api(live_server, "/api/sessions", {})
    saved = api(live_server, "/api/scenarios", {"session": session["id"], "title": XSS_TITLE, "notes": XSS_NOTES})
    page = open_page(browser, f"{live_server}/scenario/{saved['id']}")
    page.wait_for_function(f"{STORE}.presentation.title.length > 0")
    assert page.locator("#scene-title").inner_text() == XSS_TITLE
    assert page.locator("#scene-notes").inner_text() == XSS_NOTES
    assert page.locator("#scene-title *, #scene-notes *").count() == 0
    # the dialog lists this browser's own scenarios: save one more as this browser
    owner = page.evaluate("localStorage.getItem('backprop-lab:owner')")
    api(live_server, "/api/scenarios", {"session": session["id"], "title": XSS_TITLE, "notes": XSS_NOTES},
        {"X-Backprop-Owner": owner})
    page.get_by_role("button", name="Share").click()
    page.wait_for_function("document.getElementById('saved-list').options.length > 1")
    options = page.locator("#saved-list option").all_inner_texts()
    assert any(o.startswith(XSS_TITLE) for o in options)
    assert page.locator("#saved-list img").count() == 0
    assert page.evaluate("window.__xss") is None
    assert page.errors == []
    page.close()


def test_save_then_import_shows_the_share_link_and_refuses_a_bad_file(app_page, tmp_path):
    app_page.get_by_role("button", name="Share").click()
    app_page.locator("#save-title").fill("my run")
    app_page.locator("#save-submit").click()
    app_page.wait_for_function("!document.getElementById('save-result').hidden")
    link = app_page.locator("#save-link").inner_text()
    assert "/scenario/" in link
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps({"config": {"hidden": [99]}}))
    app_page.locator("#scenario-import").set_input_files(str(bad))
    app_page.wait_for_function("!document.getElementById('save-error').hidden")
    message = app_page.locator("#save-error").inner_text()
    assert message.startswith("broken.json:") and "hidden[0]" in message
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"title": "imported", "config": {"dataset": {"name": "moons"}}}))
    app_page.locator("#scenario-import").set_input_files(str(good))
    app_page.wait_for_function(f"{STORE}.config.dataset.name === 'moons' && {STORE}.presentation.title === 'imported'")


def test_the_page_works_under_its_own_content_security_policy(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # no bypass: the real policy
    page = context.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{live_server}/present")
    page.wait_for_selector("#connection:has-text('live · control')")
    page.wait_for_selector("#join-url:has-text('/s/')")
    page.locator("body").press("ArrowRight")
    page.wait_for_selector("#phase:has-text('forward')")
    assert problems == [], problems
    context.close()
