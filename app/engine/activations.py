"""Hidden-layer activations: each one's formula beside its derivative.

`derivative(z, a)` is da/dz, given both z and a = f(z) so each can use whichever is cheaper
and more stable (tanh' = 1 − a², sigmoid' = a(1 − a)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

LEAKY_SLOPE = 0.01


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^−z) without overflow: e^−|z| never exceeds 1."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@dataclass(frozen=True)
class Activation:
    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray, np.ndarray], np.ndarray]
    formula: str  # how the inspector writes a = f(z)
    derivative_formula: str  # how the inspector writes da/dz


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", lambda z: np.maximum(z, 0.0),
                       lambda z, a: (z > 0).astype(z.dtype), "max(0, z)", "1 if z > 0 else 0"),
    "leaky_relu": Activation("leaky_relu", lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
                             lambda z, a: np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype),
                             "z if z > 0 else 0.01·z", "1 if z > 0 else 0.01"),
    "tanh": Activation("tanh", np.tanh, lambda z, a: 1.0 - a * a, "tanh(z)", "1 − a²"),
    "sigmoid": Activation("sigmoid", sigmoid, lambda z, a: a * (1.0 - a), "σ(z)", "a·(1 − a)"),
    "linear": Activation("linear", lambda z: z, lambda z, a: np.ones_like(z), "z", "1"),
}
