"""A scalar autograd engine, one node per arithmetic operation (the micrograd idea).

Each op writes its forward formula and its local derivative side by side. Unlike micrograd,
the forward formula is kept as a closure too, so a `Tape` can wipe the values and replay the
forward pass and then the backward pass one gate at a time — the step-through walks it.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable, Iterator

from .activations import ACTIVATIONS, Activation


_serials = itertools.count()


def serial_mark() -> int:
    """A number below every Value made from now on and above every one made before."""
    return next(_serials)


class Value:
    __slots__ = ("data", "grad", "parents", "op", "label", "serial", "_forward", "_backward")

    def __init__(self, data: float | None = None, parents: tuple["Value", ...] = (), op: str = "",
                 label: str = ""):
        self.data = data
        self.grad = 0.0
        self.parents = parents
        self.op = op  # "" for a leaf (an input, a parameter or a constant)
        self.label = label
        self.serial = next(_serials)  # creation order: a topological order that follows how the code reads
        self._forward: Callable[[], None] | None = None
        self._backward: Callable[[], None] = lambda: None

    def __repr__(self) -> str:
        return f"Value({self.label or self.op or 'leaf'}={self.data}, grad={self.grad})"

    def _gate(self, forward: Callable[[], None], backward: Callable[[], None]) -> "Value":
        self._forward, self._backward = forward, backward
        forward()
        return self

    # --- the primitive gates -------------------------------------------------------------

    def __add__(self, other: "Value | float") -> "Value":
        other = as_value(other)
        out = Value(parents=(self, other), op="+")

        def forward():
            out.data = self.data + other.data

        def backward():  # d(a+b)/da = d(a+b)/db = 1: add hands the gradient to both inputs
            self.grad += out.grad
            other.grad += out.grad

        return out._gate(forward, backward)

    def __mul__(self, other: "Value | float") -> "Value":
        other = as_value(other)
        out = Value(parents=(self, other), op="*")

        def forward():
            out.data = self.data * other.data

        def backward():  # d(ab)/da = b, d(ab)/db = a: mul swaps its inputs
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        return out._gate(forward, backward)

    def __pow__(self, exponent: float) -> "Value":
        out = Value(parents=(self,), op=f"^{exponent:g}")

        def forward():
            out.data = _power(self.data, exponent)

        def backward():  # d(a^n)/da = n·a^(n−1)
            self.grad += exponent * _power(self.data, exponent - 1) * out.grad

        return out._gate(forward, backward)

    def exp(self) -> "Value":
        out = Value(parents=(self,), op="exp")

        def forward():
            out.data = math.exp(self.data) if self.data < 709.0 else math.inf

        def backward():  # d(e^a)/da = e^a
            self.grad += out.data * out.grad

        return out._gate(forward, backward)

    def log(self) -> "Value":
        out = Value(parents=(self,), op="log")

        def forward():
            out.data = math.log(self.data) if self.data > 0 else -math.inf

        def backward():  # d(log a)/da = 1/a
            self.grad += (out.grad / self.data) if self.data else math.inf * out.grad

        return out._gate(forward, backward)

    def activate(self, activation: Activation) -> "Value":
        """A hidden activation's gate: its formula and derivative stated once, in activations.py."""
        out = Value(parents=(self,), op=activation.name)
        f, slope = activation.scalar, activation.scalar_derivative

        def forward():
            out.data = f(self.data)

        def backward():  # da/dz, from the gate's input and its own output
            self.grad += slope(self.data, out.data) * out.grad

        return out._gate(forward, backward)

    def tanh(self) -> "Value":
        return self.activate(ACTIVATIONS["tanh"])

    def sigmoid(self) -> "Value":
        return self.activate(ACTIVATIONS["sigmoid"])

    def relu(self) -> "Value":
        return self.activate(ACTIVATIONS["relu"])

    def leaky_relu(self) -> "Value":
        return self.activate(ACTIVATIONS["leaky_relu"])

    def sin(self) -> "Value":
        out = Value(parents=(self,), op="sin")

        def forward():  # sin(±∞) is undefined: NaN, as numpy gives, not a ValueError
            out.data = math.sin(self.data) if math.isfinite(self.data) else math.nan

        def backward():  # d(sin a)/da = cos a
            self.grad += (math.cos(self.data) if math.isfinite(self.data) else math.nan) * out.grad

        return out._gate(forward, backward)

    # --- built from the primitives -------------------------------------------------------

    def __neg__(self) -> "Value":
        return self * -1.0

    def __sub__(self, other: "Value | float") -> "Value":
        return self + (-as_value(other))

    def __truediv__(self, other: "Value | float") -> "Value":
        return self * as_value(other) ** -1.0

    def __radd__(self, other: float) -> "Value":
        return as_value(other) + self

    def __rmul__(self, other: float) -> "Value":
        return as_value(other) * self

    def __rsub__(self, other: float) -> "Value":
        return as_value(other) + (-self)


def _power(base: float, exponent: float) -> float:
    """base**exponent as numpy gives it: ∞ on overflow rather than Python's OverflowError, and
    NaN (not a complex number) for a negative base to a fractional power."""
    if base < 0 and math.isfinite(exponent) and exponent != int(exponent):
        return math.nan
    try:
        return base**exponent
    except OverflowError:
        return math.inf
    except ZeroDivisionError:  # 0 to a negative power
        return math.inf


def as_value(x: "Value | float") -> Value:
    return x if isinstance(x, Value) else Value(float(x), label=f"{x:g}")


def topological_order(root: Value) -> list[Value]:
    """Every value root depends on, each after all of its parents (leaves included)."""
    order: list[Value] = []
    seen: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:  # iterative: deep graphs must not hit Python's recursion limit
        v, expanded = stack.pop()
        if expanded:
            order.append(v)
            continue
        if id(v) in seen:
            continue
        seen.add(id(v))
        stack.append((v, True))
        stack.extend((p, False) for p in reversed(v.parents) if id(p) not in seen)
    return order


class Tape:
    """The gates that compute `root`, in topological order, steppable in both directions.

    Forward: each step computes one more gate's value. Backward: each step applies one more
    gate's local derivative, in reverse order, so that when a gate is reached every gate it
    feeds has already passed its gradient back (gradients at forks have been added up)."""

    def __init__(self, root: Value, in_creation_order: bool = False):
        self.root = root
        self.values = topological_order(root)
        if in_creation_order:  # still topological (a value is made after its inputs), and reads unit by unit
            self.values.sort(key=lambda v: v.serial)
        self.gates = [v for v in self.values if v._forward is not None]
        self.forward_done = len(self.gates)
        self.backward_done = len(self.gates)

    def reset(self) -> None:
        for g in self.gates:
            g.data = None
        for v in self.values:
            v.grad = 0.0
        self.forward_done = self.backward_done = 0

    def step_forward(self) -> Value | None:
        if self.forward_done == len(self.gates):
            return None
        gate = self.gates[self.forward_done]
        gate._forward()
        self.forward_done += 1
        return gate

    def step_backward(self) -> Value | None:
        if self.forward_done < len(self.gates) or self.backward_done == len(self.gates):
            return None
        if self.backward_done == 0:
            for v in self.values:
                v.grad = 0.0
            self.root.grad = 1.0  # dL/dL
        gate = self.gates[len(self.gates) - 1 - self.backward_done]
        gate._backward()
        self.backward_done += 1
        return gate

    def run_backward(self) -> None:
        self.backward_done = 0
        while self.step_backward() is not None:
            pass

    def __iter__(self) -> Iterator[Value]:
        return iter(self.gates)
