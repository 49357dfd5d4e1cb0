"""Why a run is stuck: dead and saturated units, copies, gradient norms layer by layer, plateaus.

`diagnose` states facts about one set of parameters on the whole training set; `findings`
turns each condition present into one plain sentence a learner can read. A run judges the
trend-like conditions (plateau, vanishing, exploding, saturation) with `judge`: at checkpoints
a whole number of epochs apart, with hysteresis replayed over the kept checkpoints. Every threshold is
here, named, and repeated in docs/protocol.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .activations import ACTIVATIONS
from .mlp import Architecture, Forward, Params, backward, forward
from .topology import hidden_label, hidden_unit, node_id

# tanh' = 1 − a² is below 0.01 past |z| = 3; sigmoid' = a(1 − a) is below 0.007 past |z| = 5.
SATURATED_SHARE = 0.9  # a unit is saturated when it is flat on at least this share of points
# first layer's gradient norm ÷ last layer's. Measured at the start over 5 seeds × 4 initialisers:
# tanh and relu networks of up to 6 layers sit between 0.007 and 7, six-layer sigmoid ones
# fall to 1e-4 and below. A thousandfold either way is a clear sign, not a borderline one.
VANISHING_RATIO = 1e-3
EXPLODING_RATIO = 1e3
# Hysteresis: a finding turns on at its threshold and off only clearly past it. On the
# six-sigmoid preset the live ratio swung between 2e-4 and 1.5e-3 from one iteration to the
# next, so 3× the threshold is the first round factor that covers the swing; the healthy
# presets sit at 0.9 and above, far outside the band.
VANISHING_OFF = 3e-3
EXPLODING_OFF = 1e3 / 3
PLATEAU_WINDOW = 200  # iterations
PLATEAU_GAIN = 0.01  # relative loss improvement over the window below which the run has stalled
# ...and the gain it takes to call it moving again: twice the threshold. Judged on the live
# loss, the unlucky XOR seed's gain swung between 0.1% and 2.7% past its budget; judged at
# checkpoints it sits at 0.3–0.6%, and the lucky seed at 8% and more, both well clear of 1–2%.
PLATEAU_OFF_GAIN = 0.02
PLATEAU_ACCURACY = 0.9  # ...unless it is already this accurate (then a flat loss is just convergence)
# For regression the same numbers judge R² (the share of the targets' variance explained): a fit
# explaining 90% has converged, one stalled below it is stuck. The readings' `accuracy` is the
# task's score throughout this module.
# A plateau found below 90% is called off by accuracy only at 92%: two points of 100 more, so
# a run stalled right at 89–91% does not blink with every point that changes side.
PLATEAU_ACCURACY_OFF = 0.92
# The trend is judged only at checkpoints, every CHECKPOINT_EVERY iterations, on the whole
# training set at the parameters kept there, and a checkpoint is compared with the one a whole
# number of epochs back (`trend_window`): both at the same place in their epochs, so the gain
# does not depend on which minibatch came last (the live loss does: it spreads over 9% within
# one epoch on the dead-ReLU preset, 2% on the unlucky XOR seed, which made the plateau come and go).
CHECKPOINT_EVERY = 10
# The longest window `trend_window` stretches to for a whole number of epochs; past it (an
# epoch of many batches) the window stays PLATEAU_WINDOW, as an epoch's position matters little
# once a window covers a good part of one.
MAX_WINDOW = 2 * PLATEAU_WINDOW
# How far back the hysteresis remembers: the on/off state is replayed over the checkpoints of
# the last LATCH_MEMORY iterations, starting from off. It is derived from the kept checkpoints
# (never stored), so `back`, `fork` and a saved run reproduce it exactly. 200 iterations: the
# longest stretch inside a band measured on the presets (from the start to 100 iterations past
# each budget) is 160, the unlucky XOR seed's gain on its way down to a plateau.
LATCH_MEMORY = 200
# Saturation's own band: a unit becomes saturated on SATURATED_SHARE of points and stops only
# below this share (a tenth of the points less).
SATURATED_OFF_SHARE = 0.8


def trend_window(batches_per_epoch: int) -> int:
    """The plateau window: the first multiple of both CHECKPOINT_EVERY and an epoch from
    PLATEAU_WINDOW on (200 for the presets' 10 batches per epoch, 210 for 3 or 7)."""
    step = math.lcm(CHECKPOINT_EVERY, max(1, batches_per_epoch))
    window = -(-PLATEAU_WINDOW // step) * step
    return window if window <= MAX_WINDOW else PLATEAU_WINDOW


@dataclass(frozen=True)
class Reading:
    """What the trend is judged on, at one checkpoint: the whole training set's loss and
    accuracy, the first-to-last gradient ratio, and each hidden unit's share of flat points."""

    loss: float
    accuracy: float | None
    ratio: float | None
    flat: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Trend:
    """The judged state at the latest checkpoint `at`, hysteresis applied."""

    at: int
    plateau: bool
    gain: float | None
    loss: float
    accuracy: float | None
    vanishing: bool
    exploding: bool
    ratio: float | None
    saturated: frozenset = frozenset()
    window: int = PLATEAU_WINDOW  # iterations between the two losses compared


def latch(was: bool, on: bool, off: bool) -> bool:
    """Hysteresis: on when `on` holds; off only when `off` holds; otherwise as it was."""
    return True if on else False if off else was


def judge(readings: dict[int, Reading], iteration: int, window: int = PLATEAU_WINDOW) -> Trend | None:
    """The trend at `iteration`, from the checkpoints up to it (later ones, kept for `back`,
    are not looked at). Replays every checkpoint of the last LATCH_MEMORY iterations from off,
    so the answer depends on the kept readings only. None before any checkpoint is read."""
    at = iteration - iteration % CHECKPOINT_EVERY
    if at not in readings:
        return None
    plateau = vanishing = exploding = False
    saturated: set[str] = set()
    gain = None
    for k in range(max(0, at - LATCH_MEMORY), at + 1, CHECKPOINT_EVERY):
        now, then = readings.get(k), readings.get(k - window)
        if now is None:
            continue
        gain = None
        if then is not None and math.isfinite(then.loss) and then.loss > 0 and math.isfinite(now.loss):
            gain = (then.loss - now.loss) / then.loss
        accuracy = now.accuracy if now.accuracy is not None else 0.0  # unknown (an old saved run): judge the loss
        if gain is not None:
            plateau = latch(plateau, gain < PLATEAU_GAIN and accuracy < PLATEAU_ACCURACY,
                            gain > PLATEAU_OFF_GAIN or accuracy >= PLATEAU_ACCURACY_OFF)
        elif k == at:
            plateau = False  # no loss a window back: nothing to judge
        r = now.ratio
        vanishing = latch(vanishing, r is not None and r < VANISHING_RATIO, r is None or r > VANISHING_OFF)
        exploding = latch(exploding, r is not None and r > EXPLODING_RATIO, r is None or r < EXPLODING_OFF)
        saturated = {u for u, share in now.flat.items()
                     if share >= SATURATED_SHARE or (u in saturated and share >= SATURATED_OFF_SHARE)}
    last = readings[at]
    return Trend(at, plateau, gain, last.loss, last.accuracy, vanishing, exploding, last.ratio, frozenset(saturated),
                 window)


@dataclass(frozen=True)
class Finding:
    """One condition present, in a sentence (`text`) and in a few words with its numbers (`short`)."""

    kind: str  # diverged | dead | saturated | symmetric | vanishing | exploding | plateau
    short: str
    text: str


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
    findings: list[Finding] = field(default_factory=list)
    trend: Trend | None = None  # what plateau, vanishing, exploding and saturated were judged on, in a run


def plateau_checkpoint(iteration: int, window: int = PLATEAU_WINDOW) -> int | None:
    """The iteration whose loss the plateau test compares against (at least `window` back)."""
    back = iteration - window
    return None if back < 0 else back - back % CHECKPOINT_EVERY


def diagnose(arch: Architecture, params: Params, X: np.ndarray, T: np.ndarray, *, accuracy: float | None,
             loss: float | None, loss_then: float | None, diverged_at: int | None,
             fwd: Forward | None = None, trend: Trend | None = None) -> Diagnostics:
    """Everything on the training set (X, T) at `params`. `loss` and `accuracy` are the data loss
    and accuracy there now, `loss_then` the data loss at `plateau_checkpoint(iteration)`; `fwd`
    the forward pass over X if it has been computed already. A run passes its `trend` (see
    `judge`): then plateau, vanishing, exploding and saturation are the judged ones, which hold
    still between checkpoints and keep their hysteresis; without it, each is its threshold
    applied to these parameters alone (as if it had been off before)."""
    with np.errstate(all="ignore"):
        fwd = forward(arch, params, X) if fwd is None else fwd
        grad_norms = _grad_norms(arch, params, fwd, T)
    hidden = range(1, arch.depth)
    dead = [node_id(l, j, arch.depth) for l in hidden for j in _dead_units(arch.activation, fwd.Z[l])]
    shares = flat_shares(arch, fwd)
    symmetric = [[node_id(l, j, arch.depth) for j in group] for l in hidden for group in _copies(params, l)]
    layer_norms, ratio = _layer_ratio(arch, grad_norms)
    if trend is not None:
        saturated = [u for u in shares if u in trend.saturated]
        vanishing, exploding, plateau, gain = trend.vanishing, trend.exploding, trend.plateau, trend.gain
    else:
        saturated = [u for u, share in shares.items() if share >= SATURATED_SHARE]
        vanishing = ratio is not None and ratio < VANISHING_RATIO
        exploding = ratio is not None and ratio > EXPLODING_RATIO
        gain = None
        if loss_then is not None and loss is not None and math.isfinite(loss_then) and loss_then > 0:
            gain = (loss_then - loss) / loss_then
        plateau = gain is not None and gain < PLATEAU_GAIN and accuracy is not None and accuracy < PLATEAU_ACCURACY
    result = Diagnostics(dead, saturated, symmetric, grad_norms, layer_norms, ratio, vanishing, exploding,
                         plateau, gain, diverged_at, trend=trend)
    return replace(result, findings=findings(arch, result, accuracy))


def reading(arch: Architecture, params: Params, X: np.ndarray, T: np.ndarray, loss: float,
            accuracy: float | None) -> Reading:
    """A checkpoint's reading: `loss` and `accuracy` are the training set's at `params`."""
    with np.errstate(all="ignore"):
        fwd = forward(arch, params, X)
        _, ratio = _layer_ratio(arch, _grad_norms(arch, params, fwd, T))
    return Reading(loss, accuracy, ratio, flat_shares(arch, fwd))


def _grad_norms(arch: Architecture, params: Params, fwd: Forward, T: np.ndarray) -> dict[str, float]:
    # the data loss's gradient over every training point: it does not depend on which
    # minibatch is next, and a regulariser cannot hide a gradient that never arrives
    grads = backward(arch, params, fwd, T).grads
    return {name: _norm(grads[name]) for name in arch.param_names()}


def _layer_ratio(arch: Architecture, grad_norms: dict[str, float]) -> tuple[list[float], float | None]:
    layer_norms = [math.hypot(grad_norms[f"W{l}"], grad_norms[f"b{l}"]) for l in range(1, arch.depth + 1)]
    ratio = None
    if arch.depth >= 2 and all(map(math.isfinite, layer_norms)) and layer_norms[-1] > 0:
        ratio = layer_norms[0] / layer_norms[-1]
    return layer_norms, ratio


def flat_shares(arch: Architecture, fwd: Forward) -> dict[str, float]:
    """Each hidden tanh or sigmoid unit's share of training points where it is flat (in node order)."""
    limit = ACTIVATIONS[arch.activation].flat_beyond
    if limit is None:
        return {}
    out = {}
    for l in range(1, arch.depth):
        z = fwd.Z[l]
        share = np.count_nonzero(np.abs(z) > limit, axis=0) / max(len(z), 1)
        out.update({node_id(l, j, arch.depth): float(share[j]) for j in range(z.shape[1])})
    return out


def _dead_units(activation: str, z: np.ndarray) -> list[int]:
    if not ACTIVATIONS[activation].dies:
        return []
    return np.flatnonzero((z <= 0).all(axis=0)).tolist()


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
    width, act = arch.sizes[layer], ACTIVATIONS[arch.activation]
    if act.leak:
        return (f"{count} of {width} {act.plural} in layer {layer} are below zero on every training point, so only the "
                f"leak (slope {act.leak}) lets a trickle of gradient back to their weights.")
    if count == width:
        return (f"All {width} {act.plural} in layer {layer} are dead: none fires on any training point, so everything "
                f"after them sees the same input for every point and no gradient gets past them.")
    return (f"{count} of {width} {act.plural} in layer {layer} never fire on any training point, so no gradient "
            f"reaches their weights: they cannot come back to life.")


def score_words(arch: Architecture, score: float | None) -> str:
    """The task's score as a learner reads it: "54% accuracy" for classes, "R² 0.54" for regression."""
    if score is None:
        return "R² unknown" if arch.regression else "accuracy unknown"
    return f"R² {score:.2f}" if arch.regression else f"{score:.0%} accuracy"


def findings(arch: Architecture, d: Diagnostics, accuracy: float | None) -> list[Finding]:
    """One sentence per condition present, most serious first. `short` says the same in a few
    words with its numbers (a sweep's reason joins them)."""
    out: list[Finding] = []
    act = ACTIVATIONS[arch.activation]
    if d.diverged_at is not None:
        out.append(Finding("diverged", f"numbers overflowed at iteration {d.diverged_at}", (
            f"The numbers blew up at iteration {d.diverged_at}: a value became infinite or not a number. Each step "
            f"overshot further than the last; a smaller learning rate usually cures it.")))
    for layer, count in sorted(_by_layer(d.dead).items()):
        out.append(Finding("dead", f"{count} of {arch.sizes[layer]} {act.plural} in layer {layer} dead",
                            _dead_sentence(arch, layer, count)))
    for layer, count in sorted(_by_layer(d.saturated).items()):
        out.append(Finding("saturated", f"{count} of {arch.sizes[layer]} {act.plural} in layer {layer} saturated", (
            f"{count} of {arch.sizes[layer]} {act.plural} in layer {layer} are saturated (|z| > {act.flat_beyond:g} "
            f"on at least {SATURATED_SHARE:.0%} of points): their slope {act.slope_written('z', 'a')} is nearly 0 "
            f"there, so almost no gradient passes through them.")))
    if d.symmetric:
        who = " and ".join(_group_words(arch, group) for group in d.symmetric)
        out.append(Finding("symmetric", f"{who} exact copies", (
            f"{who[0].upper()}{who[1:]} have exactly the same weights in and out, so they compute the same value and "
            f"receive the same gradient: no update can ever make them different. Random starting weights break the tie.")))
    # the judged ratio (at the latest checkpoint) is the one the finding is about
    ratio = d.trend.ratio if d.trend is not None else d.ratio
    if d.vanishing:
        cause = (" Dead units pass none of it back." if d.dead else
                 " Each saturated unit lets almost none of it through." if d.saturated else
                 " Each sigmoid multiplies it by at most 0.25 on the way." if arch.activation == "sigmoid" else "")
        if ratio:
            short = f"gradient at layer 1 {_times(1 / ratio)} times smaller than at the output"
            text = (f"The gradient reaching layer 1 is {_times(1 / ratio)} times smaller than at the output layer, "
                    f"so the first layers barely learn.{cause}")
        else:
            short = "no gradient reaches layer 1"
            text = f"No gradient at all reaches layer 1, although the output layer gets some: layer 1 cannot learn.{cause}"
        out.append(Finding("vanishing", short, text))
    if d.exploding:
        short = f"gradient at layer 1 {_times(ratio)} times larger than at the output"
        out.append(Finding("exploding", short, (
            f"The gradient reaching layer 1 is {_times(ratio)} times larger than at the output layer, so the first "
            f"layers take huge, erratic steps.")))
    if d.plateau:
        gain = d.gain if d.gain is not None else 0.0
        change = ("did not move" if gain == 0 else f"fell only {gain * 100:.2g}%" if gain > 0
                  else f"rose {-gain * 100:.2g}%")
        if d.trend is not None:
            acc, loss = d.trend.accuracy, d.trend.loss
            where, window = f"up to iteration {d.trend.at}", d.trend.window
        else:
            acc, loss, where, window = accuracy, None, "", PLATEAU_WINDOW
        said = score_words(arch, acc)
        short = f"plateau at {said}" + (f", loss {loss:.2g}" if loss is not None else "")
        out.append(Finding("plateau", short, (
            f"The loss {change} over the {window} iterations {where or 'before this one'}"
            f"{f' (now {loss:.2g})' if loss is not None else ''} with the training set's {said}: the run has "
            f"stalled. Another seed, more units or another learning rate may get it out.")))
    return out


def _group_words(arch: Architecture, group: list[str]) -> str:
    layer, _ = hidden_unit(group[0])
    if len(group) == arch.sizes[layer]:
        return f"all {len(group)} units of layer {layer}"
    return f"{len(group)} units of layer {layer} ({', '.join(hidden_label(*hidden_unit(g)) for g in group)})"
