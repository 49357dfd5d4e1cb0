"""The step-through stepper: one network, its data, and a cursor walking each iteration.

One iteration is a list of ops in three passes (PROTOCOL.md):
  forward  — every neuron and output, layer by layer, then the loss node;
  backward — every output and neuron once, in exactly the reverse order;
  update   — every neuron and output again, each op moving the weights into that unit.
`position` counts the ops done in the current iteration (0 = nothing yet). When the last
update op is done the iteration counter moves on, but the cursor stays on that op so its
values can still be read; the next op starts a new iteration.

The numbers behind the ops are computed when the iteration starts (and the optimiser step
when the update pass starts): the cursor only decides what has been *reached*. Stepping op
by op and running a whole iteration at once therefore give the same numbers bit for bit.
Synchronous and deterministic; it knows nothing of the wire.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np

from app.engine import (LOSS_ID, Backward, Config, ConfigError, OptimizerState, Params, Trainer, backward, forward,
                        merge_config, node_id, optimizer_step)
from app.engine.config import MAX_SEED
from app.engine.training import Split

STEP_UNITS = ("op", "layer", "pass", "iteration", "epoch")
# Fields whose change keeps the weights and the iteration count; any other change rebuilds.
SOFT_FIELDS = ("lr", "optimizer", "momentum", "l1", "l2", "batch_size")


@dataclass(frozen=True)
class Op:
    phase: str  # forward | backward | update
    layer: int  # weight layer 1..L; L + 1 for the loss node
    node: str
    unit: int


def iteration_ops(sizes: tuple[int, ...]) -> list[Op]:
    depth = len(sizes) - 1
    units = [Op("forward", l, node_id(l, j, depth), j) for l in range(1, depth + 1) for j in range(sizes[l])]
    return (units + [Op("forward", depth + 1, LOSS_ID, 0)]
            + [replace(op, phase="backward") for op in reversed(units)]
            + [replace(op, phase="update") for op in units])


@dataclass
class Example:
    """The selected example's own forward and backward pass (a batch of one, no regulariser)."""

    forward: object
    backward: Backward
    loss: float


@dataclass
class RunView:
    """Everything a `state` message reports, as plain Python and numpy values."""

    iteration: int
    epoch: int
    phase: str
    cursor: str | None
    status: str
    diverged_at: int | None
    example: int
    loss: float | None
    accuracy: float | None
    test_loss: float | None
    test_accuracy: float | None
    nodes: dict[str, dict[str, float | None]]
    params: Params
    grads: Params | None


