"""The chain rule written out: each step of an iteration in words and in its actual numbers.

`explain_op` describes the op the cursor has just done; `explain_node` everything reached so
far at one node (the inspector's answer to a click). An `Explanation` is a list of lines, each
either `Words` or an `Equation` (a symbol, the steps that compute it, its result, an optional
note); app/server/wire.py turns it into JSON (docs/protocol.md) and the page renders that
structure. Numbers carry 4 significant digits and each equation ends in the same number the
state reports for that quantity, so a learner can check every step by hand. How each
activation is written comes from its one definition (app/engine/activations.py). Reads a
Run; changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from app.engine import LOSS_ID, node_id
from app.engine.activations import ACTIVATIONS, Activation
from app.engine.optim import ADAM_BETA1, ADAM_BETA2, ADAM_EPS
from app.engine.scalar import Value, _power

from .ops import OP_SYMBOLS, Op, rule_of

if TYPE_CHECKING:
    from .stepper import Run


# --- what an explanation is made of -------------------------------------------------------------

@dataclass(frozen=True)
class Words:
    """A sentence."""

    text: str


@dataclass(frozen=True)
class Equation:
    """`symbol relation steps[0] = steps[1] = … = result   (note)`: what is computed, the formula
    and the numbers put into it, and the number it comes to."""

    symbol: str
    steps: tuple[str, ...]
    result: str
    note: str | None = None
    relation: str = "="  # "+=" where a gate adds its share to a gradient
    quantity: str | None = None  # the state's number it ends in at the op's node: "z", "a", "grad_a", "grad_z"
    faded: str | None = None  # the numbers put in, one factor left blank (□): a worked example fading into practice

    @property
    def text(self) -> str:
        worked = " = ".join([*self.steps, self.result])
        return f"{self.symbol} {self.relation} {worked}" + (f"   ({self.note})" if self.note else "")


Line = Words | Equation


@dataclass(frozen=True)
class Term:
    """One outgoing edge's share of a hidden unit's dL/da: its weight times the next unit's dL/dz."""

    edge: str
    source: str  # the unit the edge leads to, whose gradient comes back along it
    w: float
    grad: float
    product: float


@dataclass(frozen=True)
class Explanation:
    node: str
    phase: str
    lines: tuple[Line, ...]
    terms: tuple[Term, ...] | None = None  # a hidden unit's backward op: the sum its dL/da equation adds up

    def as_text(self) -> list[str]:
        """Each line as one string (what a screen reader reads, and the `lines` of the wire)."""
        return [line.text for line in self.lines]


def eq(symbol: str, *steps: str, result: str, note: str | None = None, quantity: str | None = None,
       faded: str | None = None) -> Equation:
    return Equation(symbol, tuple(steps), result, note, quantity=quantity, faded=faded)


BLANK = "□"


def with_first_blank(parts: list[str], blank: str) -> list[str]:
    """The terms of a sum with the first one's factor written `blank` instead."""
    return [blank, *parts[1:]] if parts else parts


def bracketed(formula: str) -> str:
    """A formula as one factor of a product: in brackets if it is a sum or a difference."""
    depth = 0
    for ch in formula:
        depth += ch in "([" and 1 or (ch in ")]" and -1 or 0)
        if ch == " " and depth == 0:
            return f"({formula})"
    return formula


# --- numbers as the inspector writes them -------------------------------------------------------

def num(x: float | None) -> str:
    """4 significant digits, a real minus sign, no exponent for ordinary sizes."""
    if x is None or not math.isfinite(x):
        return "∞" if x is not None and x > 0 else ("−∞" if x is not None and x < 0 else "undefined")
    text = f"{x + 0.0:.4g}"  # + 0.0 turns −0 into 0
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text.replace("-", "−")


def factor(x: float | None) -> str:
    """A number as one factor of a product: negatives in brackets."""
    text = num(x)
    return f"({text})" if text.startswith("−") else text


def signed_sum(terms: list[str]) -> str:
    return " + ".join(terms) if terms else "0"


