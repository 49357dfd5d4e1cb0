"""The ops one iteration is made of, in the two views the cursor can walk.

Neuron view (docs/protocol.md): forward visits every neuron and output layer by layer, then the
loss; backward visits every output and neuron once in exactly the reverse order; update
moves the weights into each unit. Gate view: the same iteration, one scalar gate at a time
(every product w·a, every add, every activation, each piece of the loss), and in the update
pass one parameter at a time.

Every gate op belongs to one neuron op (its `owner`), and the gate ops of one owner are
contiguous and in the neuron ops' order. That is what lets a position move between the
views: a gate position maps to the neuron ops finished before it, and back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, get_args

from app.engine import LOSS_ID, node_id
from app.engine.activations import ACTIVATIONS
from app.engine.gates import ExampleGraph
from app.engine.scalar import Value

# Written once, as the `view` command's type, so what `hello.choices` offers and what scenarios
# may name cannot drift from what the command accepts.
ViewName = Literal["neuron", "gate"]
VIEWS: tuple[str, ...] = get_args(ViewName)


@dataclass(frozen=True)
class Op:
    phase: str  # forward | backward | update
    layer: int  # weight layer 1..L; L + 1 for the loss node
    node: str  # where the cursor stands: a neuron-view node id or a gate-view node id
    unit: int  # the unit within its layer
    owner: int  # the index of the neuron-view op this op is (part of)
    param: tuple[str, tuple[int, ...]] | None = None  # gate view's update ops: the one entry it moves


def neuron_ops(sizes: tuple[int, ...]) -> list[Op]:
    depth = len(sizes) - 1
    units = [(l, j) for l in range(1, depth + 1) for j in range(sizes[l])]
    forward = [Op("forward", l, node_id(l, j, depth), j, 0) for l, j in units] + [Op("forward", depth + 1, LOSS_ID, 0, 0)]
    backward = [Op("backward", l, node_id(l, j, depth), j, 0) for l, j in reversed(units)]
    update = [Op("update", l, node_id(l, j, depth), j, 0) for l, j in units]
    return [replace(op, owner=k) for k, op in enumerate(forward + backward + update)]


def phase_counts(ops: list[Op]) -> tuple[int, int]:
    """How many forward ops, and how many backward ops."""
    return sum(op.phase == "forward" for op in ops), sum(op.phase == "backward" for op in ops)


# --- gate view ---------------------------------------------------------------------------------

# How each gate is named and what its local derivative does, in words: the arithmetic gates
# here, each hidden activation's from its one definition (app/engine/activations.py).
OP_SYMBOLS = {"+": "+", "*": "×", "exp": "exp", "log": "log", "sin": "sin",
              **{name: act.symbol for name, act in ACTIVATIONS.items()}}

RULES = {
    "+": "add passes the gradient to both inputs unchanged: ∂(a + b)/∂a = ∂(a + b)/∂b = 1",
    "*": "mul swaps its inputs: each input's gradient is the other input times the output's gradient, ∂(a·b)/∂a = b",
    "pow": "power: ∂(aⁿ)/∂a = n·aⁿ⁻¹",
    "exp": "exp: ∂eᵃ/∂a = eᵃ, the gate's own output",
    "log": "log: ∂(log a)/∂a = 1/a",
    "sin": "sin: ∂sin(a)/∂a = cos(a)",
    **{name: act.rule for name, act in ACTIVATIONS.items()},
}


def rule_of(op: str) -> str:
    return RULES["pow"] if op.startswith("^") else RULES.get(op, "")


@dataclass(frozen=True)
class GateNode:
    id: str
    kind: str  # input | param | const | gate
    op: str  # the gate's operation ("" for a leaf)
    label: str
    column: int
    row: int
    of: str  # the neuron-view node this value is part of
    role: str | None  # "z" or "a" of that node, "loss", or None for an intermediate value
    rule: str
    symbol: str  # what the gate's box shows: its operation ("×", "σ", "^2"), L for the loss, a leaf's label


@dataclass
class GateStructure:
    """One example's gate graph as the view draws and walks it."""

    example: ExampleGraph
    ids: dict[int, str]  # Value.serial -> node id
    nodes: list[GateNode]
    edges: list[tuple[str, str, str, int]]  # (id, src, dst, argument position)
    ops: list[Op]

    @property
    def key(self) -> tuple:
        """Equal for two examples exactly when their graphs are drawn the same."""
        return tuple(n.id for n in self.nodes), tuple(e[0] for e in self.edges)

    def position_of(self, node: str) -> int:
        """The node's index in `nodes`, which is also its value's index in any build's tape."""
        return self._positions[node]

    def __post_init__(self) -> None:
        self._positions = {n.id: k for k, n in enumerate(self.nodes)}


