"""The page as a learner uses it."""

from __future__ import annotations

import json

import pytest

from .conftest import new_page, screenshot

STORE = "window.__backprop"


def boundary_pixels(page) -> list[int]:
    return page.evaluate("""() => {
        const c = document.getElementById('boundary');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const out = [];
        for (let i = 0; i < d.length; i += 4 * 97) out.push(d[i], d[i + 1], d[i + 2]);
        return out;
    }""")


def test_page_loads_without_console_errors(app_page):
    assert app_page.evaluate(f"{STORE}.role") == "control"
    assert app_page.locator("#connection").inner_text() == "live · control"
    screenshot(app_page, "loaded-1280x800")
    app_page.set_viewport_size({"width": 1920, "height": 1080})
    app_page.wait_for_timeout(100)
    screenshot(app_page, "loaded-1920x1080")
    assert app_page.console_errors == []


def test_play_changes_the_boundary_and_lowers_the_loss(app_page):
    before_pixels = boundary_pixels(app_page)
    before_loss = app_page.evaluate(f"{STORE}.state.loss")
    app_page.get_by_role("button", name="Play").click()
    app_page.wait_for_function(f"{STORE}.state.iteration > 400", timeout=15000)
    app_page.get_by_role("button", name="Pause").click()
    app_page.wait_for_function(f"!{STORE}.state.playing")
    app_page.wait_for_function(f"{STORE}.drawnSeq === {STORE}.state.seq")
    assert app_page.evaluate(f"{STORE}.state.loss") < before_loss
    assert boundary_pixels(app_page) != before_pixels
    assert float(app_page.locator("#loss").inner_text()) < before_loss
    screenshot(app_page, "after-play")


def test_step_advances_the_counters(app_page):
    app_page.locator("#step-unit").select_option("iteration")
    app_page.get_by_role("button", name="Step").click()
    app_page.wait_for_function("document.getElementById('iteration').textContent === '1'")
    app_page.locator("#step-unit").select_option("op")
    app_page.get_by_role("button", name="Step").click()
    app_page.wait_for_function("document.getElementById('phase').textContent === 'forward'")
    app_page.keyboard.press("ArrowRight")
    app_page.wait_for_function(f"{STORE}.state.cursor === 'h1_1'")
    screenshot(app_page, "stepping")


def test_adding_a_layer_reaches_the_server(app_page):
    neurons = app_page.evaluate(f"{STORE}.graph.nodes.filter(n => n.kind === 'neuron').length")
    app_page.get_by_role("button", name="Add a hidden layer").click()
    app_page.wait_for_function(f"{STORE}.graph.nodes.filter(n => n.kind === 'neuron').length === {neurons + 4}")
    app_page.get_by_role("button", name="More neurons in layer 1").click()
    app_page.wait_for_function(f"{STORE}.config.hidden[0] === 5")
    assert app_page.locator("#layer-count").inner_text() == "3"


def test_a_refused_value_shows_its_error_next_to_the_control(app_page):
    field = app_page.get_by_label("Learning rate")
    field.fill("50")
    field.dispatch_event("change")
    error = app_page.locator("#control-error")
    error.wait_for(state="visible")
    assert "lr" in error.inner_text() and "between 0.0 and 10.0" in error.inner_text()
    assert app_page.evaluate(f"{STORE}.config.lr") == 0.03


def test_a_copied_link_reproduces_config_and_seeds(app_page, browser, live_server):
    app_page.get_by_label("Dataset").select_option("spiral")
    app_page.wait_for_function(f"{STORE}.config.dataset.name === 'spiral'")
    app_page.get_by_role("button", name="Re-randomize weights").click()
    app_page.wait_for_function(f"{STORE}.config.weight_seed !== 0")
    config = app_page.evaluate(f"{STORE}.config")
    params = app_page.evaluate(f"{STORE}.state.params")
    link = live_server + "/#" + app_page.evaluate("location.hash.slice(1)")
    other = new_page(browser, live_server)
    other.goto(link)
    other.wait_for_function(f"{STORE}.config && {STORE}.config.weight_seed === {config['weight_seed']}")
    other.wait_for_function(f"{STORE}.state && {STORE}.state.iteration === 0 && {STORE}.config.dataset.name === 'spiral'")
    assert other.evaluate(f"{STORE}.config") == config
    assert json.dumps(other.evaluate(f"{STORE}.state.params")) == json.dumps(params)
    other.close()


def test_re_randomize_changes_weights_and_the_shown_seed(app_page):
    before = app_page.evaluate(f"{STORE}.state.params.W1")
    app_page.keyboard.press("r")
    app_page.wait_for_function(f"{STORE}.config.weight_seed !== 0")
    seed = app_page.evaluate(f"{STORE}.config.weight_seed")
    assert app_page.get_by_label("Weight seed").input_value() == str(seed)
    assert app_page.evaluate(f"{STORE}.state.params.W1") != before