# --- names ------------------------------------------------------------------------------------------

def _labels(run: Run) -> dict[str, str]:
    return run.labels()


def _input_name(run: Run, labels: dict[str, str], layer: int, i: int) -> str:
    """How a unit's input is written: the feature's name, or a(h1.2) for an earlier unit."""
    nid = node_id(layer, i, run.arch.depth)
    return labels[nid] if layer == 0 else f"a({labels[nid]})"


def _optimizer_words(run: Run) -> str:
    cfg = run.config
    extra = {"sgd": "", "momentum": f", momentum μ = {num(cfg.momentum)}", "adam": ", adam β₁ = 0.9, β₂ = 0.999"}
    return f"{cfg.optimizer}, lr = {num(cfg.lr)}{extra[cfg.optimizer]}"


# --- neuron view ------------------------------------------------------------------------------------

def _forward_unit(run: Run, l: int, j: int) -> list[Line]:
    labels, ex, params = _labels(run), run.example_values(), run.forward_params
    depth, act = run.arch.depth, run.arch.hidden_activation
    W, b, a_prev = params[f"W{l}"], params[f"b{l}"], ex.forward.A[l - 1][0]
    nid = node_id(l, j, depth)
    z, a = float(ex.forward.Z[l][0, j]), float(ex.forward.A[l][0, j])
    fan_in = W.shape[0]
    symbols = [f"W{l}[{i}][{j}]·{_input_name(run, labels, l - 1, i)}" for i in range(fan_in)]
    numbers = [f"{factor(W[i, j])}·{factor(a_prev[i])}" for i in range(fan_in)]
    softmax = l == depth and run.config.loss == "cross_entropy"
    last = j == W.shape[1] - 1
    then = f", then apply {act.name if l < depth else 'the output function'}."
    if softmax:  # p needs every output's z, so no p is written until the last z is known
        then = (". Every output's z is known now, so the softmax can turn them into probabilities." if last else
                f". Its probability p{j} waits: the softmax divides by a sum over every output's z, "
                f"and z{j + 1} is not computed yet.")
    lines: list[Line] = [
        Words(f"Forward through {labels[nid]}: multiply each of its {fan_in} inputs by its weight, add them up with "
              f"the bias{then}"),
        eq("z", f"{signed_sum(symbols)} + b{l}[{j}]", f"{signed_sum(numbers)} + {factor(b[j])}", result=num(z),
           quantity="z", faded=f"{signed_sum(with_first_blank(numbers, f'{factor(W[0, j])}·{BLANK}'))} + {factor(b[j])}")]
    if l < depth:
        lines.append(_activation_line(act, z, a))
    elif softmax:
        if last:
            lines += _softmax_lines(ex)
    else:
        lines.append(_output_line(run, j, ex))
    return lines


def _softmax_lines(ex) -> list[Line]:
    """Every p from every z, written after the last output's z: each p divides by all the e^z."""
    z, p = ex.forward.Z[-1][0], ex.forward.A[-1][0]
    e = np.exp(z)  # as written; the engine subtracts max z first, which cancels in p
    k = len(z)
    lines: list[Line] = [
        Words(f"Softmax, now that all {k} z are known: pₖ = e^zₖ / Σⱼ e^zⱼ, so every p depends on every z."),
        eq("Σⱼ e^zⱼ", " + ".join(f"e^{factor(float(v))}" for v in z), " + ".join(num(float(v)) for v in e),
           result=num(float(e.sum())))]
    lines += [eq(f"p{j}", f"e^z{j} / Σⱼ e^zⱼ", f"{num(float(e[j]))} / {num(float(e.sum()))}", result=num(float(p[j])),
                 note=f"the probability of class {j}") for j in range(k)]
    return lines


def _activation_line(act: Activation, z: float, a: float) -> Equation:
    """a = f(z) as the activation's definition writes it, then with z's number put in."""
    formula, numbers = act.written("z"), act.written(num(z), factor(z))
    steps = (formula,) if formula == "z" else (formula, numbers)
    return eq("a", *steps, result=num(a), quantity="a", faded=act.written(BLANK))


