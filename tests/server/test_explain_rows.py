"""The explanation on the wire: structured rows beside the text lines, the same lines both ways."""

from __future__ import annotations

import re

import orjson
import pytest

from app.engine import parse_config
from app.run import Run, run_view
from app.run.explain import explain_node
from app.server import wire


def _row_text(row: dict) -> str:
    """How a reader that only has the rows would write the line out."""
    if "words" in row:
        return row["words"]
    text = f"{row['symbol']} {row['relation']} " + " = ".join([*row["steps"], row["result"]])
    return text + (f"   ({row['note']})" if row["note"] else "")


@pytest.mark.parametrize("view", ["neuron", "gate"])
@pytest.mark.parametrize("config", [{"optimizer": "adam", "l2": 0.01},
                                    {"loss": "cross_entropy", "dataset": {"name": "spiral", "classes": 3, "n": 30}},
                                    {"loss": "mse", "activation": "softplus", "optimizer": "momentum"}])
def test_every_row_is_its_text_line_and_every_equation_ends_in_a_number(view, config):
    run = Run(parse_config({"hidden": [3, 2], "dataset": {"n": 24}, "batch_size": 6, **config}))
    run.set_view(view)
    run.run("iteration")
    for _ in range(len(run.ops)):
        run.run("op")
        message = orjson.loads(wire.encode(wire.state(run_view(run), 1)))
        explain = message["explain"]
        assert len(explain["rows"]) == len(explain["lines"]) > 0
        for row, line in zip(explain["rows"], explain["lines"]):
            assert _row_text(row) == line
            if "words" not in row:
                assert re.fullmatch(r"−?[\d.]+(e−?\d+)?|∞|−∞|undefined", row["result"]), row
        equations = [r for r in explain["rows"] if "words" not in r]
        quantities = [r["quantity"] for r in equations if r["quantity"]]
        if message["phase"] == "backward":
            assert "grad_z" in quantities or "grad_a" in quantities or view == "gate"
        if "terms" in explain:  # the edge-by-edge sum hangs under the one dL/da it adds up
            assert quantities.count("grad_a") == 1


def test_terms_follow_the_dl_da_row_in_a_clicked_nodes_explanation():
    run = Run(parse_config({"hidden": [3, 2], "dataset": {"n": 24}, "batch_size": 6}))
    run.run("pass", 2)
    message = wire.explain(explain_node(run, "h1_0"))
    grad_a = [r for r in message["rows"] if r.get("quantity") == "grad_a"]
    assert len(grad_a) == 1 and grad_a[0]["symbol"] == "dL/da" and len(message["terms"]) == 2
    assert sum(t["product"] for t in message["terms"]) == pytest.approx(
        run_view(run).nodes["h1_0"]["grad_a"], rel=1e-12)

