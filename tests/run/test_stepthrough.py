"""The step-through: cursor order, what is reached, going back exactly, both views, explain."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from app.engine import parse_config
from app.engine.gradcheck import gradient_check
from app.run import Run, StepError, run_view
from app.run.batchview import batch_view
from app.engine.activations import ACTIVATIONS
from app.run.explain import Equation, explain_node, local_derivative

SMALL = {"hidden": [3, 2], "dataset": {"n": 24}, "batch_size": 6, "lr": 0.1}
UNITS = ["h1_0", "h1_1", "h1_2", "h2_0", "h2_1", "out0"]


def make(**overrides) -> Run:
    return Run(parse_config({**SMALL, **overrides}))


def snapshot(run: Run) -> dict:
    """Everything a state reports, as comparable Python values."""
    v = run_view(run)
    return {"iteration": v.iteration, "phase": v.phase, "cursor": v.cursor, "status": v.status, "nodes": v.nodes,
            "params": {k: a.tolist() for k, a in v.params.items()},
            "grads": None if v.grads is None else {k: a.tolist() for k, a in v.grads.items()},
            "loss": v.loss, "explain": v.explain}


def test_the_cursor_visits_each_unit_once_per_pass_in_order():
    run = make()
    seen = []
    for _ in range(len(run.ops)):
        run.run("op")
        seen.append((run.phase, run.cursor))
    assert seen == ([("forward", u) for u in UNITS] + [("forward", "loss")]
                    + [("backward", u) for u in reversed(UNITS)] + [("update", u) for u in UNITS])
    assert run.iteration == 1


def test_values_not_reached_yet_are_null_and_reached_ones_are_numbers():
    run = make()
    run.run("op", 2)  # h1_0 and h1_1 computed
    nodes = run_view(run).nodes
    assert nodes["h1_1"]["a"] is not None and nodes["h1_2"]["a"] is None and nodes["out0"]["z"] is None
    assert all(nodes[u]["grad_z"] is None for u in UNITS)
    assert run_view(run).grads is None
    run.run("pass")  # forward done
    run.run("op", 2)  # out0 and h2_1 have their gradients
    nodes = run_view(run).nodes
    assert nodes["out0"]["grad_z"] is not None and nodes["h2_1"]["grad_z"] is not None
    assert nodes["h2_0"]["grad_z"] is None and nodes["in0"]["grad_z"] is None
    assert run_view(run).grads is None  # the batch gradient is there once the whole backward pass is
    run.run("pass")
    assert run_view(run).grads is not None


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_back_restores_every_earlier_state_exactly_across_updates_and_iterations(optimizer):
    run = make(optimizer=optimizer)
    run.run("iteration", 2)  # the optimiser has memory worth restoring
    states = [snapshot(run)]
    for _ in range(2 * len(run.ops) + 5):  # through two whole iterations and into a third
        run.run("op")
        states.append(snapshot(run))
    assert states[-1]["iteration"] == 4
    for expected in reversed(states[:-1]):
        run.back(1)
        assert snapshot(run) == expected
    # forward again from there: the same numbers bit for bit, so the optimiser memory came back too
    for expected in states[1:]:
        run.run("op")
        assert snapshot(run) == expected


def test_back_of_many_ops_at_once_equals_one_at_a_time():
    one, many = make(), make()
    for run in (one, many):
        run.run("op", 30)
    for _ in range(17):
        one.back(1)
    many.back(17)
    assert snapshot(one) == snapshot(many)


def test_back_beyond_what_is_kept_is_refused_and_changes_nothing():
    run = make()
    run.run("op", 3)
    before = snapshot(run)
    with pytest.raises(StepError) as refused:
        run.back(run.can_back() + 1)
    assert refused.value.field == "count" and "at most 3" in str(refused.value)
    assert snapshot(run) == before
    fresh = make()
    with pytest.raises(StepError, match="nothing has been stepped"):
        fresh.back(1)


def test_a_config_change_starts_the_back_history_afresh():
    run = make()
    run.run("op", 25)
    run.configure({"lr": 0.5})
    assert run.can_back() == 0 and run.position == 0


def _gate_nodes_of(run: Run) -> dict[tuple[str, str], str]:
    return {(n.of, n.role): n.id for n in run.gates().nodes if n.role in ("z", "a", "loss")}


@pytest.mark.parametrize("config", [
    {}, {"activation": "relu", "loss": "mse"}, {"loss": "cross_entropy", "dataset": {"name": "gauss", "classes": 3, "n": 24}},
    {"features": ["x1", "x2", "x1^2", "sin(x2)"], "activation": "sigmoid"},
])
def test_the_gate_view_agrees_with_the_neuron_view_at_every_op(config):
    run = make(**config)
    gates = make(**config)
    gates.set_view("gate")
    roles = _gate_nodes_of(gates)
    gates.set_view("neuron")  # step in the neuron view, then look through the gate view
    for _ in range(len(run.ops)):
        run.run("op")
        gates.run("op")
        gates.set_view("gate")
        neuron_nodes, gate_nodes = run_view(run).nodes, run_view(gates).nodes
        for node, values in neuron_nodes.items():
            for quantity in ("z", "a"):
                gate_id = roles.get((node, quantity))
                if gate_id is None and values["z"] == values["a"]:  # a linear unit or an input: one value
                    gate_id = roles.get((node, "z"))
                if node == "loss":
                    gate_id = roles[("loss", "loss")]
                if gate_id is None or values[quantity] is None:
                    continue
                assert gate_nodes[gate_id][quantity] == pytest.approx(values[quantity], rel=1e-9, abs=1e-12), (node, quantity)
        if run.phase == "update":  # the backward pass is over: every gradient agrees too
            for (node, role), gate_id in roles.items():
                raw_input_feeds_features = node in ("in0", "in1") and len(run.config.features) > 2
                if (role == "a" or (role == "z" and node.startswith("in"))) and not raw_input_feeds_features:
                    expected = neuron_nodes[node]["grad_a"]
                    assert gate_nodes[gate_id]["grad_a"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
        for name, value in run_view(run).params.items():
            np.testing.assert_array_equal(run_view(gates).params[name], value)
        gates.set_view("neuron")
        assert gates.position == run.position and gates.cursor == run.cursor


def test_switching_views_keeps_the_place_within_the_pass():
    run = make()
    run.run("op", 4)  # forward, at h2_0
    run.set_view("gate")
    assert run.phase == "forward" and run.gates().nodes and run.cursor.startswith("g")
    cursor_unit = next(n.of for n in run.gates().nodes if n.id == run.cursor)
    assert cursor_unit == "h2_0"
    run.run("op")  # one more gate: still inside h2_1's sum
    run.set_view("neuron")
    assert run.cursor == "h2_0"  # rounds back to the last whole unit


def test_the_gate_view_walks_every_gate_forward_then_backward_in_reverse():
    run = make(hidden=[2])
    run.set_view("gate")
    forward = [op.node for op in run.ops if op.phase == "forward"]
    backward = [op.node for op in run.ops if op.phase == "backward"]
    assert backward == forward[::-1] and len(set(forward)) == len(forward)
    kinds = {n.id: n.kind for n in run.gates().nodes}
    assert all(kinds[g] == "gate" for g in forward)
    update = [op.node for op in run.ops if op.phase == "update"]
    assert sorted(update) == sorted(n.id for n in run.gates().nodes if n.kind == "param")


NUMBER = r"−?\d+(?:\.\d+)?(?:e−?\d+)?"


def last_number(line: str) -> float:
    found = re.findall(NUMBER, line.split("   (")[0])
    return float(found[-1].replace("−", "-"))


def close_to_4_digits(shown: float, exact: float) -> bool:
    return abs(shown - exact) <= 5e-4 * abs(exact) + 1e-12


def test_explain_lines_end_in_the_numbers_the_state_reports():
    run = make(optimizer="momentum")
    run.run("iteration")
    for _ in range(len(run.ops)):
        run.run("op")
        view = run_view(run)
        lines = view.explain.as_text()
        node = view.nodes.get(view.cursor, {})
        assert view.explain.node == view.cursor
        if view.phase == "forward" and view.cursor != "loss":
            z_line = next(line for line in lines if line.startswith("z = "))
            a_line = next(line for line in lines if line[:4] in ("a = ", "p = ", "ŷ = "))
            assert close_to_4_digits(last_number(z_line), node["z"]) and close_to_4_digits(last_number(a_line), node["a"])
        elif view.phase == "forward":
            assert close_to_4_digits(last_number(lines[-1]), node["z"])
        elif view.phase == "backward":
            dz = next(line for line in lines if line.startswith("dL/dz"))
            assert close_to_4_digits(last_number(dz), node["grad_z"])
            if view.cursor.startswith("h"):
                da = next(line for line in lines if line.startswith("dL/da"))
                assert close_to_4_digits(last_number(da), node["grad_a"])
                assert len(view.explain.terms) == 1 if view.cursor.startswith("h2") else 2
        else:
            l, j = int(view.cursor[1]) if view.cursor[0] == "h" else 3, int(view.cursor.split("_")[-1][-1])
            moved = [line for line in lines if "←" in line and not line.startswith("v ←")]
            assert len(moved) == run.arch.sizes[l - 1] + 1
            for i, line in enumerate(moved[:-1]):
                assert line.startswith(f"W{l}[{i}][{j}] ←")
                assert close_to_4_digits(last_number(line), view.params[f"W{l}"][i, j])
            assert close_to_4_digits(last_number(moved[-1]), view.params[f"b{l}"][j])


def test_the_gate_view_explains_forks_as_sums_of_contributions():
    run = make(hidden=[2])
    run.set_view("gate")
    run.run("pass", 2)  # forward and backward done
    x1 = explain_node(run, "x1").as_text()
    total = [line for line in x1 if line.startswith("dL/dx1 = ")][0]
    assert "2 contributions add" in total
    assert close_to_4_digits(last_number(total.split("   (")[0]), run_view(run).nodes["x1"]["grad_a"])


def test_explain_of_an_unknown_node_is_a_key_error():
    with pytest.raises(KeyError):
        explain_node(make(), "h9_9")


def test_the_batch_view_shows_the_layer_products_with_their_shapes():
    run = make()
    run.run("pass", 2)
    view = batch_view(run)
    assert view.n == 6 and view.examples == list(range(6))
    first = view.layers[0]
    assert first.shapes["X"] == [6, 2] and first.shapes["W"] == [2, 3] and first.shapes["Z"] == [6, 3]
    np.testing.assert_allclose(first.Z, first.X @ first.W + first.b)
    second = view.layers[1]
    np.testing.assert_allclose(second.dW, second.X.T @ second.dZ)
    np.testing.assert_allclose(second.db, second.dZ.sum(axis=0))
    np.testing.assert_allclose(second.dX, second.dZ @ second.W.T)
    fresh = make()
    fresh.run("op", 3)  # layer 1's forward only
    early = batch_view(fresh).layers
    assert early[0].Z is not None and early[1].Z is None and early[0].dW is None


@pytest.mark.parametrize("config", [{}, {"activation": "sigmoid", "loss": "mse", "l2": 0.01, "l1": 0.003},
                                    {"loss": "cross_entropy", "dataset": {"name": "spiral", "classes": 3, "n": 30}}])
def test_verify_finds_backprop_right(config):
    run = make(**config)
    batch = run.trainer.batch()
    check = gradient_check(run.arch, run.trainer.params, batch.X, batch.T, run.config.l2, run.config.l1)
    assert check.max_rel_error < 1e-6 and check.checked == sum(p.size for p in run.trainer.params.values())


def test_verify_finds_a_wrong_derivative(monkeypatch):
    from app.engine import activations

    tanh = activations.ACTIVATIONS["tanh"]
    broken = dataclasses.replace(tanh, derivative=lambda z, a: 1.0 - a)
    monkeypatch.setitem(activations.ACTIVATIONS, "tanh", broken)
    run = make()
    batch = run.trainer.batch()
    check = gradient_check(run.arch, run.trainer.params, batch.X, batch.T)
    assert check.max_rel_error > 1e-2 and check.worst.startswith(("W1", "b1", "W2", "b2"))


def test_the_gate_view_is_refused_for_a_network_too_big_to_draw():
    run = Run(parse_config({"hidden": [16, 16, 16]}), max_gates=300)
    with pytest.raises(StepError) as refused:
        run.set_view("gate")
    assert refused.value.code == "limit" and refused.value.field == "view" and run.view_name == "neuron"


@pytest.mark.parametrize("config", [{"loss": "mse", "lr": 10.0, "activation": "linear"},
                                    {"loss": "mse", "lr": 10.0, "activation": "linear", "l2": 0.01, "optimizer": "momentum"},
                                    {"lr": 10.0, "l1": 0.01, "activation": "linear", "loss": "mse"}])
def test_a_diverging_run_keeps_answering_in_both_views(config):
    run = make(**config)
    for _ in range(40):
        run.run("iteration")
        for view in ("gate", "neuron"):
            run.set_view(view)
            run_view(run)  # no OverflowError from the scalar gates, no NaN → int in the explain lines
    assert run.status == "diverged"
    batch = run.work.batch
    check = gradient_check(run.arch, run.work.update[0], batch.X, batch.T, run.config.l2, run.config.l1)
    assert check.max_rel_error == float("inf")  # a non-finite gradient never passes verify


SOFTMAX = {"loss": "cross_entropy", "dataset": {"name": "spiral", "classes": 3, "n": 30}, "optimizer": "momentum"}


def test_softmax_explain_writes_every_z_before_any_p_and_ends_in_the_states_numbers():
    run = make(**SOFTMAX)
    run.run("iteration")
    outputs = ["out0", "out1", "out2"]
    n_forward = sum(op.phase == "forward" for op in run.ops)
    seen_p = False
    for step in range(n_forward + len(UNITS) + 1):  # forward, then backward through every unit
        run.run("op")
        view = run_view(run)
        lines, node = view.explain.as_text(), view.nodes.get(view.cursor, {})
        assert not any(re.search(r"= (−?[\d.]+) = \1$", line) for line in lines), lines  # no "= 0 = 0"
        if view.phase == "forward" and view.cursor in outputs:
            j = outputs.index(view.cursor)
            assert close_to_4_digits(last_number(next(line for line in lines if line.startswith("z = "))), node["z"])
            p_lines = [line for line in lines if re.match(r"p\d = ", line)]
            if j < 2:  # the softmax needs every z: no p, and no later z's number, before the last output
                assert not p_lines and not seen_p and "waits" in lines[0]
                later = [view.nodes[o]["z"] for o in outputs[j + 1:]]
                assert all(v is None for v in later)
            else:
                seen_p = True
                assert [line[:2] for line in p_lines] == ["p0", "p1", "p2"]
                for k, line in enumerate(p_lines):
                    assert close_to_4_digits(last_number(line), view.nodes[outputs[k]]["a"])
                total = next(line for line in lines if line.startswith("Σ"))
                zs = [view.nodes[o]["z"] for o in outputs]
                assert close_to_4_digits(last_number(total), float(np.exp(zs).sum()))
        elif view.phase == "backward" and view.cursor in outputs:
            j = outputs.index(view.cursor)
            p, y = view.nodes[view.cursor]["a"], run.example_values().label
            dz = next(line for line in lines if line.startswith("dL/dz"))
            dp = next(line for line in lines if line.startswith("dL/dp"))
            assert close_to_4_digits(last_number(dz), node["grad_z"])
            assert close_to_4_digits(last_number(dp), node["grad_a"])
            assert node["grad_z"] == pytest.approx(p - (j == y), abs=1e-12)
            assert f"p{j} − y{j}" in dz and any("moves every p through the softmax" in line for line in lines)
            if j != y:  # dL/dp_j = 0 and yet dL/dz_j is p_j: the sentence says why
                assert dp.startswith(f"dL/dp{j} = 0   (") and lines[2].startswith("Yet ")


def test_the_gate_view_builds_the_softmax_from_exp_sum_and_division_and_says_p_minus_y():
    run = make(**SOFTMAX)
    run.set_view("gate")
    nodes = run.gates().nodes
    ops = [n.op for n in nodes if n.of == "out2" and n.kind == "gate"]
    assert ops.count("exp") == 3 and ops.count("^-1") == 1
    shift = [n for n in nodes if n.kind == "const" and n.label == "−max z"]
    assert len(shift) == 1
    z_of = {n.of: n.id for n in nodes if n.role == "z" and n.of.startswith("out")}
    neuron = make(**SOFTMAX)
    neuron.run("pass", 2)
    run.run("pass")  # forward
    said = {}
    while run.phase != "update":
        run.run("op")
        lines = run_view(run).explain.as_text()
        for line in lines:
            if line.startswith("That is all of"):
                said[run.cursor] = line
    assert len(said) == 3
    state = run_view(run).nodes
    for out, gate_id in z_of.items():
        line = next(line for line in said.values() if f"z({run.labels()[out]})" in line)
        assert close_to_4_digits(last_number(line), state[gate_id]["grad_a"])
        assert state[gate_id]["grad_a"] == pytest.approx(run_view(neuron).nodes[out]["grad_z"], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("scale", [1e3, 1e200])
def test_softmax_explain_answers_when_the_logits_are_huge(scale):
    # e^z overflows, p_y underflows to 0 (−1/p_y = −∞), z − max z is NaN at ±∞: words, never an exception
    run = make(**SOFTMAX)
    W2 = run.trainer.params["W2"]
    run.set_params({"W2": (W2 * scale).tolist()})
    for view in ("neuron", "gate"):
        run.set_view(view)
        for _ in range(sum(op.phase != "update" for op in run.ops)):
            run.run("op")
            assert run_view(run).explain.as_text()
        run.run("pass")  # the update, to the next iteration's start


def test_a_softmax_output_shows_no_p_until_every_z_is_known():
    run = Run(parse_config({"loss": "cross_entropy", "dataset": {"name": "gauss", "classes": 3, "n": 24}}))
    outputs = [f"out{j}" for j in range(3)]
    seen = []
    while True:
        run.run("op")
        nodes = run_view(run).nodes
        if run_view(run).cursor in outputs:
            seen.append([(nodes[o]["z"] is not None, nodes[o]["a"] is not None) for o in outputs])
        if run_view(run).cursor == "loss":
            break
    # out0 reached: its z only; out1: both z's, no p; out2: every z, and then every p
    assert seen == [[(True, False), (False, False), (False, False)],
                    [(True, False), (True, False), (False, False)],
                    [(True, True), (True, True), (True, True)]]


def test_the_example_shown_is_always_computed_with_the_current_parameters():
    # the example's values are cached per parameters object: across thousands of ops of every
    # size, what is shown must be what a fresh forward and backward pass gives
    from app.engine import backward as backward_pass, forward as forward_pass

    run = Run(parse_config({"dataset": {"name": "moons"}, "hidden": [5], "optimizer": "adam"}))
    run.select(5)
    for k in range(3000):
        run.run("op", 1 + k % 23)
        shown = run.example_values()
        rows = run.trainer.train.rows(slice(5, 6))
        fresh = backward_pass(run.arch, run.forward_params, forward_pass(run.arch, run.forward_params, rows.X), rows.T)
        assert np.array_equal(shown.backward.dZ[1], fresh.dZ[1])


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_is_explained_with_the_numbers_the_state_reports(activation):
    """a = f(z) and dL/dz = dL/da · f'(z) come from the activation's one definition: for each
    one (a new one included unasked), the equations end in the state's numbers, the steps put
    the numbers into the formula, and the gate view's local derivative is its scalar slope."""
    run = make(activation=activation)
    run.run("iteration")
    for _ in range(len(run.ops)):
        run.run("op")
        view = run_view(run)
        if not view.cursor.startswith("h1") or view.phase == "update":
            continue
        node = view.nodes[view.cursor]
        by_quantity = {line.quantity: line for line in view.explain.lines if isinstance(line, Equation)}
        if view.phase == "forward":
            a = by_quantity["a"]
            assert a.steps[0] == ACTIVATIONS[activation].written("z")
            assert close_to_4_digits(float(a.result.replace("−", "-")), node["a"])
        else:
            dz = by_quantity["grad_z"]
            assert dz.steps[0].startswith("dL/da · ")
            assert close_to_4_digits(float(dz.result.replace("−", "-")), node["grad_z"])
    gates = make(activation=activation, hidden=[2])
    gates.set_view("gate")
    gates.run("pass", 2)
    graph, _ = gates.gate_graph_values()
    act = ACTIVATIONS[activation]
    for value in graph.tape.values:
        if value.op == activation:
            symbol, slope = local_derivative(value, 0)
            assert symbol == act.slope_written("a", "out")
            assert slope == act.scalar_derivative(value.parents[0].data, value.data)
