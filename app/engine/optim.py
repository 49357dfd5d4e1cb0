"""Optimisers as pure functions: (params, grads, state) in, new params and state out.

Every rule is elementwise, so updating a few columns of W with the full result is the
same as updating them alone — the step-through can reveal the update unit by unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .mlp import Params

ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, 1e-8


@dataclass
class OptimizerState:
    steps: int = 0
    velocity: Params = field(default_factory=dict)  # momentum: v; adam: m (first moment)
    second: Params = field(default_factory=dict)  # adam: v (second moment)

    def copy(self) -> "OptimizerState":
        return OptimizerState(self.steps, {k: v.copy() for k, v in self.velocity.items()},
                              {k: v.copy() for k, v in self.second.items()})


def optimizer_step(name: str, params: Params, grads: Params, state: OptimizerState,
                   lr: float, momentum: float) -> tuple[Params, OptimizerState]:
    new_state = OptimizerState(state.steps + 1)
    new_params: Params = {}
    for key, w in params.items():
        g = grads[key]
        if name == "sgd":
            new_params[key] = w - lr * g
        elif name == "momentum":  # v ← μ·v + g ; w ← w − lr·v  (PyTorch's form)
            v = momentum * state.velocity.get(key, 0.0) + g
            new_state.velocity[key] = v
            new_params[key] = w - lr * v
        elif name == "adam":
            t = new_state.steps
            m = ADAM_BETA1 * state.velocity.get(key, 0.0) + (1 - ADAM_BETA1) * g
            v = ADAM_BETA2 * state.second.get(key, 0.0) + (1 - ADAM_BETA2) * g * g
            new_state.velocity[key], new_state.second[key] = m, v
            m_hat, v_hat = m / (1 - ADAM_BETA1**t), v / (1 - ADAM_BETA2**t)  # undo the zero start
            new_params[key] = w - lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS)
        else:
            raise ValueError(f"unknown optimizer {name!r}")
    return new_params, new_state
