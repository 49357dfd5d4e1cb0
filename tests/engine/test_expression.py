"""The expression parser: precedence, unary minus, powers, every function, errors with their
columns, no way into Python; and its gates' gradients against finite differences."""

from __future__ import annotations

import math

import pytest

from app.engine.activations import ACTIVATIONS
from app.engine.expression import FUNCTIONS, MAX_LENGTH, ExpressionError, parse_expression
from app.engine.scalar import Tape


def value_of(text: str, **values) -> float:
    out, _ = parse_expression(text, values)
    return out.data


@pytest.mark.parametrize("text, expected", [
    ("1 + 2 * 3", 7.0), ("(1 + 2) * 3", 9.0), ("2 ** 3 ** 1", 8.0), ("-2 ** 2", -4.0), ("(-2) ** 2", 4.0),
    ("8 / 4 / 2", 1.0), ("1 - 2 - 3", -4.0), ("--3", 3.0), ("2 * -3", -6.0), ("x * w + b", 2.5 * -1.5 + 0.25),
    ("a / b", 3.0 / 0.25), ("a ** -1", 1 / 3.0), ("1.5e1 + .5", 15.5),
])
def test_precedence_unary_minus_and_powers_are_pythons(text, expected):
    assert value_of(text, x=2.5, w=-1.5, b=0.25, a=3.0) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_is_the_engines(name):
    z = 0.7
    if name == "mse":
        assert value_of("mse(z)", z=z, t=0.2) == pytest.approx((z - 0.2) ** 2)
        assert value_of("mse(z, 1)", z=z) == pytest.approx((z - 1) ** 2)
        return
    expected = {"exp": math.exp, "log": math.log, "sin": math.sin}.get(name) or ACTIVATIONS[name].scalar
    assert value_of(f"{name}(z)", z=z) == pytest.approx(expected(z), rel=1e-15)


@pytest.mark.parametrize("text, values, column, words", [
    ("x +", {"x": 1}, 4, "expected a number"),
    ("(x + 1", {"x": 1}, 7, "closing bracket"),
    ("x + y", {"x": 1}, 5, "y has no value"),
    ("tanh x", {"x": 1}, 1, "tanh is a function: write tanh("),
    ("x y", {"x": 1, "y": 2}, 3, "unexpected 'y'"),
    ("foo(x)", {"x": 1}, 1, "foo is not a function"),
    ("x ** y", {"x": 1, "y": 2}, 6, "exponent must be a number"),
    ("x $ 2", {"x": 1}, 3, "'$' is not part"),
    ("__import__('os')", {}, 12, "is not part of an expression"),
    ("tanh", {}, 1, "tanh is a function"),
    ("mse(x)", {"x": 1}, 1, "target t"),
    ("exp(x, x)", {"x": 1}, 1, "takes 1 argument"),
    ("", {}, 1, "empty"),
    ("x" * (MAX_LENGTH + 1), {}, MAX_LENGTH + 1, "at most"),
])
def test_errors_say_what_and_point_at_the_column(text, values, column, words):
    with pytest.raises(ExpressionError) as refused:
        parse_expression(text, values)
    assert refused.value.column == column and words in refused.value.reason, refused.value.reason


def test_no_python_name_is_reachable():
    for text in ("__class__", "x.__class__", "open(x)", "eval(x)", "print(x)", "os"):
        with pytest.raises(ExpressionError):
            parse_expression(text, {"x": 1.0})
    with pytest.raises(ExpressionError):
        parse_expression("x", {"__class__": 1.0, "x": 2.0, "tanh": 3.0})


@pytest.mark.parametrize("text, values", [
    ("mse(relu(x*w + b))", {"x": 1.5, "w": 0.8, "b": -0.3, "t": 2.0}),
    ("x*x + x", {"x": 0.7}),  # a value used twice: its gradients add
    ("a / b", {"a": 1.3, "b": -0.6}),
    ("tanh(x1*w1 + x2*w2 + b) ** 2", {"x1": 0.5, "x2": -1.0, "w1": 0.3, "w2": 0.9, "b": 0.1}),
    ("sigmoid(-x) * exp(sin(x)) - log(x + 3)", {"x": 0.4}),
])
def test_gradients_match_finite_differences(text, values):
    out, leaves = parse_expression(text, values)
    Tape(out).run_backward()
    for name, leaf in leaves.items():
        h = 1e-6
        up = parse_expression(text, {**values, name: values[name] + h})[0].data
        down = parse_expression(text, {**values, name: values[name] - h})[0].data
        assert leaf.grad == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-9), name


@pytest.mark.parametrize("text, expected", [("2 ** -2 ** 2", 2 ** -(2 ** 2)), ("2 ** 3 ** 2", 2 ** 9),
                                            ("2 ** -1 ** 0.5", 0.5), ("x ** -2", 0.25)])
def test_minus_in_an_exponent_covers_the_powers_to_its_right_as_in_python(text, expected):
    assert value_of(text, x=2.0) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("text, column", [("2 ** 9 ** 9 ** 9", 6), ("1e999 + x", 1), ("x ** 1e999", 6)])
def test_numbers_too_large_are_refused_with_their_column(text, column):
    with pytest.raises(ExpressionError) as refused:
        parse_expression(text, {"x": 1.0})
    assert refused.value.column == column


def test_a_negative_base_to_a_fractional_power_is_not_a_number_not_complex():
    value = value_of("(-8) ** 0.5")
    assert isinstance(value, float) and math.isnan(value)
