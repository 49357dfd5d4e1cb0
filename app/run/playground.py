"""The gate playground: a learner's own scalar expression as a gate graph, stepped forward and
then backward one gate at a time, each step written out by the gate view's own explanations.

explain.py writes a gate's forward and backward steps (the local-derivative rules, the fork
sums) from a Run. `_ExpressionRun` offers exactly the part of a Run those gate explanations
read (`view_name`, `gates()`, `gate_graph_values()`, `labels()`), over a `Tape` of the parsed
expression, so each gate here is explained by the same code as on the main page, never a copy.

`playground(text, values)` does the whole replay once: the graph, each step's numbers and its
explanation, the value and every variable's gradient. `parse_values` reads the link's
`values` parameter ("x:0.5,w:-1.2"). Both raise `PlaygroundError(field, reason, column)`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from types import SimpleNamespace

from app.engine.expression import MAX_VARIABLES, NAME, ExpressionError, parse_expression, tokens
from app.engine.scalar import Tape, Value

from .explain import Explanation, _gate_gradient_sum, explain_op, num
from .ops import OP_SYMBOLS, GateNode, Op, _columns, rule_of

OUTPUT = "L"  # the expression's value: what every gradient is of (dL/dx), as the loss is on the main page
UNIT = "expression"  # the one unit every gate belongs to (the gate view unfolds it)
MAX_VALUES_LENGTH = 1000  # characters of the link's values parameter
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")

# Ready-made expressions: the seeds' chain, a value used twice, a division. Plain data: the page's
# buttons are rendered from it.
PRESETS = (
    {"name": "mse(relu(x·w + b))", "expression": "mse(relu(x*w + b))", "values": {"x": 1.5, "w": 0.8, "b": -0.3, "t": 2.0},
     "about": "the chain u = x·w + b, v = relu(u), L = (v − t)²"},
    {"name": "a value used twice", "expression": "a*b + a", "values": {"a": 2.0, "b": -3.0},
     "about": "a feeds two gates, so its gradient is the sum of both"},
    {"name": "a division", "expression": "a / b", "values": {"a": 3.0, "b": 4.0},
     "about": "a / b is built as a · b⁻¹: a power gate and a product"},
    {"name": "tanh neuron", "expression": "tanh(x*w + b)", "values": {"x": 0.5, "w": -1.2, "b": 0.1},
     "about": "one neuron: a weighted input, a bias, a squashing"},
)


class PlaygroundError(ValueError):
    """A refusal: the query parameter it is about, what was wrong, and the column in it (1-based)."""

    def __init__(self, field: str, reason: str, column: int | None = None, variables: tuple[str, ...] = ()):
        super().__init__(f"{field}: {reason}" if column is None else f"{field}, column {column}: {reason}")
        self.field, self.reason, self.column, self.variables = field, reason, column, variables


@dataclass(frozen=True)
class Step:
    phase: str  # forward | backward
    node: str  # the gate just done
    inputs: tuple[str, ...]  # its inputs' ids: a backward step hands them their gradients
    value: float | None  # forward: the gate's value
    grads: dict[str, float]  # backward: the gradients it changed (its own, its inputs'), as they are after it
    explanation: Explanation


@dataclass(frozen=True)
class Playground:
    expression: str
    values: dict[str, float]  # every variable used, in the order of first use
    nodes: list[GateNode]
    edges: list[tuple[str, str, str, int]]  # (id, src, dst, argument position)
    start: dict[str, float]  # the leaves' values, known before any gate runs
    steps: list[Step]
    value: float
    grads: dict[str, float]  # each variable's dL/dx
    problem: str | None  # the first number that is not finite, in words; None when all are


# --- the link's values parameter ---------------------------------------------------------------------

def parse_values(text: str) -> dict[str, float]:
    """"x:0.5,w:-1.2" → {"x": 0.5, "w": -1.2}; refusals name the entry and its column."""
    if len(text) > MAX_VALUES_LENGTH:
        raise PlaygroundError("values", f"it is {len(text)} characters long; at most {MAX_VALUES_LENGTH} are allowed")
    values: dict[str, float] = {}
    column = 1
    for entry in text.split(",") if text.strip() else []:
        name, colon, number = (part.strip() for part in entry.partition(":"))
        if not colon or not NAME.fullmatch(name):
            raise PlaygroundError("values", f"{entry.strip()[:40]!r} is not name:number, such as x:0.5", column)
        if name in values:
            raise PlaygroundError("values", f"{name} is given twice", column)
        if not NUMBER.fullmatch(number) or not math.isfinite(float(number)):
            raise PlaygroundError("values", f"{name} must be a finite number such as -1.5 or 2e-3, got {number[:40]!r}",
                                  column + entry.index(":") + 1)
        values[name] = float(number)
        column += len(entry) + 1
    if len(values) > MAX_VARIABLES:
        raise PlaygroundError("values", f"at most {MAX_VARIABLES} variables, got {len(values)}")
    return values


def format_values(values: dict[str, float]) -> str:
    """The inverse of parse_values: what a link holds."""
    return ",".join(f"{name}:{value!r}" for name, value in values.items())


# --- the graph -----------------------------------------------------------------------------------------

def names_used(text: str) -> tuple[str, ...]:
    """The variables the expression names, in order (a name not followed by "(" is a variable)."""
    try:
        toks = tokens(text)
    except ExpressionError:
        return ()
    found: list[str] = []
    for k, tok in enumerate(toks[:-1]):
        if tok.kind == "name" and toks[k + 1].text != "(" and tok.text not in found:
            found.append(tok.text)
        elif tok.text == "mse" and toks[k + 1].text == "(" and "t" not in found:
            found.append("t")  # mse(a) compares with the target t (whether or not a second argument follows)
    return tuple(found)


def _refuse_output_name(text: str) -> None:
    for k, tok in enumerate(tokens(text)[:-1]):
        if tok.kind == "name" and tok.text == OUTPUT:
            raise ExpressionError(f"{OUTPUT} names the expression's own value here (dL/dx); call this variable "
                                  "something else", tok.column)


def _node_ids(tape: Tape, variables: dict[str, Value]) -> dict[int, str]:
    """Gates g1, g2, … in the order they run, constants c1, c2, …, variables by their names, the
    output L. A gate id a variable already has gets a trailing _ (a variable may be called g1)."""
    ids: dict[int, str] = {v.serial: name for name, v in variables.items()}
    taken = set(ids.values()) | {OUTPUT}
    counts = {"g": 0, "c": 0}
    for v in tape.values:
        if v.serial in ids:
            continue
        if v is tape.root and v.op:
            ids[v.serial] = OUTPUT
            continue
        prefix = "g" if v.op else "c"
        counts[prefix] += 1
        name = f"{prefix}{counts[prefix]}"
        while name in taken:
            name += "_"
        taken.add(name)
        ids[v.serial] = name
    return ids


def _structure(tape: Tape, ids: dict[int, str], variables: dict[str, Value]):
    """The nodes as the gate view draws them: every gate named above its circle (role "a"), the
    variables as inputs, the numbers as constants; and the edges, a repeated input's second edge
    told apart by its argument position (x·x)."""
    columns, rows = _columns(tape.values), {}
    inputs = {v.serial for v in variables.values()}
    nodes = []
    for v in tape.values:
        col = columns[v.serial]
        rows[col] = rows.get(col, -1) + 1
        nid = ids[v.serial]
        if v.op:
            nodes.append(GateNode(nid, "gate", v.op, nid, col, rows[col], UNIT, "a", rule_of(v.op), OP_SYMBOLS.get(v.op, v.op)))
        else:
            kind = "input" if v.serial in inputs else "const"
            label = v.label or f"{v.data:g}"
            nodes.append(GateNode(nid, kind, "", label, col, rows[col], "" if kind == "input" else UNIT, None, "", label))
    edges = []
    for v in tape.values:
        for k, p in enumerate(v.parents):
            edge = f"{ids[p.serial]}→{ids[v.serial]}"
            edges.append((edge if k == 0 or v.parents[0] is not p else f"{edge}/{k}", ids[p.serial], ids[v.serial], k))
    return nodes, edges


class _ExpressionRun:
    """The part of a Run that explain.py's gate explanations read, over the expression's tape."""

    view_name = "gate"

    def __init__(self, tape: Tape, nodes: list[GateNode]):
        self.tape, self.nodes = tape, nodes
        self._positions = {n.id: k for k, n in enumerate(nodes)}

    def gates(self):
        return SimpleNamespace(nodes=self.nodes, position_of=self._positions.__getitem__)

    def gate_graph_values(self):
        return SimpleNamespace(tape=self.tape), self.tape.backward_done

    def labels(self) -> dict[str, str]:
        return {UNIT: "the expression"}


def _forks_completed(gate: Value, tape: Tape, consumers: dict[int, int]) -> list[Value]:
    """The inputs of `gate` that feed more than one gate and whose last gate this is (backward):
    their gradient is complete now, a sum worth writing out."""
    done = {id(g) for g in tape.gates[len(tape.gates) - tape.backward_done:]}
    out = []
    for p in dict.fromkeys(gate.parents):  # x·x: the same input once
        if consumers.get(p.serial, 0) > 1:  # a number feeds one gate; a variable or a gate may feed more
            users = [v for v in tape.values if any(q is p for q in v.parents)]
            if all(id(u) in done for u in users):
                out.append(p)
    return out


def _problem(tape: Tape, ids: dict[int, str], grads: dict[str, float]) -> str | None:
    for v in tape.gates:
        if not math.isfinite(v.data):
            return (f"gate {ids[v.serial]} ({OP_SYMBOLS.get(v.op, v.op)}) comes to {num(v.data)}, not a finite number, "
                    "so what is computed from it and the gradients through it are not numbers either. Change a value "
                    "or the expression: log needs an input above 0, and nothing may be divided by 0.")
    bad = [name for name, g in grads.items() if not math.isfinite(g)]
    if bad:
        return (f"the gradient dL/d{bad[0]} comes to {num(grads[bad[0]])}: a local derivative is not finite at these "
                "values (such as a power below 1 at 0). Change a value or the expression.")
    return None


@dataclass(frozen=True)
class Parsed:
    """An expression's gates, computed once (the parser runs each gate as it builds it)."""

    tape: Tape
    ids: dict[int, str]  # Value.serial → node id
    variables: dict[str, Value]  # in the order of first use
    nodes: list[GateNode]
    edges: list[tuple[str, str, str, int]]


