"""The save dialog against a database that fails: the server's message in the dialog, no page
errors; then, mended, saving, listing and deleting one's own scenarios, unseen by another browser."""

from __future__ import annotations

import shutil

import pytest

from app.server.main import create_app
from app.server.settings import Settings
from tests.serving import serving

from .conftest import new_page, screenshot

STORE = "window.__backprop"
ERROR = "document.getElementById('save-error')"


@pytest.fixture(scope="module")
def broken_server(tmp_path_factory):
    """A live server whose scenario database path is, for now, a folder; yields (url, path)."""
    db = tmp_path_factory.mktemp("broken") / "scenarios.sqlite3"
    db.mkdir()
    with serving(create_app(Settings(scenario_db=db, storage_timeout=0.3)), log_level="critical") as port:
        yield f"http://127.0.0.1:{port}", db


def open_app(browser, url):
    page = new_page(browser, url, viewport={"width": 1280, "height": 800})
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    # a refused fetch is logged by chromium itself ("Failed to load resource"); anything else is the page's
    page.on("console", lambda m: page.problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.goto(url + "/")
    page.wait_for_function(f"{STORE} && {STORE}.grid && {STORE}.config")
    return page


def shown_error(page) -> str:
    page.wait_for_function(f"!{ERROR}.hidden && {ERROR}.textContent.length > 0")
    return page.locator("#save-error").inner_text()


def test_a_broken_database_is_explained_in_the_dialog_and_mending_it_brings_saving_back(browser, broken_server):
    url, db = broken_server
    page = open_app(browser, url)
    page.get_by_role("button", name="Share").click()
    listing = shown_error(page)
    assert listing.startswith("could not list the saved scenarios:") and str(db) in listing and "is a folder" in listing

    page.locator("#save-title").fill("lost?")
    page.evaluate(f"{ERROR}.hidden = true")
    page.locator("#save-submit").click()
    message = shown_error(page)
    assert message.startswith("could not save the scenario:") and str(db) in message
    assert "is a folder, not a database file" in message
    assert page.locator("#save-result").is_hidden()
    screenshot(page, "save-dialog-storage-error")
    assert page.problems == [], page.problems

    shutil.rmtree(db)  # the operator mends it; the same page carries on
    page.locator("#save-submit").click()
    page.wait_for_function("!document.getElementById('save-result').hidden")
    assert page.locator("#save-error").is_hidden()
    page.wait_for_function("document.getElementById('saved-list').options.length === 2")
    assert page.locator("#saved-list option").nth(1).inner_text().startswith("lost?")

    other = open_app(browser, url)  # another browser: another owner key
    other.get_by_role("button", name="Share").click()
    other.wait_for_function("document.getElementById('saved-list').options[0].textContent.startsWith('none saved')")
    assert other.locator("#saved-list option").count() == 1
    assert other.locator("#save-error").is_hidden()

    page.locator("#saved-list").select_option(index=1)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#saved-delete").click()
    page.wait_for_function("document.getElementById('saved-list').options.length === 1")
    assert page.locator("#saved-delete").is_disabled()
    assert page.problems == [] and other.problems == [], (page.problems, other.problems)
    page.context.close()
    other.context.close()


def test_an_answer_that_is_not_json_is_reported_not_thrown(browser, broken_server):
    url, _ = broken_server
    page = open_app(browser, url)
    # what a proxy in front of the server says when the server has gone: HTML, not the protocol's JSON
    page.route("**/api/scenarios", lambda route: route.fulfill(status=502, content_type="text/html",
                                                               body="<h1>502 Bad Gateway</h1>"))
    page.get_by_role("button", name="Share").click()
    assert shown_error(page) == "Could not list your saved scenarios: the server answered 502 Bad Gateway"
    page.evaluate(f"{ERROR}.hidden = true")
    page.locator("#save-submit").click()
    assert shown_error(page).startswith("Could not save: the server answered 502")
    assert page.problems == [], page.problems
    page.context.close()
