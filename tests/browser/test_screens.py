"""Every screen carries the lesson: phones to projectors, steady while stepping, labels that never
collide, a first step that teaches, and a page a screen reader and a keyboard can use."""

from __future__ import annotations

import json
import urllib.request
import urllib.parse

import pytest

from .conftest import new_page, screenshot

STORE = "window.__backprop"
VIEW = "window.__backpropView"
SIZES = {"phone": (390, 844, True), "tablet": (768, 1024, False), "laptop": (1280, 800, False), "projector": (1920, 1080, False)}
LARGEST = {"hidden": [16] * 6, "features": ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"],
           "loss": "cross_entropy", "dataset": {"name": "gauss", "classes": 5}}


def open_app(browser, live_server, size="laptop", path="/", config=None, guide_seen=True):
    width, height, touch = SIZES[size]
    options = {"viewport": {"width": width, "height": height}, "has_touch": touch, "is_mobile": touch}
    if guide_seen:
        page = new_page(browser, live_server, **options)
    else:
        page = browser.new_context(bypass_csp=True, **options).new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    url = live_server + path + ("#config=" + urllib.parse.quote(json.dumps(config)) if config else "")
    page.goto(url)
    page.wait_for_function(f"{STORE}.grid && {STORE}.state && {STORE}.config && {STORE}.drawnSeq === {STORE}.state.seq")
    return page


def settled(page):
    page.wait_for_function(f"{STORE}.drawnSeq === {STORE}.state.seq && {STORE}.grid.seq === {STORE}.state.seq")
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def step_ops(page, count):
    seq = page.evaluate(f"{STORE}.state.seq")
    for _ in range(count):
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"{STORE}.state.seq > {seq}")
        seq = page.evaluate(f"{STORE}.state.seq")
    settled(page)


def rect(page, selector):
    return page.evaluate(f"""() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();
        return {{x: r.x, y: r.y, w: r.width, h: r.height}}; }}""")


def overlap(a, b):
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def assert_no_overlaps(labels, what):
    boxes = [label["box"] for label in labels]
    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            assert not overlap(a, boxes[j]), f"{what}: labels {labels[i]} and {labels[j]} overlap"


@pytest.mark.parametrize("size", list(SIZES))
def test_every_screen_fits_without_sideways_scrolling(browser, live_server, size):
    page = open_app(browser, live_server, size)
    width = SIZES[size][0]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the page scrolls sideways"
    graph = rect(page, "#graph")
    assert graph["w"] >= (0.9 * width if size == "phone" else 0.4 * width), f"the network is {graph['w']} px wide"
    assert graph["h"] >= 280, f"the network is {graph['h']} px tall"
    for selector in ("#graph", "#inspector", "#boundary"):
        assert page.locator(selector).is_visible(), f"{selector} is not shown"
    if size in ("laptop", "projector"):
        for chart in ("#chart", "#grad-chart"):
            assert rect(page, chart)["h"] >= 120, f"{chart} is a strip"
        children = page.evaluate("""() => [...document.querySelector('.topbar').children]
            .filter((el) => el.offsetParent !== null).map((el) => el.getBoundingClientRect())
            .map((r) => [r.top, r.bottom])""")
        top = min(c[0] for c in children)
        assert all(c[0] < top + 30 for c in children), f"the header wraps: {children}"
    screenshot(page, f"screen-{size}-start")
    assert page.errors == []


