"""The playground's messages (docs/protocol.md, "The gate playground"). Kept beside wire.py, whose
encoder, non-finite rule and explanation rows it uses, so the two speak one format."""

from __future__ import annotations

from app.run.playground import Playground, PlaygroundError

from .wire import _explain_json, finite


def playground(p: Playground) -> dict:
    """The whole replay: the graph as the gate view draws it, the leaves' values, each step's
    numbers and explanation, and the answer. Every non-finite number is null."""
    return {
        "type": "playground", "expression": p.expression,
        "values": {name: finite(x) for name, x in p.values.items()}, "variables": list(p.values),
        "graph": {
            "view": "gate",
            "nodes": [{"id": n.id, "kind": n.kind, "layer": n.column, "index": n.row, "label": n.label, "op": n.op,
                       "of": n.of or None, "role": n.role, "rule": n.rule, "symbol": n.symbol} for n in p.nodes],
            "edges": [{"id": e, "src": src, "dst": dst, "i": k} for e, src, dst, k in p.edges],
        },
        "start": {node: finite(x) for node, x in p.start.items()},
        "steps": [{"phase": s.phase, "node": s.node, "inputs": list(s.inputs), "value": finite(s.value),
                   "grads": {node: finite(g) for node, g in s.grads.items()}, "explain": _explain_json(s.explanation)}
                  for s in p.steps],
        "value": finite(p.value), "grads": {name: finite(g) for name, g in p.grads.items()}, "problem": p.problem,
    }


def refusal(exc: PlaygroundError) -> dict:
    """A 422's body: the protocol's error, with the column it points at and the variables the
    expression names (so the page can offer a field for each, even for an expression refused)."""
    body: dict = {"code": "invalid_expression" if exc.field == "expr" else "invalid_message",
                  "message": str(exc), "field": exc.field, "reason": exc.reason}
    if exc.column is not None:
        body["column"] = exc.column
    return {"error": body, "variables": list(exc.variables)}