def _output_line(run: Run, j: int, ex) -> Equation:
    z, a = ex.forward.Z[-1][0], float(ex.forward.A[-1][0, j])
    loss_fn = run.arch.loss_fn
    formula, symbol = loss_fn.output_formula.format(j=j), loss_fn.output_symbol
    if loss_fn.name == "bce":
        return eq(symbol, formula, "1 / (1 + e^(−z))", f"σ({num(float(z[0]))})", result=num(a),
                  note="the probability of class 1", quantity="a", faded=f"σ({BLANK})")
    if loss_fn.name == "cross_entropy":
        exps = " + ".join(f"e^{factor(float(v))}" for v in z)
        return eq(f"{symbol}{j}", formula, f"e^{factor(float(z[j]))} / ({exps})", result=num(a),
                  note=f"softmax: the probability of class {j}", quantity="a")
    return eq(symbol, formula, result=num(a), note="mse's output is linear", quantity="a")


def _forward_loss(run: Run) -> list[Line]:
    ex, loss_fn = run.example_values(), run.arch.loss_fn
    y, out = ex.label, ex.forward.A[-1][0]
    if loss_fn.name == "bce":
        p = float(out[0])
        term = ("−log(p)", f"−log({num(p)})") if y == 1 else ("−log(1 − p)", f"−log(1 − {num(p)})")
        faded = f"−log({BLANK})" if y == 1 else f"−log(1 − {BLANK})"
        return [Words(f"The loss: how far p is from the label y = {y}."),
                eq("L", loss_fn.formula, *term, result=num(ex.loss), quantity="a", faded=faded)]
    if loss_fn.name == "cross_entropy":
        return [Words(f"The loss: minus the log of the probability given to the true class y = {y}."),
                eq("L", loss_fn.formula, f"−log(p{y})", f"−log({num(float(out[y]))})", result=num(ex.loss),
                   quantity="a", faded=f"−log({BLANK})")]
    t = ex.target
    if len(out) == 1:
        return [Words(f"The loss: the squared distance from the target t = {num(float(t[0]))}."),
                eq("L", loss_fn.formula, f"({num(float(out[0]))} − {factor(float(t[0]))})²", result=num(ex.loss),
                   quantity="a", faded=f"({BLANK} − {factor(float(t[0]))})²")]
    squares = " + ".join(f"({num(float(o))} − {factor(float(tk))})²" for o, tk in zip(out, t))
    return [Words(f"The loss: the mean squared distance from the one-hot target of class {y}."),
            eq("L", f"(1/{len(out)})·Σₖ (ŷₖ − tₖ)²", f"(1/{len(out)})·[{squares}]", result=num(ex.loss), quantity="a")]


def _backward_output(run: Run, j: int) -> list[Line]:
    ex, loss, depth = run.example_values(), run.config.loss, run.arch.depth
    out, dz, da = ex.forward.A[depth][0], float(ex.backward.dZ[depth][0, j]), float(ex.backward.dA[depth][0, j])
    y = ex.label
    lines: list[Line] = [Words("The gradient starts at the loss (dL/dL = 1) and comes back into the output unit.")]
    loss_fn, k = run.arch.loss_fn, len(out)
    grad_a = loss_fn.grad_a_formula.format(j=j, k=k)
    if loss == "bce":
        p = float(out[0])
        lines += [eq("dL/dp", grad_a, f"−1/{num(p)}" if y == 1 else f"1/(1 − {num(p)})", result=num(da),
                     quantity="grad_a", faded=f"−1/{BLANK}" if y == 1 else f"1/(1 − {BLANK})"),
                  eq("dL/dz", "dL/dp · p·(1 − p)", loss_fn.grad_z_formula, f"{num(p)} − {y}", result=num(dz),
                     quantity="grad_z", faded=f"{BLANK} − {y}")]
    elif loss == "cross_entropy":
        lines += _softmax_backward(j, y, float(out[j]), float(out[y]), da, dz)
    else:
        t = float(ex.target[j])
        lines += [eq("dL/dŷ", grad_a, f"2·({num(float(out[j]))} − {factor(t)})/{k}", result=num(da), quantity="grad_a",
                     faded=f"2·({BLANK} − {factor(t)})/{k}"),
                  eq("dL/dz", loss_fn.grad_z_formula, result=num(dz), note="the output is linear", quantity="grad_z")]
    return lines + _weight_grad_lines(run, depth, j, dz)