def test_a_phone_has_touch_targets_a_drawer_and_taps(browser, live_server):
    page = open_app(browser, live_server, "phone")
    small = page.evaluate("""() => [...document.querySelectorAll('header button, header select, header summary, .panel-head button, .panel-head label, .inspector-head button, .custom-data label, .custom-data button')]
        .filter((el) => el.offsetParent !== null)
        .map((el) => [el.id || el.textContent.trim().slice(0, 20), el.getBoundingClientRect().height, el.getBoundingClientRect().width])
        .filter(([, h, w]) => h < 44 || w < 44)""")
    assert small == [], f"touch targets under 44 px: {small}"
    # the settings are in a drawer, out of the way until asked for
    assert not page.get_by_label("Dataset").is_visible()
    page.get_by_role("button", name="Settings", exact=True).tap()
    page.get_by_label("Dataset").wait_for(state="visible")
    page.wait_for_function("document.getElementById('controls').getBoundingClientRect().left >= -1")  # slid in
    page.get_by_role("button", name="Close the settings").tap()
    page.get_by_label("Dataset").wait_for(state="hidden")
    # a tap on a node pins it: the inspector explains that node
    spot = page.evaluate(f"{VIEW}.locate('h1_0')")
    page.touchscreen.tap(spot["x"], spot["y"])
    page.wait_for_function(f"{STORE}.pinned === 'h1_0' && {STORE}.explained && {STORE}.explained.node === 'h1_0'")
    # the inspector shows it on the next painted frame
    page.wait_for_function("document.getElementById('inspector-title').textContent.includes('h1.1')")
    screenshot(page, "screen-phone-pinned")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_phone_viewer_sees_network_cursor_inspector_and_boundary(browser, live_server):
    created = json.loads(urllib.request.urlopen(urllib.request.Request(
        live_server + "/api/sessions", data=b"{}", method="POST", headers={"content-type": "application/json"})).read())
    presenter = open_app(browser, live_server, "laptop", f"/s/{created['id']}?token={created['token']}")
    viewer = open_app(browser, live_server, "phone", f"/s/{created['id']}")
    step_ops(presenter, 3)
    viewer.wait_for_function(f"{STORE}.state.cursor === {json.dumps(presenter.evaluate(f'{STORE}.state.cursor'))}")
    settled(viewer)
    assert viewer.evaluate("document.documentElement.scrollWidth") <= 390
    assert rect(viewer, "#graph")["w"] >= 351
    for selector in ("#graph", "#inspector", "#boundary", "#fork"):
        viewer.locator(selector).scroll_into_view_if_needed()
        assert viewer.locator(selector).is_visible()
    assert viewer.locator("#explain").inner_text().strip() != ""
    screenshot(viewer, "screen-phone-viewer")


def test_stepping_never_moves_the_graph_or_the_inspector(browser, live_server):
    page = open_app(browser, live_server, "laptop")
    before = [rect(page, "#graph"), rect(page, "#inspector"), page.evaluate(f"{VIEW}.locate('in0')"),
              page.evaluate(f"{VIEW}.locate('h2_3')")]
    for k in range(20):
        step_ops(page, 1)
        after = [rect(page, "#graph"), rect(page, "#inspector"), page.evaluate(f"{VIEW}.locate('in0')"),
                 page.evaluate(f"{VIEW}.locate('h2_3')")]
        assert after == before, f"op {k + 1} moved something: {before} → {after}"
        if k == 9:
            screenshot(page, "screen-laptop-op10")


def test_labels_never_collide_in_the_largest_network(browser, live_server):
    for size in ("laptop", "projector", "phone"):
        page = open_app(browser, live_server, size, config=LARGEST)
        page.wait_for_function(f"{STORE}.graph.nodes.length === 7 + 96 + 5 + 1")
        step_ops(page, 60)  # forward into the third hidden layer
        labels = page.evaluate(f"{VIEW}.labels()")
        cursor = page.evaluate(f"{STORE}.state.cursor")
        assert_no_overlaps(labels, size)
        kept = {(label["owner"], label["kind"]) for label in labels}
        assert (cursor, "value") in kept, f"{size}: the cursor's value must always be shown"
        for name in ("in0", "in6", "out0", "out4", "loss"):
            assert (name, "name") in kept, f"{name}'s name is missing"
        boxes = page.evaluate(f"{VIEW}.nodeBoxes()")
        for label in labels:
            for box in boxes:
                if box["id"] != label["owner"]:
                    assert not overlap(label["box"], box), f"{label} covers node {box['id']}"
        screenshot(page, f"screen-{size}-largest")
        page.context.close()