def _node_ids(example: ExampleGraph) -> dict[int, str]:
    ids: dict[int, str] = {}
    for k, v in enumerate(example.tape.values):
        if v.op:
            ids[v.serial] = f"g{k}"
        elif v.label in ("x1", "x2") or v.label[:1] in ("W", "b") and "[" in v.label:
            ids[v.serial] = v.label  # inputs and parameters keep their own names
        else:
            ids[v.serial] = f"c{k}"
    return ids


def _roles(example: ExampleGraph) -> dict[int, tuple[str, str]]:
    roles: dict[int, tuple[str, str]] = {}
    for nid, parts in example.nodes.items():
        if nid == LOSS_ID:
            roles[parts["a"].serial] = (nid, "loss")
            continue
        roles[parts["z"].serial] = (nid, "z")
        if parts["a"] is not parts["z"]:
            roles[parts["a"].serial] = (nid, "a")
    return roles


def _columns(values: list[Value]) -> dict[int, int]:
    """Gates: one column right of their deepest input. Leaves: just left of their first use."""
    depth: dict[int, int] = {}
    for v in values:
        if v.op:
            depth[v.serial] = 1 + max((depth.get(p.serial, 0) for p in v.parents), default=0)
    uses: dict[int, int] = {}
    for v in values:
        for p in v.parents:
            if not p.op:
                uses[p.serial] = min(uses.get(p.serial, 10**9), depth[v.serial] - 1)
    return {v.serial: depth.get(v.serial, uses.get(v.serial, 0)) for v in values}


def gate_structure(example: ExampleGraph, neuron: list[Op], sizes: tuple[int, ...], labels: dict[str, str]) -> GateStructure:
    values = example.tape.values
    ids, roles, columns = _node_ids(example), _roles(example), _columns(values)
    rows: dict[int, int] = {}
    nodes: list[GateNode] = []
    for v in values:
        col = columns[v.serial]
        rows[col] = rows.get(col, -1) + 1
        owner = example.owner(v)
        of, role = roles.get(v.serial, (owner, None))
        if v.op:
            kind = "gate"
            label = labels.get(of, of) if role in ("z", "a") else ("L" if role == "loss" else (v.label or OP_SYMBOLS.get(v.op, v.op)))
            if role in ("z", "a") and not of.startswith("in"):
                label = f"{role} {label}"
        else:
            kind = "input" if v.label in ("x1", "x2") else ("param" if ids[v.serial] == v.label else "const")
            label = v.label or f"{v.data:g}".replace("-", "−")  # the page's minus sign, as format.js writes it
        symbol = "L" if role == "loss" else (OP_SYMBOLS.get(v.op, v.op) or label)
        nodes.append(GateNode(ids[v.serial], kind, v.op, label, col, rows[col], of, role, rule_of(v.op), symbol))
    edges = []
    for v in values:
        for k, p in enumerate(v.parents):
            edge = f"{ids[p.serial]}→{ids[v.serial]}"
            edges.append((edge if k == 0 or v.parents[0] is not p else f"{edge}/{k}", ids[p.serial], ids[v.serial], k))
    return GateStructure(example, ids, nodes, edges, _gate_ops(example, ids, neuron, sizes))


def _gate_ops(example: ExampleGraph, ids: dict[int, str], neuron: list[Op], sizes: tuple[int, ...]) -> list[Op]:
    forward_of = {op.node: op.owner for op in neuron if op.phase == "forward"}
    backward_of = {op.node: op.owner for op in neuron if op.phase == "backward"}
    first_backward, last_backward = min(backward_of.values()), max(backward_of.values())

    def gate_op(phase: str, gate: Value) -> Op:
        node = example.owner(gate)
        if phase == "forward":
            owner = forward_of.get(node, 0)  # the feature maps come first, with the first unit
        else:
            owner = backward_of.get(node, first_backward if node == LOSS_ID else last_backward)
        return Op(phase, neuron[owner].layer, ids[gate.serial], neuron[owner].unit, owner)

    gates = example.tape.gates
    ops = [gate_op("forward", g) for g in gates] + [gate_op("backward", g) for g in reversed(gates)]
    for op in neuron:
        if op.phase != "update":
            continue
        l, j = op.layer, op.unit
        for i in range(sizes[l - 1]):
            ops.append(Op("update", l, f"W{l}[{i}][{j}]", j, op.owner, (f"W{l}", (i, j))))
        ops.append(Op("update", l, f"b{l}[{j}]", j, op.owner, (f"b{l}", (j,))))
    return ops


def gate_position(gate_ops: list[Op], neuron_position: int) -> int:
    """Gate ops done when the first `neuron_position` neuron ops are done."""
    return sum(op.owner < neuron_position for op in gate_ops)


def neuron_position(gate_ops: list[Op], position: int, n_neuron: int) -> int:
    """Neuron ops wholly done when the first `position` gate ops are done."""
    return n_neuron if position >= len(gate_ops) else gate_ops[position].owner
