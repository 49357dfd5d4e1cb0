"""The scalar gate engine: each gate's derivative, stepping, and agreement with the matrices."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.engine import (Architecture, Tape, Value, backward, build_example_graph, feature_matrix, forward,
                        gradient_arrays, init_params, node_id)

from app.engine import activations

from .helpers import ACTIVATIONS, DEPTHS, TASKS, problem

UNARY = {
    "exp": lambda v: v.exp(), "log": lambda v: v.log(), "tanh": lambda v: v.tanh(),
    "sigmoid": lambda v: v.sigmoid(), "relu": lambda v: v.relu(), "leaky_relu": lambda v: v.leaky_relu(),
    "sin": lambda v: v.sin(), "neg": lambda v: -v, "pow3": lambda v: v**3, "pow-1": lambda v: v**-1.0,
    # every activation's gate, from its one definition: one added there is checked here unasked
    **{f"activate:{name}": (lambda act: lambda v: v.activate(act))(act) for name, act in activations.ACTIVATIONS.items()},
}
BINARY = {
    "add": lambda a, b: a + b, "mul": lambda a, b: a * b, "sub": lambda a, b: a - b,
    "div": lambda a, b: a / b, "radd": lambda a, b: 2.0 + a * b, "rsub": lambda a, b: 1.0 - a / b,
}


@pytest.mark.parametrize("x", [-1.3, 0.4, 2.2])
@pytest.mark.parametrize("name", UNARY)
def test_unary_gate_derivative_matches_finite_difference(name, x):
    if name == "log" and x <= 0:
        x = -x
    v = Value(x)
    out = UNARY[name](v)
    Tape(out).run_backward()
    eps = 1e-6
    numeric = (UNARY[name](Value(x + eps)).data - UNARY[name](Value(x - eps)).data) / (2 * eps)
    assert v.grad == pytest.approx(numeric, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("name", BINARY)
def test_binary_gate_derivatives_match_finite_differences(name):
    a, b = Value(1.7), Value(-0.6)
    Tape(BINARY[name](a, b)).run_backward()
    eps = 1e-6
    da = (BINARY[name](Value(1.7 + eps), Value(-0.6)).data - BINARY[name](Value(1.7 - eps), Value(-0.6)).data) / (2 * eps)
    db = (BINARY[name](Value(1.7), Value(-0.6 + eps)).data - BINARY[name](Value(1.7), Value(-0.6 - eps)).data) / (2 * eps)
    assert (a.grad, b.grad) == pytest.approx((da, db), rel=1e-6)


def test_gradients_add_where_a_value_forks():
    x = Value(3.0)
    y = x * x + x  # x reaches y along three paths: d/dx = 2x + 1
    Tape(y).run_backward()
    assert x.grad == 7.0


def test_tape_steps_forward_and_backward_one_gate_at_a_time():
    x, w, b = Value(0.5), Value(-1.5), Value(0.25)
    loss = ((w * x + b).tanh() - 1.0) ** 2
    eager = {"loss": loss.data}
    tape = Tape(loss)
    tape.run_backward()
    eager_grads = (x.grad, w.grad, b.grad)

    tape.reset()
    assert loss.data is None and all(g.data is None for g in tape.gates)
    seen = []
    while (gate := tape.step_forward()) is not None:
        assert all(p.data is not None for p in gate.parents), "a gate ran before its inputs"
        seen.append(gate)
    assert seen == tape.gates and loss.data == eager["loss"]

    steps = 0
    while tape.step_backward() is not None:
        steps += 1
        if steps == 1:
            assert w.grad == 0.0, "a leaf's gradient arrived before the gates above it ran"
    assert steps == len(tape.gates)
    assert (x.grad, w.grad, b.grad) == eager_grads


def test_backward_refuses_to_start_before_forward_finishes():
    tape = Tape(Value(2.0) * 3.0 + 1.0)
    tape.reset()
    tape.step_forward()
    assert tape.step_backward() is None


def test_topological_order_of_a_deep_chain_needs_no_recursion():
    v = Value(0.1)
    for _ in range(5000):
        v = v * 1.0 + 0.0
    tape = Tape(v)
    assert len(tape.gates) == 10000


@pytest.mark.parametrize("hidden", DEPTHS, ids=["0hidden", "1hidden", "3hidden"])
@pytest.mark.parametrize("loss", TASKS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_scalar_engine_agrees_with_vectorised_engine(activation, loss, hidden):
    """Same example, both engines: every z, a, dL/dz, dL/da and dL/dparam to 1e-10."""
    arch, params, X, labels, T = problem(activation, loss, hidden, n=3)
    for row in range(len(X)):
        x, t = X[row:row + 1], T[row:row + 1]
        fwd = forward(arch, params, x)
        bwd = backward(arch, params, fwd, t)  # a batch of one: the example's own loss
        graph = build_example_graph(arch, params, ["x1", "x2"], tuple(x[0]), labels[row].item())
        for layer in range(arch.depth + 1):
            for j in range(arch.sizes[layer]):
                gates = graph.nodes[node_id(layer, j, arch.depth)]
                where = f"layer {layer} unit {j}"
                assert gates["z"].data == pytest.approx(fwd.Z[layer][0, j], abs=1e-10), where
                assert gates["a"].data == pytest.approx(fwd.A[layer][0, j], abs=1e-10), where
                assert gates["z"].grad == pytest.approx(bwd.dZ[layer][0, j], abs=1e-10), where
                if layer > 0 and gates["a"] is not gates["z"]:
                    assert gates["a"].grad == pytest.approx(bwd.dA[layer][0, j], abs=1e-10), where
        assert graph.loss.data == pytest.approx(arch.loss_fn.per_example(fwd.Z[-1], t)[0], abs=1e-10)
        for name, grad in gradient_arrays(graph).items():
            np.testing.assert_allclose(grad, bwd.grads[name], rtol=0, atol=1e-10, err_msg=name)


def test_feature_gates_are_part_of_the_graph():
    features = ["x1^2", "x1*x2"]
    arch = Architecture((2, 2, 1), "tanh", "bce")
    params = init_params(arch.sizes, "normal", 3)
    graph = build_example_graph(arch, params, features, (0.5, -2.0), 1)
    x1, x2 = graph.raw
    X = feature_matrix(np.array([[0.5, -2.0]]), features)
    fwd = forward(arch, params, X)
    bwd = backward(arch, params, fwd, np.array([[1.0]]))
    # dL/dx1 = dL/d(x1²)·2x1 + dL/d(x1x2)·x2: the raw input forks into both features
    expected = bwd.dA[0][0, 0] * 2 * 0.5 + bwd.dA[0][0, 1] * -2.0
    assert x1.grad == pytest.approx(expected, abs=1e-12)
    assert math.isfinite(x2.grad)


@pytest.mark.parametrize("label", [0, 1, 2])
def test_softmax_cross_entropy_from_gates_gives_p_minus_y_and_matches_finite_differences(label):
    # the gate view's softmax: z + (−max z), exp, a running +, a·b⁻¹; its dL/dz_k must be p_k − y_k
    from app.engine.gates import _output_and_loss
    from app.engine.mlp import Architecture

    arch = Architecture((2, 3), "tanh", "cross_entropy")
    zs = [0.3, -1.2, 2.1]

    def loss_at(values):
        z = [Value(v) for v in values]
        probs, loss = _output_and_loss(arch, z, label, lambda: None)
        return z, probs, loss

    z, probs, loss = loss_at(zs)
    Tape(loss).run_backward()
    p = np.exp(zs) / np.exp(zs).sum()
    assert probs[label].data == pytest.approx(p[label], rel=1e-12)
    assert [v.grad for v in z] == pytest.approx(p - np.eye(3)[label], rel=1e-10, abs=1e-12)
    eps = 1e-6
    for k in range(3):
        up, down = list(zs), list(zs)
        up[k] += eps
        down[k] -= eps
        numeric = (loss_at(up)[2].data - loss_at(down)[2].data) / (2 * eps)
        assert z[k].grad == pytest.approx(numeric, rel=1e-6, abs=1e-9)
    ops = [v.op for v in Tape(loss).gates]
    assert ops.count("exp") == 3 and ops.count("^-1") == 1 and "*" in ops
    assert ops.count("*") == 2, "the product e·Σ⁻¹ and −log: the shift −max z is one constant, not ·(−1) gates"


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_each_activation_is_the_same_function_in_both_engines(name):
    """The scalar gate's formula and slope against the batched engine's, at the same points."""
    act = activations.ACTIVATIONS[name]
    z = np.array([-40.0, -3.1, -0.7, -0.02, 0.0, 0.03, 0.5, 2.4, 40.0])
    a = act.forward(z)
    np.testing.assert_allclose([act.scalar(float(v)) for v in z], a, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose([act.scalar_derivative(float(v), float(w)) for v, w in zip(z, a)], act.derivative(z, a),
                               rtol=1e-12, atol=1e-15)
