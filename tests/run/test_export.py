"""Exports: the numpy script, run on its own, prints the very gradients and node values the
state reports (to 1e-9), for every loss, with l1 and l2; the JSON holds the same inputs."""

from __future__ import annotations

import ast
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
from app.run.export import export_jax, export_json, export_numpy, export_pytorch

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
    for library in ("torch", "jax"):  # the autograd scripts need the loss from z and from a
        assert all({f"{library} output", f"{library} loss", f"{library} loss of a"} <= set(loss.code)
                   for loss in LOSSES.values()), library


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


def _torch_script(config: dict) -> tuple[Run, ast.Module]:
    run = Run(parse_config({"hidden": [4, 3], "dataset": {"n": 40}, "batch_size": 8, **config}))
    run.run("iteration", 3)
    run.select(5)
    run.run("pass", 2)
    text = export_pytorch(run, "test")
    compile(text, "check.py", "exec")  # a whole script
    return run, ast.parse(text)


def _assigned(tree: ast.Module, name: str) -> ast.expr:
    """What the script's top level assigns to `name` (a name, or names in a tuple: "L2, L1")."""
    return next(node.value for node in tree.body if isinstance(node, ast.Assign)
                and ast.unparse(node.targets[0]).strip("()") == name)


def _tensor_values(call: ast.expr):
    """The list inside `torch.tensor([...])`, as Python numbers (torch.nan read as NaN)."""
    assert isinstance(call, ast.Call) and ast.unparse(call.func) == "torch.tensor" and not call.keywords
    return eval(ast.unparse(call.args[0]), {"torch": type("torch", (), {"nan": np.nan, "inf": np.inf})})  # noqa: S307


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c['loss']}-{c['activation']}")
def test_the_pytorch_script_holds_the_iterations_inputs_and_imports_torch_only(config):
    """CI has no torch (bench/check_pytorch_export.py runs the script against the state where torch
    is installed): here, what can be read without running it: its imports, every parameter exactly
    as the run holds it, the batch and the selected example, and float64 throughout."""
    run, tree = _torch_script(config)
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names} | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"torch", "json", "math"} and "torch" in imported
    start, batch = run.iteration_inputs()
    params = _assigned(tree, "PARAMS")
    assert [ast.literal_eval(k) for k in params.keys] == list(start.params)
    for key, value in zip(params.keys, params.values):
        assert np.array_equal(_tensor_values(value), start.params[ast.literal_eval(key)])  # repr round-trips
    assert np.array_equal(_tensor_values(_assigned(tree, "POINTS")), batch.points)
    assert _tensor_values(_assigned(tree, "LABELS")) == batch.labels.tolist()
    example = run.trainer.train.rows(slice(5, 6))
    assert np.array_equal(_tensor_values(_assigned(tree, "EXAMPLE_POINT")), example.points)
    assert _tensor_values(_assigned(tree, "EXAMPLE_LABEL")) == example.labels.tolist()
    assert "torch.set_default_dtype(torch.float64)" in {ast.unparse(node) for node in tree.body}
    assert ast.literal_eval(_assigned(tree, "L2, L1")) == (run.config.l2, run.config.l1)


def test_the_pytorch_script_differentiates_with_autograd_not_by_hand():
    """Its gradients come from backward() on the regularised objective and autograd.grad on the
    example's z and a: no slope of the activation or the loss is written into it."""
    run, tree = _torch_script({"loss": "bce", "activation": "tanh", "l2": 0.01, "l1": 0.003})
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert {"objective.backward", "torch.autograd.grad", "p.requires_grad_"} <= calls
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert "f_slope" not in functions and "backward" not in functions
    penalty = ast.unparse(_assigned(tree, "penalty"))
    assert "L2 * 0.5 * (W ** 2).sum()" in penalty and "L1 * W.abs().sum()" in penalty


def test_a_diverged_runs_pytorch_script_writes_nan_as_torchs_constant():
    run = Run(parse_config({"loss": "mse", "activation": "linear", "hidden": [8, 8, 8], "dataset": {"n": 40},
                            "batch_size": 8, "lr": 10.0}))
    run.run("iteration", 60)
    assert run.status == "diverged"
    text = export_pytorch(run, "diverged")
    compile(text, "diverged.py", "exec")
    W1 = _tensor_values(_assigned(ast.parse(text), "PARAMS").values[0])
    assert "torch.nan" in text and np.isnan(W1).any()
    assert np.array_equal(W1, run.iteration_inputs()[0].params["W1"], equal_nan=True)
