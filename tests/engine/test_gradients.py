"""Every backward formula against central finite differences in float64."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine import backward, forward, objective
from app.engine.activations import ACTIVATIONS as ACTIVATION_FUNCS
from app.engine.losses import LOSSES as LOSS_FUNCS

from .helpers import ACTIVATIONS, DEPTHS, TASKS, assert_close, central_difference, problem


@pytest.mark.parametrize("hidden", DEPTHS, ids=["0hidden", "1hidden", "3hidden"])
@pytest.mark.parametrize("loss", TASKS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("l2,l1", [(0.0, 0.0), (0.3, 0.2)], ids=["plain", "l2+l1"])
def test_parameter_gradients_match_finite_differences(activation, loss, hidden, l2, l1):
    arch, params, X, _, T = problem(activation, loss, hidden)
    bwd = backward(arch, params, forward(arch, params, X), T, l2, l1)
    for name, value in params.items():
        numeric = central_difference(lambda: objective(arch, params, X, T, l2, l1), value)
        assert_close(bwd.grads[name], numeric, what=name)


def _loss_from_layer(arch, params, layer, Z_layer, T, activation_of_z=True):
    """The batch loss recomputed from layer `layer`'s z onwards (test-side forward)."""
    last = arch.depth
    a = Z_layer if layer == 0 else (
        arch.loss_fn.output(Z_layer) if layer == last else arch.hidden_activation.forward(Z_layer))
    if not activation_of_z:
        a = Z_layer
    if layer == last:
        return float(arch.loss_fn.per_example(Z_layer, T).mean())
    for l in range(layer + 1, last + 1):
        z = a @ params[f"W{l}"] + params[f"b{l}"]
        if l == last:
            return float(arch.loss_fn.per_example(z, T).mean())
        a = arch.hidden_activation.forward(z)
    raise AssertionError("unreachable")


@pytest.mark.parametrize("hidden", DEPTHS, ids=["0hidden", "1hidden", "3hidden"])
@pytest.mark.parametrize("loss", TASKS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_layer_dz_and_da_match_finite_differences(activation, loss, hidden):
    arch, params, X, _, T = problem(activation, loss, hidden)
    fwd = forward(arch, params, X)
    bwd = backward(arch, params, fwd, T)
    for layer in range(arch.depth + 1):
        Z = fwd.Z[layer].copy()
        numeric_dz = central_difference(lambda: _loss_from_layer(arch, params, layer, Z, T), Z)
        assert_close(bwd.dZ[layer], numeric_dz, what=f"dZ[{layer}]")
        if layer < arch.depth:  # the output's dL/da is checked against the loss formula below
            A = fwd.A[layer].copy()
            numeric_da = central_difference(
                lambda: _loss_from_layer(arch, params, layer, A, T, activation_of_z=False), A)
            assert_close(bwd.dA[layer], numeric_da, what=f"dA[{layer}]")


def _textbook_loss(loss, a, t):
    """Each loss written from the output a (not the logit), as a learner would write it."""
    if loss == "bce":
        return float(np.mean(-(t * np.log(a) + (1 - t) * np.log(1 - a))))
    if loss == "cross_entropy":
        return float(np.mean(-np.log((a * t).sum(axis=1))))
    return float(np.mean((a - t) ** 2))


@pytest.mark.parametrize("loss", TASKS)
def test_output_dl_da_matches_the_textbook_loss(loss):
    arch, params, X, _, T = problem("tanh", loss, [3])
    fwd = forward(arch, params, X)
    bwd = backward(arch, params, fwd, T)
    A = fwd.A[-1].copy()
    assert_close(bwd.dA[-1], central_difference(lambda: _textbook_loss(loss, A, T), A), what="dA[L]")


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_derivative_matches_finite_differences(name):
    act = ACTIVATION_FUNCS[name]
    z = np.array([-3.1, -0.7, -0.02, 0.03, 0.5, 2.4])
    numeric = (act.forward(z + 1e-6) - act.forward(z - 1e-6)) / 2e-6
    assert_close(act.derivative(z, act.forward(z)), numeric, what=name)


@pytest.mark.parametrize("loss", ["bce", "cross_entropy"])
def test_logit_losses_stay_finite_for_huge_logits(loss):
    fn = LOSS_FUNCS[loss]
    z = np.array([[1e3, -1e3], [-1e3, 1e3], [0.0, 1e3]]) if loss == "cross_entropy" else np.array([[1e3], [-1e3], [1e3]])
    t = fn.targets(np.array([0, 0, 1]), z.shape[1])
    a = fn.output(z)
    values = fn.per_example(z, t)
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(fn.output_grad(z, a, t)))
    # confidently wrong costs the logit margin; confidently right costs about nothing
    expected = [1e3, 0.0, 0.0] if loss == "bce" else [0.0, 2e3, 0.0]
    assert values == pytest.approx(expected, abs=1e-9)
