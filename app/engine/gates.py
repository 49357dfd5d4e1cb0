"""One example's whole computation rebuilt from scalar gates: the gate view's source and the
independent check of the vectorised engine.

Every feature map, every product w·a, every running sum, every activation and each piece of
the loss is its own `Value`, so the same numbers the matrices produce can be watched arising
one multiplication at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import ACTIVATIONS
from .mlp import Architecture, Params
from .scalar import Tape, Value, serial_mark
from .topology import LOSS_ID, node_id


@dataclass
class ExampleGraph:
    tape: Tape
    loss: Value
    raw: tuple[Value, Value]  # the point's x1 and x2
    params: dict[str, np.ndarray]  # same names and shapes as Params, holding leaf Values
    nodes: dict[str, dict[str, Value]]  # neuron-view node id -> its "z" and "a" gates
    owners: list[tuple[int, str]]  # (first serial, neuron-view node id): which unit each gate computes

    def owner(self, value: Value) -> str:
        """The neuron-view node whose computation made this value (inputs for the feature maps)."""
        found = self.owners[0][1]
        for first, node in self.owners:
            if value.serial < first:
                break
            found = node
        return found


def _feature(name: str, x1: Value, x2: Value) -> Value:
    built = {"x1": lambda: x1, "x2": lambda: x2, "x1^2": lambda: x1**2, "x2^2": lambda: x2**2,
             "x1*x2": lambda: x1 * x2, "sin(x1)": lambda: x1.sin(), "sin(x2)": lambda: x2.sin()}[name]()
    built.label = built.label or name
    return built


def _activate(z: Value, activation: str) -> Value:
    if activation == "linear":
        return z  # a = z: no gate of its own
    return z.activate(ACTIVATIONS[activation])


def _output_and_loss(arch: Architecture, z: list[Value], label: float, loss_begins) -> tuple[list[Value], Value]:
    """The output units' activations (their gates belong to the last output unit), then the loss."""
    if arch.loss == "bce":
        p = z[0].sigmoid()
        loss_begins()
        # only the term that y switches on: y = 1 → −log p, y = 0 → −log(1 − p)
        loss = -(p.log() if int(label) == 1 else (1.0 - p).log())
        return [p], loss
    if arch.loss == "cross_entropy":
        # softmax from exp, + and a·b⁻¹ gates, every z before any p: each p divides by the sum
        # of all the e^z. Adding −max z (one constant, not max z · (−1), as mse's −t) keeps every
        # exponent ≤ 0 so e^z cannot overflow; it cancels in p, and being a constant it takes
        # no gradient, so dL/dz_k still comes out as p_k − y_k.
        shift = Value(-max(v.data for v in z), label="−max z")
        exps = [(v + shift).exp() for v in z]
        total = exps[0]
        for e in exps[1:]:
            total = total + e
        # only p_y reaches the loss, so the tape (the loss's ancestors) holds only its division
        probs = [e / total for e in exps]
        loss_begins()
        return probs, -probs[int(label)].log()
    loss_begins()
    # one output: the target itself (a class 0 or 1, or a regression's real y); else one-hot
    targets = [float(label)] if len(z) == 1 else [1.0 if k == int(label) else 0.0 for k in range(len(z))]
    squares = [(v + Value(-t, label="−t")) ** 2 for v, t in zip(z, targets)]  # one constant, not t·(−1)
    total = squares[0]
    for s in squares[1:]:
        total = total + s
    return list(z), (total if len(z) == 1 else total * (1.0 / len(z)))


def build_example_graph(arch: Architecture, params: Params, features: list[str],
                        point: tuple[float, float], label: float) -> ExampleGraph:
    x1, x2 = Value(float(point[0]), label="x1"), Value(float(point[1]), label="x2")
    depth = arch.depth
    leaves: dict[str, np.ndarray] = {}
    nodes: dict[str, dict[str, Value]] = {}
    owners: list[tuple[int, str]] = [(x1.serial, node_id(0, 0, depth))]

    def now_building(node: str) -> None:
        owners.append((serial_mark(), node))

    a_prev = [_feature(name, x1, x2) for name in features]
    for i, a in enumerate(a_prev):
        nodes[node_id(0, i, depth)] = {"z": a, "a": a}
    for l in range(1, depth + 1):
        W, b = params[f"W{l}"], params[f"b{l}"]
        Wv = np.empty(W.shape, dtype=object)
        bv = np.empty(b.shape, dtype=object)
        z_layer, a_layer = [], []
        for j in range(W.shape[1]):
            now_building(node_id(l, j, depth))
            for i in range(W.shape[0]):
                Wv[i, j] = Value(float(W[i, j]), label=f"W{l}[{i}][{j}]")
            bv[j] = Value(float(b[j]), label=f"b{l}[{j}]")
            z = Wv[0, j] * a_prev[0]
            for i in range(1, W.shape[0]):
                z = z + Wv[i, j] * a_prev[i]
            z = z + bv[j]
            z.label = f"z {node_id(l, j, depth)}"
            z_layer.append(z)
            if l < depth:  # each unit's activation right after its sum: one unit's gates stay together
                a_layer.append(_activate(z, arch.activation))
        leaves[f"W{l}"], leaves[f"b{l}"] = Wv, bv
        if l < depth:
            a_prev = outputs = a_layer
        else:
            outputs, loss = _output_and_loss(arch, z_layer, label, lambda: now_building(LOSS_ID))
        for j, (z, a) in enumerate(zip(z_layer, outputs)):
            nodes[node_id(l, j, depth)] = {"z": z, "a": a}
    loss.label = "L"
    nodes[LOSS_ID] = {"z": loss, "a": loss}
    tape = Tape(loss, in_creation_order=True)
    tape.run_backward()
    return ExampleGraph(tape, loss, (x1, x2), leaves, nodes, owners)


def gradient_arrays(graph: ExampleGraph) -> Params:
    """dL/d(every parameter) read off the gate graph, shaped like Params."""
    return {name: np.vectorize(lambda v: v.grad, otypes=[float])(values) for name, values in graph.params.items()}
