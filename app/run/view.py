"""What a frame shows, read off a `Run`: the state's numbers as plain Python and numpy values.

`run_view` is everything a `state` message reports (app/server/wire.py turns it into JSON):
the training and test metrics, the selected example's values at every node as far as the
cursor has reached, the explanation of the op just done, and the diagnostics. Reads the run;
changes nothing but the run's caches.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from app.engine import LOSS_ID, Params, forward, node_id
from app.engine.config import COORD_LIMIT, ONE_INPUT_DATASETS
from app.engine.data import feature_matrix
from app.engine.diagnostics import Diagnostics, diagnose
from app.engine.heatmaps import boundary_range, heatmaps
from app.engine.mlp import Forward
from app.engine.training import evaluate

from .explain import Explanation, explain_op
from .ops import phase_counts
from .stepper import Run, finite_or_none

NodeValues = dict[str, dict[str, float | None]]


@dataclass
class RunView:
    """Everything a `state` message reports, as plain Python and numpy values."""

    iteration: int
    epoch: int
    phase: str
    cursor: str | None
    status: str
    diverged_at: int | None
    example: int
    loss: float | None
    accuracy: float | None
    test_loss: float | None
    test_accuracy: float | None
    r2: float | None  # regression's score in place of accuracy (None for classes)
    test_r2: float | None
    nodes: NodeValues
    params: Params
    grads: Params | None
    view: str = "neuron"
    can_back: int = 0
    next: tuple[str, str] | None = None  # the op a step of one op would do: (phase, node)
    explain: Explanation | None = None
    diagnostics: Diagnostics | None = None
    curve: Curve | None = None


def run_view(run: Run) -> RunView:
    trainer = run.trainer
    with np.errstate(all="ignore"):  # one forward pass over the training set serves both
        train_forward = forward(run.arch, trainer.params, trainer.train.X)
        train = evaluate(run.arch, trainer.params, trainer.train, train_forward)
        test = evaluate(run.arch, trainer.params, trainer.test)
    n_forward, n_backward = phase_counts(run.ops)
    backward_over = run.position >= n_forward + n_backward
    loss, accuracy, r2 = finite_or_none(train.loss), finite_or_none(train.accuracy), finite_or_none(train.r2)
    upcoming = run.ops[run.position % len(run.ops)]
    return RunView(
        iteration=run.iteration, epoch=trainer.epoch, phase=run.phase, cursor=run.cursor,
        status=run.status, diverged_at=run.diverged_at, example=run.example,
        loss=loss, accuracy=accuracy,
        test_loss=finite_or_none(test.loss) if test else None, test_accuracy=finite_or_none(test.accuracy) if test else None,
        r2=r2, test_r2=finite_or_none(test.r2) if test else None,
        nodes=node_values(run), params=trainer.params,
        grads=run.work.backward.grads if backward_over and run.work else None,
        view=run.view_name, can_back=run.can_back(),
        next=(upcoming.phase, upcoming.node),
        explain=explain_op(run, run.current_op) if run.current_op else None,
        diagnostics=run_diagnostics(run, loss, finite_or_none(train.score), train_forward),
        curve=fitted_curve(run) if run.config.dataset.name in ONE_INPUT_DATASETS else None,
    )


# Samples of x1 across [-6, 6] for the curve plot: a segment every 0.125 in x1, under 4 px of the
# widest plot (1920 px), so a ReLU's bend stays sharp, while a 16-unit fit's frame stays ~10 KB.
CURVE_SAMPLES = 97


@dataclass(frozen=True)
class Curve:
    """A one-input fit drawn as a line: the prediction over x1 and the pieces it is the sum of.

    The output unit adds up one term per unit of the layer before it, a(unit)·w, plus its bias:
    `pieces[j]` is unit j's term at every x, so prediction = Σ pieces + bias, exactly."""

    x: np.ndarray  # (S,)
    prediction: np.ndarray  # (S,)
    pieces: np.ndarray  # (units of the last hidden layer, or features with no hidden layer; S)
    bias: float
    units: list[str]  # each piece's unit as the graph labels it (h1.3, or a feature such as sin(x1))


def fitted_curve(run: Run) -> Curve:
    arch, params = run.arch, run.trainer.params
    x = np.linspace(-COORD_LIMIT, COORD_LIMIT, CURVE_SAMPLES)
    X = feature_matrix(np.column_stack([x, np.zeros_like(x)]), run.config.features)
    with np.errstate(all="ignore"):
        fwd = forward(arch, params, X)
        last = params[f"W{arch.depth}"][:, 0]
        pieces = (fwd.A[arch.depth - 1] * last).T
    labels = run.labels()
    units = [labels[node_id(arch.depth - 1, j, arch.depth)] for j in range(arch.sizes[-2])]
    return Curve(x, fwd.output[:, 0], pieces, float(params[f"b{arch.depth}"][0]), units)


@dataclass(frozen=True)
class GridMaps:
    """The pictures behind a frame: the decision boundary's planes (probabilities, or a
    regression's prediction; NaN made the middle of `boundary_range`) and each hidden unit's map
    with the finite range it spans (lo, hi), over [-extent, extent]²."""

    boundary: np.ndarray  # (C, R, R)
    boundary_range: tuple[float, float]
    neurons: np.ndarray  # (M, Rn, Rn)
    lo: np.ndarray  # (M,)
    hi: np.ndarray
    resolution: int
    neuron_resolution: int
    extent: float = COORD_LIMIT