def test_hover_shows_live_numbers(app_page):
    app_page.locator("#step-unit").select_option("pass")
    app_page.get_by_role("button", name="Step").click()
    app_page.wait_for_function(f"{STORE}.state.phase === 'forward' && {STORE}.drawnSeq === {STORE}.state.seq")
    box = app_page.evaluate("""() => {
        const r = document.getElementById('graph').getBoundingClientRect();
        return {x: r.left, y: r.top, w: r.width, h: r.height};
    }""")
    # find a hidden neuron's position through the same layout the page uses
    found = False
    for fx in [i / 40 for i in range(4, 36)]:
        for fy in [i / 20 for i in range(2, 18)]:
            app_page.mouse.move(box["x"] + fx * box["w"], box["y"] + fy * box["h"])
            text = app_page.locator("#tooltip").inner_text() if app_page.locator("#tooltip").is_visible() else ""
            if "(neuron)" in text:
                found = True
                break
        if found:
            break
    assert found, "no neuron answered the pointer"
    assert "z      = " in text and "—" not in text.split("dL/dz")[0]
    screenshot(app_page, "hover")


def test_clicking_the_plot_adds_a_custom_point(app_page):
    before = app_page.evaluate(f"{STORE}.dataset.train.length + {STORE}.dataset.test.length")
    app_page.get_by_label("Add points").check()  # adding is a mode of its own: a plain click follows an example
    app_page.locator("#boundary").click(position={"x": 20, "y": 20})
    app_page.wait_for_function(f"{STORE}.config.dataset.name === 'custom'")
    points = app_page.evaluate(f"{STORE}.config.dataset.points")
    assert len(points) == before + 1
    x1, x2, label = points[-1]
    assert x1 < -5 and x2 > 5 and label == 0
    app_page.locator("#boundary").click(position={"x": 20, "y": 20}, button="right")
    app_page.wait_for_function(f"{STORE}.config.dataset.points.length === {before}")


def test_a_bad_csv_row_is_named(app_page):
    csv = b"x1,x2,label\n1,2,0\n3,abc,1\n"
    app_page.locator("#csv-upload").set_input_files(files=[{"name": "points.csv", "mimeType": "text/csv", "buffer": csv}])
    error = app_page.locator("#csv-error")
    error.wait_for(state="visible")
    assert "row 3" in error.inner_text() and "x2" in error.inner_text() and "abc" in error.inner_text()
    assert app_page.evaluate(f"{STORE}.config.dataset.name") == "xor", "nothing was sent"
    good = b"x1,x2,label\n1,2,0\n-3,4,1\n2,-2,2\n"
    app_page.locator("#csv-upload").set_input_files(files=[{"name": "good.csv", "mimeType": "text/csv", "buffer": good}])
    app_page.wait_for_function(f"{STORE}.config.dataset.name === 'custom' && {STORE}.config.dataset.classes === 3")
    assert app_page.evaluate(f"{STORE}.config.dataset.points") == [[1, 2, 0], [-3, 4, 1], [2, -2, 2]]
    screenshot(app_page, "custom-data")


def test_the_class_picker_follows_the_number_of_classes(app_page):
    assert app_page.locator("#point-class option").all_inner_texts() == ["0", "1"]
    app_page.get_by_label("Dataset").select_option("gauss")
    app_page.wait_for_function(f"{STORE}.config.dataset.name === 'gauss'")
    app_page.get_by_label("Loss", exact=True).select_option("cross_entropy")  # bce has one output: two classes only
    app_page.wait_for_function(f"{STORE}.config.loss === 'cross_entropy'")
    classes = app_page.get_by_label("Classes")
    classes.fill("4")
    classes.dispatch_event("change")
    app_page.wait_for_function("document.querySelectorAll('#point-class option').length === 4")
    app_page.get_by_label("Add points").check()
    app_page.locator("#point-class").select_option("3")
    app_page.locator("#boundary").click(position={"x": 20, "y": 20}, modifiers=["Shift"])
    app_page.wait_for_function(f"{STORE}.config.dataset.name === 'custom'")
    assert app_page.evaluate(f"{STORE}.config.dataset.points.at(-1)[2]") == 0  # shift: the next class round


def test_a_view_only_page_follows_the_run_and_cannot_drive_it(app_page, browser, live_server):
    session = app_page.evaluate("document.body.dataset.session")
    viewer = new_page(browser, live_server)
    viewer.set_viewport_size({"width": 1280, "height": 800})
    errors: list[str] = []
    viewer.on("pageerror", lambda e: errors.append(str(e)))
    viewer.goto(f"{live_server}/s/{session}")
    viewer.wait_for_function(f"{STORE}.role === 'view' && {STORE}.grid !== null")
    assert viewer.locator("#connection").inner_text() == "live · view only"
    assert "token" not in viewer.url
    for name in ("Play", "Step", "Re-randomize weights"):
        assert viewer.get_by_role("button", name=name).is_disabled()
    assert viewer.get_by_label("Learning rate").is_disabled()
    viewer.keyboard.press("ArrowRight")  # keys do nothing for a viewer
    app_page.locator("#step-unit").select_option("iteration")
    app_page.get_by_role("button", name="Step").click()
    viewer.wait_for_function("document.getElementById('iteration').textContent === '1'")
    assert viewer.evaluate(f"{STORE}.state.params") == app_page.evaluate(f"{STORE}.state.params")
    screenshot(viewer, "view-only")
    assert errors == []
    viewer.close()


