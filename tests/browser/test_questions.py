"""Predict, then reveal, in the page: a presenter asks with one key, a phone answers on its
keypad, the presenter's bars count it, Enter reveals, and the phone learns it was right."""

from __future__ import annotations

import pytest

from .conftest import new_page, screenshot
from .test_classroom import STORE, api

ASK = f"{STORE}.question"


def open_page(browser, live_server: str, path: str, **options):
    page = new_page(browser, live_server, **options)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.goto(live_server + path)
    page.wait_for_function(f"{STORE}.grid && {STORE}.state && {STORE}.presentation && {STORE}.config")
    return page


@pytest.fixture
def room(browser, live_server):
    session = api(live_server, "/api/sessions", {"config": {"hidden": [3], "dataset": {"name": "circle", "n": 80}}})
    presenter = open_page(browser, live_server, f"/present/{session['id']}?token={session['token']}",
                          viewport={"width": 1920, "height": 1080})
    phone = open_page(browser, live_server, f"/s/{session['id']}", viewport={"width": 390, "height": 844},
                      is_mobile=True, has_touch=True)
    yield presenter, phone
    assert presenter.errors == [] and phone.errors == []
    presenter.close()
    phone.close()


def test_the_room_predicts_on_a_phone_and_the_presenter_reveals(room):
    presenter, phone = room
    presenter.locator("body").press("ArrowRight")  # into the forward pass: h1.1 done
    presenter.wait_for_function(f"{STORE}.state.cursor === 'h1_0'")
    presenter.locator("body").press("q")
    phone.wait_for_function(f"{ASK} && {ASK}.open")
    question = phone.evaluate(ASK)
    assert question["node"] == "h1_1" and phone.locator("#question-prompt").inner_text() == "What will a(h1.2) be?"
    # the question takes the phone's screen: its keypad is there and every key can be tapped
    box = phone.locator("#question").bounding_box()
    assert box["width"] == 390 and box["y"] + box["height"] <= 844 + 1
    for key in phone.locator("#question-answer .key").all():
        kb = key.bounding_box()
        assert kb["height"] >= 44 and kb["y"] + kb["height"] <= 844 + 1
    # the truth, read from a fork the honest way: what the next step shows
    phone.get_by_role("button", name="Minus").tap()
    for ch in "0.5":
        phone.locator("#question-answer .key", has_text=ch).first.tap()
    phone.wait_for_function("document.querySelector('#question-answer .typed').textContent === '−0.5'")
    phone.get_by_role("button", name="Send").tap()
    phone.wait_for_function(f"{STORE}.myAnswer === -0.5")
    screenshot(phone, "question-phone-answered")
    presenter.wait_for_function("document.querySelector('#question-tally .answered')?.textContent.startsWith('1 of 1')")
    assert presenter.locator("#question-tally .bar-row").count() >= 1
    screenshot(presenter, "question-presenter-tally")
    presenter.locator("body").press("Enter")
    phone.wait_for_function(f"{STORE}.reveal")
    truth = phone.evaluate(f"{STORE}.reveal.truth")
    right = abs(truth + 0.5) <= max(0.01 * abs(truth), 1e-3 if abs(truth) < 0.1 else 0)
    verdict = phone.locator("#question-result .verdict").inner_text()
    assert verdict.startswith("✓" if right else "✗")
    assert phone.locator("#question-result .working .equation").count() >= 2  # the working, as rows
    presenter.wait_for_function("document.querySelector('#question-result .truth')")
    screenshot(presenter, "question-presenter-revealed")
    screenshot(phone, "question-phone-revealed")
    # stepping shows the same number the reveal said
    presenter.locator("body").press("Escape")
    presenter.locator("body").press("ArrowRight")
    presenter.wait_for_function(f"{STORE}.state.cursor === 'h1_1'")
    assert presenter.evaluate(f"{STORE}.state.nodes.h1_1.a") == pytest.approx(truth, rel=1e-12)


def test_a_sign_question_is_three_buttons_and_closing_puts_it_away(room):
    presenter, phone = room
    presenter.locator("body").press("s")
    phone.wait_for_function(f"{ASK} && {ASK}.open && {ASK}.kind === 'sign'")
    buttons = phone.locator("#question-answer .choice")
    assert buttons.count() == 3
    phone.get_by_role("button", name="negative (−)").tap()
    phone.wait_for_function(f"{STORE}.myAnswer === '-'")
    presenter.wait_for_function("document.querySelectorAll('#question-tally .bar-row').length === 3")
    presenter.locator("body").press("Escape")
    phone.wait_for_function(f"{ASK} && !{ASK}.open")
    # closed unrevealed: the phone says so until put away
    phone.wait_for_function("document.getElementById('question-kind').textContent === 'closed'")
    assert phone.locator("#question").is_visible()
    phone.get_by_role("button", name="Back to the network").tap()
    phone.wait_for_function("document.getElementById('question').hidden")


def test_a_lesson_step_asks_its_question_when_the_run_reaches_its_op(room):
    presenter, phone = room
    presenter.wait_for_function(f"{STORE}.lessons.length > 0")
    presenter.evaluate("""() => { const s = document.getElementById('lesson');
        s.value = 'backprop-in-10'; s.dispatchEvent(new Event('change')); }""")
    # step 1 asks before h1.1's forward op, which is the very first: the question opens at once
    phone.wait_for_function(f"{ASK} && {ASK}.open && {ASK}.target.node === 'h1_0'")
    assert "relu" in phone.locator("#question-prompt").inner_text()
    presenter.locator("body").press("Escape")
    phone.wait_for_function(f"{ASK} && !{ASK}.open")
    presenter.locator("body").press("PageDown")  # step 2: the question waits for the dead unit's backward op
    presenter.wait_for_function(f"{STORE}.presentation.lesson.step === 1")
    for _ in range(5):  # four forward ops, the output's backward op
        assert not presenter.evaluate(f"{ASK} && {ASK}.open")
        presenter.locator("body").press("ArrowRight")
        presenter.wait_for_function(f"{STORE}.state.cursor !== null")
    phone.wait_for_function(f"{ASK} && {ASK}.open && {ASK}.kind === 'sign'")
    phone.get_by_role("button", name="zero (0)").tap()
    phone.wait_for_function(f"{STORE}.myAnswer === '0'")
    presenter.locator("body").press("Enter")
    phone.wait_for_function(f"{STORE}.reveal")
    assert phone.evaluate(f"{STORE}.reveal.right") is True
    screenshot(phone, "question-lesson-dead-relu")


def test_the_ask_menu_asks_about_the_next_units_z_its_gradient_and_a_weights(room):
    presenter, phone = room
    expected = [("#ask-z", {"node": "h1_0", "quantity": "z"}),
                ("#ask-grad-w", {"param": "W1", "i": 0, "j": 0, "quantity": "grad"}),
                ("#ask-grad-a", {"node": "h1_0", "quantity": "grad_a"})]
    for button, target in expected:
        presenter.locator("#ask-menu summary").click()
        presenter.locator(button).click()
        phone.wait_for_function(f"{ASK} && {ASK}.open")
        assert phone.evaluate(f"{ASK}.target") == target
        presenter.locator("body").press("Escape")
        phone.wait_for_function(f"{ASK} && !{ASK}.open")
