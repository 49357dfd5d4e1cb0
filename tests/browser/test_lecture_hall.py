"""The page in a lecture hall: a presenter and a phone on another process than the session's owner,
which is killed: both are told why, and the presenter is offered what it saved."""

from __future__ import annotations

from tests.hall.conftest import hall, redis_server  # noqa: F401 - the hall's fixtures

from .conftest import new_page, screenshot

CONFIG = {"dataset": {"name": "xor", "n": 40}, "hidden": [3]}
READY = "window.__backprop && window.__backprop.grid && window.__backprop.config"


def test_a_presenter_and_a_phone_elsewhere_are_told_the_owner_stopped_and_offered_the_last_save(browser, hall):  # noqa: F811
    a, b = hall("A"), hall("B")
    sid, token = a.new_session(CONFIG)
    presenter = new_page(browser, b.base, viewport={"width": 1280, "height": 800})
    phone = new_page(browser, b.base, viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    presenter.goto(f"{b.base}/s/{sid}?token={token}")
    phone.goto(f"{b.base}/s/{sid}")
    for page in (presenter, phone):
        page.wait_for_function(READY)
    assert presenter.evaluate("window.__backprop.role") == "control"
    assert phone.evaluate("window.__backprop.role") == "view"
    # the presenter, on B, steps A's session, and the phone on B follows
    before = presenter.evaluate("window.__backprop.state.seq")
    presenter.click("#step")
    presenter.wait_for_function(f"window.__backprop.state.seq > {before}")
    cursor = presenter.evaluate("[window.__backprop.state.phase, window.__backprop.state.cursor]")
    phone.wait_for_function("(s) => s[0] === window.__backprop.state.phase && s[1] === window.__backprop.state.cursor",
                            arg=cursor)
    # saved through B (A saves it)
    presenter.click("#save-open")
    presenter.fill("#save-title", "before the break")
    presenter.click("#save-submit")
    presenter.wait_for_function("window.__backprop.lastSaved")
    saved = presenter.evaluate("window.__backprop.lastSaved")
    presenter.click("#save-close")
    a.kill()
    for page in (presenter, phone):
        page.wait_for_function("window.__backprop.connection === 'gone'", timeout=20_000)
        banner = page.locator("#banner")
        banner.wait_for(state="visible")
        assert "server process running this session has stopped" in banner.inner_text()
    assert presenter.locator("#banner a").get_attribute("href") == f"/scenario/{saved}"
    assert phone.locator("#banner a").count() == 0  # a viewer has nothing to reopen
    screenshot(presenter, "hall-owner-stopped-1280")
    screenshot(phone, "hall-owner-stopped-390")
    # the offer works: B opens the saved scenario as a new session of its own
    presenter.click("#banner a")
    presenter.wait_for_function(READY)
    assert presenter.evaluate("window.__backprop.presentation.title") == "before the break"
    for page in (presenter, phone):
        page.context.close()