def _softmax_backward(j: int, y: int, p: float, p_y: float, da: float, dz: float) -> list[Line]:
    """dL/dz_j through softmax and cross-entropy: why it is p_j − y_j even where dL/dp_j = 0."""
    hit = 1 if j == y else 0
    with np.errstate(all="ignore"):
        dp_y = float(np.divide(-1.0, p_y))  # −∞, not ZeroDivisionError, if p_y underflowed to 0
    if hit:
        lines: list[Line] = [eq(f"dL/dp{j}", f"−1/p{j}", f"−1/{num(p)}", result=num(da),
                                note=f"L = −log p{y}: {j} is the true class", quantity="grad_a")]
    else:
        lines = [eq(f"dL/dp{j}", result="0", note=f"L = −log p{y} contains only the true class's p{y}, not p{j}",
                    quantity="grad_a")]
    lines += [Words(f"{'Yet ' if not hit else ''}z{j} moves every p through the softmax (each pₖ divides by a sum that "
                    f"holds e^z{j}): ∂p{y}/∂z{j} = p{y}·([{j} = {y}] − p{j}). L reads only p{y}, so of the chain-rule "
                    f"terms Σₖ dL/dpₖ·∂pₖ/∂z{j} only k = {y} is not zero, and (−1/p{y})·p{y}·(y{j} − p{j}) = p{j} − y{j} "
                    f"(yₖ = 1 for the true class, 0 otherwise)."),
              eq(f"dL/dz{j}", f"dL/dp{y}·∂p{y}/∂z{j}", f"{factor(dp_y)}·{factor(p_y)}·({hit} − {num(p)})",
                 f"p{j} − y{j}", f"{num(p)} − {hit}", result=num(dz), quantity="grad_z")]
    return lines


def _backward_hidden(run: Run, l: int, j: int) -> tuple[list[Line], tuple[Term, ...]]:
    labels, ex, params = _labels(run), run.example_values(), run.forward_params
    depth, act = run.arch.depth, run.arch.hidden_activation
    W_next = params[f"W{l + 1}"]
    dz_next = ex.backward.dZ[l + 1][0]
    z, a = float(ex.forward.Z[l][0, j]), float(ex.forward.A[l][0, j])
    da, dz = float(ex.backward.dA[l][0, j]), float(ex.backward.dZ[l][0, j])
    fan_out = W_next.shape[1]
    name = labels[node_id(l, j, depth)]
    edges = f"{fan_out} outgoing edges" if fan_out > 1 else "its one outgoing edge"
    terms = tuple(Term(f"W{l + 1}[{j}][{k}]", node_id(l + 1, k, depth), float(W_next[j, k]), float(dz_next[k]),
                       float(W_next[j, k] * dz_next[k])) for k in range(fan_out))
    symbols = [f"W{l + 1}[{j}][{k}]·dL/dz({labels[node_id(l + 1, k, depth)]})" for k in range(fan_out)]
    numbers = [f"{factor(t.w)}·{factor(t.grad)}" for t in terms]
    words = (f"it feeds {fan_out} units of the next layer, so the gradients coming back along those {fan_out} edges add up"
             if fan_out > 1 else "it feeds one unit, so its gradient is that unit's, times the weight between them")
    lines: list[Line] = [
        Words(f"Backward through {name}: {words}."),
        eq("dL/da", f"Σ w·dL/dz over {edges}", signed_sum(symbols), signed_sum(numbers), result=num(da),
           quantity="grad_a", faded=signed_sum(with_first_blank(numbers, f"{factor(terms[0].w)}·{BLANK}"))),
        _local_line(act, z, a, da, dz)]
    return lines + _weight_grad_lines(run, l, j, dz), terms


