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


def ask_and_wait(page) -> dict:
    """Press → in predict mode: the page asks first; the question it opened."""
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"{STORE}.question && {STORE}.question.open")
    return page.evaluate(f"{STORE}.question")


def send_number(page, value: float) -> dict:
    """Type a number on the card's keypad, send it; alone, the reveal follows at once."""
    for ch in f"{value:.6f}".rstrip("0").rstrip("."):
        name = "Minus" if ch == "-" else ch
        page.get_by_role("button", name=name, exact=True).click()
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_function(f"{STORE}.reveal")
    return page.evaluate(f"{STORE}.reveal")


def test_predict_first_fades_from_worked_examples_to_whole_answers(app_page):
    """Predict first, alone: the first iteration is worked examples; in the next a step first asks
    for the op's number with one factor of each product left blank; a wrong answer shows the
    working and that kind of op comes back with its numbers; from the third only formulas."""
    page = app_page
    load_whiteboard(page)
    page.get_by_label("Predict first").check()
    ops = 10  # the whiteboard's iteration: 4 forward ops (2 units, the output, the loss), 3 backward, 3 update
    for _ in range(ops):  # iteration 1: worked examples, every op runs at once
        step_op(page)
        assert page.evaluate(f"{STORE}.question") is None
    assert page.locator("#predict-note").inner_text().startswith("Worked example")
    question = ask_and_wait(page)  # iteration 2: h1.1 forward, with its working faded
    assert question["fade"] == 1 and question["target"] == {"node": "h1_0", "quantity": "a"}
    page.wait_for_function("document.querySelector('#question-hint')?.innerText.includes('= ?')")  # painted after the ask
    hint = page.locator("#question-hint").inner_text()
    assert "□" in hint and "= ?" in hint and "max(0, □)" in hint  # z's number is the factor left to find
    screenshot(page, "predict-faded")
    wrong = send_number(page, 12345.0)
    assert wrong["right"] is False
    page.wait_for_function("document.querySelector('#question-result .verdict')?.textContent.startsWith('✗')")
    assert page.locator("#question-result .working .equation").count() >= 2  # the whole working at once
    step_op(page)  # this press steps on, and the card goes
    page.wait_for_function(f"{STORE}.question === null")
    # h1.2 forward: the same kind, answered wrongly just now, comes back with its numbers (fade 1)
    question = ask_and_wait(page)
    assert question["fade"] == 1 and question["target"]["node"] == "h1_1"
    s = page.evaluate(f"{STORE}.state")
    x = [s["nodes"]["in0"]["a"], s["nodes"]["in1"]["a"]]
    W, b = s["params"]["W1"], s["params"]["b1"]
    truth = max(0.0, W[0][1] * x[0] + W[1][1] * x[1] + b[1])  # worked out from what the page shows
    right = send_number(page, truth)
    assert right["right"] is True
    page.wait_for_function("document.querySelector('#question-result .verdict')?.textContent.startsWith('✓')")
    step_op(page)
    for _ in range(8):  # the rest of iteration 2: each op asked, answered with the truth the reveal gives
        ask_and_wait(page)
        page.get_by_role("button", name="Close", exact=False).click()  # close unrevealed: "show me"
        page.wait_for_function(f"{STORE}.question && !{STORE}.question.open")
        step_op(page)
    question = ask_and_wait(page)  # iteration 3: the whole result, formulas only
    assert question["fade"] == 2
    rows = [r for r in question["hint"]["rows"] if "steps" in r]
    assert rows and all(len(r["steps"]) <= 1 and r["result"] == "?" for r in rows)
    screenshot(page, "predict-formulas-only")


def test_predict_first_with_the_batch_view_asks_each_layers_dw_shape(app_page):
    page = app_page
    load_whiteboard(page)
    page.get_by_label("Predict first").check()
    page.get_by_role("checkbox", name="Batch view").check()
    for _ in range(4):  # the forward pass of the first iteration: worked examples
        step_op(page)
    question = ask_and_wait(page)  # the output layer's backward pass begins: dW2's shape first
    assert question["kind"] == "shape" and question["target"] == {"matrix": "dW2"}
    # the batch view states every shape: it waits while the question is open
    page.wait_for_function("document.getElementById('batch-panel').textContent.includes('hidden until')")
    for ch in "21":  # rows, then cols: 2 hidden units in, 1 unit out
        page.get_by_role("button", name=ch, exact=True).click()
        if ch == "2":
            page.get_by_role("button", name="Shape: cols").click()
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_function(f"{STORE}.reveal")
    assert page.evaluate(f"{STORE}.reveal.right") is True and page.evaluate(f"{STORE}.reveal.truth") == [2, 1]
    step_op(page)  # the press after the reveal steps on: into the output's backward op
    assert page.evaluate(f"{STORE}.state.cursor") == "out0"


def test_check_it_in_your_own_code_downloads_the_iteration_as_a_script(app_page):
    page = app_page
    load_whiteboard(page)
    for _ in range(7):  # forward and backward: the state has the batch gradients
        step_op(page)
    page.locator("#code-menu summary").click()
    links = page.locator("#code-menu a")
    assert links.count() == 4
    session = page.evaluate("document.body.dataset.session")
    hrefs = [links.nth(k).get_attribute("href") for k in range(4)]
    assert hrefs == [f"/api/sessions/{session}/export?format={f}" for f in ("numpy", "pytorch", "jax", "json")]
    script = page.request.get(page.evaluate("location.origin") + hrefs[0]).text()
    assert script.startswith(f'"""Backprop Lab session {session}') and "grads" in script
    page.get_by_role("checkbox", name="Batch view").check()
    page.wait_for_function("document.querySelectorAll('#batch-panel .export-links a').length === 4")
