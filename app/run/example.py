"""The selected example: one training point's own forward and backward pass, in both views.

Built from a trainer, an example index and the parameters to use; it never reads a `Run`,
so the run layer has no cycle (the run hands these over its own numbers). `ExampleMemo`
remembers the last result for the exact parameters object it came from: parameters are never
changed in place, and holding the object keeps its identity from being reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

import numpy as np

from app.engine import Backward, Params, Trainer, backward, forward, neuron_graph
from app.engine.gates import ExampleGraph, build_example_graph
from app.engine.mlp import Forward

from .ops import GateStructure, Op, gate_structure

T = TypeVar("T")


@dataclass
class Example:
    """The selected example's own forward and backward pass (a batch of one, no regulariser)."""

    forward: Forward
    backward: Backward
    loss: float
    label: int | float  # the class, or a regression's real target y
    target: np.ndarray


def example_pass(trainer: Trainer, index: int, params: Params) -> Example:
    rows = trainer.train.rows(slice(index, index + 1))
    arch = trainer.arch
    with np.errstate(all="ignore"):
        fwd = forward(arch, params, rows.X)
        bwd = backward(arch, params, fwd, rows.T)
        loss = float(arch.loss_fn.per_example(fwd.Z[-1], rows.T)[0])
    return Example(fwd, bwd, loss, rows.labels[0].item(), rows.T[0])


def example_graph(trainer: Trainer, index: int, params: Params) -> ExampleGraph:
    """The example's whole computation as scalar gates, at `params`."""
    point = trainer.train.points[index]
    with np.errstate(all="ignore"):
        return build_example_graph(trainer.arch, params, list(trainer.config.features), tuple(point),
                                   trainer.train.labels[index].item())


def node_labels(trainer: Trainer) -> dict[str, str]:
    """Neuron-view node id → the label a learner reads (x1, h1.2, p, L)."""
    cfg = trainer.config
    nodes, _ = neuron_graph(trainer.arch.sizes, cfg.features, cfg.loss)
    return {n.id: n.label for n in nodes}


def structure_class(trainer: Trainer, index: int) -> int:
    """What decides the gate graph's shape besides the network: bce's and cross-entropy's loss
    depend on the example's class (only the true class's probability reaches the loss)."""
    return int(trainer.train.labels[index]) if trainer.config.loss != "mse" else -1


class Remembered(Generic[T]):
    """One result, kept for the exact objects it was computed from (compared by identity) and
    an equal plain key."""

    def __init__(self) -> None:
        self._objects: tuple = ()
        self._key: object = None
        self._value: T | None = None

    def get(self, objects: tuple, key: object, compute: Callable[[], T]) -> T:
        same = (self._value is not None and len(objects) == len(self._objects)
                and all(a is b for a, b in zip(objects, self._objects)) and key == self._key)
        if not same:
            self._objects, self._key, self._value = objects, key, compute()
        return self._value


class ExampleMemo:
    """The selected example's numbers and gate graphs, each computed once per parameters."""

    def __init__(self) -> None:
        self._values: Remembered[Example] = Remembered()
        self._graph: Remembered[list] = Remembered()  # [ExampleGraph, backward gates replayed]
        self._structures: dict[int, GateStructure] = {}
        self._labels: dict[str, str] | None = None

    def values(self, trainer: Trainer, index: int, params: Params) -> Example:
        return self._values.get((params,), index, lambda: example_pass(trainer, index, params))

    def labels(self, trainer: Trainer) -> dict[str, str]:
        if self._labels is None:
            self._labels = node_labels(trainer)
        return self._labels

    def structure(self, trainer: Trainer, index: int, neuron: list[Op]) -> GateStructure:
        """The gate graph's structure (built once per class: the weights never change it)."""
        key = structure_class(trainer, index)
        if key not in self._structures:
            self._structures[key] = gate_structure(example_graph(trainer, index, trainer.params), neuron,
                                                   trainer.arch.sizes, self.labels(trainer))
        return self._structures[key]

    def replayed(self, trainer: Trainer, index: int, params: Params, done_backward: int) -> ExampleGraph:
        """The gate graph at `params` with its first `done_backward` backward gates replayed."""
        kept = self._graph.get((params,), index, lambda: [example_graph(trainer, index, params), None])
        graph, replayed = kept
        if replayed != done_backward:  # one frame asks several times (values, explain): replay once
            graph.tape.backward_done = 0
            for _ in range(done_backward):
                graph.tape.step_backward()
            kept[1] = done_backward
        return graph
