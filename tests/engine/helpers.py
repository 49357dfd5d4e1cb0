"""Small random problems for the math tests, and a central finite difference."""

from __future__ import annotations

import numpy as np

from app.engine import Architecture, activations, init_params, losses

ACTIVATIONS = list(activations.ACTIVATIONS)  # every one defined: a new one is tested unasked
LOSSES = list(losses.LOSSES)
# every loss on classes, and regression: mse with one linear output and real-valued targets
TASKS = [*LOSSES, "regression"]
DEPTHS = [[], [3], [3, 4, 3]]


def problem(activation: str, loss: str, hidden: list[int], n: int = 5, seed: int = 0, classes: int = 3):
    """A random network with features 2, its data X, labels (or real targets for `regression`)
    and loss targets."""
    rng = np.random.default_rng(seed)
    if loss == "regression":
        arch = Architecture((2, *hidden, 1), activation, "mse", regression=True)
        params = _nonzero_biases(init_params(arch.sizes, "normal", seed), rng)
        X, y = rng.normal(0.0, 1.5, (n, 2)), rng.uniform(-6.0, 6.0, n)
        return arch, params, X, y, arch.loss_fn.targets(y, 1)
    outputs = 1 if loss == "bce" else classes
    arch = Architecture((2, *hidden, outputs), activation, loss)
    params = _nonzero_biases(init_params(arch.sizes, "normal", seed), rng)
    X = rng.normal(0.0, 1.5, (n, 2))
    labels = rng.integers(0, 2 if loss == "bce" else classes, n)
    return arch, params, X, labels, arch.loss_fn.targets(labels, outputs)


def _nonzero_biases(params, rng):
    for name in params:  # non-zero biases, so no unit sits exactly on a ReLU kink
        if name[0] == "b":
            params[name] = rng.normal(0.0, 0.5, params[name].shape)
    return params


def central_difference(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """df/dx for every element of x (modified in place and restored)."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        saved = x[idx]
        x[idx] = saved + eps
        up = f()
        x[idx] = saved - eps
        down = f()
        x[idx] = saved
        grad[idx] = (up - down) / (2 * eps)
    return grad


def assert_close(actual, expected, rtol=1e-6, atol=1e-8, what=""):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    err = np.abs(actual - expected)
    worst = np.unravel_index(np.argmax(err - rtol * np.abs(expected)), err.shape) if err.size else ()
    assert np.all(err <= atol + rtol * np.abs(expected)), (
        f"{what}: at {worst} got {actual[worst]!r}, expected {expected[worst]!r}")
