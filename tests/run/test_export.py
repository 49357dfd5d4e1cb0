"""Exports: the numpy script, run on its own, prints the very gradients and node values the
state reports (to 1e-9), for every loss, with l1 and l2; the JSON holds the same inputs."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from app.engine import parse_config
from app.engine.activations import ACTIVATIONS
from app.engine.data import FEATURE_CODE, FEATURE_MAPS
from app.engine.losses import LOSSES
from app.engine.mlp import objective
from app.run import Run, run_view
from app.run.export import export_jax, export_json, export_numpy

CONFIGS = [
    {"loss": "bce", "activation": "tanh", "l2": 0.01},
    {"loss": "cross_entropy", "activation": "relu", "l1": 0.003,
     "dataset": {"name": "spiral", "classes": 3, "n": 60}, "features": ["x1", "x2", "sin(x1)", "x1*x2"]},
    {"loss": "mse", "activation": "softplus", "l2": 0.02, "l1": 0.001, "hidden": [4, 3, 2]},
    {"loss": "mse", "activation": "leaky_relu", "dataset": {"name": "gauss", "classes": 3, "n": 40},
     "features": ["x1^2", "x2^2", "x1", "sin(x2)"]},
    {"loss": "bce", "activation": "sigmoid", "hidden": [], "features": ["x1", "x2"]},
    # regression: real targets, one linear output
    {"loss": "mse", "activation": "relu", "l2": 0.01, "dataset": {"name": "curve", "n": 40},
     "features": ["x1", "sin(x1)"]},
    {"loss": "mse", "activation": "tanh", "l1": 0.002, "dataset": {"name": "multi_gauss", "n": 40}},
]


def close(a, b) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.all(np.abs(a - b) <= 1e-9 * np.maximum(np.abs(b), 1e-12) + 1e-15))


@pytest.mark.parametrize("library", ["numpy", "jax"])
@pytest.mark.parametrize("config", CONFIGS,
                         ids=lambda c: f"{c.get('dataset', {}).get('name', 'xor')}-{c['loss']}-{c['activation']}")
def test_the_script_prints_the_states_gradients_and_nodes(config, library, tmp_path):
    """numpy by Backprop Lab's batched formulas; jax by its own autograd: an independent check."""
    run = Run(parse_config({"hidden": [4, 3], "dataset": {"n": 40}, "batch_size": 8, **config}))
    run.run("iteration", 3)
    run.select(5)
    run.run("pass", 2)  # forward and backward done: the state has the batch gradients
    view = run_view(run)
    script = tmp_path / "check.py"
    script.write_text((export_numpy if library == "numpy" else export_jax)(run, "test"))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=60)
    printed = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(printed["grads"]) == set(view.grads)
    for name, value in view.grads.items():
        assert close(printed["grads"][name], value), name
    for nid, values in view.nodes.items():
        for key, value in values.items():
            assert value is not None and close(printed["nodes"][nid][key], value), (nid, key)
    start, batch = run.iteration_inputs()
    expected = objective(run.arch, start.params, batch.X, batch.T, run.config.l2, run.config.l1)
    assert close(printed["batch_loss"], expected)


def test_the_json_export_holds_the_iterations_inputs():
    run = Run(parse_config({"hidden": [3], "dataset": {"n": 40}, "batch_size": 8}))
    run.run("iteration", 2)
    run.run("op", 3)
    doc = json.loads(export_json(run))
    start, batch = run.iteration_inputs()
    assert doc["iteration"] == start.iteration == 2 and doc["config"]["hidden"] == [3]
    assert np.array_equal(np.array(doc["batch"]["points"]), batch.points)
    assert doc["batch"]["labels"] == batch.labels.tolist()
    assert all(np.array_equal(np.array(doc["params"][k]), v) for k, v in start.params.items())


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_each_activations_exported_code_is_the_engines_function(name):
    act = ACTIVATIONS[name]
    z = np.linspace(-4, 4, 17)
    a = act.forward(z)
    f = eval(f"lambda z: {act.in_code('numpy')}", {"np": np})  # noqa: S307 - our own expression, in a test
    slope = eval(f"lambda z, a: {act.in_code(chr(110) + 'umpy' + chr(39))}", {"np": np})  # noqa: S307
    assert np.allclose(f(z), a, rtol=1e-12) and np.allclose(slope(z, a) * np.ones_like(z), act.derivative(z, a))
    assert {library for library, _ in act.code} == {"numpy", "numpy'", "torch", "jax"}


def test_each_feature_maps_exported_code_is_its_function():
    points = np.array([[0.3, -1.2], [2.0, 0.5], [-3.0, 4.0]])
    x1, x2 = points[:, 0], points[:, 1]
    for name, code in FEATURE_CODE.items():
        value = eval(code.format(xp="np"), {"np": np, "x1": x1, "x2": x2})  # noqa: S307
        assert np.array_equal(value, FEATURE_MAPS[name](points)), name
    assert set(FEATURE_CODE) == set(FEATURE_MAPS)
    assert all({"numpy output", "numpy loss", "numpy dz", "numpy da"} <= set(loss.code) for loss in LOSSES.values())


def test_a_diverged_runs_export_is_still_valid_json_and_a_running_script(tmp_path):
    run = Run(parse_config({"loss": "mse", "activation": "linear", "hidden": [8, 8, 8], "dataset": {"n": 40},
                            "batch_size": 8, "lr": 10.0}))
    run.run("iteration", 60)
    assert run.status == "diverged"
    doc = json.loads(export_json(run))  # a strict parser: no NaN, no Infinity
    assert any(v is None for row in doc["params"]["W1"] for v in row)
    for make in (export_numpy, export_jax):
        script = tmp_path / f"{make.__name__}.py"
        script.write_text(make(run, "diverged"))
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-400:]
        json.loads(done.stdout.strip().splitlines()[-1], parse_constant=lambda c: pytest.fail(f"{c} printed"))


def test_jax_agrees_with_the_engine_that_relu_has_no_slope_at_zero(tmp_path):
    """Six relu layers drive some z to exactly 0, where autograd's max would pass half a gradient."""
    run = Run(parse_config({"loss": "mse", "activation": "relu", "hidden": [4, 3, 2, 2, 3, 2], "dataset": {"n": 40},
                            "batch_size": 8}))
    run.run("iteration", 3)
    run.select(1)
    run.run("pass", 2)
    script = tmp_path / "relu.py"
    script.write_text(export_jax(run, "relu"))
    printed = json.loads(subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True,
                                        timeout=60).stdout.splitlines()[-1])
    for name, value in run_view(run).grads.items():
        assert close(printed["grads"][name], value), name
