"""The gate playground in a real browser: typing an expression, stepping its gates forward and
back by button and key, a fork's sum in the inspector, a refusal pointing at its column, the
link reproducing the page, a bad link explained, and the page at four sizes."""

from __future__ import annotations

import urllib.parse

import pytest

from .conftest import new_page, screenshot

STORE = "window.__playground"
SIZES = {"phone": (390, 844, True), "tablet": (768, 1024, False), "laptop": (1280, 800, False), "projector": (1920, 1080, False)}


def open_playground(browser, live_server, query="", size="laptop"):
    width, height, touch = SIZES[size]
    page = new_page(browser, live_server, viewport={"width": width, "height": height}, has_touch=touch, is_mobile=touch)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server}/playground{query}")
    painted(page)
    return page


def painted(page):
    """The newest answer (or refusal) is in and drawn."""
    page.wait_for_function(f"({STORE}.answer || {STORE}.refusal) && !{STORE}.dirty")


def answered(page, expression):
    page.wait_for_function(f"{STORE}.answer && {STORE}.answer.expression === {expression!r} && !{STORE}.refusal "
                           f"&& !{STORE}.dirty")


def steps(page) -> int:
    return page.evaluate(f"{STORE}.answer.steps.length")


def test_it_opens_on_the_seeds_chain_and_steps_forward_then_backward(browser, live_server):
    page = open_playground(browser, live_server)
    assert page.input_value("#pg-expr") == "mse(relu(x*w + b))"
    assert "expr=mse" in page.url  # the address says what is shown
    n = steps(page) // 2
    page.click("#pg-step")
    painted(page)
    assert page.text_content("#pg-phase") == f"forward 1/{n}"
    assert page.text_content("#inspector-title") == "gate g1 · forward pass"
    assert "g1 = x·w = 1.5·0.8 = 1.2" in page.text_content("#explain")
    for _ in range(n):  # the keys step too, wherever the focus is but a text field
        page.keyboard.press("ArrowRight")
    painted(page)
    assert page.text_content("#pg-phase") == f"backward 1/{n}"
    assert "dL/dg5 += " in page.text_content("#explain")
    page.keyboard.press("ArrowLeft")
    painted(page)
    assert page.text_content("#pg-phase") == f"forward {n}/{n}"
    assert "L = 1.21" in page.text_content("#pg-result") and "dL/dx = …" in page.text_content("#pg-result")
    page.keyboard.press("End")
    painted(page)
    assert "dL/dx = −1.76" in page.text_content("#pg-result") and page.is_disabled("#pg-step")
    assert page.errors == []


def test_stepping_moves_nothing_but_the_cursor(browser, live_server):
    page = open_playground(browser, live_server)
    boxes = lambda: [page.locator(s).bounding_box() for s in ("#pg-canvas", ".pg-inspector", "#pg-result", "#pg-step", "#pg-phase")]  # noqa: E731
    before = boxes()
    for _ in range(steps(page)):
        page.click("#pg-step")
        painted(page)
        assert boxes() == before


def test_typing_an_expression_draws_its_gates(browser, live_server):
    page = open_playground(browser, live_server)
    page.fill("#pg-expr", "tanh(x*w + b) * x")  # x, w, b keep the values they had
    answered(page, "tanh(x*w + b) * x")
    assert page.evaluate(f"{STORE}.answer.graph.nodes.map((n) => n.id)") == ["x", "w", "g1", "b", "g2", "g3", "L"]
    assert page.evaluate(f"[...document.querySelectorAll('#pg-values input')].map((i) => i.name)") == ["x", "w", "b"]
    page.fill("#pg-values input[name=w]", "-2")
    page.wait_for_function(f"{STORE}.answer.values.w === -2 && !{STORE}.dirty")
    assert "values=x%3A1.5%2Cw%3A-2%2Cb%3A-0.3" in page.url


def test_a_value_used_twice_shows_its_gradients_summed(browser, live_server):
    page = open_playground(browser, live_server)
    page.click("text=a value used twice")
    answered(page, "a*b + a")
    page.click("#pg-end")
    painted(page)
    text = page.text_content("#explain")
    assert "a feeds 2 gates" in text
    assert "dL/da = ∂g1/∂a·dL/dg1 + ∂L/∂a·dL/dL = (−3)·1 + 1·1 = −2" in text and "2 contributions add" in text


