"""Stepping through backprop in the page: the inspector, back, views, Try it yourself, Verify."""

from __future__ import annotations

from .conftest import screenshot

STORE = "window.__backprop"


def load_whiteboard(page):
    page.get_by_label("Preset").select_option("whiteboard")
    page.wait_for_function(f"{STORE}.config.loss === 'mse' && {STORE}.config.hidden.length === 1")
    page.wait_for_function(f"{STORE}.state.iteration === 0 && {STORE}.state.cursor === null")


def step_op(page, key="ArrowRight"):
    seq = page.evaluate(f"{STORE}.state.seq")
    page.keyboard.press(key)
    page.wait_for_function(f"{STORE}.state.seq > {seq} && {STORE}.drawnSeq === {STORE}.state.seq")


def fmt4(x: float) -> str:
    """How the server writes a number: 4 significant digits and a real minus sign."""
    return f"{x + 0.0:.4g}".replace("-", "−")


def test_one_whole_iteration_of_a_2_2_1_network_read_in_the_inspector(app_page):
    page = app_page
    load_whiteboard(page)
    inspector = page.locator("#inspector")
    expected = [("forward", "h1_0"), ("forward", "h1_1"), ("forward", "out0"), ("forward", "loss"),
                ("backward", "out0"), ("backward", "h1_1"), ("backward", "h1_0"),
                ("update", "h1_0"), ("update", "h1_1"), ("update", "out0")]
    for k, (phase, node) in enumerate(expected):
        step_op(page)
        state = page.evaluate(f"{STORE}.state")
        assert (state["phase"], state["cursor"]) == (phase, node)
        assert page.locator("#phase").inner_text() == phase
        text = inspector.inner_text()
        label = page.evaluate(f"{STORE}.graph.nodes.find(n => n.id === '{node}').label")
        assert text.startswith(label) and phase.split()[0] in text.splitlines()[0]
        values = state["nodes"][node]
        if phase == "forward" and node != "loss":
            assert f"z = " in text and fmt4(values["z"]) in text and fmt4(values["a"]) in text
        elif phase == "forward":
            assert "L = " in text and fmt4(values["z"]) in text
        elif phase == "backward":
            assert "dL/dz" in text and fmt4(values["grad_z"]) in text
        else:
            w = state["params"]["W1" if node.startswith("h") else "W2"]
            j = int(node[-1])
            assert "←" in text and fmt4(w[0][j]) in text
        # nodes the cursor has not reached yet are blank
        if phase == "forward" and node == "h1_0":
            assert state["nodes"]["out0"]["a"] is None and state["nodes"]["h1_1"]["a"] is None
        if k in (2, 5, 8):
            screenshot(page, f"stepthrough-{phase}")
    assert page.locator("#iteration").inner_text() == "1"
    params_after = page.evaluate(f"{STORE}.state.params")
    step_op(page, "ArrowLeft")  # back across the update
    state = page.evaluate(f"{STORE}.state")
    assert state["iteration"] == 0 and (state["phase"], state["cursor"]) == ("update", "h1_1")
    assert state["params"]["W2"] != params_after["W2"] and state["params"]["W1"] == params_after["W1"]
    page.get_by_role("button", name="Verify gradients").click()
    verdict = page.locator("#verify-result")
    verdict.wait_for(state="visible")
    assert "agrees with finite differences" in verdict.inner_text()
    assert page.console_errors == []


def test_the_gate_view_steps_gate_by_gate_and_explains_the_rule(app_page):
    page = app_page
    load_whiteboard(page)
    page.get_by_label("Gate view").check()
    page.wait_for_function(f"{STORE}.graph.view === 'gate' && {STORE}.state.view === 'gate'")
    step_op(page)
    state = page.evaluate(f"{STORE}.state")
    node = page.evaluate(f"{STORE}.graph.nodes.find(n => n.id === {STORE}.state.cursor)")
    assert node["kind"] == "gate" and node["op"] == "*"
    text = page.locator("#inspector").inner_text()
    assert f"gate {node['id']}" in text and fmt4(state["nodes"][node["id"]]["a"]) in text
    for _ in range(20):
        step_op(page)
    assert page.evaluate(f"{STORE}.state.phase") == "backward"
    assert "Backward through gate" in page.locator("#inspector").inner_text()
    screenshot(page, "gate-view-backward")
    gate_owner = page.evaluate(f"{STORE}.graph.nodes.find(n => n.id === {STORE}.state.cursor).of")
    page.get_by_label("Neuron view").check()
    page.wait_for_function(f"{STORE}.graph.view === 'neuron' && {STORE}.state.view === 'neuron'")
    # the place is kept, rounded down to whole units: the unit whose gates were being walked is not done yet
    state = page.evaluate(f"{STORE}.state")
    assert state["cursor"] != gate_owner and state["phase"] in ("forward", "backward")


def test_try_it_yourself_says_right_and_wrong_with_the_working(app_page):
    page = app_page
    load_whiteboard(page)
    page.get_by_label("Try it yourself").check()
    for _ in range(4):  # the forward pass, up to the loss
        step_op(page)
    page.keyboard.press("ArrowRight")
    question = page.locator("#try-question")
    question.wait_for(state="visible")
    assert "ŷ" in question.inner_text()
    # work the answer out from what the page shows: mse with one output, dL/dz = 2·(ŷ − t)
    state = page.evaluate(f"{STORE}.state")
    label = page.evaluate(f"{STORE}.dataset.train[{STORE}.state.example][2]")
    truth = 2 * (state["nodes"]["out0"]["a"] - label)
    page.get_by_label("Your answer").fill(f"{truth * 1.004:.6g}")  # within 1%
    page.get_by_role("button", name="Check").click()
    verdict = page.locator("#try-verdict")
    verdict.wait_for(state="visible")
    assert verdict.inner_text().startswith("Right")
    assert "dL/dz" in page.locator("#explain").inner_text()
    page.keyboard.press("ArrowRight")
    question.wait_for(state="visible")
    page.get_by_label("Your answer").fill("12345")
    page.get_by_role("button", name="Check").click()
    page.wait_for_function("document.getElementById('try-verdict').textContent.startsWith('Not quite')")
    truth = page.evaluate(f"{STORE}.state.nodes[{STORE}.state.cursor].grad_z")
    assert f"{truth:.4g}" in verdict.inner_text() and "12345" in verdict.inner_text()
    screenshot(page, "try-it-yourself")
