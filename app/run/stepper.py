"""The step-through stepper: one network, its data, and a cursor walking each iteration.

One iteration is a list of ops in three passes (docs/protocol.md, and `ops.py` for both views).
`position` counts the ops done in the current iteration (0 = nothing yet). When the last
update op is done the iteration counter moves on, but the cursor stays on that op so its
values can still be read; the next op starts a new iteration.

Everything an iteration shows is decided by where it started (`Start`: the parameters, the
optimiser's memory, the counter): the batch, its forward and backward pass and the optimiser
step are computed from that, and the cursor only decides what has been *reached*. So stepping
op by op and running a whole iteration give the same numbers bit for bit, and going back is
exact: `back` moves the cursor and, across an iteration boundary, returns to an earlier Start.
Synchronous and deterministic; it knows nothing of the wire. `Run` is the cursor and the
trajectory only: what a frame shows is read off it by `view.py` (and `explain.py`,
`batchview.py`), the selected example is built by `example.py`, saving and resuming is
`saved.py`.
"""

from __future__ import annotations

import copy
import math
import secrets
from collections import deque
from dataclasses import dataclass, replace
from typing import Iterator, Literal, get_args

import numpy as np

from app.engine import (Backward, Config, ConfigError, OptimizerState, Params, Trainer, merge_config,
                        optimizer_step)
from app.engine.config import MAX_SEED
from app.engine.diagnostics import (CHECKPOINT_EVERY, LATCH_MEMORY, MAX_WINDOW, Reading, judge, reading,
                                    trend_window)
from app.engine.mlp import Forward
from app.engine.training import Split, evaluate

from .example import ExampleMemo, Remembered
from .ops import VIEWS, GateStructure, Op, gate_position, neuron_ops, neuron_position, phase_counts

# Written once, as the type the `step` command validates against, so the units the page is
# offered (`hello.choices`) cannot drift from the ones accepted.
StepUnit = Literal["op", "layer", "pass", "iteration", "epoch"]
STEP_UNITS: tuple[str, ...] = get_args(StepUnit)
# Fields whose change keeps the weights and the iteration count; any other change rebuilds.
SOFT_FIELDS = ("lr", "optimizer", "momentum", "l1", "l2", "batch_size")
# How many finished iterations `back` can return into.
BACK_ITERATIONS = 32
# Checkpoints kept: a window and the hysteresis's memory behind the latest, also after `back`
# has gone as far as it can (so the judged state there is the one originally seen).
KEEP_CHECKPOINTS = MAX_WINDOW + LATCH_MEMORY + BACK_ITERATIONS + CHECKPOINT_EVERY
# Above this many gates the gate view would be an unreadable smear; the server refuses it.
DEFAULT_MAX_GATES = 1200


@dataclass(frozen=True)
class Start:
    """Where an iteration began: everything its numbers follow from."""

    params: Params
    opt_state: OptimizerState
    iteration: int
    status: str
    diverged_at: int | None


@dataclass
class Work:
    """One iteration's numbers, computed from its Start."""

    batch: Split
    forward: Forward
    backward: Backward
    update: tuple[Params, OptimizerState] | None = None  # the optimiser step, once the update pass needs it


class StepError(ValueError):
    """A command the run cannot carry out; the run is untouched."""

    def __init__(self, field: str, message: str, code: str = "invalid_message"):
        super().__init__(f"{field} {message}")
        self.field, self.code = field, code


