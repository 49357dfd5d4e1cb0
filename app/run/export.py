"""Code you can check by hand: the iteration on screen as a script of your own.

`export_numpy` writes a short, self-contained numpy script that rebuilds the iteration's batch
and the parameters its forward pass uses, recomputes the forward pass, the loss and every
gradient of the regularised objective with the batched formulas the inspector writes
(`dW = Aᵀ @ dZ`, `db = dZ.sum(0)`, `dA = dZ @ Wᵀ`), the selected example's node values with
the same formulas on a batch of one, and prints them as JSON on its last line. `export_pytorch`
and `export_jax` rebuild the same and let PyTorch's or jax's autograd find every gradient, an
independent check of Backprop Lab's own; `export_json` is the same numbers as data. Every formula comes from the definitions of the activations,
losses and feature maps (app/engine), so a script cannot drift from the engine. Reads a Run.
"""

from __future__ import annotations

import json
import math

import numpy as np

from app.engine import LOSS_ID, Config, config_to_dict, node_id
from app.engine.activations import ACTIVATIONS
from app.engine.data import FEATURE_CODE
from app.engine.losses import LOSSES

from .stepper import Run

FORMATS = ("numpy", "pytorch", "jax", "json")


def export_data(run: Run) -> dict:
    """The iteration's inputs as plain values: what every export is built from."""
    start, batch = run.iteration_inputs()
    rows = run.trainer.batch_rows(start.iteration)
    example = run.trainer.train.rows(slice(run.example, run.example + 1))
    return {
        "iteration": start.iteration, "config": config_to_dict(run.config),
        "params": {name: value.tolist() for name, value in start.params.items()},
        "batch": {"rows": [rows.start, rows.stop], "points": batch.points.tolist(), "labels": batch.labels.tolist()},
        "example": {"index": run.example, "point": example.points[0].tolist(), "label": example.labels.tolist()[0]},
    }


def _finite_or_none(value):
    """Nested lists with every non-finite number as None (a diverged run's): JSON has no NaN."""
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value if not isinstance(value, float) or math.isfinite(value) else None


def export_json(run: Run) -> str:
    data = {"format": "backprop-lab/export", "version": 1, **export_data(run)}
    data["params"] = {k: _finite_or_none(v) for k, v in data["params"].items()}
    return json.dumps(data, indent=1, allow_nan=False)


def _literal(value, module: str) -> str:
    """A nested list as source, every float written exactly (repr round-trips); a diverged run's
    NaN and infinities as the library's own constants."""
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v, module) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{module}.nan" if math.isnan(value) else f"{'-' if value < 0 else ''}{module}.inf"
    return repr(value)


# each library's array from a list; float64 in all three (the torch script makes it its default)
_ARRAY = {"np": "np.array", "jnp": "jnp.array", "torch": "torch.tensor"}


def _array(value, xp: str) -> str:
    return f"{_ARRAY[xp]}({_literal(value, xp)}{', dtype=float' if xp == 'np' else ''})"


def _inputs(run: Run, data: dict, xp: str) -> str:
    """What every script starts from, in its library `xp` (np, jnp or torch): the network, the batch,
    the selected example, the node ids and the feature maps."""
    cfg, depth, sizes = run.config, run.arch.depth, run.arch.sizes
    params = "\n".join(f"    {json.dumps(name)}: {_array(value, xp)}," for name, value in data["params"].items())
    node_ids = [[node_id(l, j, depth) for j in range(sizes[l])] for l in range(depth + 1)]
    columns = ", ".join(FEATURE_CODE[f].format(xp=xp) for f in cfg.features)
    batch, example = data["batch"], data["example"]
    return f'''# the network: {" → ".join(map(str, sizes))}, {cfg.activation} hidden units, {cfg.loss} loss, l2 = {cfg.l2!r}, l1 = {cfg.l1!r}
L2, L1 = {cfg.l2!r}, {cfg.l1!r}
PARAMS = {{
{params}
}}
DEPTH = {depth}
SIZES = {json.dumps(list(sizes))}
# the batch: training-set rows {batch["rows"][0]} to {batch["rows"][1] - 1}, points (x1, x2) and labels
POINTS = {_array(batch["points"], xp)}
LABELS = {_ARRAY[xp]}({json.dumps(batch["labels"])})
# the selected example, training-set row {example["index"]}
EXAMPLE_POINT = {_array([example["point"]], xp)}
EXAMPLE_LABEL = {_ARRAY[xp]}([{json.dumps(example["label"])}])
NODE_IDS = {json.dumps(node_ids)}


def features(points):
    x1, x2 = points[:, 0], points[:, 1]
    return {xp}.column_stack([{columns}])  # {", ".join(cfg.features)}'''