class StepError(ValueError):
    """A command the run cannot carry out; the run is untouched."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field} {message}")
        self.field = field


class Run:
    def __init__(self, config: Config):
        self.example = 0
        self._build(config)

    # --- building ------------------------------------------------------------------------

    def _build(self, config: Config) -> None:
        self.trainer = Trainer(config)
        self.ops = iteration_ops(self.trainer.arch.sizes)
        self.n_forward = sum(op.phase == "forward" for op in self.ops)
        self.n_backward = sum(op.phase == "backward" for op in self.ops)
        self.position = 0
        self.iter_params: Params = self.trainer.params
        self.iter_batch: Split | None = None
        self.batch_backward: Backward | None = None
        self.pending: tuple[Params, OptimizerState] | None = None
        self.example = min(self.example, len(self.trainer.train) - 1)
        self.status, self.diverged_at = "ok", None
        self._example_cache: tuple[int, int, Example] | None = None

    @property
    def config(self) -> Config:
        return self.trainer.config

    @property
    def arch(self):
        return self.trainer.arch

    @property
    def iteration(self) -> int:
        return self.trainer.iteration

    @property
    def phase(self) -> str:
        return "idle" if self.position == 0 else self.ops[self.position - 1].phase

    @property
    def cursor(self) -> str | None:
        return None if self.position == 0 else self.ops[self.position - 1].node

    @property
    def mid_iteration(self) -> bool:
        return 0 < self.position < len(self.ops)

    # --- stepping ------------------------------------------------------------------------

    def _begin_iteration(self) -> None:
        self.iter_params = self.trainer.params
        self.iter_batch = self.trainer.batch()
        with np.errstate(all="ignore"):
            _, self.batch_backward = self.trainer.gradients(self.iter_params, self.iter_batch)
        self.pending = None
        self.position = 0

    def _pending_update(self) -> tuple[Params, OptimizerState]:
        if self.pending is None:
            cfg = self.config
            with np.errstate(all="ignore"):
                self.pending = optimizer_step(cfg.optimizer, self.iter_params, self.batch_backward.grads,
                                              self.trainer.opt_state, cfg.lr, cfg.momentum)
            # the live parameters are a copy that the update ops fill in, unit by unit
            self.trainer.params = {k: v.copy() for k, v in self.iter_params.items()}
        return self.pending

    def _finish_iteration(self) -> None:
        new_params, new_state = self._pending_update()
        self.trainer.params, self.trainer.opt_state = new_params, new_state
        self.pending = None
        self.trainer.iteration += 1
        self._check_divergence()

    def _check_divergence(self) -> None:
        if self.status == "diverged":
            return
        finite = all(np.isfinite(v).all() for v in self.trainer.params.values())
        if self.batch_backward is not None:
            finite = finite and all(np.isfinite(g).all() for g in self.batch_backward.grads.values())
        if not finite:
            self.status, self.diverged_at = "diverged", self.trainer.iteration - 1

    def _advance_op(self) -> None:
        if self.position in (0, len(self.ops)):
            self._begin_iteration()
        op = self.ops[self.position]
        if op.phase == "update":
            new_params, _ = self._pending_update()
            W, b = f"W{op.layer}", f"b{op.layer}"
            self.trainer.params[W][:, op.unit] = new_params[W][:, op.unit]
            self.trainer.params[b][op.unit] = new_params[b][op.unit]
        self.position += 1
        if self.position == len(self.ops):
            self._finish_iteration()

    def _whole_iteration(self) -> None:
        """From an iteration boundary: the same numbers as every op in turn, without the walk."""
        self._begin_iteration()
        self.position = len(self.ops)
        self._finish_iteration()

    def _finish_group(self, key) -> None:
        """Advance until the group (a layer of a pass, or a pass) of the next op is done."""
        group = key(self.ops[0 if self.position == len(self.ops) else self.position])
        while True:
            self._advance_op()
            if self.position == len(self.ops) or key(self.ops[self.position]) != group:
                return

    def _one_iteration(self) -> None:
        if self.mid_iteration:
            while self.mid_iteration:
                self._advance_op()
        else:
            self._whole_iteration()

    def iterations_planned(self, unit: str, count: int) -> int:
        """An upper bound on the whole iterations a step runs (for the server's limit)."""
        if unit == "epoch":
            return count * self.trainer.batches_per_epoch
        return count if unit == "iteration" else -(-count // len(self.ops)) + 1

    def step(self, unit: str, count: int = 1) -> Iterator[None]:
        """Advance `count` units; yields after each op or iteration so a caller can pace it."""
        if unit not in STEP_UNITS:
            raise StepError("unit", f"must be one of {', '.join(STEP_UNITS)}, got {unit!r}")
        for _ in range(count):
            if unit == "op":
                self._advance_op()
            elif unit == "layer":
                self._finish_group(lambda op: (op.phase, op.layer))
            elif unit == "pass":
                self._finish_group(lambda op: op.phase)
            elif unit == "iteration":
                self._one_iteration()
            else:
                per_epoch = self.trainer.batches_per_epoch
                self._one_iteration()
                yield
                while self.iteration % per_epoch:
                    self._one_iteration()
                    yield
                continue
            yield

    def run(self, unit: str, count: int = 1) -> None:
        for _ in self.step(unit, count):
            pass

    # --- other commands ------------------------------------------------------------------

    def _abandon_iteration(self) -> None:
        """Drop a half-done iteration: back to its start, parameters as they were."""
        if self.mid_iteration:
            self.trainer.params = self.iter_params
            self.pending = None
            self.position = 0

    def select(self, example: int) -> None:
        n = len(self.trainer.train)
        if isinstance(example, bool) or not isinstance(example, int) or not 0 <= example < n:
            raise StepError("example", f"must be a training-set index from 0 to {n - 1}, got {example!r}")
        self.example = example

    def set_params(self, values: dict) -> None:
        arch = self.arch
        parsed: Params = {}
        for name, value in values.items():
            if name not in arch.param_names():
                raise StepError(f"params.{name}", f"is not a parameter of this network; it has {', '.join(arch.param_names())}")
            shape = arch.param_shape(name)
            try:
                array = np.array(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise StepError(f"params.{name}", f"must be a nested list of numbers of shape {list(shape)}") from None
            if array.shape != shape:
                raise StepError(f"params.{name}", f"must have shape {list(shape)}, got {list(array.shape)}")
            if not np.isfinite(array).all():
                raise StepError(f"params.{name}", "must hold finite numbers only")
            parsed[name] = array
        self._abandon_iteration()
        self.position = 0  # whatever was shown was computed with the old values
        self.trainer.params = {**self.trainer.params, **parsed}
        self.iter_params = self.trainer.params
        self._example_cache = None

    def randomize(self, weight_seed: int | None = None) -> int:
        if weight_seed is None:
            weight_seed = secrets.randbelow(MAX_SEED + 1)
        if isinstance(weight_seed, bool) or not isinstance(weight_seed, int) or not 0 <= weight_seed <= MAX_SEED:
            raise StepError("weight_seed", f"must be a whole number from 0 to {MAX_SEED}, got {weight_seed!r}")
        self._build(self.config.model_copy(update={"weight_seed": weight_seed}))
        return weight_seed

    def configure(self, patch: dict) -> tuple[bool, bool]:
        """Merge a partial config. Returns (shape changed, data changed)."""
        new = merge_config(self.config, patch)
        old = self.config
        same_run = all(getattr(new, f) == getattr(old, f) for f in Config.model_fields if f not in SOFT_FIELDS)
        if same_run:
            self._abandon_iteration()
            if new.optimizer != old.optimizer:
                self.trainer.opt_state = OptimizerState()  # another optimiser's memory means nothing here
            self.trainer.config = new
            return False, False
        shape_changed = (new.layer_sizes, new.features, new.loss) != (old.layer_sizes, old.features, old.loss)
        self._build(new)
        return shape_changed, new.dataset != old.dataset

    # --- what the state reports ----------------------------------------------------------

    def _example(self) -> Example:
        """The selected example through the parameters this iteration's forward pass used."""
        params = self.iter_params
        key = (id(params), self.example)
        if self._example_cache is None or self._example_cache[:2] != key:
            rows = self.trainer.train.rows(slice(self.example, self.example + 1))
            with np.errstate(all="ignore"):
                fwd = forward(self.arch, params, rows.X)
                bwd = backward(self.arch, params, fwd, rows.T)
                loss = float(self.arch.loss_fn.per_example(fwd.Z[-1], rows.T)[0])
            self._example_cache = (*key, Example(fwd, bwd, loss))
        return self._example_cache[2]

    def node_values(self) -> dict[str, dict[str, float | None]]:
        depth, sizes, done = self.arch.depth, self.arch.sizes, self.position
        empty = {"z": None, "a": None, "grad_z": None, "grad_a": None}
        ids = [node_id(l, j, depth) for l in range(depth + 1) for j in range(sizes[l])] + [LOSS_ID]
        if done == 0:
            return {i: dict(empty) for i in ids}
        ex = self._example()
        reached = {op.node for op in self.ops[:min(done, self.n_forward)]}
        returned = {op.node for op in self.ops[self.n_forward:done]}
        backward_over = done >= self.n_forward + self.n_backward
        values: dict[str, dict[str, float | None]] = {}
        for l in range(depth + 1):
            for j in range(sizes[l]):
                nid = node_id(l, j, depth)
                v = dict(empty)
                if l == 0 or nid in reached:
                    v["z"], v["a"] = float(ex.forward.Z[l][0, j]), float(ex.forward.A[l][0, j])
                if (l == 0 and backward_over) or nid in returned:
                    v["grad_z"], v["grad_a"] = float(ex.backward.dZ[l][0, j]), float(ex.backward.dA[l][0, j])
                values[nid] = v
        loss = dict(empty)
        if LOSS_ID in reached:
            loss["z"] = loss["a"] = ex.loss
        if done > self.n_forward:
            loss["grad_z"] = loss["grad_a"] = 1.0  # dL/dL
        values[LOSS_ID] = loss
        return values

    def view(self) -> RunView:
        with np.errstate(all="ignore"):
            train, test = self.trainer.evaluate()
        backward_over = self.position >= self.n_forward + self.n_backward
        return RunView(
            iteration=self.iteration, epoch=self.trainer.epoch, phase=self.phase, cursor=self.cursor,
            status=self.status, diverged_at=self.diverged_at, example=self.example,
            loss=_finite(train.loss), accuracy=_finite(train.accuracy),
            test_loss=_finite(test.loss) if test else None, test_accuracy=_finite(test.accuracy) if test else None,
            nodes=self.node_values(), params=self.trainer.params,
            grads=self.batch_backward.grads if backward_over and self.batch_backward else None,
        )


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


__all__ = ["ConfigError", "Op", "Run", "RunView", "StepError", "STEP_UNITS", "iteration_ops"]