def _local_line(act: Activation, z: float, a: float, da: float, dz: float) -> Equation:
    """dL/dz = dL/da · da/dz, with the activation's slope as its definition writes it."""
    slope = act.slope_written("z", "a")
    steps = [f"dL/da · {bracketed(slope)}"]
    local = None
    if act.switch:  # a piecewise slope: the value it takes here says it all
        local = num(act.scalar_derivative(z, a))
    elif slope != act.slope_written(factor(z), factor(a)):  # a slope that depends on z or a: put the numbers in
        local = bracketed(act.slope_written(factor(z), factor(a)))
    if local is not None:
        steps.append(f"{factor(da)}·{local}")
    return eq("dL/dz", *steps, result=num(dz), note=act.why(z) if act.why else None, quantity="grad_z",
              faded=f"{BLANK}·{local}" if local is not None else None)


def _weight_grad_lines(run: Run, l: int, j: int, dz: float) -> list[Line]:
    labels, ex = _labels(run), run.example_values()
    a_prev = ex.forward.A[l - 1][0]
    lines: list[Line] = [eq(f"dL/dW{l}[{i}][{j}]", f"dL/dz · {_input_name(run, labels, l - 1, i)}",
                            f"{factor(dz)}·{factor(a_prev[i])}", result=num(float(dz * a_prev[i])),
                            faded=f"{factor(dz)}·{BLANK}") for i in range(len(a_prev))]
    lines.append(eq(f"dL/db{l}[{j}]", "dL/dz · 1", result=num(dz)))
    n = len(run.work.batch) if run.work else run.trainer.batch_size
    lines.append(Words(f"These are this example's own gradients. The update uses their mean over the batch of {n}"
                       + (" plus the regularisation terms." if run.config.l2 or run.config.l1 else ".")))
    return lines


def _update_lines(run: Run, name: str, index: tuple[int, ...]) -> list[Line]:
    cfg, start = run.config, run.start
    w = float(start.params[name][index])
    g = float(run.work.backward.grads[name][index])
    new_params, new_state = run.work.update if run.work.update is not None else (None, None)
    if new_params is None:
        return []
    w_new = float(new_params[name][index])
    label = f"{name}[{']['.join(map(str, index))}]"
    n = len(run.work.batch)
    lines: list[Line] = []
    if name[0] == "W" and (cfg.l2 or cfg.l1):
        data = g - cfg.l2 * w - cfg.l1 * float(np.sign(w))
        lines.append(eq("g", f"mean of dL/d{label} over the batch of {n} + l2·w + l1·sign(w)",
                        f"{num(data)} + {factor(cfg.l2)}·{factor(w)} + {factor(cfg.l1)}·{num(float(np.sign(w)))}",
                        result=num(g), quantity="grad"))
    else:
        lines.append(eq("g", f"mean of dL/d{label} over the batch of {n}", result=num(g), quantity="grad"))
    moved = Equation(label, (), num(w_new), relation="←", quantity="updated")
    if cfg.optimizer == "sgd":
        lines.append(replace(moved, steps=("w − lr·g", f"{num(w)} − {factor(cfg.lr)}·{factor(g)}"),
                             faded=f"{num(w)} − {factor(cfg.lr)}·{BLANK}"))
    elif cfg.optimizer == "momentum":
        v_old = float(np.asarray(start.opt_state.velocity.get(name, np.zeros_like(start.params[name])))[index])
        v = float(new_state.velocity[name][index])
        lines += [Equation("v", ("μ·v + g", f"{factor(cfg.momentum)}·{factor(v_old)} + {factor(g)}"), num(v),
                           "momentum remembers past steps", relation="←"),
                  replace(moved, steps=("w − lr·v", f"{num(w)} − {factor(cfg.lr)}·{factor(v)}"))]
    else:
        t = new_state.steps
        m, v = float(new_state.velocity[name][index]), float(new_state.second[name][index])
        m_old = float(np.asarray(start.opt_state.velocity.get(name, np.zeros_like(start.params[name])))[index])
        v_old = float(np.asarray(start.opt_state.second.get(name, np.zeros_like(start.params[name])))[index])
        m_hat, v_hat = m / (1 - ADAM_BETA1**t), v / (1 - ADAM_BETA2**t)
        lines += [Equation("m", ("0.9·m + 0.1·g", f"0.9·{factor(m_old)} + 0.1·{factor(g)}"), num(m), relation="←"),
                  Equation("v", ("0.999·v + 0.001·g²", f"0.999·{factor(v_old)} + 0.001·{factor(g)}²"), num(v),
                           relation="←"),
                  eq("m̂", f"m/(1 − 0.9^{t})", result=num(m_hat)),
                  eq("v̂", f"v/(1 − 0.999^{t})", result=num(v_hat), note="undoing the zero start"),
                  replace(moved, steps=("w − lr·m̂/(√v̂ + ε)",
                                 f"{num(w)} − {factor(cfg.lr)}·{factor(m_hat)}/(√{num(v_hat)} + {ADAM_EPS:g})"))]
    return lines


