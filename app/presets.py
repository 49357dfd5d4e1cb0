"""Ready-made configurations a learner can start from, each with what to watch for.

Plain data: the server lists them at GET /api/presets and the page offers them in a menu.
`iterations` is the budget within which the preset shows what it is about, and `shows` names
the diagnostics (docs/protocol.md) that are present by then; the tests hold every preset to
both, so a change to the engine that quietly cures or moves a failure is caught.
"""

from __future__ import annotations

from app.engine import parse_config

_BASE = {"features": ["x1", "x2"], "loss": "bce", "optimizer": "sgd", "batch_size": 10, "init": "xavier",
         "weight_seed": 0}


def _config(dataset: str, noise: float = 0.1, **fields) -> dict:
    """A failure preset's whole config: what it is about, laid over one plain base."""
    return {"dataset": {"name": dataset, "n": 200, "noise": noise, "seed": 0, "test_fraction": 0.5}, **_BASE, **fields}


_XOR_THREE_RELUS = {"hidden": [3], "activation": "relu", "lr": 0.1}
_CURVE = {"features": ["x1"], "loss": "mse", "activation": "relu", "init": "he"}  # one input, a real target

PRESETS: list[dict] = [
    {
        "id": "whiteboard",
        "title": "Whiteboard: every number by hand",
        "description": "Four points, two relu units, whole-number starting weights, one example per step and a "
                       "squared-error loss, so every product, sum and gradient can be checked with pencil and paper. "
                       "Step one op at a time and try each gradient yourself before it is revealed.",
        "config": {
            "dataset": {"name": "custom", "test_fraction": 0.0,
                        "points": [[1, 1, 0], [-1, -1, 0], [1, -1, 1], [-1, 1, 1]]},
            "features": ["x1", "x2"], "hidden": [2], "activation": "relu", "loss": "mse",
            "optimizer": "sgd", "lr": 0.1, "batch_size": 1, "l2": 0.0, "l1": 0.0,
            "init": "integers", "weight_seed": 0,
        },
        "iterations": None, "shows": [],
    },
    {
        "id": "dead-relus",
        "title": "Dead ReLUs: too large a step",
        "description": "A learning rate of 3 pushes most ReLUs so far negative in the first few steps that they never "
                       "fire again on any point: watch the units turn grey and the boundary freeze. A dead ReLU gets "
                       "no gradient, so nothing can revive it; with a learning rate of 0.03 the same start lives.",
        "config": _config("circle", hidden=[8, 8], activation="relu", lr=3.0, init="he"),
        "iterations": 300, "shows": ["dead", "plateau"],
    },
    {
        "id": "vanishing-sigmoid",
        "title": "Six sigmoid layers: the gradient vanishes",
        "description": "Each sigmoid scales the gradient by at most 0.25, so after six layers almost nothing reaches "
                       "the first: watch the gradient-norm chart spread over several powers of ten while the loss "
                       "sits near 0.69. Switch the activation to tanh or relu and the same network learns.",
        "config": _config("circle", hidden=[8, 8, 8, 8, 8, 8], activation="sigmoid", lr=0.1),
        "iterations": 600, "shows": ["vanishing", "plateau"],
    },
    {
        "id": "zero-init",
        "title": "All-zero start: every neuron the same",
        "description": "With every weight 0, all units of a layer compute the same value and receive the same "
                       "gradient, so they move in lockstep and the network is no wider than one unit: watch the "
                       "hidden units' maps stay identical. Choose xavier as the init and the tie is broken.",
        "config": _config("xor", hidden=[4, 4], activation="sigmoid", lr=0.3, init="zeros"),
        "iterations": 600, "shows": ["symmetric", "plateau"],
    },
    {
        "id": "diverging-lr",
        "title": "A learning rate that diverges",
        "description": "With squared error and a learning rate of 3, each step overshoots the minimum by more than "
                       "the one before: watch the loss climb until the numbers overflow, around iteration 150. "
                       "Lower the learning rate to 0.3 and the same start converges.",
        "config": _config("circle", hidden=[4, 4], activation="tanh", loss="mse", lr=3.0),
        "iterations": 200, "shows": ["diverged"],
    },
    {
        "id": "spiral-too-small",
        "title": "Two neurons for a spiral",
        "description": "Two tanh units can draw a boundary with only a bend or two, and the spiral needs many: the "
                       "loss flattens out with about 70% of the points right, however long it trains. Add units and "
                       "a layer and the boundary can wind its way round.",
        "config": _config("spiral", noise=0.0, hidden=[2], activation="tanh", optimizer="adam", lr=0.03),
        "iterations": 800, "shows": ["plateau"],
    },
    {
        "id": "xor-lucky",
        "title": "XOR, a lucky seed",
        "description": "Three ReLUs are just enough for XOR, and from weight seed 0 they find all four quadrants "
                       "within a few hundred steps. Compare it with the unlucky seed: the very same config, "
                       "another start.",
        "config": _config("xor", **_XOR_THREE_RELUS, weight_seed=0),
        "iterations": 1000, "shows": [],
    },
    {
        "id": "xor-unlucky",
        "title": "XOR, an unlucky seed",
        "description": "The same three ReLUs as the lucky seed, started from weight seed 8: they settle on a boundary "
                       "that gets about three points in four right and stay there. Read the diagnosis, then sweep "
                       "16 seeds to see how often this happens.",
        "config": _config("xor", **_XOR_THREE_RELUS, weight_seed=8),
        "iterations": 1000, "shows": ["plateau"],
    },
    {
        "id": "curve-pieces",
        "title": "A curve from six bent pieces",
        "description": "Regression: each of six ReLUs adds one piece to the fit, flat on one side of its bend and "
                       "straight on the other; turn on \"pieces\" under the plot and watch them slide and tilt until "
                       "their sum (plus the output's bias) follows the wave, R² near 0.97 by iteration 1000. Take "
                       "units away and the fit runs out of bends.",
        "config": _config("curve", **_CURVE, hidden=[6], lr=0.01),
        "iterations": 1000, "shows": [],
    },
    {
        "id": "curve-flat",
        "title": "A fit that stays flat",
        "description": "Regression stuck at R² 0: with a learning rate of 0.1 the first updates push every ReLU of "
                       "the second layer below zero on every x, so each sends back a gradient of 0 and the output "
                       "only learns its bias, the targets' mean, a flat line through the wave. The diagnosis names "
                       "the dead layer, and at 0.01 the same start bends to the curve.",
        "config": _config("curve", **_CURVE, hidden=[8, 8], lr=0.1),
        "iterations": 300, "shows": ["dead", "plateau", "vanishing"],
    },
]

for _preset in PRESETS:  # a preset that no longer parses is a bug to find at import, not in a classroom
    parse_config(_preset["config"])