class Run:
    def __init__(self, config: Config, max_gates: int = DEFAULT_MAX_GATES):
        self.example = 0
        self.view_name = "neuron"
        self.max_gates = max_gates
        self._build(config)

    # --- building ------------------------------------------------------------------------

    def fork(self) -> "Run":
        """An independent run at exactly this point, cursor and `back` history included.

        Arrays are never changed in place (every step makes new ones), so the copy may share
        them; the containers that do change are copied, and the caches start empty."""
        twin = copy.copy(self)
        twin.trainer = copy.copy(self.trainer)
        twin.history = deque(self.history, maxlen=BACK_ITERATIONS)
        twin.work = replace(self.work) if self.work is not None else None
        twin.checkpoints = dict(self.checkpoints)
        twin.examples, twin.judged = ExampleMemo(), Remembered()
        return twin

    def _build(self, config: Config) -> None:
        self.trainer = Trainer(config)
        self.neuron_ops = neuron_ops(self.trainer.arch.sizes)
        self.position = 0
        self.start: Start | None = None
        self.work: Work | None = None
        self.history: deque[Start] = deque(maxlen=BACK_ITERATIONS)
        self.example = min(self.example, len(self.trainer.train) - 1)
        self.status, self.diverged_at = "ok", None
        self.examples = ExampleMemo()  # the selected example's numbers and gate graphs
        self.judged: Remembered = Remembered()  # the diagnostics of the live parameters (app/run/view.py)
        # the parameters (later: their Reading) every CHECKPOINT_EVERY iterations: the trend is judged on these
        self.checkpoints: dict[int, Params | Reading] = {0: self.trainer.params}
        if self.view_name == "gate" and self.gate_count() > self.max_gates:
            self.view_name = "neuron"  # the new network is too big to draw gate by gate

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
    def ops(self) -> list[Op]:
        return self.neuron_ops if self.view_name == "neuron" else self.gates().ops

    @property
    def graph_key(self) -> tuple:
        """Equal exactly when the `graph` message would be the same."""
        base = (self.view_name, self.arch.sizes, tuple(self.config.features), self.config.loss)
        return base + self.gates().key if self.view_name == "gate" else base

    @property
    def phase(self) -> str:
        return "idle" if self.position == 0 else self.ops[self.position - 1].phase

    @property
    def cursor(self) -> str | None:
        return None if self.position == 0 else self.ops[self.position - 1].node

    @property
    def current_op(self) -> Op | None:
        return None if self.position == 0 else self.ops[self.position - 1]

    @property
    def mid_iteration(self) -> bool:
        return 0 < self.position < len(self.ops)

    @property
    def begun(self) -> bool:
        """Whether the cursor is in an iteration it has stepped into (to its last op included)."""
        return self.start is not None and self.position > 0

    def iteration_inputs(self) -> tuple[Start, Split]:
        """The iteration the cursor is in, or the next one at a boundary: where it starts and its
        batch. What the step-through shows, verify checks and a save keeps all follow from it."""
        if self.begun:
            return self.start, self.work.batch
        t = self.trainer
        return Start(t.params, t.opt_state, t.iteration, self.status, self.diverged_at), t.batch()

    @property
    def forward_params(self) -> Params:
        """The parameters this iteration's forward pass uses (or will use)."""
        return self.start.params if self.begun else self.trainer.params

    # --- one iteration's numbers ---------------------------------------------------------

    def _work_for(self, start: Start) -> Work:
        batch = self.trainer.batch(start.iteration)
        with np.errstate(all="ignore"):
            fwd, bwd = self.trainer.gradients(start.params, batch)
        return Work(batch, fwd, bwd)

    def update_step(self) -> tuple[Params, OptimizerState]:
        """This iteration's optimiser step (computed once, when first needed)."""
        if self.work.update is None:
            cfg, start = self.config, self.start
            with np.errstate(all="ignore"):
                self.work.update = optimizer_step(cfg.optimizer, start.params, self.work.backward.grads,
                                                  start.opt_state, cfg.lr, cfg.momentum)
        return self.work.update

    def _begin_iteration(self) -> None:
        if self.start is not None and self.position == len(self.ops):
            self.history.append(self.start)
        t = self.trainer
        self.start = Start(t.params, t.opt_state, t.iteration, self.status, self.diverged_at)
        self.work = self._work_for(self.start)
        self.position = 0

    def _settle(self) -> None:
        """Make the live parameters, optimiser memory and counters what `position` says."""
        t, start, ops, done = self.trainer, self.start, self.ops, self.position
        if start is None:
            return
        self.status, self.diverged_at = start.status, start.diverged_at
        if done == len(ops):
            t.params, t.opt_state = self.update_step()
            t.iteration = start.iteration + 1
            self._check_divergence()
            self._checkpoint()
            return
        t.opt_state, t.iteration = start.opt_state, start.iteration
        n_forward, n_backward = phase_counts(ops)
        updated = ops[n_forward + n_backward:done]
        if not updated:
            t.params = start.params
            return
        new, _ = self.update_step()
        live = {k: v.copy() for k, v in start.params.items()}
        for op in updated:
            if op.param is not None:  # gate view: one entry
                name, index = op.param
                live[name][index] = new[name][index]
            else:  # neuron view: every weight into the unit, and its bias
                W, b = f"W{op.layer}", f"b{op.layer}"
                live[W][:, op.unit] = new[W][:, op.unit]
                live[b][op.unit] = new[b][op.unit]
        t.params = live

    def _check_divergence(self) -> None:
        if self.status == "diverged":
            return
        finite = all(np.isfinite(v).all() for v in self.trainer.params.values())
        if finite and self.work is not None:
            # the batch loss too: squared errors overflow long before the weights or gradients do
            work, loss_fn = self.work, self.arch.loss_fn
            with np.errstate(all="ignore"):
                finite = (all(np.isfinite(g).all() for g in work.backward.grads.values())
                          and np.isfinite(loss_fn.per_example(work.forward.Z[-1], work.batch.T)).all())
        if not finite:
            self.status, self.diverged_at = "diverged", self.trainer.iteration - 1

    def _checkpoint(self) -> None:
        k = self.trainer.iteration
        if k % CHECKPOINT_EVERY == 0:
            self.checkpoints[k] = self.trainer.params  # never changed in place: a reference is a copy
            for old in [i for i in self.checkpoints if i < k - KEEP_CHECKPOINTS]:
                del self.checkpoints[old]

    def reading_at(self, iteration: int) -> Reading | None:
        """A checkpoint's reading (computed once, then kept instead of the weights)."""
        kept = self.checkpoints.get(iteration)
        if kept is None or isinstance(kept, Reading):
            return kept
        train = self.trainer.train
        with np.errstate(all="ignore"):
            ev = evaluate(self.arch, kept, train)
        result = reading(self.arch, kept, train.X, train.T, ev.loss, finite_or_none(ev.score))
        self.checkpoints[iteration] = result
        return result

    def trend(self):
        """The judged trend at this iteration, from the checkpoints up to it."""
        at = self.iteration - self.iteration % CHECKPOINT_EVERY
        window = trend_window(self.trainer.batches_per_epoch)
        readings = {}
        for k in range(max(0, at - LATCH_MEMORY - window), at + 1, CHECKPOINT_EVERY):
            r = self.reading_at(k)
            if r is not None:
                readings[k] = r
        return judge(readings, self.iteration, window)

    # --- stepping ------------------------------------------------------------------------

    def _advance_op(self) -> None:
        if self.position in (0, len(self.ops)):
            self._begin_iteration()
        self.position += 1
        self._settle()

    def _whole_iteration(self) -> None:
        """From an iteration boundary: the same numbers as every op in turn, without the walk."""
        self._begin_iteration()
        self.position = len(self.ops)
        self._settle()

    def _finish_group(self, key) -> None:
        """Advance until the group (a layer of a pass, or a pass) of the next op is done."""
        ops = self.ops
        group = key(ops[0 if self.position == len(ops) else self.position])
        while True:
            self._advance_op()
            if self.position == len(ops) or key(ops[self.position]) != group:
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

    def can_back(self) -> int:
        """How many ops `back` may undo: to this iteration's start, and through the kept earlier ones.

        ← retraces → exactly: from the first op of an iteration it goes to the last op of the one
        before (there is no stop in between), and only the oldest kept iteration ends at idle."""
        kept = len(self.history) * len(self.ops)
        if self.position == 0:
            return kept + 1 if self.history else 0
        return self.position + kept

    def back(self, count: int = 1) -> None:
        """Undo `count` ops, restoring values, gradients, parameters and optimiser memory exactly."""
        available = self.can_back()
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise StepError("count", f"must be a whole number of ops, at least 1, got {count!r}")
        if count > available:
            if not available:
                where = "nothing has been stepped since the run was built or changed"
            else:
                oldest = (self.history[0] if self.history else self.start).iteration
                where = f"that is the start of iteration {oldest}; {BACK_ITERATIONS} iterations are kept"
            raise StepError("count", f"can undo at most {available} op(s) from here ({where}), got {count}")
        for _ in range(count):
            if self.position > 1 or (self.position == 1 and not self.history):
                self.position -= 1
            else:  # the first op of an iteration undone: back to the end of the one before
                self.start = self.history.pop()
                self.work = self._work_for(self.start)
                self.position = len(self.ops)
            self._settle()

    # --- other commands ------------------------------------------------------------------

    def _forget_iteration(self) -> None:
        """Leave the step-through: a half-done iteration is dropped, and `back` starts afresh."""
        if self.mid_iteration:
            self.position = 0
            self._settle()
        self.position = 0
        self.start = self.work = None
        self.history.clear()

    def select(self, example: int) -> None:
        n = len(self.trainer.train)
        if isinstance(example, bool) or not isinstance(example, int) or not 0 <= example < n:
            raise StepError("example", f"must be a training-set index from 0 to {n - 1}, got {example!r}")
        if self.view_name == "gate":
            old_ops = self.ops
            done = neuron_position(old_ops, self.position, len(self.neuron_ops))
            self.example = example
            if self.gates().ops != old_ops:  # bce's loss has other gates for the other class
                self.position = gate_position(self.gates().ops, done)
                self._settle()
        self.example = example

    def set_view(self, view: str) -> None:
        """Walk the neuron graph or the gate graph; the cursor keeps its place within the pass."""
        if view not in VIEWS:
            raise StepError("view", f"must be one of {', '.join(VIEWS)}, got {view!r}")
        if view == self.view_name:
            return
        if view == "gate" and self.gate_count() > self.max_gates:
            raise StepError("view", f"the gate view draws one node per gate and this network has about {self.gate_count()} "
                            f"gates; at most {self.max_gates} can be drawn. Use fewer layers or neurons", "limit")
        if view == "gate":
            self.position = gate_position(self.gates().ops, self.position)
        else:
            self.position = neuron_position(self.gates().ops, self.position, len(self.neuron_ops))
        self.view_name = view
        self._settle()

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
        self._forget_iteration()  # whatever was shown was computed with the old values
        self.trainer.params = {**self.trainer.params, **parsed}
        if self.iteration % CHECKPOINT_EVERY == 0:  # the trend is judged here: on the weights now in place
            self.checkpoints[self.iteration] = self.trainer.params

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
            self._forget_iteration()
            if new.optimizer != old.optimizer:
                self.trainer.opt_state = OptimizerState()  # another optimiser's memory means nothing here
            self.trainer.config = new
            return False, False
        shape_changed = (new.layer_sizes, new.features, new.loss) != (old.layer_sizes, old.features, old.loss)
        self._build(new)
        return shape_changed, new.dataset != old.dataset


    def restore(self, start: Start, position: int, readings: dict[int, Reading]) -> None:
        """Put a freshly built run at `position` ops into the iteration that begins at `start`,
        with the checkpoints' readings the trend is judged on (app/run/saved.py checks the values)."""
        t = self.trainer
        t.params, t.opt_state, t.iteration = dict(start.params), start.opt_state, start.iteration
        self.status, self.diverged_at = start.status, start.diverged_at
        self.checkpoints = dict(readings)
        if start.iteration % CHECKPOINT_EVERY == 0:
            self.checkpoints[start.iteration] = t.params
        for _ in range(position):
            self._advance_op()

    # --- the selected example, in both views (built in app/run/example.py) ----------------

    def example_values(self):
        """The selected example through the parameters this iteration's forward pass uses."""
        return self.examples.values(self.trainer, self.example, self.forward_params)

    def labels(self) -> dict[str, str]:
        """Neuron-view node id → the label a learner reads (x1, h1.2, p, L)."""
        return self.examples.labels(self.trainer)

    def gates(self) -> GateStructure:
        """The gate graph's structure for the selected example."""
        return self.examples.structure(self.trainer, self.example, self.neuron_ops)

    def gate_count(self) -> int:
        """Gates in the gate view, counted from the shape (the class never changes it by more than 2)."""
        sizes, f = self.arch.sizes, len(self.config.features)
        units = sum(sizes[l] * (2 * sizes[l - 1] + 1) for l in range(1, len(sizes)))
        return units + f + 4 * sizes[-1] + 4

    def gate_graph_values(self):
        """The gate graph at this iteration's forward parameters, as far as the cursor has replayed
        its backward pass; and how many backward gates that is."""
        n_forward, n_backward = phase_counts(self.ops)
        done_backward = max(0, min(self.position - n_forward, n_backward))
        return self.examples.replayed(self.trainer, self.example, self.forward_params, done_backward), done_backward


def finite_or_none(x: float | None) -> float | None:
    """The number if it is finite; None for NaN, ±inf, and for no number at all."""
    return x if x is not None and math.isfinite(x) else None


__all__ = ["ConfigError", "Op", "Run", "Start", "StepError", "STEP_UNITS", "StepUnit"]
