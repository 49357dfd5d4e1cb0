"""The batch view: one iteration as matrix products over the whole minibatch.

Forward, layer l:  A{l−1} (N×k) @ W{l} (k×m) + b{l} → Z{l} (N×m), then A{l} = f(Z{l}).
Backward:          dW{l} = A{l−1}ᵀ @ dZ{l},  db{l} = dZ{l}.sum(0),  dA{l−1} = dZ{l} @ W{l}ᵀ.
A layer's forward matrices appear once the cursor has finished that layer's forward ops, and
its backward ones once it has finished that layer's backward ops, as in the other views.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .ops import neuron_position, phase_counts

if TYPE_CHECKING:
    from .stepper import Run

# Matrices with more rows than this show their first rows only (the shapes say how many there are).
MAX_ROWS = 8


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


def batch_view(run: Run) -> dict:
    """Plain Python and numpy values; `None` where the cursor has not reached a matrix yet."""
    work = run.work
    if work is None or run.position == 0:
        batch = run.trainer.batch()
        return {"iteration": run.iteration, "n": len(batch), "rows_shown": min(len(batch), MAX_ROWS),
                "examples": _examples(run, run.iteration), "layers": _shapes_only(run, len(batch))}
    forward_done, backward_done = _layers_done(run)
    fwd, bwd, params = work.forward, work.backward, run.start.params
    n = len(work.batch)
    rows = slice(0, MAX_ROWS)
    layers = []
    for l in range(1, run.arch.depth + 1):
        entry = _shapes(run, l, n)
        entry["W"], entry["b"] = params[f"W{l}"], params[f"b{l}"]
        entry["X"] = fwd.A[l - 1][rows] if l - 1 in forward_done or l == 1 else None
        if l in forward_done:
            entry["Z"], entry["A"] = fwd.Z[l][rows], fwd.A[l][rows]
        if l in backward_done:
            entry["dZ"], entry["dW"], entry["db"] = bwd.dZ[l][rows], bwd.grads[f"W{l}"], bwd.grads[f"b{l}"]
            entry["dX"] = bwd.dA[l - 1][rows]
        layers.append(entry)
    return {"iteration": run.start.iteration, "n": n, "rows_shown": min(n, MAX_ROWS),
            "examples": _examples(run, run.start.iteration), "layers": layers}


def _examples(run: Run, iteration: int) -> list[int]:
    rows = run.trainer.batch_rows(iteration)
    return list(range(rows.start, rows.stop))


def _shapes(run: Run, l: int, n: int) -> dict:
    k, m = run.arch.sizes[l - 1], run.arch.sizes[l]
    return {"layer": l, "activation": run.config.activation if l < run.arch.depth else f"output ({run.config.loss})",
            "shapes": {"X": [n, k], "W": [k, m], "b": [m], "Z": [n, m], "A": [n, m],
                       "dZ": [n, m], "dW": [k, m], "db": [m], "dX": [n, k]},
            "X": None, "W": None, "b": None, "Z": None, "A": None, "dZ": None, "dW": None, "db": None, "dX": None}


def _shapes_only(run: Run, n: int) -> list[dict]:
    return [_shapes(run, l, n) for l in range(1, run.arch.depth + 1)]