# every script's last lines: JSON has no NaN, so a diverged (or saturated) number prints as null
_PRINT_RESULTS = '''def finite_or_none(x):
    if isinstance(x, dict):
        return {k: finite_or_none(v) for k, v in x.items()}
    if isinstance(x, list):
        return [finite_or_none(v) for v in x]
    return x if x == x and abs(x) != float("inf") else None


print(json.dumps(finite_or_none({"batch_loss": float(batch_loss), "grads": {k: v.tolist() for k, v in grads.items()},
                                 "nodes": nodes})))
'''


def export_numpy(run: Run, title: str) -> str:
    data = export_data(run)
    cfg = run.config
    act, loss = ACTIVATIONS[cfg.activation], LOSSES[cfg.loss]
    return f'''"""{title}: iteration {data["iteration"]}, by hand in numpy.

Rebuilds the batch and the weights Backprop Lab showed, recomputes the forward pass, the loss
and every gradient with the batched formulas the inspector writes, and prints them as JSON on
its last line: the batch loss (regularised), the gradients (the state's `grads`) and the
selected example's values at every node (the state's `nodes`). Needs numpy only.
"""
import json

import numpy as np

{_inputs(run, data, "np")}

def targets(labels):
    k = SIZES[-1]
    return labels.astype(float).reshape(-1, 1) if k == 1 else np.eye(k)[labels]


def f(z):  # the hidden activation, {cfg.activation}
    return {act.in_code("numpy")}


def f_slope(z, a):  # its derivative da/dz
    return {act.in_code("numpy'")}


def output(z):  # the output layer's a from its z ({cfg.loss})
    return {loss.code["numpy output"].format(z="z")}


def forward(X):
    Z, A = [X], [X]
    for l in range(1, DEPTH + 1):
        z = A[-1] @ PARAMS[f"W{{l}}"] + PARAMS[f"b{{l}}"]
        Z.append(z)
        A.append(f(z) if l < DEPTH else output(z))
    return Z, A


def losses(z, t):  # each example's own loss
    return {loss.code["numpy loss"].format(z="z", t="t")}


def backward(Z, A, T, l2=0.0, l1=0.0):
    """The batched chain rule, layer by layer, from the batch-mean loss back to the inputs."""
    dZ, dA, grads = {{}}, {{}}, {{}}
    z, a = Z[DEPTH], A[DEPTH]
    dA[DEPTH] = {loss.code["numpy da"].format(z="z", a="a", t="T")}
    dZ[DEPTH] = {loss.code["numpy dz"].format(z="z", a="a", t="T")}
    for l in range(DEPTH, 0, -1):
        W = PARAMS[f"W{{l}}"]
        grads[f"W{{l}}"] = A[l - 1].T @ dZ[l] + l2 * W + l1 * np.sign(W)  # every example's term adds up
        grads[f"b{{l}}"] = dZ[l].sum(0)  # b was added to every row
        dA[l - 1] = dZ[l] @ W.T  # each unit feeds every unit of the next layer
        dZ[l - 1] = dA[l - 1] * f_slope(Z[l - 1], A[l - 1]) if l > 1 else dA[l - 1]
    return dZ, dA, grads


X, T = features(POINTS), targets(LABELS)
Z, A = forward(X)
regularisation = sum(L2 * 0.5 * (W ** 2).sum() + L1 * np.abs(W).sum() for name, W in PARAMS.items() if name[0] == "W")
batch_loss = losses(Z[DEPTH], T).mean() + regularisation
_, _, grads = backward(Z, A, T, L2, L1)

# the selected example alone (a batch of one, no regularisation), as the inspector shows it
x, t = features(EXAMPLE_POINT), targets(EXAMPLE_LABEL)
z1, a1 = forward(x)
dz1, da1, _ = backward(z1, a1, t)
example_loss = float(losses(z1[DEPTH], t)[0])
nodes = {{nid: {{"z": float(z1[l][0, j]), "a": float(a1[l][0, j]), "grad_z": float(dz1[l][0, j]),
                "grad_a": float(da1[l][0, j])}} for l, ids in enumerate(NODE_IDS) for j, nid in enumerate(ids)}}
nodes[{json.dumps(LOSS_ID)}] = {{"z": example_loss, "a": example_loss, "grad_z": 1.0, "grad_a": 1.0}}


{_PRINT_RESULTS}'''


