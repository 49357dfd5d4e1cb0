"""Hidden-layer activations: each one stated once, everything about it side by side.

An `Activation` holds its formula and its derivative on arrays (the batched engine), the same
two on one float (the scalar engine's gates), how both are written (the explanations and the
gate view), the rule a learner reads for its gate, and what the diagnostics need to know of it
(can its units die, where does it go flat). `derivative(z, a)` is da/dz, given both z and
a = f(z) so each can use whichever is cheaper and more stable (tanh' = 1 − a², σ' = a(1 − a)).

Adding an activation is adding one entry to `ACTIVATIONS`: the config accepts it, the page
offers it (`hello.choices`), the gate view draws it and the inspector explains it from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

LEAKY_SLOPE = 0.01


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^−z) without overflow: e^−|z| never exceeds 1."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + e^z), finite for any finite z (e^z alone overflows past z ≈ 709)."""
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def scalar_sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def scalar_softplus(z: float) -> float:
    if not math.isfinite(z):
        return z if z > 0 else (0.0 if z < 0 else math.nan)
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


@dataclass(frozen=True)
class Activation:
    name: str
    forward: Callable[[np.ndarray], np.ndarray]  # a = f(z), elementwise
    derivative: Callable[[np.ndarray, np.ndarray], np.ndarray]  # da/dz from z and a
    scalar: Callable[[float], float]  # f on one float: the scalar engine's gate
    scalar_derivative: Callable[[float, float], float]  # da/dz from z and a, on floats
    symbol: str  # its name in a formula and on a gate: "σ", "tanh"
    formula: str  # a = f(z) written out in terms of {z} ({zf} where z is a factor): "max(0, {z})"
    slope: str  # da/dz written out in terms of {z} (its input) and {a} (its output): "1 − {a}²"
    rule: str  # the gate view's rule for its local derivative, in words
    switch: bool = False  # piecewise: the slope is shown as the value it takes (1 or 0), not as a formula
    why: Callable[[float], str] | None = None  # a note on the slope at this z, where one helps
    dies: bool = False  # a unit below zero on every input gets (almost) no gradient: the dead-unit diagnosis
    leak: float = 0.0  # what slope is left below zero, for a unit that dies
    flat_beyond: float | None = None  # |z| past which the slope is tiny: the saturation diagnosis
    plural: str = ""  # how the diagnosis names several of its units
    # the same function in an exported script's library ({z}: its input, {a}: its output);
    # "numpy'" is its slope, for the script that writes backprop out by hand
    code: tuple[tuple[str, str], ...] = ()

    def written(self, z: str, z_factor: str | None = None) -> str:
        """a = f(z) with z written as given (a symbol or a number), and as `z_factor` where it is
        multiplied (a negative number in brackets)."""
        return self.formula.format(z=z, zf=z if z_factor is None else z_factor)

    def in_code(self, library: str, z: str = "z", a: str = "a") -> str:
        """This activation as an expression of `library` ("numpy", "numpy'" for its slope, "torch", "jax")."""
        return dict(self.code)[library].format(z=z, a=a)

    def slope_written(self, z: str, a: str) -> str:
        """da/dz with its input and output written as given."""
        return self.slope.format(z=z, a=a)


def _relu_why(z: float) -> str:
    return "z > 0, so relu lets the gradient through" if z > 0 else "z ≤ 0, so relu blocks the gradient"


ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (
    Activation("relu", lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(z.dtype),
               lambda z: z if z > 0 else 0.0, lambda z, a: 1.0 if z > 0 else 0.0,
               "relu", "max(0, {z})", "[{z} > 0]",
               "relu = max(0, z), and max routes the gradient to the larger input: all of it to z if z > 0, "
               "none otherwise", switch=True, why=_relu_why, dies=True, plural="ReLUs",
               code=(("numpy", "np.maximum({z}, 0.0)"), ("numpy'", "({z} > 0).astype(float)"),
                     ("torch", "torch.where({z} > 0, {z}, 0.0)"),
                     # where, not maximum: autograd gives maximum a slope of ½ at 0, the engine 0
                     ("jax", "jnp.where({z} > 0, {z}, 0.0)"))),
    Activation("tanh", np.tanh, lambda z, a: 1.0 - a * a, math.tanh, lambda z, a: 1.0 - a * a,
               "tanh", "tanh({z})", "1 − {a}²",
               "tanh: ∂tanh(z)/∂z = 1 − tanh²(z), read off the gate's own output", flat_beyond=3.0,
               plural="tanh units",
               code=(("numpy", "np.tanh({z})"), ("numpy'", "1.0 - {a} ** 2"), ("torch", "torch.tanh({z})"),
                     ("jax", "jnp.tanh({z})"))),
    Activation("sigmoid", sigmoid, lambda z, a: a * (1.0 - a), scalar_sigmoid, lambda z, a: a * (1.0 - a),
               "σ", "σ({z})", "{a}·(1 − {a})",
               "sigmoid: ∂σ(z)/∂z = σ(z)·(1 − σ(z)), read off the gate's own output", flat_beyond=5.0,
               plural="sigmoid units",
               code=(("numpy", "0.5 * (1.0 + np.tanh({z} / 2))"), ("numpy'", "{a} * (1.0 - {a})"),
                     ("torch", "torch.sigmoid({z})"), ("jax", "jax.nn.sigmoid({z})"))),
    Activation("linear", lambda z: z, lambda z, a: np.ones_like(z), lambda z: z, lambda z, a: 1.0,
               "", "{z}", "1", "linear: a = z, so the gradient passes unchanged",
               why=lambda z: "linear", plural="linear units",
               code=(("numpy", "{z}"), ("numpy'", "np.ones_like({z})"), ("torch", "{z}"), ("jax", "{z}"))),
    Activation("leaky_relu", lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
               lambda z, a: np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype),
               lambda z: z if z > 0 else LEAKY_SLOPE * z, lambda z, a: 1.0 if z > 0 else LEAKY_SLOPE,
               "leaky", f"max({{z}}, {LEAKY_SLOPE:g}·{{zf}})", f"(1 if {{z}} > 0 else {LEAKY_SLOPE:g})",
               f"leaky relu: passes the gradient through ×1 where z > 0 and ×{LEAKY_SLOPE:g} where z ≤ 0",
               switch=True, dies=True, leak=LEAKY_SLOPE, plural="leaky ReLUs",
               code=(("numpy", f"np.where({{z}} > 0, {{z}}, {LEAKY_SLOPE!r} * {{z}})"),
                     ("numpy'", f"np.where({{z}} > 0, 1.0, {LEAKY_SLOPE!r})"),
                     ("torch", f"torch.where({{z}} > 0, {{z}}, {LEAKY_SLOPE!r} * {{z}})"),
                     ("jax", f"jnp.where({{z}} > 0, {{z}}, {LEAKY_SLOPE!r} * {{z}})"))),
    Activation("softplus", softplus, lambda z, a: sigmoid(z), scalar_softplus, lambda z, a: scalar_sigmoid(z),
               "softplus", "log(1 + e^{z})", "σ({z})",
               "softplus = log(1 + eᶻ), a smooth relu: ∂softplus(z)/∂z = σ(z), between 0 and 1",
               plural="softplus units",
               code=(("numpy", "np.logaddexp(0.0, {z})"), ("numpy'", "0.5 * (1.0 + np.tanh({z} / 2))"),
                     ("torch", "torch.logaddexp({z}, torch.zeros_like({z}))"), ("jax", "jnp.logaddexp(0.0, {z})"))),
)}