def test_gate_view_labels_do_not_collide_at_the_default_network(browser, live_server):
    page = open_app(browser, live_server, "laptop")
    page.get_by_label("Gate view").check()
    page.wait_for_function(f"{STORE}.graph.view === 'gate' && {STORE}.state.view === 'gate'")
    step_ops(page, 12)
    labels = [{"box": {k: label[k] for k in ("x", "y", "w", "h")}, **label} for label in page.evaluate(f"{VIEW}.labels()")]
    assert len(labels) >= 10
    assert_no_overlaps(labels, "gate view")
    assert_outlines_hold_their_labels(page, labels)
    screenshot(page, "screen-laptop-gates")


def assert_outlines_hold_their_labels(page, labels):
    """`outline(id)` (what the guide rings) holds the node and every label drawn for it; the gate
    view's labels are flat boxes, the neuron view's keep theirs in `box`."""
    centres = {}  # a node's centre on the canvas and on the page give the canvas → page mapping
    for box in page.evaluate(f"{VIEW}.nodeBoxes()"):
        spot = page.evaluate(f"{VIEW}.locate({json.dumps(box['id'])})")
        centres[box["id"]] = ((box["x"] + box["w"] / 2, box["y"] + box["h"] / 2), (spot["x"], spot["y"]))
    (a, a_page), (b, b_page) = min(centres.values()), max(centres.values())
    k = (b_page[0] - a_page[0]) / (b[0] - a[0])
    tx, ty = a_page[0] - a[0] * k, a_page[1] - a[1] * k
    owners = {label["owner"] for label in labels if label["owner"] in centres}
    assert owners, "some node has labels"
    for owner in owners:
        outline = page.evaluate(f"{VIEW}.outline({json.dumps(owner)})")
        for label in (item for item in labels if item["owner"] == owner):
            left, top = label["x"] * k + tx, label["y"] * k + ty
            assert outline["left"] <= left + 0.5 and left + label["w"] * k <= outline["right"] + 0.5, (owner, label)
            assert outline["top"] <= top + 0.5 and top + label["h"] * k <= outline["bottom"] + 0.5, (owner, label)


def test_the_first_step_computes_one_op_and_backward_shows_gradients(browser, live_server):
    page = open_app(browser, live_server, "laptop")
    assert page.locator("#step-unit").input_value() == "op"
    page.get_by_role("button", name="Step").click()
    page.wait_for_function(f"{STORE}.state.phase === 'forward'")
    settled(page)
    assert page.evaluate(f"[{STORE}.state.iteration, {STORE}.state.cursor]") == [0, "h1_0"]
    assert "values" in page.locator("#legend-words").inner_text()
    forward_ops = page.evaluate(f"{STORE}.graph.nodes.filter(n => n.kind !== 'input').length")
    step_ops(page, forward_ops + 1)
    assert page.evaluate(f"{STORE}.state.phase") == "backward"
    assert "gradients" in page.locator("#legend-words").inner_text()
    cursor = page.evaluate(f"{STORE}.state.cursor")
    grad = page.evaluate(f"{STORE}.state.nodes[{json.dumps(cursor)}].grad_z")
    assert grad is not None
    assert page.evaluate(f"{VIEW}.valueText({json.dumps(cursor)})") == page.evaluate(
        f"import('/static/js/format.js').then((f) => f.short({grad}))")
    screenshot(page, "screen-laptop-backward")
    # a colouring the learner chose holds through the backward pass
    page.get_by_label("Colour by values").check()
    step_ops(page, 1)
    assert "values" in page.locator("#legend-words").inner_text()
    cursor = page.evaluate(f"{STORE}.state.cursor")
    value = page.evaluate(f"{STORE}.state.nodes[{json.dumps(cursor)}].a")
    assert page.evaluate(f"{VIEW}.valueText({json.dumps(cursor)})") == page.evaluate(
        f"import('/static/js/format.js').then((f) => f.short({value}))")


def test_arrows_step_wherever_the_focus_is(browser, live_server):
    page = open_app(browser, live_server, "laptop")
    page.get_by_label("Activation").select_option("relu")
    page.wait_for_function(f"{STORE}.config.activation === 'relu'")
    page.get_by_label("Activation").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"{STORE}.state.cursor === 'h1_0'")
    assert page.get_by_label("Activation").input_value() == "relu", "the arrow changed the dropdown"
    page.get_by_label("Step unit").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"{STORE}.state.cursor === 'h1_1'")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"{STORE}.state.cursor === 'h1_0'")
    assert page.get_by_label("Step unit").input_value() == "op"


