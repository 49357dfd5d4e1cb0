"""What the network says about every point of the plane: the decision boundary and each
hidden neuron's output over a grid, for painting."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .config import COORD_LIMIT, TARGET_LIMIT
from .data import feature_matrix, grid_points
from .mlp import Architecture, Params, hidden_and_output


@lru_cache(maxsize=32)
def _grid_features(features: tuple[str, ...], resolution: int) -> np.ndarray:
    return feature_matrix(grid_points(resolution, COORD_LIMIT), features).astype(np.float32)


def boundary_range(regression: bool) -> tuple[float, float]:
    """What the boundary planes span: probabilities, or a regression's prediction on the targets' scale."""
    return (-TARGET_LIMIT, TARGET_LIMIT) if regression else (0.0, 1.0)


def heatmaps(arch: Architecture, params: Params, features: list[str], resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """(boundary, neurons): boundary is (C, R, R), the probability of each class (one channel
    when there is one output unit: the probability of class 1), or for regression the one
    predicted value, clipped to `boundary_range`; neurons is (M, R, R), every hidden unit's
    activation, layer by layer. Rows run top (x2 = +6) down."""
    with np.errstate(all="ignore"):
        layers = hidden_and_output(arch, params, _grid_features(tuple(features), resolution))
    r = resolution
    boundary = np.clip(layers[-1], *boundary_range(arch.regression)).T.reshape(-1, r, r)
    hidden = [a.T.reshape(-1, r, r) for a in layers[:-1]]
    neurons = np.concatenate(hidden) if hidden else np.zeros((0, r, r), np.float32)
    return boundary, neurons
