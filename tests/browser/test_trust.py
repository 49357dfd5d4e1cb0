"""Diagnoses a teacher can trust and data that behaves: a verify never outlives the point it
checked, more classes take bce to cross_entropy out loud, custom data starts from a choice, and
large numbers are written 10ⁿ so they never run into a word."""

from __future__ import annotations

from .conftest import screenshot

STORE = "window.__backprop"


def step_op(page):
    seq = page.evaluate(f"{STORE}.state.seq")
    page.get_by_role("button", name="Step").click()
    page.wait_for_function(f"{STORE}.state.seq > {seq} && {STORE}.drawnSeq === {STORE}.state.seq")


def verify(page):
    page.get_by_role("button", name="Verify gradients").click()
    result = page.locator("#verify-result")
    result.wait_for(state="visible")
    return result


def test_a_verify_is_cleared_by_any_change_to_the_run(app_page):
    page = app_page
    result = verify(page)
    assert "Backprop agrees" in result.inner_text()
    # answered for the point on screen, it stays: a few frames later it is still there
    page.wait_for_timeout(300)
    assert result.is_visible()
    step_op(page)  # the cursor moved: the check was of a point the page has left
    assert result.is_hidden() and page.evaluate(f"{STORE}.verify") is None
    verify(page)
    seed = page.evaluate(f"{STORE}.config.weight_seed")
    page.get_by_role("button", name="Re-randomize weights").click()
    page.wait_for_function(f"{STORE}.state.weight_seed !== {seed}")
    assert result.is_hidden()
    assert not page.console_errors


def test_more_classes_take_bce_to_cross_entropy_and_say_so(app_page):
    page = app_page
    page.get_by_label("Dataset").select_option("gauss")
    page.wait_for_function(f"{STORE}.config.dataset.name === 'gauss' && {STORE}.config.loss === 'bce'")
    classes = page.get_by_label("Classes")
    classes.fill("3")
    classes.dispatch_event("change")
    page.wait_for_function(f"{STORE}.config.dataset.classes === 3 && {STORE}.config.loss === 'cross_entropy'")
    note = page.locator("#classes-note")
    assert note.is_visible() and "moved to cross_entropy" in note.inner_text()
    assert page.locator("#control-error").is_hidden()
    screenshot(page, "trust-classes-note")
    # bce by hand while there are 3 classes: the generated data is made again with 2, and the note says so
    loss = page.get_by_label("Loss", exact=True)
    loss.select_option("bce")
    page.wait_for_function(f"{STORE}.config.loss === 'bce' && {STORE}.config.dataset.classes === 2")
    assert "moved to 2 classes" in note.inner_text()
    assert page.locator("#control-error").is_hidden()
    screenshot(page, "trust-bce-two-classes")
    # back to 3 classes (cross_entropy again), then a dataset of 2 classes only: chosen with 2, not refused
    classes.fill("3")
    classes.dispatch_event("change")
    page.wait_for_function(f"{STORE}.config.dataset.classes === 3 && {STORE}.config.loss === 'cross_entropy'")
    page.get_by_label("Dataset").select_option("xor")
    page.wait_for_function(f"{STORE}.config.dataset.name === 'xor' && {STORE}.config.dataset.classes === 2")
    assert "xor has 2 classes" in note.inner_text()
    assert page.evaluate(f"{STORE}.config.loss") == "cross_entropy"  # it works with 2 classes: it stays
    assert page.locator("#control-error").is_hidden()
    assert not page.console_errors


def plot_is_blank(page) -> bool:
    """No class colour anywhere on the boundary canvas: no points drawn."""
    return page.evaluate("""() => { const c = document.getElementById('boundary');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let k = 0; k < d.length; k += 4) {
          if (Math.abs(d[k] - 31) + Math.abs(d[k + 1] - 111) + Math.abs(d[k + 2] - 178) < 30) return false;
          if (Math.abs(d[k] - 232) + Math.abs(d[k + 1] - 135) + Math.abs(d[k + 2] - 30) < 30) return false;
        }
        return true; }""")