def grid_maps(run: Run, resolution: int, neuron_resolution: int) -> GridMaps:
    arch, params, features = run.arch, run.trainer.params, run.config.features
    boundary, _ = heatmaps(arch, params, features, resolution)
    _, neurons = heatmaps(arch, params, features, neuron_resolution)
    m = len(neurons)
    lo, hi = np.zeros(m), np.zeros(m)
    if m:
        finite_maps = np.where(np.isfinite(neurons), neurons, np.nan).reshape(m, -1)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN map (a diverged run) is expected
            lo = np.nan_to_num(np.nanmin(finite_maps, axis=1), nan=0.0)
            hi = np.nan_to_num(np.nanmax(finite_maps, axis=1), nan=0.0)
    span = boundary_range(arch.regression)
    return GridMaps(np.nan_to_num(boundary, nan=sum(span) / 2), span, neurons, lo, hi, resolution, neuron_resolution)


def run_diagnostics(run: Run, loss: float | None, accuracy: float | None, fwd: Forward | None = None) -> Diagnostics:
    # `accuracy` is the task's score: the share right for classes, R² for regression
    """Why the run might be stuck, on the whole training set at the live parameters (whose
    forward pass over it, `fwd`, the caller may already have); the trend-like findings are
    judged at the checkpoints (`Run.trend`), so they hold still in between."""
    params, train = run.trainer.params, run.trainer.train
    key = (run.iteration, run.diverged_at, loss, accuracy)  # the cursor may move while the weights do not
    return run.judged.get((params,), key, lambda: diagnose(
        run.arch, params, train.X, train.T, accuracy=accuracy, loss=loss, loss_then=None,
        diverged_at=run.diverged_at, fwd=fwd, trend=run.trend()))


def node_values(run: Run) -> NodeValues:
    return _neuron_values(run) if run.view_name == "neuron" else _gate_values(run)


def _empty() -> dict[str, float | None]:
    return {"z": None, "a": None, "grad_z": None, "grad_a": None}


def _neuron_values(run: Run) -> NodeValues:
    depth, sizes, done, ops = run.arch.depth, run.arch.sizes, run.position, run.ops
    ids = [node_id(l, j, depth) for l in range(depth + 1) for j in range(sizes[l])] + [LOSS_ID]
    if done == 0:
        return {i: _empty() for i in ids}
    ex = run.example_values()
    n_forward, n_backward = phase_counts(ops)
    reached = {op.node for op in ops[:min(done, n_forward)]}
    returned = {op.node for op in ops[n_forward:done] if op.phase == "backward"}
    backward_over = done >= n_forward + n_backward
    # a softmax output's p needs every output's z: until the last is reached, p waits (as the
    # inspector says), though each z is there as soon as its unit is
    softmax_waits = run.arch.loss == "cross_entropy" and any(
        node_id(depth, j, depth) not in reached for j in range(sizes[depth]))
    values: NodeValues = {}
    for l in range(depth + 1):
        for j in range(sizes[l]):
            nid = node_id(l, j, depth)
            v = _empty()
            if l == 0 or nid in reached:
                v["z"], v["a"] = float(ex.forward.Z[l][0, j]), float(ex.forward.A[l][0, j])
                if l == depth and softmax_waits:
                    v["a"] = None
            if (l == 0 and backward_over) or nid in returned:
                v["grad_z"], v["grad_a"] = float(ex.backward.dZ[l][0, j]), float(ex.backward.dA[l][0, j])
            values[nid] = v
    loss = _empty()
    if LOSS_ID in reached:
        loss["z"] = loss["a"] = ex.loss
    if done > n_forward:
        loss["grad_z"] = loss["grad_a"] = 1.0  # dL/dL
    values[LOSS_ID] = loss
    return values


def _gate_values(run: Run) -> NodeValues:
    """Per gate-graph node: its value as z and a, its gradient as grad_z and grad_a."""
    structure = run.gates()
    if run.position == 0:
        return {n.id: _empty() for n in structure.nodes}
    graph, done_backward = run.gate_graph_values()
    n_forward, _ = phase_counts(run.ops)
    reached = {op.node for op in run.ops[:min(run.position, n_forward)]}
    gates = graph.tape.gates
    touched = {id(graph.loss)} if done_backward else set()
    for gate in gates[len(gates) - done_backward:]:
        touched.update(id(p) for p in gate.parents)
    live = run.trainer.params
    values = {}
    for node, value in zip(structure.nodes, graph.tape.values):
        v = _empty()
        if node.kind == "param":  # show the live value: the update pass moves it
            name, index = node.id.split("[", 1)
            v["z"] = v["a"] = float(live[name][tuple(int(k) for k in index.rstrip("]").split("]["))])
        elif node.kind != "gate" or node.id in reached:
            v["z"] = v["a"] = value.data
        if id(value) in touched:
            v["grad_z"] = v["grad_a"] = value.grad
        values[node.id] = v
    return values
