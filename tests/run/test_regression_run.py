"""Regression through the run layer: sweeps judge R², scenarios keep given points and the run,
and the explanations speak of targets."""

from __future__ import annotations

import json

import numpy as np

from app.engine import LOSS_ID, parse_config
from app.presets import PRESETS
from app.run import Run, run_view
from app.run.explain import explain_node, num
from app.run.sweep import train_seed
from app.scenario import capture, from_document, to_document

PRESET = {p["id"]: p for p in PRESETS}


def test_a_sweep_calls_the_flat_fit_stuck_and_the_bent_one_ok_in_r2():
    flat = train_seed(parse_config(PRESET["curve-flat"]["config"]), 0, 300)
    assert flat.verdict == "stuck" and "8 of 8 ReLUs in layer 2 dead" in flat.reason
    assert f"plateau at R² {flat.r2:.2f}" in flat.reason  # the score in the task's own terms
    assert flat.accuracy is None and abs(flat.r2) < 0.05 and flat.test_r2 is not None
    bent = train_seed(parse_config(PRESET["curve-pieces"]["config"]), 0, 1000)
    assert bent.verdict == "ok" and bent.reason == f"fits with R² {bent.r2:.2f}" and bent.r2 > 0.9
    assert bent.boundary.shape[0] == 1 and -6 <= bent.boundary.min() and bent.boundary.max() <= 6


def test_a_scenario_keeps_given_points_and_the_run_exactly():
    config = {"dataset": {"name": "plane", "points": [[1, 2, -0.5], [-3, 1, 2.25], [4, -4, 0.0], [0, 0, 1.0]],
                          "test_fraction": 0.25}, "loss": "mse", "hidden": [3]}
    run = Run(parse_config(config))
    run.run("iteration", 7)
    run.run("op", 4)
    doc = json.loads(json.dumps(to_document(capture(run, title="plane"), "test")))
    again = from_document(doc).build_run(1200)
    assert again.config == run.config and again.config.dataset.points == run.config.dataset.points
    before, after = run_view(run), run_view(again)
    assert (after.iteration, after.cursor, after.r2, after.loss) == (before.iteration, before.cursor, before.r2, before.loss)
    assert all(np.array_equal(after.params[k], before.params[k]) for k in before.params)


def test_the_loss_and_its_gradient_are_explained_with_the_examples_target():
    run = Run(parse_config({"dataset": {"name": "curve"}, "loss": "mse", "features": ["x1"], "hidden": [2]}))
    run.run("pass", 2)
    y = float(run.trainer.train.labels[run.example])
    assert y < 0  # this example's target is negative: it is written as a factor, in brackets
    view = run_view(run)
    y_hat = view.nodes["out0"]["a"]
    loss_lines = explain_node(run, LOSS_ID).as_text()
    assert f"the target t = {num(y)}." in loss_lines[0]
    assert loss_lines[1] == f"L = (ŷ − t)² = ({num(y_hat)} − ({num(y)}))² = {num(view.nodes[LOSS_ID]['a'])}"
    grad = next(line for line in explain_node(run, "out0").as_text() if line.startswith("dL/dŷ"))
    assert f"2·({num(y_hat)} − ({num(y)}))/1" in grad