def parse(text: str, values: dict[str, float]) -> Parsed:
    """The expression's gate graph. Raises PlaygroundError naming the field (expr or values)."""
    try:  # the values alone first, against the parser's own rules, so a refusal names the right field
        parse_expression("0", values)
    except ExpressionError as exc:
        raise PlaygroundError("values", exc.reason, None, names_used(text)) from exc
    try:
        _refuse_output_name(text)
        root, variables = parse_expression(text, values)
    except ExpressionError as exc:
        raise PlaygroundError("expr", exc.reason, exc.column, names_used(text)) from exc
    if not root.op:  # a lone number or name: a graph needs at least one gate
        root = root + 0.0
    tape = Tape(root, in_creation_order=True)
    ids = _node_ids(tape, variables)
    return Parsed(tape, ids, variables, *_structure(tape, ids, variables))


def playground(text: str, values: dict[str, float]) -> Playground:
    """Parse, then replay forward and backward gate by gate, explaining each step. Raises PlaygroundError."""
    parsed = parse(text, values)
    tape, ids, variables = parsed.tape, parsed.ids, parsed.variables
    run = _ExpressionRun(tape, parsed.nodes)
    consumers: dict[int, int] = {}
    for v in tape.values:
        for p in v.parents:
            consumers[p.serial] = consumers.get(p.serial, 0) + 1
    start = {ids[v.serial]: v.data for v in tape.values if not v.op}
    tape.reset()
    steps = []
    while (gate := tape.step_forward()) is not None:
        explanation = explain_op(run, Op("forward", 0, ids[gate.serial], 0, 0))
        steps.append(Step("forward", ids[gate.serial], tuple(ids[p.serial] for p in gate.parents), gate.data, {},
                          explanation))
    while (gate := tape.step_backward()) is not None:
        node = ids[gate.serial]
        explanation = explain_op(run, Op("backward", 0, node, 0, 0))
        for fork in _forks_completed(gate, tape, consumers):
            summed = _gate_gradient_sum(run, ids[fork.serial])
            explanation = Explanation(node, "backward", (*explanation.lines, *summed))
        grads = {ids[v.serial]: v.grad for v in (gate, *gate.parents)}
        steps.append(Step("backward", node, tuple(ids[p.serial] for p in gate.parents), None, grads, explanation))
    grads = {name: v.grad for name, v in variables.items()}
    return Playground(text, {name: v.data for name, v in variables.items()}, parsed.nodes, parsed.edges, start, steps,
                      tape.root.data, grads, _problem(tape, ids, grads))
