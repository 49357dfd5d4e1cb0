"""Backprop's gradients checked against central finite differences, entry by entry.

The five-point central difference (f(w−2h) − 8f(w−h) + 8f(w+h) − f(w+2h)) / 12h differs
from f'(w) by O(h⁴). With h = 1e-4 in float64 that truncation (≈ 1e-16) and the rounding of
f (≈ 1e-16 / h = 1e-12) both sit far below what a wrong backward formula would give, so a
relative error of 1e-6 or less means the formula is right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .mlp import Architecture, Params, backward, forward, objective

EPSILON = 1e-4
# relative errors are measured against at least this size: where both gradients are almost
# exactly zero, the rounding of f, not the formula, decides their ratio
FLOOR = 1e-7


@dataclass(frozen=True)
class GradCheck:
    max_rel_error: float
    max_abs_error: float
    worst: str  # the entry with the largest relative error, e.g. "W1[0][1]"
    backprop: float  # the two values at that entry
    numeric: float
    checked: int  # how many entries were compared


def entry_name(name: str, index: tuple[int, ...]) -> str:
    return name + "".join(f"[{k}]" for k in index)


def gradient_check(arch: Architecture, params: Params, X: np.ndarray, T: np.ndarray,
                   l2: float = 0.0, l1: float = 0.0, epsilon: float = EPSILON) -> GradCheck:
    with np.errstate(all="ignore"):  # a diverged run's overflow is reported, not warned about
        return _check(arch, params, X, T, l2, l1, epsilon)


def _check(arch: Architecture, params: Params, X: np.ndarray, T: np.ndarray,
           l2: float, l1: float, epsilon: float) -> GradCheck:
    grads = backward(arch, params, forward(arch, params, X), T, l2, l1).grads
    worst = (-1.0, 0.0, "", 0.0, 0.0)
    checked = 0
    max_abs = 0.0
    for name in arch.param_names():
        for index in np.ndindex(params[name].shape):
            nudged = {k: v.copy() for k, v in params.items()}
            centre = float(params[name][index])

            def f(offset: float) -> float:
                nudged[name][index] = centre + offset
                return objective(arch, nudged, X, T, l2, l1)

            # |w| has a kink at 0: keep the stencil on one side of it, or l1 would be measured across it
            h = min(epsilon, abs(centre) / 3) if l1 and name[0] == "W" and centre else epsilon
            numeric = (f(-2 * h) - 8 * f(-h) + 8 * f(h) - f(2 * h)) / (12 * h)
            exact = float(grads[name][index])
            diff = abs(exact - numeric)
            # a non-finite gradient is the worst possible disagreement, never a silent pass
            rel = diff / max(abs(exact) + abs(numeric), FLOOR) if np.isfinite(diff) else math.inf
            max_abs = max(max_abs, diff) if np.isfinite(diff) else math.inf
            checked += 1
            if rel > worst[0] or (worst[0] != math.inf and rel == math.inf):
                worst = (rel, diff, entry_name(name, index), exact, numeric)
    return GradCheck(worst[0], max_abs, worst[2], worst[3], worst[4], checked)
