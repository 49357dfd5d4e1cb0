"""Questions: the truth is what the run then does, asking never moves it, refusals name the field."""

from __future__ import annotations

import pytest

from app.engine import parse_config
from app.run import Run, run_view
from app.run.explain import Equation, num
from app.run.questions import histogram, is_right, parse_answer, pose, tally
from app.run.stepper import StepError

SMALL = {"hidden": [3, 2], "dataset": {"n": 24}, "batch_size": 6, "lr": 0.1}


def make(**overrides) -> Run:
    return Run(parse_config({**SMALL, **overrides}))


def fingerprint(run: Run) -> tuple:
    v = run_view(run)
    return run.position, run.iteration, repr(v.nodes), repr({k: a.tolist() for k, a in v.params.items()})


@pytest.mark.parametrize("view", ["neuron", "gate"])
def test_the_next_ops_number_is_what_stepping_then_shows_and_asking_moves_nothing(view):
    run = make(optimizer="momentum")
    run.set_view(view)
    run.run("iteration")
    for _ in range(len(run.ops)):
        before = fingerprint(run)
        posed = pose(run, "number", None, None)
        assert fingerprint(run) == before  # the truth came from a fork
        run.run("op")
        target = posed.target
        if "node" in target:
            shown = run_view(run).nodes[target["node"]][target["quantity"]]
        else:
            index = (target["i"], target["j"]) if "i" in target else (target["j"],)
            shown = float(run.trainer.params[target["param"]][index])
        assert posed.truth == pytest.approx(shown, rel=1e-12, abs=1e-15), (run.phase, run.cursor, target)
        assert posed.working.lines and posed.prompt.startswith("What will")
        sign = pose(run, "sign", None, None)
        assert sign.choices == ["+", "-", "0"] and sign.truth in sign.choices


def test_a_nodes_gradient_asked_before_the_backward_pass_is_worked_out_ahead():
    run = make()
    run.run("op", 2)  # forward through h1_0 and h1_1
    posed = pose(run, "number", {"node": "h1_0", "quantity": "grad_a"}, "dL/da at the fork?")
    assert posed.prompt == "dL/da at the fork?" and run.position == 2
    run.run("pass", 2)
    assert posed.truth == pytest.approx(run_view(run).nodes["h1_0"]["grad_a"], rel=1e-12)
    assert any("dL/da" in line for line in posed.working.as_text())


def test_a_weights_batch_gradient_and_its_update():
    run = make()
    grad = pose(run, "number", {"param": "W1", "i": 1, "j": 2, "quantity": "grad"}, None)
    updated = pose(run, "number", {"param": "W1", "i": 1, "j": 2, "quantity": "updated"}, None)
    before = float(run.trainer.params["W1"][1, 2])
    run.run("iteration")
    assert updated.truth == pytest.approx(float(run.trainer.params["W1"][1, 2]), rel=1e-12)
    assert updated.truth == pytest.approx(before - 0.1 * grad.truth, rel=1e-9)
    assert updated.edge == "W1[1][2]" and updated.node == "h1_2"


def test_which_unit_is_dead_and_the_shape_of_a_batch_matrix():
    dead = make(activation="relu")
    params = dict(dead.trainer.params)
    params["b1"] = params["b1"].copy()
    params["b1"][1] = -50.0
    dead.set_params({"b1": params["b1"].tolist()})
    posed = pose(dead, "choice", {"layer": 1}, None)
    assert posed.choices == ["h1_0", "h1_1", "h1_2", "none"] and posed.truth == "h1_1"
    assert is_right(posed, "h1_1") and not is_right(posed, "h1_0")
    shape = pose(make(), "shape", {"matrix": "dW2"}, None)
    assert shape.truth == [3, 2] and is_right(shape, [3, 2]) and not is_right(shape, [2, 3])
    assert pose(make(), "shape", {"matrix": "db1"}, None).truth == [3]
    assert pose(make(), "shape", {"matrix": "dZ2"}, None).truth == [6, 2]


@pytest.mark.parametrize("kind, target, field", [
    ("guess", None, "kind"),
    ("number", {"node": "h9_9", "quantity": "a"}, "target.node"),
    ("number", {"node": "h1_0", "quantity": "b"}, "target.quantity"),
    ("number", {"param": "W7", "quantity": "grad"}, "target.param"),
    ("number", {"param": "W1", "i": 5, "j": 0, "quantity": "grad"}, "target.i"),
    ("number", {"param": "W1", "i": 0, "j": True, "quantity": "grad"}, "target.j"),
    ("number", {"matrix": "dW1"}, "target"),
    ("choice", {"layer": 3}, "target.layer"),
    ("shape", {"matrix": "dQ1"}, "target.matrix"),
    ("number", {"node": "h1_0", "quantity": "a", "colour": "red"}, "target.colour"),
    ("number", {"param": "W1", "i": 0, "j": 0, "quantity": "grad", "node": "h1_0"}, "target"),
    ("number", {"weight": "W1"}, "target"),
])
def test_a_target_that_does_not_fit_is_refused_naming_the_field(kind, target, field):
    run = make()
    before = fingerprint(run)
    with pytest.raises(StepError) as refused:
        pose(run, kind, target, None)
    assert refused.value.field == field and fingerprint(run) == before


