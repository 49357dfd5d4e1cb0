"""Predict, then reveal: what a question asks about, its true answer, and how answers are judged.

`pose` resolves a question's target against the run as it stands and works out the truth on
a fork of it (stepping the fork as far as the answer needs), so asking never moves the run;
its `working` is the explanation of the op that computes the answer, or the reason in words.
`is_right` and `tally` judge and count answers. The server keeps who answered what
(app/server/questions.py); this module knows nothing of connections or of the wire.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

import numpy as np

from app.engine import LOSS_ID, node_id

from .batchview import MATRICES, batch_view
from .explain import Equation, Explanation, Words, explain_op
from .stepper import Run, StepError
from .view import node_values, run_diagnostics

QuestionKind = Literal["number", "sign", "choice", "shape"]
QUESTION_KINDS: tuple[str, ...] = get_args(QuestionKind)
NODE_QUANTITIES = ("z", "a", "grad_z", "grad_a")
PARAM_QUANTITIES = ("grad", "example_grad", "updated")  # the batch's gradient, this example's, the new value
NONE_CHOICE = "none"  # a choice question's answer when no unit of the layer is dead
MAX_PROMPT = 300
# A number is right within 1% of the truth, or within this much when the truth is small.
RELATIVE_TOLERANCE, SMALL_TRUTH, ABSOLUTE_TOLERANCE = 0.01, 0.1, 1e-3
HISTOGRAM_BINS = 8
MAX_ANSWER = 1e12  # a prediction beyond this is a typo, and the room's histogram must stay finite
# the fields each form of target takes: anything else is refused by name, never ignored
TARGET_FIELDS = {"next": {"next"}, "node": {"node", "quantity"}, "param": {"param", "i", "j", "quantity"},
                 "layer": {"layer"}, "matrix": {"matrix"}}

QUANTITY_WORDS = {"z": "z", "a": "a", "grad_z": "dL/dz", "grad_a": "dL/da"}


@dataclass(frozen=True)
class Posed:
    """A question resolved against the run: what it is about, its truth and its working."""

    kind: str
    target: dict  # the target made explicit ({"next": true} becomes the node or parameter it means)
    prompt: str
    choices: list[str] | None
    truth: float | str | list[int] | None  # None: not a finite number (a diverged run)
    working: Explanation
    node: str | None = None  # what to highlight: a node id
    edge: str | None = None  # or an edge (a weight's id)
    fade: int = 0  # 0: a plain question; 1, 2: the working comes with it, faded (see `faded_working`)
    hint: Explanation | None = None


def pose(run: Run, kind: str, target: dict | None, prompt: str | None, fade: int = 0) -> Posed:
    """Raises StepError naming the field when the target does not fit the kind or the run.
    With `fade` 1 or 2 the question brings its working with the numbers faded out."""
    if kind not in QUESTION_KINDS:
        raise StepError("kind", f"must be one of {', '.join(QUESTION_KINDS)}, got {kind!r}")
    target = dict(target or {"next": True})
    _check_fields(target)
    if kind == "shape":
        posed = _shape_question(run, target)
    elif kind == "choice":
        posed = _dead_unit_question(run, target)
    else:
        if "matrix" in target or "layer" in target:
            raise StepError("target", f"a {kind} question asks about a value: give next, node or param")
        posed = _value_question(run, kind, target)
    if prompt:
        posed = replace(posed, prompt=prompt)
    if fade:
        if fade not in (1, 2) or posed.kind not in ("number", "sign"):
            raise StepError("fade", "must be 1 or 2, for a number or a sign question" if posed.kind in ("number", "sign")
                            else f"works with number and sign questions, not {posed.kind}")
        posed = replace(posed, fade=fade, hint=faded_working(posed.working, _key_quantity(posed.target), fade))
    return posed


def _key_quantity(target: dict) -> str | tuple[str, str]:
    """Which equation of the working computes the answer: by its quantity, or for one weight's
    own gradient by its symbol (a unit's working has one per weight)."""
    if target.get("quantity") == "example_grad":
        entry = "][".join(str(target[k]) for k in ("i", "j") if k in target)
        return ("symbol", f"dL/d{target['param']}[{entry}]")
    return target.get("quantity", "a")


def faded_working(working: Explanation, quantity: str | tuple[str, str], fade: int) -> Explanation:
    """The working up to the equation that computes the asked quantity, faded (Moreno et al.):
    with `fade` 1 each equation keeps its formula and its numbers but one factor (□) and shows no
    result, so the learner finds that number on the screen and computes; with 2 only the formulas
    are left. Nothing after that equation, which would give the answer away."""
    lines: list = []
    for line in working.lines:
        if not isinstance(line, Equation):
            lines.append(line)
            continue
        steps = line.steps[:1] + ((line.faded,) if fade == 1 and line.faded and len(line.steps) > 1 else ())
        lines.append(replace(line, steps=steps, result="?", note=None))
        if line.quantity == quantity or (isinstance(quantity, tuple) and line.symbol == quantity[1]):
            break
    return Explanation(working.node, working.phase, tuple(lines))


def _check_fields(target: dict) -> None:
    forms = [f for f in TARGET_FIELDS if f in target]
    if len(forms) != 1:
        said = f"names {' and '.join(forms)}" if forms else f"has the fields {', '.join(map(str, target)) or 'none'}"
        raise StepError("target", f"must name exactly one of {', '.join(TARGET_FIELDS)}; it {said}")
    form = forms[0]
    extra = sorted(set(map(str, target)) - TARGET_FIELDS[form])
    if extra:
        raise StepError(f"target.{extra[0][:40]}", f"is not a field of a {form} target; it takes "
                        f"{', '.join(sorted(TARGET_FIELDS[form]))}")


# --- a value: the next op's, a node's or a parameter's -------------------------------------------

def _value_question(run: Run, kind: str, target: dict) -> Posed:
    ahead = target.get("next") is True and len(target) == 1
    if ahead:
        target = _next_target(run)
    if "node" in target:
        return _node_question(run, kind, target, ahead)
    if "param" in target:
        return _param_question(run, kind, target)
    raise StepError("target", "must be {\"next\": true}, {\"node\": ID, \"quantity\": ...} or "
                    "{\"param\": NAME, \"i\": I, \"j\": J, \"quantity\": ...}")


def _next_target(run: Run) -> dict:
    """What the next op computes: a unit's a going forward (the loss's value), its dL/dz going
    back (a gate's own value or the gradient it passes on), a weight into it in the update."""
    op = run.ops[run.position % len(run.ops)]
    if op.phase == "update":
        if op.param is not None:
            name, index = op.param
            return {"param": name, **_entry_target(index), "quantity": "updated"}
        return {"param": f"W{op.layer}", "i": 0, "j": op.unit, "quantity": "updated"}
    if run.view_name == "gate" and op.phase == "backward":
        return {"node": _gate_gradient_node(run, op.node), "quantity": "grad_a"}
    return {"node": op.node, "quantity": "a" if op.phase == "forward" else "grad_z"}


def _gate_gradient_node(run: Run, gate: str) -> str:
    """Going back through a gate, the gradient it computes is its first input's (constants aside)."""
    structure = run.gates()
    inputs = [n for e, src, dst, _ in structure.edges if dst == gate
              for n in structure.nodes if n.id == src and n.kind != "const"]
    return inputs[0].id if inputs else gate


def _node_question(run: Run, kind: str, target: dict, ahead: bool = False) -> Posed:
    """`ahead`: the value the next op computes, never one already shown."""
    node, quantity = target.get("node"), target.get("quantity", "a")
    known_ids = {n.id for n in run.gates().nodes} if run.view_name == "gate" else set(run.labels())
    if not isinstance(node, str) or node not in known_ids:
        raise StepError("target.node", f"must be a node of the {run.view_name} view's graph, got {node!r}")
    if not isinstance(quantity, str) or quantity not in NODE_QUANTITIES:
        raise StepError("target.quantity", f"must be one of {', '.join(NODE_QUANTITIES)}, got {quantity!r}")
    known = _value_known(run, node, quantity)

    fork, op = _reach(run, known, ahead=ahead)
    if fork is None:
        raise StepError("target", f"{quantity} of {node} is not computed in this iteration of the {run.view_name} view")
    value = node_values(fork)[node][quantity]
    label = run.labels().get(node, node) if run.view_name == "neuron" else node
    words = f"{QUANTITY_WORDS[quantity]}({label})" if quantity != "a" or node != LOSS_ID else "the loss L"
    working = explain_op(fork, op) if op is not None else Explanation(node, run.phase, (Words(
        f"{words} is already known at this point of the iteration."),))
    return _valued(kind, {"node": node, "quantity": quantity}, f"What will {words} be?", value, working, node=node)


def _param_question(run: Run, kind: str, target: dict) -> Posed:
    name, quantity = target.get("param"), target.get("quantity", "updated")
    if not isinstance(name, str) or name not in run.arch.param_names():
        raise StepError("target.param", f"must be one of {', '.join(run.arch.param_names())}, got {name!r}")
    if not isinstance(quantity, str) or quantity not in PARAM_QUANTITIES:
        raise StepError("target.quantity", f"must be one of {', '.join(PARAM_QUANTITIES)}, got {quantity!r}")
    shape = run.arch.param_shape(name)
    index = []
    for axis, key in zip(range(len(shape)), ("i", "j") if len(shape) == 2 else ("j",)):
        value = target.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < shape[axis]:
            raise StepError(f"target.{key}", f"must be a whole number from 0 to {shape[axis] - 1} for {name}, "
                            f"got {value!r}")
        index.append(value)
    entry = f"{name}[{']['.join(map(str, index))}]"
    layer, unit = int(name[1:]), index[-1]
    unit_node = node_id(layer, unit, run.arch.depth)
    if quantity == "example_grad":
        return _example_grad_question(run, kind, name, tuple(index), unit_node)
    # the entry moves in its unit's update op (the neuron view) or its own (the gate view)
    def moved(op) -> bool:
        return op.phase == "update" and (op.param == (name, tuple(index)) if op.param is not None
                                         else op.layer == layer and op.unit == unit)
    fork, op = _reach(run, None, moved)
    if fork is None or op is None:
        raise StepError("target", f"{entry} is not updated in this iteration")
    if quantity == "grad":
        value, words = float(fork.work.backward.grads[name][tuple(index)]), f"the batch gradient dL/d{entry}"
    else:
        value, words = float(fork.trainer.params[name][tuple(index)]), f"{entry} after the update"
    edge = entry if name[0] == "W" else None
    return _valued(kind, {"param": name, **_entry_target(tuple(index)), "quantity": quantity},
                   f"What will {words} be?", value, explain_op(fork, op), node=unit_node, edge=edge)


def _example_grad_question(run: Run, kind: str, name: str, index: tuple[int, ...], unit: str) -> Posed:
    """dL/dw for the selected example alone: its unit's gradient times the input the weight
    carries, written out in the unit's backward op (the neuron view's)."""
    if run.view_name != "neuron":
        raise StepError("target.quantity", "example_grad is asked in the neuron view, where a unit's backward op "
                        "writes out each weight's gradient; in the gate view ask about the product gate")
    layer, j = int(name[1:]), index[-1]
    fork, op = _reach(run, None, lambda op: op.phase == "backward" and op.layer == layer and op.unit == j)
    if fork is None:
        raise StepError("target", f"{name} gets no gradient in this iteration")
    entry = f"{name}[{']['.join(map(str, index))}]"
    value = float(fork.example_values().backward.grads[name][index])
    return _valued(kind, {"param": name, **_entry_target(index), "quantity": "example_grad"},
                   f"What will dL/d{entry} be for this example?", value, explain_op(fork, op), node=unit,
                   edge=entry if name[0] == "W" else None)


def _entry_target(index: tuple[int, ...]) -> dict:
    """A weight's entry as i (its input) and j (its unit); a bias's as j alone."""
    return {"i": index[0], "j": index[1]} if len(index) == 2 else {"j": index[0]}


def _value_known(run: Run, node: str, quantity: str):
    """`known(fork, op)`: whether the fork, just past `op` (None: as it stands), shows `quantity`
    at `node` in full. The node's values are read only after an op that can have made them, so a
    question about a network of a thousand gates costs one walk of the iteration, not a thousand.
    In the gate view a value feeding several gates has its whole gradient only once each of them
    has passed its share back: the truth of a fork's sum is the sum, not its first term."""
    phase = "forward" if quantity in ("z", "a") else "backward"
    own = {op.node for op in run.ops if op.phase == phase}
    waiting = ({dst for _, src, dst, _ in run.gates().edges if src == node}
               if run.view_name == "gate" and phase == "backward" else set())
    waiting -= {op.node for op in run.ops[:run.position] if op.phase == "backward"}
    # a softmax output's p waits for every output's z: any forward op may be the one that shows it
    anyone = run.view_name == "neuron" and run.config.loss == "cross_entropy" and quantity == "a"
    mine = node in own and not anyone

    def known(fork: Run, op) -> bool:
        if op is not None:
            if op.phase == "backward":
                waiting.discard(op.node)
            if op.phase != phase or (mine and op.node != node):
                return False
        return not waiting and node_values(fork)[node][quantity] is not None

    return known


def _reach(run: Run, known=None, done=None, ahead: bool = False):
    """A fork stepped op by op until `known(fork, op)` holds, or until an op with `done(op)`
    has been done; with the last op it did (None if nothing had to be done). Within an
    iteration a value already known is the answer; at its end the next iteration is meant."""
    fork = run.fork()
    if known is not None and not ahead and run.mid_iteration and known(fork, None):
        return fork, None
    for _ in range(len(run.ops) + 1):
        fork.run("op")
        op = fork.current_op
        if (known is not None and known(fork, op)) or (done is not None and done(op)):
            return fork, op
    return None, None


def _valued(kind: str, target: dict, prompt: str, value: float | None, working: Explanation, **where) -> Posed:
    finite = value is not None and math.isfinite(value)
    if kind == "sign":
        return Posed("sign", target, prompt.replace("What will", "Which sign will").replace(" be?", " have?"),
                     ["+", "-", "0"], sign_of(value) if finite else None, working, **where)
    return Posed("number", target, prompt, None, value if finite else None, working, **where)


def sign_of(x: float) -> str:
    return "+" if x > 0 else "-" if x < 0 else "0"


# --- which unit of a layer is dead ---------------------------------------------------------------

def _dead_unit_question(run: Run, target: dict) -> Posed:
    layer = target.get("layer")
    hidden = range(1, run.arch.depth)
    if isinstance(layer, bool) or not isinstance(layer, int) or layer not in hidden:
        raise StepError("target.layer", f"a choice question asks about a hidden layer: 1 to {run.arch.depth - 1}, "
                        f"got {layer!r}" if run.arch.depth > 1 else "this network has no hidden layer")
    units = [node_id(layer, j, run.arch.depth) for j in range(run.arch.sizes[layer])]
    d = run_diagnostics(run, None, None)
    dead = [u for u in units if u in d.dead]
    labels = run.labels()
    if dead:
        said = ", ".join(labels[u] for u in dead)
        reason = (f"{said} {'is' if len(dead) == 1 else 'are'} below zero on every training point, so no gradient "
                  f"reaches {'its' if len(dead) == 1 else 'their'} weights.")
    else:
        reason = f"Every unit of layer {layer} fires on some training point: none is dead."
    working = Explanation(units[0], run.phase, (Words(reason),) + tuple(Words(f.text) for f in d.findings
                                                                        if f.kind == "dead"))
    return Posed("choice", {"layer": layer}, f"Which unit of layer {layer} is dead?", units + [NONE_CHOICE],
                 dead[0] if len(dead) == 1 else (dead or NONE_CHOICE), working)


# --- the shape of a matrix in the batch view -------------------------------------------------------

SHAPE_WORDS = {
    "X": "the layer's input, one row per example", "W": "one row per input, one column per unit",
    "b": "one bias per unit", "Z": "Z = X @ W + b: one row per example, one column per unit",
    "A": "A = f(Z), the same shape as Z", "dZ": "dL/dZ, the same shape as Z",
    "dW": "dW = Xᵀ @ dZ: (inputs × N) @ (N × units), the shape of W", "db": "db = dZ.sum(0): one number per unit, "
    "the shape of b (the batch is summed away)", "dX": "dX = dZ @ Wᵀ: (N × units) @ (units × inputs), the shape of X",
}


def _shape_question(run: Run, target: dict) -> Posed:
    name = target.get("matrix")
    view = batch_view(run)
    names = [f"{m}{layer.layer}" for layer in view.layers for m in MATRICES]
    if not isinstance(name, str) or name not in names:
        raise StepError("target.matrix", f"must be one of the batch view's matrices ({', '.join(names)}), got {name!r}")
    matrix, layer = name.rstrip("0123456789"), int(name[len(name.rstrip("0123456789")):])
    shape = view.layers[layer - 1].shapes[matrix]
    working = Explanation(name, run.phase, (
        Words(f"{name} is {' × '.join(map(str, shape))}: {SHAPE_WORDS[matrix]}."),
        Words(f"This batch has N = {view.n} examples; layer {layer} has {run.arch.sizes[layer - 1]} inputs and "
              f"{run.arch.sizes[layer]} units.")))
    return Posed("shape", {"matrix": name}, f"What shape is {name}?", None, list(shape), working)


# --- judging and counting -------------------------------------------------------------------------

def parse_answer(posed: Posed, value: Any) -> float | str | list[int]:
    """The answer as the question's kind takes it; raises StepError("value", …) otherwise."""
    if posed.kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise StepError("value", f"must be a finite number, got {str(value)[:40]!r}")
        if abs(value) > MAX_ANSWER:
            raise StepError("value", f"must be between −{MAX_ANSWER:g} and {MAX_ANSWER:g}, got {value:g}")
        return float(value)
    if posed.kind in ("sign", "choice"):
        if not isinstance(value, str) or value not in posed.choices:
            raise StepError("value", f"must be one of {', '.join(posed.choices)}, got {str(value)[:40]!r}")
        return value
    if (not isinstance(value, list) or not 1 <= len(value) <= 2
            or any(isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 100_000 for v in value)):
        raise StepError("value", f"must be a shape: a list of one or two positive whole numbers, got {str(value)[:40]!r}")
    return list(value)


def is_right(posed: Posed, answer: float | str | list[int] | None) -> bool:
    truth = posed.truth
    if answer is None or truth is None:
        return False
    if posed.kind == "number":
        tolerance = ABSOLUTE_TOLERANCE if abs(truth) < SMALL_TRUTH else RELATIVE_TOLERANCE * abs(truth)
        return abs(answer - truth) <= tolerance
    if posed.kind == "choice" and isinstance(truth, list):
        return answer in truth  # several units are dead: naming any of them is right
    return answer == truth


def tally(posed: Posed, answers: list) -> dict:
    """The counts the room sees: a histogram for numbers (bins around the answers only: the
    truth must not show before the reveal), one count per sign, choice or shape."""
    if posed.kind == "number":
        return histogram([a for a in answers if a is not None])
    if posed.kind == "shape":
        counts: dict[str, int] = {}
        for a in answers:
            key = "×".join(map(str, a))
            counts[key] = counts.get(key, 0) + 1
        return counts
    return {c: sum(1 for a in answers if a == c) for c in posed.choices}


def histogram(values: list[float], bins: int = HISTOGRAM_BINS) -> dict:
    if not values:
        return {"edges": [], "counts": []}
    lo, hi = min(values), max(values)
    # answers closer than a float can tell apart at their size share one bin: the bins are
    # never narrower than a billionth of the numbers' size (nor than 1e-9), so every edge is exact
    least = 1e-9 * max(1.0, abs(lo), abs(hi)) * bins
    if hi - lo < least:
        middle = (lo + hi) / 2
        lo, hi = middle - least / 2, middle + least / 2
    step = nice_step((hi - lo) / bins)
    start = math.floor(lo / step) * step
    n = max(1, math.ceil((hi - start) / step + 1e-9))
    if start + n * step <= hi:
        n += 1
    edges = [start + k * step for k in range(n + 1)]
    counts, _ = np.histogram(values, bins=edges)
    return {"edges": edges, "counts": [int(c) for c in counts]}


def nice_step(raw: float) -> float:
    """1, 2 or 5 times a power of ten, at least `raw`."""
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
