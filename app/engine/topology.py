"""Names of the neuron view's nodes and edges, shared by the engine, the stepper and the wire.

Node ids: `in{i}` for input features, `h{l}_{j}` for hidden unit j of layer l, `out{j}` for
output units, `loss`. Edge ids name the weight they carry: `W{l}[i][j]`.
"""

from __future__ import annotations

from dataclasses import dataclass

LOSS_ID = "loss"


def node_id(layer: int, index: int, depth: int) -> str:
    if layer == 0:
        return f"in{index}"
    if layer == depth:
        return f"out{index}"
    return f"h{layer}_{index}"


def hidden_label(layer: int, index: int) -> str:
    """How a learner reads hidden unit `index` of `layer`: h1.1 is the first unit of layer 1."""
    return f"h{layer}.{index + 1}"


def hidden_unit(nid: str) -> tuple[int, int]:
    """(layer, index) of a hidden unit's node id `h{l}_{j}`."""
    layer, index = nid[1:].split("_")
    return int(layer), int(index)


def edge_id(layer: int, i: int, j: int) -> str:
    return f"W{layer}[{i}][{j}]"


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # input | neuron | output | loss
    layer: int
    index: int
    label: str


@dataclass(frozen=True)
class Edge:
    id: str
    src: str
    dst: str
    param: str | None  # the weight matrix it belongs to; None for the output → loss edges
    i: int
    j: int


def output_label(loss: str, index: int, n_outputs: int) -> str:
    if loss == "bce":
        return "p"
    return f"p{index}" if loss == "cross_entropy" else ("ŷ" if n_outputs == 1 else f"ŷ{index}")


def neuron_graph(sizes: tuple[int, ...] | list[int], features: list[str], loss: str) -> tuple[list[Node], list[Edge]]:
    """Every unit of every layer, the loss, and one edge per weight (plus outputs → loss)."""
    depth = len(sizes) - 1
    nodes: list[Node] = []
    for layer, width in enumerate(sizes):
        for j in range(width):
            if layer == 0:
                kind, label = "input", features[j]
            elif layer == depth:
                kind, label = "output", output_label(loss, j, width)
            else:
                kind, label = "neuron", hidden_label(layer, j)
            nodes.append(Node(node_id(layer, j, depth), kind, layer, j, label))
    nodes.append(Node(LOSS_ID, "loss", depth + 1, 0, "L"))
    edges = [Edge(edge_id(l, i, j), node_id(l - 1, i, depth), node_id(l, j, depth), f"W{l}", i, j)
             for l in range(1, depth + 1) for j in range(sizes[l]) for i in range(sizes[l - 1])]
    edges += [Edge(f"{node_id(depth, j, depth)}→{LOSS_ID}", node_id(depth, j, depth), LOSS_ID, None, j, 0)
              for j in range(sizes[depth])]
    return nodes, edges
