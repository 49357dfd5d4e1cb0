"""The vectorised network: X @ W + b, layer after layer, and backprop the batched way.

Conventions (docs/protocol.md): layer l = 1..L maps layer l−1 to layer l (layer 0 is the input
features); W{l} has shape (fan_in, fan_out) and b{l} shape (fan_out,). Rows are examples.
Every array named d<Thing> holds dL/d<Thing> for the batch-mean loss L.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import ACTIVATIONS, Activation
from .losses import LOSSES, Loss

Params = dict[str, np.ndarray]


@dataclass(frozen=True)
class Architecture:
    sizes: tuple[int, ...]  # (features, hidden..., outputs)
    activation: str
    loss: str
    regression: bool = False  # a real-valued target: one linear output (mse), judged by R², not accuracy

    @property
    def depth(self) -> int:
        """L, the number of weight layers."""
        return len(self.sizes) - 1

    @property
    def hidden_activation(self) -> Activation:
        return ACTIVATIONS[self.activation]

    @property
    def loss_fn(self) -> Loss:
        return LOSSES[self.loss]

    def param_names(self) -> list[str]:
        return [f"{kind}{l}" for l in range(1, self.depth + 1) for kind in ("W", "b")]

    def param_shape(self, name: str) -> tuple[int, ...]:
        l = int(name[1:])
        return (self.sizes[l - 1], self.sizes[l]) if name[0] == "W" else (self.sizes[l],)


@dataclass
class Forward:
    """z and a of every layer for every example: Z[l], A[l] with shape (N, sizes[l]).

    A[0] is the input X; Z[0] is X too, so that every layer has both."""

    Z: list[np.ndarray]
    A: list[np.ndarray]

    @property
    def output(self) -> np.ndarray:
        return self.A[-1]


@dataclass
class Backward:
    """dL/dZ[l] and dL/dA[l] of every layer (dA[0] = dL/dX) and dL/d(every parameter)."""

    dZ: list[np.ndarray]
    dA: list[np.ndarray]
    grads: Params


def forward(arch: Architecture, params: Params, X: np.ndarray) -> Forward:
    Z, A = [X], [X]
    for l in range(1, arch.depth + 1):
        z = A[l - 1] @ params[f"W{l}"] + params[f"b{l}"]
        a = arch.loss_fn.output(z) if l == arch.depth else arch.hidden_activation.forward(z)
        Z.append(z)
        A.append(a)
    return Forward(Z, A)


def backward(arch: Architecture, params: Params, fwd: Forward, T: np.ndarray,
             l2: float = 0.0, l1: float = 0.0) -> Backward:
    """Backprop through the batch. T holds the targets as the loss expects them."""
    L, act, loss = arch.depth, arch.hidden_activation, arch.loss_fn
    dZ: list[np.ndarray] = [None] * (L + 1)  # type: ignore[list-item]
    dA: list[np.ndarray] = [None] * (L + 1)  # type: ignore[list-item]
    grads: Params = {}
    dA[L] = loss.output_grad_a(fwd.Z[L], fwd.A[L], T)
    dZ[L] = loss.output_grad(fwd.Z[L], fwd.A[L], T)
    for l in range(L, 0, -1):
        W = params[f"W{l}"]
        # z = a_prev @ W + b, so each W[i, j] is touched by every example: their terms add.
        grads[f"W{l}"] = fwd.A[l - 1].T @ dZ[l] + regularisation_grad(W, l2, l1)
        # b was broadcast to every row in the forward pass, so its gradient sums over the rows.
        grads[f"b{l}"] = dZ[l].sum(axis=0)
        # every unit of layer l−1 feeds every unit of layer l: dL/da_prev sums over them.
        dA[l - 1] = dZ[l] @ W.T
        if l > 1:
            dZ[l - 1] = dA[l - 1] * act.derivative(fwd.Z[l - 1], fwd.A[l - 1])
    dZ[0] = dA[0]  # the inputs pass through unchanged
    return Backward(dZ, dA, grads)


def regularisation(params: Params, l2: float, l1: float) -> float:
    """l2·½·Σw² + l1·Σ|w| over the weights (never the biases)."""
    total = 0.0
    for name, value in params.items():
        if name[0] == "W":
            total += l2 * 0.5 * float(np.sum(value * value)) + l1 * float(np.sum(np.abs(value)))
    return total


def regularisation_grad(W: np.ndarray, l2: float, l1: float) -> np.ndarray | float:
    if not l2 and not l1:
        return 0.0
    return l2 * W + l1 * np.sign(W)  # sign(0) = 0: the subgradient that leaves a zero weight alone


def data_loss(arch: Architecture, params: Params, X: np.ndarray, T: np.ndarray) -> float:
    fwd = forward(arch, params, X)
    return float(arch.loss_fn.per_example(fwd.Z[-1], T).mean())


def objective(arch: Architecture, params: Params, X: np.ndarray, T: np.ndarray,
              l2: float = 0.0, l1: float = 0.0) -> float:
    """What the optimiser minimises: the batch-mean loss plus the regularisation terms."""
    return data_loss(arch, params, X, T) + regularisation(params, l2, l1)


def hidden_and_output(arch: Architecture, params: Params, X: np.ndarray,
                      dtype: type = np.float32) -> list[np.ndarray]:
    """A[1..L] for many points at once (the heatmaps); float32 is plenty to paint with and
    several times faster than float64 for tanh."""
    cast = {k: v.astype(dtype) for k, v in params.items()}
    return forward(arch, cast, X.astype(dtype)).A[1:]