def test_answers_are_checked_and_judged_as_the_protocol_says():
    number = pose(make(), "number", None, None)
    truth = number.truth
    assert is_right(number, truth * 1.009 if abs(truth) >= 0.1 else truth + 9e-4)
    assert not is_right(number, truth * 1.02 + (0.002 if abs(truth) < 0.1 else 0))
    for bad in ("1", True, float("nan"), None, 1e300, -2e12, [1.0]):
        with pytest.raises(StepError):
            parse_answer(number, bad)
    shape = pose(make(), "shape", {"matrix": "W1"}, None)
    for bad in ([0, 3], [1, 2, 3], "2x3", [2.0, 3]):
        with pytest.raises(StepError) as refused:
            parse_answer(shape, bad)
        assert refused.value.field == "value"


def test_tallies_count_every_answer_and_the_histogram_hides_the_truth():
    sign = pose(make(), "sign", None, None)
    assert tally(sign, ["+", "+", "-"]) == {"+": 2, "-": 1, "0": 0}
    h = histogram([0.12, 0.5, 0.51, -0.3, 0.49])
    assert sum(h["counts"]) == 5 and h["edges"][0] <= -0.3 and h["edges"][-1] > 0.51
    assert len(h["counts"]) == len(h["edges"]) - 1
    assert histogram([]) == {"edges": [], "counts": []}
    assert sum(histogram([2.0, 2.0])["counts"]) == 2


@pytest.mark.parametrize("view", ["neuron", "gate"])
def test_a_faded_question_brings_its_working_without_the_answer(view):
    """Fade 1 keeps each formula and its numbers but one factor; fade 2 only the formulas; neither
    shows a result, nor anything after the equation asked about."""
    run = make(optimizer="sgd")
    run.set_view(view)
    run.run("iteration")
    for _ in range(len(run.ops)):
        for fade in (1, 2):
            posed = pose(run, "number", None, None, fade=fade)
            hint = posed.hint
            equations = [line for line in hint.lines if isinstance(line, Equation)]
            assert equations and all(e.result == "?" for e in equations)
            assert not any(line.endswith(f"= {num(posed.truth)}") for line in hint.as_text()), hint.as_text()
            key = [e for e in equations if e.quantity == posed.target.get("quantity", "a")]
            assert key and equations[-1] is key[0]  # nothing after the equation asked about
            if fade == 2:
                assert all(len(e.steps) <= 1 for e in equations)
            elif any(e.faded for e in equations):
                assert any("□" in step for e in equations for step in e.steps)
        run.run("op")
    with pytest.raises(StepError) as refused:
        pose(make(), "shape", {"matrix": "W1"}, None, fade=1)
    assert refused.value.field == "fade"


def test_a_weights_gradient_for_this_example_is_dz_times_its_input():
    run = make(optimizer="sgd", batch_size=6)
    run.run("op", 7)  # the forward pass done: the next op is out0's backward
    posed = pose(run, "number", {"param": "W2", "i": 1, "j": 0, "quantity": "example_grad"}, None, fade=1)
    run.run("pass", 1)  # the whole backward pass
    ex = run.example_values()
    assert posed.truth == pytest.approx(float(ex.backward.dZ[2][0, 0] * ex.forward.A[1][0, 1]), rel=1e-12)
    last = [line for line in posed.hint.lines if isinstance(line, Equation)][-1]
    assert last.symbol == "dL/dW2[1][0]" and "□" in last.steps[-1] and last.result == "?"
    gate = make()
    gate.set_view("gate")
    with pytest.raises(StepError) as refused:
        pose(gate, "number", {"param": "W1", "i": 0, "j": 0, "quantity": "example_grad"}, None)
    assert refused.value.field == "target.quantity"


def test_the_histogram_stays_finite_for_the_widest_answers_allowed():
    h = histogram([-1e12, 1e12, 0.0, 3.5])
    assert sum(h["counts"]) == 4 and all(abs(e) < float("inf") for e in h["edges"])


def test_the_histogram_keeps_its_promise_for_answers_a_float_can_barely_tell_apart():
    for values in ([0.0, 1.5e-12], [1e12, 1e12 + 0.000123], [5.0, 5.0 + 1e-15], [-1e-300, 1e-300]):
        h = histogram(values)
        widths = [b - a for a, b in zip(h["edges"], h["edges"][1:])]
        assert sum(h["counts"]) == len(values) and 1 <= len(h["counts"]) <= 9, (values, h)
        assert all(w > 0 for w in widths) and max(widths) == pytest.approx(min(widths), rel=1e-6), (values, h)


@pytest.mark.parametrize("target, field", [({"node": [1, 2]}, "target.node"), ({"node": {}}, "target.node"),
                                           ({"node": "h1_0", "quantity": ["a"]}, "target.quantity"),
                                           ({"param": ["W1"]}, "target.param"), ({"matrix": {"a": 1}}, "target.matrix")])
def test_a_target_of_the_wrong_type_is_refused_naming_its_field(target, field):
    kind = "shape" if "matrix" in target else "number"
    with pytest.raises(StepError) as refused:
        pose(make(), kind, target, None)
    assert refused.value.field == field


def test_asking_about_a_big_gate_graph_walks_the_iteration_once():
    """The node values are read only after the ops that can make them: a gradient asked of a
    thousand-gate graph reads them a handful of times, not once per op."""
    from app.run import questions

    run = Run(parse_config({"hidden": [16, 16, 16], "dataset": {"n": 40}, "batch_size": 8}), max_gates=2000)
    run.set_view("gate")
    reads = []
    original = questions.node_values
    questions.node_values = lambda r: reads.append(1) or original(r)
    try:
        posed = pose(run, "number", {"node": "x1", "quantity": "grad_a"}, None)
    finally:
        questions.node_values = original
    assert len(run.ops) > 1000 and len(reads) <= 2 and posed.truth is not None