def test_a_tap_on_a_training_point_follows_that_example(browser, live_server):
    page = open_app(browser, live_server, "phone")
    page.locator("#boundary").scroll_into_view_if_needed()
    target = page.evaluate(f"""() => {{
        const c = document.getElementById('boundary').getBoundingClientRect();
        const e = {STORE}.grid.extent, train = {STORE}.dataset.train;
        // a point far from its neighbours, so the tap can only mean it
        let best = -1, room = 0;
        train.forEach((p, i) => {{
            const d = Math.min(...train.map((q, j) => j === i ? 1e9 : Math.hypot(p[0] - q[0], p[1] - q[1])));
            if (d > room && i !== {STORE}.state.example) {{ room = d; best = i; }}
        }});
        const p = train[best];
        return {{index: best, x: c.left + (p[0] + e) / (2 * e) * c.width, y: c.top + (e - p[1]) / (2 * e) * c.height}};
    }}""")
    points = page.evaluate(f"{STORE}.dataset.train.length")
    page.touchscreen.tap(target["x"], target["y"])
    page.wait_for_function(f"{STORE}.state.example === {target['index']}")
    settled(page)
    assert page.evaluate(f"{STORE}.dataset.train.length") == points, "a tap must not add a point"
    assert page.evaluate(f"{STORE}.config.dataset.name") == "xor"
    assert f"example {target['index']}" in page.locator("#follow").inner_text()


def test_the_guide_points_at_real_nodes_and_is_remembered(browser, live_server):
    page = open_app(browser, live_server, "laptop", guide_seen=False)
    page.locator("#guide").wait_for(state="visible")
    spot = page.evaluate(f"{VIEW}.locate('in0')")
    ring = rect(page, "#guide-ring")
    assert ring["x"] <= spot["x"] <= ring["x"] + ring["w"] and ring["y"] <= spot["y"] <= ring["y"] + ring["h"]
    # the ring goes round the input's name (drawn to its left; its value too, once there is one), not over it
    outline = page.evaluate(f"{VIEW}.outline('in0')")
    assert outline["left"] < spot["x"] - spot["half"] - 5
    assert ring["x"] + 4 <= outline["left"] and outline["right"] <= ring["x"] + ring["w"] - 4  # inside its 4 px border
    assert ring["y"] + 4 <= outline["top"] and outline["bottom"] <= ring["y"] + ring["h"] - 4
    assert "x1" in page.locator("#guide-text").inner_text()
    screenshot(page, "screen-laptop-guide")
    texts = []
    for _ in range(5):
        texts.append(page.locator("#guide-title").inner_text())
        page.locator("#guide-next").click()
    assert page.locator("#guide").is_hidden()
    joined = " ".join(texts)
    for word in ("x", "z", "a", "L", "Step"):
        assert word in joined
    page.reload()
    page.wait_for_function(f"{STORE}.state && {STORE}.graph")
    page.wait_for_timeout(300)
    assert page.locator("#guide").is_hidden(), "the guide came back after it was finished"
    page.get_by_role("button", name="Guide").click()
    page.locator("#guide").wait_for(state="visible")
    page.get_by_role("button", name="Skip the tour").click()
    assert page.locator("#guide").is_hidden()