def _update_unit(run: Run, l: int, j: int) -> list[Line]:
    name = _labels(run)[node_id(l, j, run.arch.depth)]
    lines: list[Line] = [Words(f"Update {name}: every weight into it and its bias take one step against their batch "
                               f"gradient ({_optimizer_words(run)}).")]
    run.update_step()
    for i in range(run.arch.sizes[l - 1]):
        lines += _update_lines(run, f"W{l}", (i, j))
    return lines + _update_lines(run, f"b{l}", (j,))


# --- gate view --------------------------------------------------------------------------------------

def _gate_names(run: Run) -> dict[str, str]:
    """How each gate-graph node is written in a formula."""
    names = {}
    for node in run.gates().nodes:
        if node.kind == "gate" and node.role in ("z", "a") and " " in node.label:
            names[node.id] = f"{node.role}({node.label.split(' ', 1)[1]})"
        elif node.kind == "gate" and node.of.startswith("in") and node.role:
            names[node.id] = node.label  # a feature map such as x1^2
        elif node.role == "loss":
            names[node.id] = "L"
        elif node.kind == "const":
            names[node.id] = factor(float(node.label.replace("−", "-"))) if node.label not in ("−t", "−max z") else f"({node.label})"
        else:
            names[node.id] = node.id
    return names


def _gate_expression(v: Value, names: list[str], values: list[str]) -> tuple[str, str]:
    if v.op in ("+", "*"):
        symbol = " + " if v.op == "+" else "·"
        return symbol.join(names), symbol.join(values)
    if v.op.startswith("^"):
        return f"{names[0]}{v.op}", f"{values[0]}{v.op}"
    f = "σ" if v.op == "sigmoid" else v.op
    return f"{f}({names[0]})", f"{f}({values[0].strip('()')})"


def local_derivative(v: Value, k: int, other_name: str = "b") -> tuple[str, float]:
    """∂v/∂(its k-th input), as written and as a number."""
    p = v.parents[k]
    if v.op == "+":
        return "1", 1.0
    if v.op == "*":
        return other_name, float(v.parents[1 - k].data)
    if v.op.startswith("^"):
        n = float(v.op[1:])
        return f"{n:g}·a^{n - 1:g}".replace("-", "−"), n * _power(p.data, n - 1)  # a real minus, as num() writes
    if v.op == "exp":
        return "e^a", float(v.data)
    if v.op == "log":
        return "1/a", 1.0 / p.data if p.data else math.inf
    act = ACTIVATIONS.get(v.op)
    if act is not None:  # a hidden activation's gate: its input is written a, its output out
        return act.slope_written("a", "out"), act.scalar_derivative(p.data, v.data)
    if v.op == "sin":
        return "cos(a)", math.cos(p.data) if math.isfinite(p.data) else math.nan
    return "?", math.nan