def test_choosing_custom_asks_where_the_points_come_from(app_page):
    page = app_page
    total = page.evaluate(f"{STORE}.config.dataset.n")
    size = page.get_by_label("Number of points")
    page.get_by_label("Dataset").select_option("custom")
    choice = page.locator("#custom-choice")
    choice.wait_for(state="visible")
    keep = page.get_by_role("button", name=f"from these {total} points")
    assert keep.is_visible()
    assert page.evaluate(f"{STORE}.config.dataset.name") == "xor", "nothing is sent before the choice"
    assert page.locator("#control-error").is_hidden()
    screenshot(page, "trust-custom-choice")
    keep.click()
    page.wait_for_function(f"{STORE}.config.dataset.name === 'custom'")
    assert page.evaluate(f"{STORE}.config.dataset.points.length") == total
    assert choice.is_hidden()
    assert size.input_value() == str(total) and size.is_disabled()
    # clear: no points on the plot, adding; the first click sends the set with just that point
    page.get_by_role("button", name="Clear points").click()
    page.wait_for_function(f"{STORE}.emptyCustom && {STORE}.adding")
    assert size.input_value() == "0" and plot_is_blank(page)
    screenshot(page, "trust-custom-cleared")
    page.locator("#boundary").click(position={"x": 30, "y": 30})
    page.wait_for_function(f"{STORE}.config.dataset.points.length === 1 && !{STORE}.emptyCustom")
    assert size.input_value() == "1"
    page.locator("#boundary").click(position={"x": 60, "y": 60})
    page.wait_for_function(f"{STORE}.config.dataset.points.length === 2")
    assert size.input_value() == "2"
    # leaving custom gives the field back
    page.get_by_label("Dataset").select_option("circle")
    page.wait_for_function(f"{STORE}.config.dataset.name === 'circle'")
    assert size.is_enabled()
    assert not page.console_errors


def test_custom_can_start_empty(app_page):
    page = app_page
    page.get_by_label("Dataset").select_option("custom")
    page.get_by_role("button", name="empty", exact=True).click()
    page.wait_for_function(f"{STORE}.emptyCustom && {STORE}.adding")
    assert plot_is_blank(page)
    assert page.evaluate(f"{STORE}.config.dataset.name") == "xor"
    assert page.get_by_label("Dataset").input_value() == "custom"
    # a change to something other than the data leaves the page waiting for its first point
    rate = page.get_by_label("Learning rate")
    rate.fill("0.05")
    rate.dispatch_event("change")
    page.wait_for_function(f"{STORE}.config.lr === 0.05")
    page.wait_for_timeout(100)
    assert page.evaluate(f"{STORE}.emptyCustom") and plot_is_blank(page)
    assert page.get_by_label("Dataset").input_value() == "custom"
    assert page.get_by_label("Number of points").input_value() == "0"
    page.locator("#boundary").click(position={"x": 40, "y": 40})
    page.wait_for_function(f"{STORE}.config.dataset.name === 'custom' && {STORE}.config.dataset.points.length === 1")
    assert page.get_by_label("Number of points").input_value() == "1"
    assert not page.console_errors


def test_numbers_far_from_one_are_written_with_powers_of_ten(app_page):
    page = app_page
    got = page.evaluate("""() => import('/static/js/format.js').then((f) =>
        [f.sci(-2.5e153), f.sci(0.000123), f.sci(12.345), f.sci(0), f.short(-2.5e153), f.decade(-4), f.tick(20000, 10000)])""")
    assert got == ["−2.5×10¹⁵³", "1.23×10⁻⁴", "12.3", "0", "−2.5×10¹⁵³", "10⁻⁴", "2×10⁴"]
    # a run that blows up: the legend's ends say 10ⁿ, and its name is dropped rather than overrun
    page.get_by_label("Preset").select_option("diverging-lr")
    page.wait_for_function(f"{STORE}.config.loss === 'mse' && {STORE}.state.iteration === 0")
    page.get_by_label("Step unit").select_option("epoch")
    for _ in range(3):
        seq = page.evaluate(f"{STORE}.state.seq")
        page.get_by_role("button", name="Step").click()
        page.wait_for_function(f"{STORE}.state.seq > {seq} && {STORE}.drawnSeq === {STORE}.state.seq")
    screenshot(page, "trust-legend-large")
    assert not page.console_errors
