"""Starting weights, drawn from numpy.random.Generator so a weight seed fixes them exactly."""

from __future__ import annotations

import numpy as np

from .mlp import Params


def _weights(scheme: str, rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    shape = (fan_in, fan_out)
    if scheme == "xavier":  # Glorot uniform: keeps the variance of z about that of its inputs for tanh
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape)
    if scheme == "he":  # N(0, 2/fan_in): makes up for ReLU zeroing half of its inputs
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
    if scheme == "uniform":
        return rng.uniform(-0.5, 0.5, shape)
    if scheme == "normal":
        return rng.normal(0.0, 1.0, shape)
    if scheme == "zeros":
        return np.zeros(shape)
    if scheme == "integers":  # whole numbers, never 0, so a learner can multiply them out by hand
        return rng.choice(np.array([-2.0, -1.0, 1.0, 2.0]), size=shape)
    raise ValueError(f"unknown init {scheme!r}")


def _biases(scheme: str, rng: np.random.Generator, fan_out: int) -> np.ndarray:
    if scheme == "uniform":
        return np.full(fan_out, 0.1)
    if scheme == "integers":
        return rng.choice(np.array([-1.0, 0.0, 1.0]), size=fan_out)
    return np.zeros(fan_out)


def init_params(sizes: tuple[int, ...] | list[int], scheme: str, seed: int) -> Params:
    """W{l}, b{l} for every layer, drawn layer by layer (W then b) from one generator."""
    rng = np.random.default_rng(seed)
    params: Params = {}
    for l in range(1, len(sizes)):
        params[f"W{l}"] = _weights(scheme, rng, sizes[l - 1], sizes[l])
        params[f"b{l}"] = _biases(scheme, rng, sizes[l])
    return params