def _gate_at(run: Run, node: str):
    """The replayed gate graph, the value at `node`, the structure's node for each value, and the names."""
    structure = run.gates()
    graph, done = run.gate_graph_values()
    info_of = {x.serial: n for x, n in zip(graph.tape.values, structure.nodes)}
    return graph, done, graph.tape.values[structure.position_of(node)], info_of, _gate_names(run)


def _gate_forward(run: Run, node: str) -> list[Line]:
    _, _, v, info_of, names = _gate_at(run, node)
    parent_names = [names[info_of[p.serial].id] for p in v.parents]
    parent_values = [factor(p.data) for p in v.parents]
    symbolic, numeric = _gate_expression(v, parent_names, parent_values)
    _, faded = _gate_expression(v, parent_names, with_first_blank(parent_values, BLANK))
    of = info_of[v.serial].of
    part = " of the loss" if of == LOSS_ID else f", part of {_labels(run).get(of, of)}"
    lines: list[Line] = [Words(f"Forward through gate {node} ({OP_SYMBOLS.get(v.op, v.op)}{part})."),
                         eq(names[node], symbolic, numeric, result=num(v.data), quantity="a", faded=faded)]
    if _is_softmax_shift(v) and v.parents[0] is _first_output_z(v):
        lines.append(Words("Softmax begins: adding −max z, the largest output's z, keeps e^z from overflowing; "
                           "it cancels in the division, p = e^(z − m) / Σ e^(z − m) = e^z / Σ e^z."))
    elif v.op == "^-1":  # a division: the softmax's in a network, or the playground's a / b
        lines.append(Words(("This is the softmax's division: " if of == LOSS_ID else "A division: ")
                           + "a / b is built as a·b⁻¹, so one power gate and one product."))
    return lines


def _is_softmax_shift(v: Value) -> bool:
    """The gate z_k + (−max z) that starts cross-entropy's softmax (one per output, nowhere else)."""
    return v.op == "+" and len(v.parents) == 2 and v.parents[1].label == "−max z" and not v.parents[1].op


def _first_output_z(v: Value) -> Value | None:
    """z_0, by its label (each output's z is labelled as its unit is): the softmax's first shift."""
    return v.parents[0] if v.parents[0].label.endswith("out0") else None


def _softmax_z_line(graph, run: Run, v: Value, zname: str) -> Words:
    """At the gate z_k + (−max z) going backward, z_k's gradient is complete: say that it is p_k − y_k."""
    shifts = [c for c, _ in _consumers(graph).get(v.parents[1].serial, [])]  # z_0 − m, …, z_(K−1) − m
    e = [math.exp(min(c.data, 709.0)) for c in shifts]  # ≤ 0 exponents in practice: −m is the largest z
    k = next(i for i, c in enumerate(shifts) if c is v)
    p, hit = e[k] / (sum(e) or math.nan), 1 if run.example_values().label == k else 0  # NaN, not a ZeroDivisionError, once diverged
    return Words(f"That is all of {zname}'s gradient, {zname} feeding only this gate: through the softmax and the loss "
            f"the chain rule comes to p{k} − y{k} = e^(z{k} − m)/Σ − y{k} = {num(p)} − {hit} = {num(v.parents[0].grad)}")


def _gate_backward(run: Run, node: str) -> list[Line]:
    graph, _, v, info_of, names = _gate_at(run, node)
    consumers = _consumers(graph)
    lines: list[Line] = [Words(f"Backward through gate {node}: {rule_of(v.op)}.")]
    parent_names = [names[info_of[p.serial].id] for p in v.parents]
    for k, p in enumerate(v.parents):
        if info_of[p.serial].kind == "const":
            continue  # a constant's gradient is computed but feeds nothing
        symbol, d = local_derivative(v, k, parent_names[1 - k] if v.op == "*" else "")
        pname = parent_names[k]
        lines.append(Equation(f"dL/d{pname}", (f"{bracketed(symbol)}·dL/d{names[node]}", f"{factor(d)}·{factor(v.grad)}"),
                              num(d * v.grad), relation="+=", quantity="grad_a", faded=f"{factor(d)}·{BLANK}"))
        feeds = len(consumers.get(p.serial, ()))
        if feeds > 1 and p not in v.parents[k + 1:]:  # x·x: said once, after both of its shares
            lines.append(Words(f"{pname} feeds {feeds} gates, so its gradient is the sum of what each passes back; "
                               f"so far dL/d{pname} = {num(p.grad)}"))
    if _is_softmax_shift(v):
        lines.append(_softmax_z_line(graph, run, v, parent_names[0]))
    return lines