def test_a_parse_error_points_at_its_column(browser, live_server):
    page = open_playground(browser, live_server)
    page.fill("#pg-expr", "relu(x*w + )")
    page.wait_for_function(f"{STORE}.refusal && !{STORE}.dirty")
    assert "column 12" in page.text_content("#pg-error") and "expected a number" in page.text_content("#pg-error")
    assert page.text_content("#pg-caret") == " " * 11 + "^"
    assert page.get_attribute("#pg-expr", "aria-invalid") == "true"
    # the caret sits under the column it names: the same font as the field, so ")" is above it
    page.fill("#pg-expr", "relu(x*w + b)")
    answered(page, "relu(x*w + b)")
    assert page.text_content("#pg-caret") == "" and page.is_hidden("#pg-error")


def test_the_link_reproduces_the_expression_and_values(browser, live_server):
    page = open_playground(browser, live_server)
    page.fill("#pg-expr", "sin(a) / b")
    page.wait_for_function(f"{STORE}.refusal && !{STORE}.dirty")  # a and b have no values yet
    assert page.evaluate(f"[...document.querySelectorAll('#pg-values input')].map((i) => i.name)") == ["a", "b"]
    page.fill("#pg-values input[name=a]", "0.5")
    page.fill("#pg-values input[name=b]", "2")  # b had the preset's value until now
    page.wait_for_function(f"{STORE}.answer.expression === 'sin(a) / b' && {STORE}.answer.values.b === 2 && !{STORE}.dirty")
    value = page.evaluate(f"{STORE}.answer.value")
    again = new_page(browser, live_server)
    again.goto(page.url)
    answered(again, "sin(a) / b")
    assert again.input_value("#pg-expr") == "sin(a) / b"
    assert again.input_value("#pg-values input[name=a]") == "0.5" and again.input_value("#pg-values input[name=b]") == "2"
    assert again.evaluate(f"{STORE}.answer.value") == value


@pytest.mark.parametrize("query, words", [
    ("?expr=x&values=x:oops", "values, column 3: x must be a finite number"),
    ("?expr=x&step=4", "step: is not a parameter here"),
    ("?values=x:1", "expr: is missing"),
    ("?expr=" + urllib.parse.quote("x +* 2") + "&values=x:1", "column 4"),
    ("?expr=" + urllib.parse.quote("log(x)") + "&values=x:0", "Not a number: gate L (log) comes to −∞"),
])
def test_a_bad_link_is_explained_on_the_page(browser, live_server, query, words):
    page = open_playground(browser, live_server, query)
    shown = page.text_content("#pg-error") + page.text_content("#pg-problem")
    assert words in shown
    assert page.errors == [] or all("422" in e for e in page.errors)  # the refused request is the browser's only note


def test_the_code_menu_links_the_three_scripts(browser, live_server):
    page = open_playground(browser, live_server)
    page.click("#pg-code summary")
    hrefs = page.eval_on_selector_all("#pg-code a[data-format]", "(links) => links.map((a) => a.getAttribute('href'))")
    assert [urllib.parse.parse_qs(urllib.parse.urlsplit(h).query)["format"][0] for h in hrefs] == ["numpy", "pytorch", "jax"]
    with page.expect_download() as download:
        page.click("#pg-code a[data-format=numpy]")
    assert download.value.suggested_filename == "backprop-lab-expression-numpy.py"


def test_the_main_page_and_the_playground_link_to_each_other(browser, live_server):
    page = open_playground(browser, live_server)
    page.click("text=← Backprop Lab: the network")
    page.wait_for_function("window.__backprop && window.__backprop.state")
    page.click("a.playground-link")
    painted(page)
    assert page.url.startswith(f"{live_server}/playground")


@pytest.mark.parametrize("size", list(SIZES))
def test_the_playground_at_each_size(browser, live_server, size):
    page = open_playground(browser, live_server, size=size)
    for _ in range(steps(page) // 2 + 2):
        page.click("#pg-step")
    painted(page)
    # everything a learner needs is on the page and none of it is wider than the screen
    width = SIZES[size][0]
    for selector in ("#pg-expr", "#pg-step", "#pg-canvas", "#explain", "#pg-code summary"):
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, selector
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"playground-{size}")
    assert page.errors == []
