"""The gate playground's replay: every gradient against finite differences, each step's numbers
against the engine's, the fork sums, the refusals by field and column, and the exported scripts
run in subprocesses printing the engine's own numbers."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from app.engine.activations import ACTIVATIONS
from app.engine.expression import MAX_LENGTH
from app.run.expression_export import export_expression
from app.run.playground import PRESETS, PlaygroundError, format_values, parse, parse_values, playground

EXPRESSIONS = [
    ("mse(relu(x*w + b))", {"x": 1.5, "w": 0.8, "b": -0.3, "t": 2.0}),  # the seeds' chain
    ("a*b + a", {"a": 2.0, "b": -3.0}),  # a value used twice
    ("x*x + x", {"x": 0.7}),  # twice by one gate
    ("a / b", {"a": 1.3, "b": -0.6}),  # a division: a · b⁻¹
    ("(x + 2) ** 3 - x ** -2", {"x": 0.9}),  # powers
    ("exp(x) * log(x + 3) + sin(x) - mse(x, 0.5)", {"x": 0.4}),
    (" + ".join(f"{name}(x)" for name in ACTIVATIONS if name != "linear"), {"x": 0.35}),  # every activation
    ("relu(x1*w1 + x2*w2 + b) ** 2", {"x1": 0.5, "x2": -1.0, "w1": 0.3, "w2": 0.9, "b": 0.1}),
]


def central_difference(text: str, values: dict[str, float], name: str, h: float = 1e-5) -> float:
    def at(x: float) -> float:
        return playground(text, {**values, name: x}).value
    v = values[name]
    return (-at(v + 2 * h) + 8 * at(v + h) - 8 * at(v - h) + at(v - 2 * h)) / (12 * h)


@pytest.mark.parametrize("text, values", EXPRESSIONS)
def test_every_gradient_agrees_with_finite_differences(text, values):
    answer = playground(text, values)
    assert set(answer.grads) == set(values)
    for name in values:
        assert answer.grads[name] == pytest.approx(central_difference(text, values, name), rel=1e-7, abs=1e-9), name


@pytest.mark.parametrize("text, values", EXPRESSIONS)
def test_the_steps_replay_the_engine_gate_by_gate(text, values):
    """Forward: one step per gate, each with the gate's value; backward: the same gates in reverse,
    and the last gradient each step leaves on a variable is its final gradient."""
    answer = playground(text, values)
    forward = [s for s in answer.steps if s.phase == "forward"]
    backward = [s for s in answer.steps if s.phase == "backward"]
    assert [s.node for s in backward] == [s.node for s in reversed(forward)]
    assert forward[-1].node == "L" and forward[-1].value == answer.value
    assert backward[0].grads["L"] == 1.0
    last = {}
    for s in backward:
        last.update(s.grads)
    for name, g in answer.grads.items():
        assert last[name] == g
    for s in answer.steps:  # each step's explanation ends in the step's own number, as the inspector writes it
        assert s.explanation.node == s.node and s.explanation.lines


def test_a_value_used_twice_has_its_gradients_summed_when_its_last_use_is_stepped():
    answer = playground("a*b + a", {"a": 2.0, "b": -3.0})
    texts = [line for s in answer.steps for line in s.explanation.as_text()]
    sums = [t for t in texts if t.startswith("dL/da = ") and "contributions add" in t]
    assert sums == ["dL/da = ∂g1/∂a·dL/dg1 + ∂L/∂a·dL/dL = (−3)·1 + 1·1 = −2   (2 contributions add)"]
    assert answer.grads["a"] == -2.0  # b + 1


def test_a_division_is_a_product_and_a_power_and_says_so():
    answer = playground("a / b", {"a": 3.0, "b": 4.0})
    assert [n.op for n in answer.nodes if n.kind == "gate"] == ["^-1", "*"]
    assert any("a / b is built as a·b⁻¹" in line and "softmax" not in line
               for line in answer.steps[0].explanation.as_text())


@pytest.mark.parametrize("text, values, words", [
    ("log(x)", {"x": 0.0}, "gate L (log) comes to −∞"),
    ("a / b", {"a": 1.0, "b": 0.0}, "comes to ∞"),
    ("x ** 0.5", {"x": 0.0}, "dL/dx comes to ∞"),
])
def test_numbers_that_are_not_finite_are_named_not_raised(text, values, words):
    answer = playground(text, values)
    assert answer.problem is not None and words in answer.problem


def test_finite_answers_have_no_problem():
    for text, values in EXPRESSIONS:
        assert playground(text, values).problem is None


@pytest.mark.parametrize("text, values, field, column, words", [
    ("tanh(x*w +", {"x": 1.0, "w": 2.0}, "expr", 11, "expected a number"),
    ("x + y", {"x": 1.0}, "expr", 5, "y has no value"),
    ("L * 2", {"L": 1.0}, "expr", 1, "L names the expression's own value"),
    ("x", {"tanh": 1.0}, "values", None, "cannot be a variable's name"),
    ("x" * (MAX_LENGTH + 1), {}, "expr", MAX_LENGTH + 1, "at most"),
])
def test_refusals_name_the_field_and_the_column(text, values, field, column, words):
    with pytest.raises(PlaygroundError) as refused:
        playground(text, values)
    assert (refused.value.field, refused.value.column) == (field, column) and words in refused.value.reason


def test_a_refused_expression_still_names_its_variables():
    with pytest.raises(PlaygroundError) as refused:
        playground("mse(relu(x*w + b", {})
    assert refused.value.variables == ("t", "x", "w", "b")


@pytest.mark.parametrize("text, column, words", [
    ("x:1,y", 5, "not name:number"), ("x:1,x:2", 5, "given twice"), ("x:nan", 3, "finite number"),
    ("x:1e999", 3, "finite number"), ("x:0x10", 3, "finite number"), ("1x:2", 1, "not name:number"),
])
def test_the_values_parameter_is_read_strictly(text, column, words):
    with pytest.raises(PlaygroundError) as refused:
        parse_values(text)
    assert refused.value.field == "values" and refused.value.column == column and words in refused.value.reason


def test_values_round_trip_through_the_link():
    values = {"x": 1.5, "w": -0.1, "b": 2e-30, "t": 1e300}
    assert parse_values(format_values(values)) == values
    assert parse_values("") == {} and parse_values(" x : -2 , y:.5") == {"x": -2.0, "y": 0.5}


def test_gate_ids_never_take_a_variables_name():
    answer = playground("g1 * c1 + 2", {"g1": 2.0, "c1": 3.0})
    ids = [n.id for n in answer.nodes]
    assert len(ids) == len(set(ids)) and {"g1", "c1", "g1_", "c1_"} <= set(ids)


def test_every_preset_plays_to_the_end_with_finite_numbers():
    for preset in PRESETS:
        answer = playground(preset["expression"], preset["values"])
        assert answer.problem is None and len(answer.steps) == 2 * sum(n.kind == "gate" for n in answer.nodes)


# --- the scripts ---------------------------------------------------------------------------------------------

SCRIPT_CASES = [*EXPRESSIONS, ("lambda * print + sum", {"lambda": 2.0, "print": -1.5, "sum": 0.25})]  # names Python owns


def printed(script: str) -> dict:
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.parametrize("fmt", ["numpy", "jax"])
@pytest.mark.parametrize("text, values", SCRIPT_CASES)
def test_the_scripts_print_the_engines_value_and_gradients(fmt, text, values):
    answer = playground(text, values)
    result = printed(export_expression(parse(text, values), text, fmt))
    assert result["value"] == pytest.approx(answer.value, rel=1e-9, abs=1e-12)
    assert set(result["grads"]) == set(answer.grads)
    for name, g in answer.grads.items():
        assert result["grads"][name] == pytest.approx(g, rel=1e-9, abs=1e-12), name


def test_a_script_prints_null_for_a_number_that_is_not_finite():
    result = printed(export_expression(parse("log(x)", {"x": 0.0}), "log(x)", "numpy"))
    assert result == {"value": None, "grads": {"x": None}}


def test_the_pytorch_script_is_python_with_the_same_gates():
    text, values = EXPRESSIONS[0]
    script = export_expression(parse(text, values), text, "pytorch")
    compile(script, "pytorch.py", "exec")
    for line in ("g1 = x * w", "L = g5 ** 2.0", "L.backward()", "x = torch.tensor(1.5, requires_grad=True)"):
        assert line in script