def _differentiated(cfg: Config, library: str) -> str:
    """What the autograd scripts differentiate, in `library` (torch or jax): the hidden activation,
    the output function and each example's loss, from the output's z and from its a."""
    act, loss = ACTIVATIONS[cfg.activation], LOSSES[cfg.loss]
    return f'''def f(z):  # the hidden activation, {cfg.activation}
    return {act.in_code(library)}


def output(z):  # the output layer's a from its z ({cfg.loss})
    return {loss.code[f"{library} output"].format(z="z")}


def losses(z, t):  # each example's own loss, from the output's z (as the engine computes it)
    return {loss.code[f"{library} loss"].format(z="z", t="t")}


def losses_of_output(a, t):  # the same written from the output's a, so autograd reaches dL/da
    return {loss.code[f"{library} loss of a"].format(a="a", t="t")}'''


def export_jax(run: Run, title: str) -> str:
    data = export_data(run)
    cfg = run.config
    return f'''"""{title}: iteration {data["iteration"]}, checked by jax's autograd.

Rebuilds the batch and the weights Backprop Lab showed and the same forward pass and loss;
jax differentiates them on its own, and the script prints as JSON on its last line the batch
loss (regularised), every gradient (the state's `grads`) and the selected example's values at
every node (the state's `nodes`; dL/dz and dL/da found by differentiating a zero added to each
z and a). Needs jax (CPU is plenty).
"""
import json

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)  # float64, as Backprop Lab computes

{_inputs(run, data, "jnp")}

def targets(labels):
    k = SIZES[-1]
    return labels.astype(float).reshape(-1, 1) if k == 1 else jax.nn.one_hot(labels, k)


{_differentiated(cfg, "jax")}


def forward(params, X, shift=None):
    """Z and A of every layer; `shift` adds a (zero) amount to each z and a, whose gradient is dL/dz, dL/da."""
    shift = shift or {{"z": [0.0] * (DEPTH + 1), "a": [0.0] * (DEPTH + 1)}}
    Z, A = [X + shift["z"][0]], [X + shift["z"][0] + shift["a"][0]]
    for l in range(1, DEPTH + 1):
        z = A[-1] @ params[f"W{{l}}"] + params[f"b{{l}}"] + shift["z"][l]
        Z.append(z)
        A.append((f(z) if l < DEPTH else output(z)) + shift["a"][l])
    return Z, A


def objective(params, X, T):
    """What the optimiser minimises: the batch-mean loss plus the regularisation (weights only)."""
    Z, _ = forward(params, X)
    penalty = sum(L2 * 0.5 * (W ** 2).sum() + L1 * jnp.abs(W).sum() for name, W in params.items() if name[0] == "W")
    return losses(Z[DEPTH], T).mean() + penalty


batch_loss, grads = jax.value_and_grad(objective)(PARAMS, features(POINTS), targets(LABELS))

# the selected example alone (a batch of one, no regularisation), as the inspector shows it
x, t = features(EXAMPLE_POINT), targets(EXAMPLE_LABEL)
zeros = {{"z": [jnp.zeros((1, n)) for n in SIZES], "a": [jnp.zeros((1, n)) for n in SIZES]}}


def example_loss(shift):
    _, A = forward(PARAMS, x, shift)
    return losses_of_output(A[DEPTH], t)[0]


loss_value, d = jax.value_and_grad(example_loss)(zeros)
Z, A = forward(PARAMS, x)
nodes = {{nid: {{"z": float(Z[l][0, j]), "a": float(A[l][0, j]), "grad_z": float(d["z"][l][0, j]),
                "grad_a": float(d["a"][l][0, j])}} for l, ids in enumerate(NODE_IDS) for j, nid in enumerate(ids)}}
nodes[{json.dumps(LOSS_ID)}] = {{"z": float(loss_value), "a": float(loss_value), "grad_z": 1.0, "grad_a": 1.0}}


{_PRINT_RESULTS}'''


