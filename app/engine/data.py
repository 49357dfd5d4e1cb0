"""Datasets on the plane [-6, 6]², their train/test split and the input feature maps.

`noise` is the standard deviation of the Gaussian jitter, in units of NOISE_SCALE (so noise 0.1
moves a number by about 0.3). A class dataset jitters each point and keeps the class it was
drawn for, so noise makes the classes overlap; a regression dataset (plane, multi_gauss, curve)
jitters the target y instead, so noise is what no fit can explain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import COORD_LIMIT, ONE_INPUT_DATASETS, TARGET_LIMIT, DatasetConfig

NOISE_SCALE = 3.0


@dataclass(frozen=True)
class Dataset:
    points: np.ndarray  # (n, 2) float64
    labels: np.ndarray  # (n,): int64 classes, or float64 targets y for a regression dataset
    train: np.ndarray  # indices into points, in stored order
    test: np.ndarray


def _class_sizes(n: int, k: int) -> list[int]:
    return [n // k + (1 if c < n % k else 0) for c in range(k)]


def _circle(rng, n, k):
    inside, outside = _class_sizes(n, 2)[::-1]
    r = np.concatenate([rng.uniform(0.0, 2.5, inside), rng.uniform(3.5, 5.0, outside)])
    theta = rng.uniform(0.0, 2 * np.pi, n)
    labels = np.concatenate([np.ones(inside, np.int64), np.zeros(outside, np.int64)])
    return np.column_stack([r * np.cos(theta), r * np.sin(theta)]), labels


def _xor(rng, n, k):
    sizes = _class_sizes(n, 2)
    labels = np.repeat([0, 1], sizes).astype(np.int64)
    magnitude = rng.uniform(0.3, 5.3, (n, 2))  # kept off the axes, where the label flips
    sign_x = rng.choice([-1.0, 1.0], n)
    sign_y = np.where(labels == 1, sign_x, -sign_x)  # class 1: same sign, x1·x2 > 0
    return magnitude * np.column_stack([sign_x, sign_y]), labels


def _gauss(rng, n, k):
    if k == 2:
        centres = np.array([[-2.0, -2.0], [2.0, 2.0]])
    else:
        angles = 2 * np.pi * np.arange(k) / k + np.pi / 4
        centres = 3.5 * np.column_stack([np.cos(angles), np.sin(angles)])
    sizes = _class_sizes(n, k)
    labels = np.repeat(np.arange(k), sizes)
    return centres[labels] + rng.normal(0.0, 0.7, (n, 2)), labels


# Two arms wind 1.75 turns: the classic two-spiral problem, kept as it was (the spiral-too-small
# preset shows it defeating a small network). With k arms the radial gap between neighbouring
# arms is 5 / (turns·k), so at 1.75 turns three arms lie ~0.95 apart, about three noise σ at the
# default noise: the default 2-4-4 network then memorised the training half (or failed to learn)
# and met the test half at chance. From three arms on, turns = SPIRAL_ARM_TURNS / k keeps that
# gap at 3.3 whatever k, and the arms start SPIRAL_START from the centre instead of all meeting
# at the origin, where noise alone decides the class.
SPIRAL_ARM_TURNS = 1.5
SPIRAL_START = 0.5


def _spiral(rng, n, k):
    sizes = _class_sizes(n, k)
    labels = np.repeat(np.arange(k), sizes)
    t = np.concatenate([np.arange(m) / max(m, 1) for m in sizes])
    if k == 2:
        radius, turns = 5.0 * t, 1.75
    else:
        radius, turns = SPIRAL_START + (5.0 - SPIRAL_START) * t, SPIRAL_ARM_TURNS / k
    angle = turns * 2 * np.pi * t + 2 * np.pi * labels / k
    return np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]), labels


def _moons(rng, n, k):
    upper, lower = _class_sizes(n, 2)
    a, b = rng.uniform(0.0, np.pi, upper), rng.uniform(0.0, np.pi, lower)
    xy = np.concatenate([np.column_stack([np.cos(a), np.sin(a)]),
                         np.column_stack([1.0 - np.cos(b), 0.5 - np.sin(b)])])
    xy = (xy - [0.5, 0.25]) * 2.5  # centre the pair on the origin and fill the plane
    return xy, np.repeat([0, 1], [upper, lower]).astype(np.int64)


GENERATORS = {"circle": _circle, "xor": _xor, "gauss": _gauss, "spiral": _spiral, "moons": _moons}


# --- regression: a real-valued target y in [-TARGET_LIMIT, TARGET_LIMIT] ----------------------

def _plane(rng, n):
    """A tilted plane, y = (x1 + x2)/2: one linear unit fits it exactly (the baseline)."""
    xy = rng.uniform(-COORD_LIMIT, COORD_LIMIT, (n, 2))
    return xy, (xy[:, 0] + xy[:, 1]) / 2


# Hills and hollows, each (x1, x2, height): the fit needs units that bend in both directions.
GAUSS_BUMPS = ((-3.0, 2.5, 5.0), (2.5, 3.0, -5.0), (0.0, -0.5, 4.0), (-3.0, -3.5, -4.5), (3.5, -3.0, 4.5))
GAUSS_BUMP_WIDTH = 1.9  # wide enough that most of the plane is on some slope, narrow enough to stay apart


def _multi_gauss(rng, n):
    xy = rng.uniform(-COORD_LIMIT, COORD_LIMIT, (n, 2))
    y = sum(h * np.exp(-((xy[:, 0] - cx) ** 2 + (xy[:, 1] - cy) ** 2) / (2 * GAUSS_BUMP_WIDTH**2))
            for cx, cy, h in GAUSS_BUMPS)
    return xy, y


# One and a half waves over [-6, 6]: small enough to see each hidden unit's bend add a turn.
CURVE_AMPLITUDE, CURVE_FREQUENCY = 3.0, 0.8


def _curve(rng, n):
    x = rng.uniform(-COORD_LIMIT, COORD_LIMIT, n)
    return np.column_stack([x, np.zeros(n)]), CURVE_AMPLITUDE * np.sin(CURVE_FREQUENCY * x)


REGRESSION_GENERATORS = {"plane": _plane, "multi_gauss": _multi_gauss, "curve": _curve}


def _given(cfg: DatasetConfig) -> tuple[np.ndarray, np.ndarray]:
    """The points a learner gave: [x1, x2, label], [x1, x2, y], or [x1, y] (x2 is then 0)."""
    rows = np.array(cfg.points, dtype=np.float64)
    if cfg.name in ONE_INPUT_DATASETS:
        return np.column_stack([rows[:, 0], np.zeros(len(rows))]), rows[:, 1].copy()
    labels = rows[:, 2].copy() if cfg.regression else rows[:, 2].astype(np.int64)
    return rows[:, :2].copy(), labels


def _generated(cfg: DatasetConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if cfg.regression:
        points, y = REGRESSION_GENERATORS[cfg.name](rng, cfg.n)
        y = np.clip(y + rng.normal(0.0, cfg.noise * NOISE_SCALE, len(y)), -TARGET_LIMIT, TARGET_LIMIT)
        return points, y  # uniform draws: already in no particular order
    points, labels = GENERATORS[cfg.name](rng, cfg.n, cfg.classes)
    points = points + rng.normal(0.0, cfg.noise * NOISE_SCALE, points.shape)
    order = rng.permutation(len(points))  # mix the classes so every minibatch holds several
    return np.clip(points[order], -COORD_LIMIT, COORD_LIMIT), labels[order]


def make_dataset(cfg: DatasetConfig) -> Dataset:
    """Points, labels and split, all drawn from one generator seeded with `cfg.seed`."""
    rng = np.random.default_rng(cfg.seed)
    points, labels = _given(cfg) if cfg.points is not None else _generated(cfg, rng)
    n = len(points)
    n_test = round(n * cfg.test_fraction)
    if n_test == 0:
        return Dataset(points, labels, np.arange(n), np.arange(0))
    is_test = np.zeros(n, bool)
    is_test[rng.permutation(n)[:n_test]] = True
    return Dataset(points, labels, np.flatnonzero(~is_test), np.flatnonzero(is_test))


FEATURE_MAPS = {
    "x1": lambda p: p[:, 0],
    "x2": lambda p: p[:, 1],
    "x1^2": lambda p: p[:, 0] ** 2,
    "x2^2": lambda p: p[:, 1] ** 2,
    "x1*x2": lambda p: p[:, 0] * p[:, 1],
    "sin(x1)": lambda p: np.sin(p[:, 0]),
    "sin(x2)": lambda p: np.sin(p[:, 1]),
}
# the same maps as an exported script writes them, of the columns x1 and x2 ({xp}: np, torch or jnp);
# tests/engine holds each to its function above
FEATURE_CODE = {"x1": "x1", "x2": "x2", "x1^2": "x1 ** 2", "x2^2": "x2 ** 2", "x1*x2": "x1 * x2",
                "sin(x1)": "{xp}.sin(x1)", "sin(x2)": "{xp}.sin(x2)"}


def feature_matrix(points: np.ndarray, features: list[str] | tuple[str, ...]) -> np.ndarray:
    """(n, len(features)): each column one feature map of the raw (x1, x2)."""
    return np.column_stack([FEATURE_MAPS[name](points) for name in features])


def grid_points(resolution: int, extent: float = COORD_LIMIT) -> np.ndarray:
    """Row-major centres of a resolution² grid over [-extent, extent]², top row first (x2 high)."""
    ticks = np.linspace(-extent, extent, resolution, endpoint=False) + extent / resolution
    x1, x2 = np.meshgrid(ticks, ticks[::-1])
    return np.column_stack([x1.ravel(), x2.ravel()])
