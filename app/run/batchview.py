"""The batch view: one iteration as matrix products over the whole minibatch.

Forward, layer l:  A{l−1} (N×k) @ W{l} (k×m) + b{l} → Z{l} (N×m), then A{l} = f(Z{l}).
Backward:          dW{l} = A{l−1}ᵀ @ dZ{l},  db{l} = dZ{l}.sum(0),  dA{l−1} = dZ{l} @ W{l}ᵀ.
A layer's forward matrices appear once the cursor has finished that layer's forward ops, and
its backward ones once it has finished that layer's backward ops, as in the other views.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .ops import neuron_position, phase_counts

if TYPE_CHECKING:
    from .stepper import Run

# Matrices with more rows than this show their first rows only (the shapes say how many there are).
MAX_ROWS = 8
MATRICES = ("X", "W", "b", "Z", "A", "dZ", "dW", "db", "dX")


@dataclass
class BatchLayer:
    """One weight layer's products; a matrix is None until the cursor has reached it."""

    layer: int
    activation: str
    shapes: dict[str, list[int]]  # every matrix's full shape, rows included
    X: np.ndarray | None = None
    W: np.ndarray | None = None
    b: np.ndarray | None = None
    Z: np.ndarray | None = None
    A: np.ndarray | None = None
    dZ: np.ndarray | None = None
    dW: np.ndarray | None = None
    db: np.ndarray | None = None
    dX: np.ndarray | None = None


@dataclass
class BatchView:
    iteration: int
    n: int  # examples in the batch
    rows_shown: int  # the first rows each N-row matrix holds
    examples: list[int]  # the batch's training-set indices
    layers: list[BatchLayer] = field(default_factory=list)


def _layers_done(run: Run) -> tuple[set[int], set[int]]:
    """Layers whose forward, and whose backward, ops are all done."""
    ops, done = run.neuron_ops, run.position
    if run.view_name == "gate":
        done = neuron_position(run.gates().ops, done, len(ops))
    n_forward, n_backward = phase_counts(ops)
    forward = {op.layer for op in ops[:n_forward]} - {op.layer for op in ops[min(done, n_forward):n_forward]}
    backward_ops = ops[n_forward:n_forward + n_backward]
    finished = max(0, min(done - n_forward, n_backward))
    backward = {op.layer for op in backward_ops} - {op.layer for op in backward_ops[finished:]}
    return forward, backward


def batch_view(run: Run) -> BatchView:
    """The iteration the cursor is in: its shapes always, its matrices as far as it has reached."""
    start, batch = run.iteration_inputs()
    n = len(batch)
    rows = run.trainer.batch_rows(start.iteration)
    view = BatchView(start.iteration, n, min(n, MAX_ROWS), list(range(rows.start, rows.stop)))
    view.layers = [_shapes(run, l, n) for l in range(1, run.arch.depth + 1)]
    if not run.begun:
        return view
    forward_done, backward_done = _layers_done(run)
    fwd, bwd = run.work.forward, run.work.backward
    shown = slice(0, MAX_ROWS)
    for layer in view.layers:
        l = layer.layer
        layer.W, layer.b = start.params[f"W{l}"], start.params[f"b{l}"]
        if l - 1 in forward_done or l == 1:
            layer.X = fwd.A[l - 1][shown]
        if l in forward_done:
            layer.Z, layer.A = fwd.Z[l][shown], fwd.A[l][shown]
        if l in backward_done:
            layer.dZ, layer.dW, layer.db = bwd.dZ[l][shown], bwd.grads[f"W{l}"], bwd.grads[f"b{l}"]
            layer.dX = bwd.dA[l - 1][shown]
    return view


def _shapes(run: Run, l: int, n: int) -> BatchLayer:
    k, m = run.arch.sizes[l - 1], run.arch.sizes[l]
    return BatchLayer(l, run.config.activation if l < run.arch.depth else f"output ({run.config.loss})",
                      {"X": [n, k], "W": [k, m], "b": [m], "Z": [n, m], "A": [n, m],
                       "dZ": [n, m], "dW": [k, m], "db": [m], "dX": [n, k]})