def export_pytorch(run: Run, title: str) -> str:
    data = export_data(run)
    cfg = run.config
    return f'''"""{title}: iteration {data["iteration"]}, checked by PyTorch's autograd.

Rebuilds the batch and the weights Backprop Lab showed and the same forward pass and loss;
PyTorch differentiates them on its own, and the script prints as JSON on its last line the batch
loss (regularised), every gradient (the state's `grads`) and the selected example's values at
every node (the state's `nodes`; dL/dz and dL/da asked of autograd for each z and a). Needs
torch (CPU is plenty).
"""
import json

import torch

torch.set_default_dtype(torch.float64)  # float64, as Backprop Lab computes

{_inputs(run, data, "torch")}


for p in PARAMS.values():
    p.requires_grad_()  # autograd records what is done with each parameter


def targets(labels):
    k = SIZES[-1]
    return labels.double().reshape(-1, 1) if k == 1 else torch.nn.functional.one_hot(labels, k).double()


{_differentiated(cfg, "torch")}


def forward(X):
    Z, A = [X], [X]
    for l in range(1, DEPTH + 1):
        z = A[-1] @ PARAMS[f"W{{l}}"] + PARAMS[f"b{{l}}"]
        Z.append(z)
        A.append(f(z) if l < DEPTH else output(z))
    return Z, A


# what the optimiser minimises: the batch-mean loss plus the regularisation (weights only)
Z, _ = forward(features(POINTS))
penalty = sum(L2 * 0.5 * (W ** 2).sum() + L1 * W.abs().sum() for name, W in PARAMS.items() if name[0] == "W")
objective = losses(Z[DEPTH], targets(LABELS)).mean() + penalty
objective.backward()  # fills each parameter's .grad
batch_loss, grads = objective.item(), {{name: p.grad for name, p in PARAMS.items()}}

# the selected example alone (a batch of one, no regularisation), as the inspector shows it
x = features(EXAMPLE_POINT).requires_grad_()  # so autograd reaches the inputs' dL/dx too
Z, A = forward(x)
example_loss = losses_of_output(A[DEPTH], targets(EXAMPLE_LABEL))[0]
dZ = torch.autograd.grad(example_loss, Z, retain_graph=True)  # dL/dz of every layer, the graph kept for:
dA = torch.autograd.grad(example_loss, A)  # dL/da of every layer
nodes = {{nid: {{"z": Z[l][0, j].item(), "a": A[l][0, j].item(), "grad_z": dZ[l][0, j].item(),
                "grad_a": dA[l][0, j].item()}} for l, ids in enumerate(NODE_IDS) for j, nid in enumerate(ids)}}
nodes[{json.dumps(LOSS_ID)}] = {{"z": example_loss.item(), "a": example_loss.item(), "grad_z": 1.0, "grad_a": 1.0}}


{_PRINT_RESULTS}'''


def export(run: Run, fmt: str, title: str) -> tuple[str, str, str]:
    """(text, media type, file extension) of the export in `fmt` (one of FORMATS)."""
    if fmt == "json":
        return export_json(run), "application/json", "json"
    if fmt == "jax":
        return export_jax(run, title), "text/x-python", "py"
    if fmt == "pytorch":
        return export_pytorch(run, title), "text/x-python", "py"
    return export_numpy(run, title), "text/x-python", "py"