def test_a_refused_csv_is_said_beside_the_plot_and_the_page_carries_on(app_page, tmp_path):
    # 3,000 rows pass the page's own checks but not the server's limit of 2,000 points
    rows = "x1,x2,label\n" + "".join(f"{(k % 100) / 20 - 2.5},{(k // 100) / 10 - 1.5},{k % 2}\n" for k in range(3000))
    path = tmp_path / "many.csv"
    path.write_text(rows)
    app_page.locator("#csv-upload").set_input_files(str(path))
    error = app_page.locator("#csv-error")
    error.wait_for(state="visible")
    assert "points" in error.inner_text() and "2000" in error.inner_text()
    assert app_page.evaluate("document.getElementById('control-error').closest('#controls') !== null")
    # later refusals still find their box: the page did not break on the first one
    field = app_page.get_by_label("Learning rate")
    field.fill("50")
    field.dispatch_event("change")
    app_page.locator("#control-error").wait_for(state="visible")
    assert "lr" in app_page.locator("#control-error").inner_text()
    assert app_page.console_errors == []


def test_a_csv_too_large_for_one_message_is_refused_by_the_page(app_page, tmp_path):
    rows = "x1,x2,label\n" + "".join(f"{1.23456789012345 + k * 1e-9},{-1.23456789012345},{k % 2}\n" for k in range(9000))
    path = tmp_path / "huge.csv"
    path.write_text(rows)
    app_page.locator("#csv-upload").set_input_files(str(path))
    error = app_page.locator("#csv-error")
    error.wait_for(state="visible")
    assert "KB" in error.inner_text() and "at most" in error.inner_text()
    app_page.get_by_role("button", name="Step").click()  # the socket is still open and driving
    app_page.wait_for_function(f"{STORE}.state.cursor !== null")
    assert app_page.locator("#connection").inner_text() == "live · control"


def inked_pixels(page, png: bytes, background: list[int]) -> list[list[bool]]:
    """Which pixels of a screenshot (rows of columns) are clearly not the `background` colour."""
    import base64

    return page.evaluate("""async ([b64, bg]) => {
        const image = new Image();
        image.src = 'data:image/png;base64,' + b64;
        await image.decode();
        const c = new OffscreenCanvas(image.width, image.height), g = c.getContext('2d');
        g.drawImage(image, 0, 0);
        const d = g.getImageData(0, 0, image.width, image.height).data, rows = [];
        for (let y = 0; y < image.height; y++) {
            const row = [];
            for (let x = 0; x < image.width; x++) {
                const i = 4 * (y * image.width + x);
                row.push(Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1]) + Math.abs(d[i + 2] - bg[2]) > 150);
            }
            rows.push(row);
        }
        return rows;
    }""", [base64.b64encode(png).decode(), background])


@pytest.mark.parametrize("forced_colors", ["none", "active"])
def test_the_play_button_draws_play_and_pause_whatever_the_fonts(app_page, forced_colors):
    """Drawn in CSS: ⏸ is missing from Debian's fonts, where the button showed an empty box; and
    in a high-contrast mode, which drops backgrounds (the glyph's ink), it is still drawn."""
    app_page.emulate_media(forced_colors=forced_colors)
    button = app_page.locator("#play")
    glyph = button.locator(".glyph")
    box = glyph.bounding_box()
    assert box["width"] >= 8 and box["height"] >= 8
    assert button.inner_text().strip() == ""  # no character to fall back to an empty box
    background = app_page.evaluate("""() => getComputedStyle(document.querySelector('#play')).backgroundColor
        .match(/[0-9.]+/g).slice(0, 3).map(Number)""")

    def shape() -> list[list[bool]]:
        app_page.mouse.move(0, 0)
        return inked_pixels(app_page, glyph.screenshot(animations="disabled"), background)

    def centre_column(rows):
        return [row[len(row) // 2] for row in rows]

    play = shape()  # a triangle: lit down the left edge and across the middle row, dark at the right corners
    middle = play[len(play) // 2]
    assert all(row[0] for row in play[2:-2]) and all(middle[: len(middle) * 3 // 4])
    assert not play[0][-1] and not play[-1][-1]
    button.click()
    # the page repaints on its next animation frame after the state: wait for the button itself
    app_page.wait_for_function("document.querySelector('#play').classList.contains('playing')")
    assert button.get_attribute("aria-label") == "Pause"
    pause = shape()  # two bars: lit near both edges all the way down (the outermost pixels are
    assert all(row[1] and row[-3] for row in pause[1:-1])  # partly covered), a dark gap between them
    assert not any(centre_column(pause))
    button.click()
    app_page.wait_for_function("!document.querySelector('#play').classList.contains('playing')")
    assert button.get_attribute("aria-label") == "Play"
    assert any(centre_column(shape()))  # the triangle again
