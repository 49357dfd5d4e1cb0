"""Does the PyTorch export print what Backprop Lab shows? A check for a machine with torch.

    .venv/bin/python bench/check_pytorch_export.py [PYTHON_WITH_TORCH]

The project's own venv builds the runs (CI has no torch, so this is not a test); the exported
scripts run under PYTHON_WITH_TORCH (or $BACKPROP_TORCH_PYTHON, else this interpreter). For each
configuration below (every loss, l1 and l2, every activation, 0 to 3 hidden layers and one of
six, iterations into training, a selected example) it prints the largest relative difference of
the script's batch_loss, grads and nodes from the state's, and PASS or FAIL against 1e-9.

Relative difference: |printed − state| / max(|state|, 1e-6), so a state's exact zero is
compared absolutely (to 1e-15). A non-finite state value (a diverged run's) must print as null.
Exits 1 if any configuration fails.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engine import parse_config  # noqa: E402
from app.engine.mlp import objective  # noqa: E402
from app.run import Run, run_view  # noqa: E402
from app.run.export import export_pytorch  # noqa: E402

TOLERANCE = 1e-9
BASE = {"hidden": [4, 3], "dataset": {"n": 40}, "batch_size": 8}
# (name, config, whole iterations run before, selected example)
CASES = [
    ("bce tanh l2, 2 hidden", {"loss": "bce", "activation": "tanh", "l2": 0.01}, 3, 5),
    ("cross_entropy relu l1, spiral 3 classes", {"loss": "cross_entropy", "activation": "relu", "l1": 0.003,
     "dataset": {"name": "spiral", "classes": 3, "n": 60}, "features": ["x1", "x2", "sin(x1)", "x1*x2"]}, 3, 5),
    ("mse softplus l2+l1, 3 hidden", {"loss": "mse", "activation": "softplus", "l2": 0.02, "l1": 0.001,
                                      "hidden": [4, 3, 2]}, 3, 5),
    ("mse leaky_relu, gauss 3 classes", {"loss": "mse", "activation": "leaky_relu",
                                         "dataset": {"name": "gauss", "classes": 3, "n": 40},
                                         "features": ["x1^2", "x2^2", "x1", "sin(x2)"]}, 3, 5),
    ("bce sigmoid, no hidden layer", {"loss": "bce", "activation": "sigmoid", "hidden": [],
                                      "features": ["x1", "x2"]}, 3, 5),
    ("cross_entropy linear l2, 1 hidden", {"loss": "cross_entropy", "activation": "linear", "l2": 0.05,
                                           "hidden": [5], "dataset": {"name": "gauss", "classes": 4, "n": 40}},
     20, 11),
    ("bce relu l1+l2, 3 hidden, 200 iterations", {"loss": "bce", "activation": "relu", "l1": 0.002, "l2": 0.004,
                                                  "hidden": [6, 5, 4], "dataset": {"name": "xor", "n": 80}},
     200, 37),
    ("cross_entropy softplus, 0 hidden, 4 classes", {"loss": "cross_entropy", "activation": "softplus",
                                                     "hidden": [], "dataset": {"name": "gauss", "classes": 4,
                                                                               "n": 40}}, 50, 2),
    ("mse tanh l1, circle, 100 iterations", {"loss": "mse", "activation": "tanh", "l1": 0.01, "hidden": [8],
                                             "dataset": {"name": "circle", "n": 60},
                                             "features": ["x1", "x2", "x1^2", "x2^2"]}, 100, 17),
    ("bce leaky_relu, 3 hidden, lr 0.3", {"loss": "bce", "activation": "leaky_relu", "hidden": [3, 3, 3],
                                          "lr": 0.3}, 40, 0),
    ("mse relu, 6 hidden (some z exactly 0)", {"loss": "mse", "activation": "relu", "hidden": [4, 3, 2, 2, 3, 2]},
     3, 1),
    ("mse linear lr 10, diverged", {"loss": "mse", "activation": "linear", "hidden": [8, 8, 8], "lr": 10.0}, 60, 3),
    ("regression: curve relu l2, 2 features", {"loss": "mse", "activation": "relu", "l2": 0.01, "hidden": [6],
     "dataset": {"name": "curve", "n": 40}, "features": ["x1", "sin(x1)"]}, 30, 4),
    ("regression: multi_gauss tanh l1", {"loss": "mse", "activation": "tanh", "l1": 0.002,
     "dataset": {"name": "multi_gauss", "n": 40}}, 30, 4),
]


def relative(printed, state) -> float:
    """The largest relative difference over two equally nested lists of numbers (None: not finite)."""
    if isinstance(state, list):
        if not isinstance(printed, list) or len(printed) != len(state):
            return math.inf
        return max((relative(p, s) for p, s in zip(printed, state)), default=0.0)
    if state is None or (isinstance(state, float) and not math.isfinite(state)):
        return 0.0 if printed is None else math.inf
    if printed is None:
        return math.inf
    return abs(printed - state) / max(abs(state), 1e-6)


def state_of(name: str, config: dict, iterations: int, example: int) -> tuple[Run, dict]:
    """The run after `iterations` whole iterations and the next one's forward and backward pass,
    with `example` selected: the state the export must reproduce."""
    run = Run(parse_config({**BASE, **config}))
    run.run("iteration", iterations)
    run.select(example)
    run.run("pass", 2)
    view = run_view(run)
    start, batch = run.iteration_inputs()
    loss = objective(run.arch, start.params, batch.X, batch.T, run.config.l2, run.config.l1)
    return run, {"batch_loss": loss, "grads": {k: v.tolist() for k, v in view.grads.items()}, "nodes": view.nodes,
                 "status": run.status}


def run_script(python: str, text: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "check.py"
        script.write_text(text)
        done = subprocess.run([python, str(script)], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"the script failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1], parse_constant=lambda c: math.nan)  # NaN: a failure


def differences(printed: dict, state: dict) -> dict[str, float]:
    grads = max(relative(printed["grads"].get(k), v) for k, v in state["grads"].items())
    if set(printed["grads"]) != set(state["grads"]):
        grads = math.inf
    nodes = max(relative(printed["nodes"].get(nid, {}).get(key), value)
                for nid, values in state["nodes"].items() for key, value in values.items())
    loss = state["batch_loss"]
    return {"batch_loss": relative(printed["batch_loss"], loss if math.isfinite(loss) else None),
            "grads": grads, "nodes": nodes}


def main() -> int:
    python = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BACKPROP_TORCH_PYTHON", sys.executable)
    version = subprocess.run([python, "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True)
    if version.returncode != 0:
        print(f"{python} cannot import torch: give a python that can (argument or $BACKPROP_TORCH_PYTHON)")
        return 2
    print(f"torch {version.stdout.strip()} under {python}; PASS means every difference <= {TOLERANCE:g}")
    print(f"{'configuration':46} {'iter':>4} {'batch_loss':>10} {'grads':>10} {'nodes':>10}")
    failed = 0
    for name, config, iterations, example in CASES:
        run, state = state_of(name, config, iterations, example)
        try:
            diff = differences(run_script(python, export_pytorch(run, name)), state)
        except (RuntimeError, ValueError, KeyError) as error:
            print(f"{name:46} FAIL: {error}")
            failed += 1
            continue
        verdict = "PASS" if all(d <= TOLERANCE for d in diff.values()) else "FAIL"
        failed += verdict == "FAIL"
        note = f"  ({state['status']})" if state["status"] != "ok" else ""
        print(f"{name:46} {iterations:>4} {diff['batch_loss']:10.1e} {diff['grads']:10.1e} {diff['nodes']:10.1e}  "
              f"{verdict}{note}")
    print(f"{len(CASES) - failed} of {len(CASES)} configurations PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