def test_stepping_is_announced_and_panels_can_be_hidden_on_any_page(browser, live_server):
    page = open_app(browser, live_server, "laptop")
    step_ops(page, 1)
    announced = page.locator("#announce").inner_text()
    assert "h1.1" in announced and "=" in announced
    assert page.locator("#announce").get_attribute("aria-live") == "polite"
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('button, select, input')]
        .filter((el) => el.offsetParent !== null)
        .filter((el) => !(el.getAttribute('aria-label') || el.labels?.length || el.textContent.trim()))
        .map((el) => el.outerHTML.slice(0, 80))""")
    assert unlabelled == []
    page.locator("#panels-menu summary").click()
    page.get_by_label("Show inspector").uncheck()
    page.wait_for_function(f"{STORE}.presentation.hidden.includes('inspector')")
    assert page.locator("#inspector").is_hidden()


def test_a_fork_shows_the_inspector_the_presenter_hid(browser, live_server):
    created = json.loads(urllib.request.urlopen(urllib.request.Request(
        live_server + "/api/sessions", data=b"{}", method="POST", headers={"content-type": "application/json"})).read())
    presenter = open_app(browser, live_server, "projector", f"/present/{created['id']}?token={created['token']}&hide=inspector")
    presenter.wait_for_function(f"{STORE}.presentation.hidden.includes('inspector')")
    viewer = open_app(browser, live_server, "phone", f"/s/{created['id']}")
    viewer.wait_for_function(f"{STORE}.presentation.hidden.includes('inspector')")
    assert viewer.locator("#inspector").is_hidden()
    viewer.get_by_role("button", name="Make my own copy").tap()
    viewer.wait_for_url(lambda url: created["id"] not in url)
    viewer.wait_for_function(f"{STORE}.role === 'control' && {STORE}.presentation")
    assert viewer.locator("#inspector").is_visible()


def test_the_graph_zooms_pans_and_pinches_and_fits_again(browser, live_server):
    page = open_app(browser, live_server, "laptop")
    start = page.evaluate(f"{VIEW}.locate('h1_0')")
    box = rect(page, "#graph")
    page.mouse.move(box["x"] + box["w"] / 2, box["y"] + box["h"] / 2)
    page.mouse.wheel(0, -400)
    page.wait_for_function(f"{VIEW}.locate('h1_0').half > {start['half'] * 1.3}")
    before_drag = page.evaluate(f"{VIEW}.locate('h1_0')")
    page.mouse.down()
    page.mouse.move(box["x"] + box["w"] / 2 + 80, box["y"] + box["h"] / 2 + 30, steps=5)
    page.mouse.up()
    moved = page.evaluate(f"{VIEW}.locate('h1_0')")
    zoomed = moved["half"]
    assert abs(moved["x"] - before_drag["x"] - 80) < 2 and abs(moved["y"] - before_drag["y"] - 30) < 2
    assert page.evaluate(f"{STORE}.pinned") is None, "a drag is not a tap"
    page.get_by_role("button", name="Fit the graph").click()
    page.wait_for_function(f"{VIEW}.locate('h1_0').half === {start['half']}")
    assert page.evaluate(f"{VIEW}.locate('h1_0')") == start
    # two fingers apart zoom in about their midpoint (touch pointers, as a phone sends them)
    page.evaluate("""([x, y]) => {
        const c = document.getElementById('graph');
        const fire = (type, id, px) => c.dispatchEvent(new PointerEvent(type, {pointerId: id, pointerType: 'touch',
            clientX: px, clientY: y, bubbles: true, isPrimary: id === 1}));
        fire('pointerdown', 1, x - 20); fire('pointerdown', 2, x + 20);
        for (let k = 1; k <= 5; k++) { fire('pointermove', 1, x - 20 - 12 * k); fire('pointermove', 2, x + 20 + 12 * k); }
        fire('pointerup', 1, x - 80); fire('pointerup', 2, x + 80);
    }""", [box["x"] + box["w"] / 2, box["y"] + box["h"] / 2])
    pinched = page.evaluate(f"{VIEW}.locate('h1_0')")
    assert pinched["half"] > start["half"] * 2.5 and zoomed > start["half"]
    assert page.evaluate(f"{STORE}.pinned") is None, "a pinch is not a tap"


def test_keyboard_focus_is_always_visible(browser, live_server):
    page = open_app(browser, live_server, "laptop")
    page.locator("body").focus()
    seen = []
    for _ in range(12):  # the first stops of the tab order: the header's controls
        page.keyboard.press("Tab")
        seen.append(page.evaluate("""() => { const el = document.activeElement, s = getComputedStyle(el);
            return [el.id || el.tagName, s.outlineStyle, parseFloat(s.outlineWidth)]; }"""))
    hidden = [entry for entry in seen if entry[1] == "none" or entry[2] < 2]
    assert hidden == [], f"focus not visible on {hidden}"
