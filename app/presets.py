"""Ready-made configurations a learner can start from, each with what to watch for.

Plain data: the server lists them at GET /api/presets and the page offers them in a menu.
"""

from __future__ import annotations

from app.engine import parse_config

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
    },
]

for _preset in PRESETS:  # a preset that no longer parses is a bug to find at import, not in a classroom
    parse_config(_preset["config"])
