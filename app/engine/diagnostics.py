"""Why a run is stuck: dead and saturated units, copies, gradient norms layer by layer, plateaus.

`diagnose` states facts about one set of parameters on the whole training set; `findings`
turns each condition present into one plain sentence a learner can read. Every threshold is
here, named, and repeated in docs/protocol.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .activations import LEAKY_SLOPE
from .mlp import Architecture, Forward, Params, backward, forward
from .topology import hidden_label, hidden_unit, node_id

# tanh' = 1 − a² is below 0.01 past |z| = 3; sigmoid' = a(1 − a) is below 0.007 past |z| = 5.
SATURATION_Z = {"tanh": 3.0, "sigmoid": 5.0}
SATURATED_SHARE = 0.9  # a unit is saturated when it is flat on at least this share of points
# first layer's gradient norm ÷ last layer's. Measured at the start over 5 seeds × 4 initialisers:
# tanh and relu networks of up to 6 layers sit between 0.007 and 7, six-layer sigmoid ones
# fall to 1e-4 and below. A thousandfold either way is a clear sign, not a borderline one.
VANISHING_RATIO = 1e-3
EXPLODING_RATIO = 1e3
PLATEAU_WINDOW = 200  # iterations
PLATEAU_GAIN = 0.01  # relative loss improvement over the window below which the run has stalled
PLATEAU_ACCURACY = 0.9  # ...unless it is already this accurate (then a flat loss is just convergence)
CHECKPOINT_EVERY = 10  # the loss PLATEAU_WINDOW back is read at the last multiple of this


@dataclass(frozen=True)
class Diagnostics:
    dead: list[str]
    saturated: list[str]
    symmetric: list[list[str]]  # groups of hidden units that are exact copies of each other
    grad_norms: dict[str, float]
    layer_norms: list[float]  # sqrt(‖dW‖² + ‖db‖²) per layer, 1..L
    ratio: float | None  # layer_norms[0] / layer_norms[-1]; None for one layer or no gradient
    vanishing: bool
    exploding: bool
    plateau: bool
    gain: float | None  # relative loss improvement over the plateau window
    diverged_at: int | None
    findings: list[dict] = field(default_factory=list)


def plateau_checkpoint(iteration: int) -> int | None:
    """The iteration whose loss the plateau test compares against (at least PLATEAU_WINDOW back)."""
    back = iteration - PLATEAU_WINDOW
    return None if back < 0 else back - back % CHECKPOINT_EVERY


def diagnose(arch: Architecture, params: Params, X: np.ndarray, T: np.ndarray, *, accuracy: float | None,
             loss: float | None, loss_then: float | None, diverged_at: int | None,
             fwd: Forward | None = None) -> Diagnostics:
    """Everything on the training set (X, T) at `params`. `loss` and `accuracy` are the data loss
    and accuracy there now, `loss_then` the data loss at `plateau_checkpoint(iteration)`; `fwd`
    the forward pass over X if it has been computed already."""
    with np.errstate(all="ignore"):
        fwd = forward(arch, params, X) if fwd is None else fwd
        # the data loss's gradient over every training point: it does not depend on which
        # minibatch is next, and a regulariser cannot hide a gradient that never arrives
        grads = backward(arch, params, fwd, T).grads
        grad_norms = {name: _norm(grads[name]) for name in arch.param_names()}
    hidden = range(1, arch.depth)
    dead = [node_id(l, j, arch.depth) for l in hidden for j in _dead_units(arch.activation, fwd.Z[l])]
    saturated = [node_id(l, j, arch.depth) for l in hidden for j in _saturated_units(arch.activation, fwd.Z[l])]
    symmetric = [[node_id(l, j, arch.depth) for j in group] for l in hidden for group in _copies(params, l)]
    layer_norms = [math.hypot(grad_norms[f"W{l}"], grad_norms[f"b{l}"]) for l in range(1, arch.depth + 1)]
    ratio = None
    if arch.depth >= 2 and all(map(math.isfinite, layer_norms)) and layer_norms[-1] > 0:
        ratio = layer_norms[0] / layer_norms[-1]
    gain = None
    if loss_then is not None and loss is not None and math.isfinite(loss_then) and loss_then > 0:
        gain = (loss_then - loss) / loss_then
    plateau = gain is not None and gain < PLATEAU_GAIN and accuracy is not None and accuracy < PLATEAU_ACCURACY
    result = Diagnostics(dead, saturated, symmetric, grad_norms, layer_norms, ratio,
                         ratio is not None and ratio < VANISHING_RATIO, ratio is not None and ratio > EXPLODING_RATIO,
                         plateau, gain, diverged_at)
    return replace(result, findings=findings(arch, result, accuracy))


def _dead_units(activation: str, z: np.ndarray) -> list[int]:
    if activation not in ("relu", "leaky_relu"):
        return []
    return np.flatnonzero((z <= 0).all(axis=0)).tolist()


def _saturated_units(activation: str, z: np.ndarray) -> list[int]:
    if activation not in SATURATION_Z:
        return []
    flat = np.count_nonzero(np.abs(z) > SATURATION_Z[activation], axis=0)
    return np.flatnonzero(flat >= SATURATED_SHARE * len(z)).tolist()


def _copies(params: Params, layer: int) -> list[list[int]]:
    """Units of a hidden layer with exactly the same weights in, bias and weights out.

    Such units compute the same value for every input and receive the same gradient, and
    every optimiser here updates each entry by its own gradient: they stay copies forever."""
    W_in, b, W_out = params[f"W{layer}"], params[f"b{layer}"], params[f"W{layer + 1}"]
    rows = np.concatenate([W_in.T, b[:, None], W_out], axis=1)  # one row per unit: all it is
    groups: dict[bytes, list[int]] = {}
    finite = np.isfinite(rows).all(axis=1)
    for j, row in enumerate(rows):
        if finite[j]:
            groups.setdefault(row.tobytes(), []).append(j)
    return [units for units in groups.values() if len(units) > 1]


def _norm(g: np.ndarray) -> float:
    flat = g.ravel()
    return float(np.sqrt(flat @ flat))  # a diverging run's gradient squares to inf: reported as such


# --- in plain words --------------------------------------------------------------------------

def _times(x: float) -> str:
    return f"{x:,.0f}" if x < 1e6 else f"{x:.1e}"


def _by_layer(ids: list[str]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for nid in ids:
        layer, _ = hidden_unit(nid)
        counts[layer] = counts.get(layer, 0) + 1
    return counts


def _dead_sentence(arch: Architecture, layer: int, count: int) -> str:
    width, leaky = arch.sizes[layer], arch.activation == "leaky_relu"
    kind = "leaky ReLUs" if leaky else "ReLUs"
    if leaky:
        return (f"{count} of {width} {kind} in layer {layer} are below zero on every training point, so only the leak "
                f"(slope {LEAKY_SLOPE}) lets a trickle of gradient back to their weights.")
    if count == width:
        return (f"All {width} ReLUs in layer {layer} are dead: none fires on any training point, so everything after "
                f"them sees the same input for every point and no gradient gets past them.")
    return (f"{count} of {width} ReLUs in layer {layer} never fire on any training point, so no gradient reaches their "
            f"weights: they cannot come back to life.")


def findings(arch: Architecture, d: Diagnostics, accuracy: float | None) -> list[dict]:
    """One sentence per condition present, most serious first."""
    out: list[dict] = []
    if d.diverged_at is not None:
        out.append({"kind": "diverged", "text": (
            f"The numbers blew up at iteration {d.diverged_at}: a value became infinite or not a number. Each step "
            f"overshot further than the last; a smaller learning rate usually cures it.")})
    for layer, count in sorted(_by_layer(d.dead).items()):
        out.append({"kind": "dead", "text": _dead_sentence(arch, layer, count)})
    limit = SATURATION_Z.get(arch.activation)
    slope = "1 − a²" if arch.activation == "tanh" else "a·(1 − a)"
    for layer, count in sorted(_by_layer(d.saturated).items()):
        out.append({"kind": "saturated", "text": (
            f"{count} of {arch.sizes[layer]} {arch.activation} units in layer {layer} are saturated (|z| > {limit:g} "
            f"on at least {SATURATED_SHARE:.0%} of points): their slope {slope} is nearly 0 there, so almost no "
            f"gradient passes through them.")})
    if d.symmetric:
        who = " and ".join(_group_words(arch, group) for group in d.symmetric)
        out.append({"kind": "symmetric", "text": (
            f"{who[0].upper()}{who[1:]} have exactly the same weights in and out, so they compute the same value and "
            f"receive the same gradient: no update can ever make them different. Random starting weights break the tie.")})
    if d.vanishing:
        cause = (" Dead units pass none of it back." if d.dead else
                 " Each saturated unit lets almost none of it through." if d.saturated else
                 " Each sigmoid multiplies it by at most 0.25 on the way." if arch.activation == "sigmoid" else "")
        if d.ratio:
            text = (f"The gradient reaching layer 1 is {_times(1 / d.ratio)} times smaller than at the output layer, "
                    f"so the first layers barely learn.{cause}")
        else:
            text = f"No gradient at all reaches layer 1, although the output layer gets some: layer 1 cannot learn.{cause}"
        out.append({"kind": "vanishing", "text": text})
    if d.exploding:
        out.append({"kind": "exploding", "text": (
            f"The gradient reaching layer 1 is {_times(d.ratio)} times larger than at the output layer, so the first "
            f"layers take huge, erratic steps.")})
    if d.plateau:
        change = ("did not move" if d.gain == 0 else f"fell only {d.gain * 100:.2g}%" if d.gain > 0
                  else f"rose {-d.gain * 100:.2g}%")
        out.append({"kind": "plateau", "text": (
            f"The loss {change} over the last {PLATEAU_WINDOW} iterations while training accuracy is "
            f"{accuracy:.0%}: the run has stalled. Another seed, more units or another learning rate may get it out.")})
    return out


def _group_words(arch: Architecture, group: list[str]) -> str:
    layer, _ = hidden_unit(group[0])
    if len(group) == arch.sizes[layer]:
        return f"all {len(group)} units of layer {layer}"
    return f"{len(group)} units of layer {layer} ({', '.join(hidden_label(*hidden_unit(g)) for g in group)})"