def _consumers(graph) -> dict[int, list[tuple[Value, int]]]:
    out: dict[int, list[tuple[Value, int]]] = {}
    for v in graph.tape.values:
        for k, p in enumerate(v.parents):
            out.setdefault(p.serial, []).append((v, k))
    return out


def _gate_gradient_sum(run: Run, node: str) -> list[Line]:
    """A value's gradient as the sum of what each gate it feeds has passed back so far."""
    graph, done, v, info_of, names = _gate_at(run, node)
    gates = graph.tape.gates
    finished = {id(g) for g in gates[len(gates) - done:]}
    parts = [(c, k) for c, k in _consumers(graph).get(v.serial, []) if id(c) in finished]
    if not parts:
        return []
    terms = [f"{factor(local_derivative(c, k)[1])}·{factor(c.grad)}" for c, k in parts]
    symbols = [f"∂{names[info_of[c.serial].id]}/∂{names[node]}·dL/d{names[info_of[c.serial].id]}" for c, _ in parts]
    return [eq(f"dL/d{names[node]}", signed_sum(symbols), signed_sum(terms), result=num(v.grad),
               note=f"{len(parts)} contributions add" if len(parts) > 1 else None, quantity="grad_a")]


# --- entry points -----------------------------------------------------------------------------------

def explain_op(run: Run, op: Op) -> Explanation:
    """The step the cursor has just taken."""
    with np.errstate(all="ignore"):
        if run.view_name == "gate":
            if op.phase == "forward":
                lines = _gate_forward(run, op.node)
            elif op.phase == "backward":
                lines = _gate_backward(run, op.node)
            else:
                run.update_step()
                lines = [Words(f"Update {op.node} ({_optimizer_words(run)}).")] + _update_lines(run, *op.param)
            return Explanation(op.node, op.phase, tuple(lines))
        terms = None
        if op.phase == "forward":
            lines = _forward_loss(run) if op.node == LOSS_ID else _forward_unit(run, op.layer, op.unit)
        elif op.phase == "backward":
            if op.layer == run.arch.depth:
                lines = _backward_output(run, op.unit)
            else:
                lines, terms = _backward_hidden(run, op.layer, op.unit)
        else:
            lines = _update_unit(run, op.layer, op.unit)
        return Explanation(op.node, op.phase, tuple(lines), terms)


def explain_node(run: Run, node: str) -> Explanation:
    """Everything reached so far at one node, forward, backward and update."""
    known = {n.id for n in run.gates().nodes} if run.view_name == "gate" else set(_labels(run))
    if node not in known:
        raise KeyError(node)
    lines: list[Line] = []
    terms = None
    with np.errstate(all="ignore"):
        if run.view_name == "gate" and run.position:
            _, _, value, info_of, _ = _gate_at(run, node)
            info = info_of[value.serial]
            if info.kind != "gate":
                kind = {"input": "an input", "param": "a parameter, as the forward pass used it"}.get(info.kind, "a constant")
                lines.append(eq(node, result=num(value.data), note=kind, quantity="a"))
            lines += _gate_gradient_sum(run, node)
        for op in run.ops[:run.position]:
            if op.node != node:
                continue
            part = explain_op(run, op)
            lines += part.lines
            terms = part.terms or terms
    if not lines:
        lines = [Words("Not reached yet in this iteration.")]
    return Explanation(node, run.phase, tuple(lines), terms)
