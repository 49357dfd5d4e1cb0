"""The step-through stepper: one network, its data, and a cursor walking each iteration.

One iteration is a list of ops in three passes (PROTOCOL.md, and `ops.py` for both views).
`position` counts the ops done in the current iteration (0 = nothing yet). When the last
update op is done the iteration counter moves on, but the cursor stays on that op so its
values can still be read; the next op starts a new iteration.

Everything an iteration shows is decided by where it started (`Start`: the parameters, the
optimiser's memory, the counter): the batch, its forward and backward pass and the optimiser
step are computed from that, and the cursor only decides what has been *reached*. So stepping
op by op and running a whole iteration give the same numbers bit for bit, and going back is
exact: `back` moves the cursor and, across an iteration boundary, returns to an earlier Start.
Synchronous and deterministic; it knows nothing of the wire.
"""

from __future__ import annotations

import copy
import math
import secrets
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Iterator, Literal, get_args

import numpy as np

from app.engine import (LOSS_ID, Backward, Config, ConfigError, OptimizerState, Params, Trainer, backward, forward,
                        merge_config, neuron_graph, node_id, optimizer_step)
from app.engine.config import MAX_SEED
from app.engine.diagnostics import (CHECKPOINT_EVERY, LATCH_MEMORY, MAX_WINDOW, Diagnostics, Reading, diagnose,
                                    judge, reading, trend_window)
from app.engine.gates import build_example_graph
from app.engine.mlp import Forward
from app.engine.training import Split, evaluate

from .ops import (VIEWS, GateStructure, Op, gate_position, gate_structure, neuron_ops, neuron_position,
                  phase_counts)

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


@dataclass
class Example:
    """The selected example's own forward and backward pass (a batch of one, no regulariser)."""

    forward: Forward
    backward: Backward
    loss: float
    label: int
    target: np.ndarray


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
    view: str = "neuron"
    can_back: int = 0
    next: dict | None = None  # the op a step of one op would do: {"phase", "node"}
    explain: dict | None = None
    diagnostics: Diagnostics | None = None


@dataclass(frozen=True)
class SavedRun:
    """A run's whole trajectory state as plain values: with its config, view and example it
    is everything the next iteration's numbers follow from. `params`, `opt_state`,
    `iteration` and the status are those of the iteration the cursor is in (its Start), and
    `position` ops of it have been done; `losses` are the plateau checkpoints' training losses,
    `marks` their accuracy, gradient ratio and flat shares (what the hysteresis replays)."""

    iteration: int
    position: int
    params: Params
    opt_state: OptimizerState
    status: str
    diverged_at: int | None
    losses: dict[int, float]
    marks: dict[int, dict] = field(default_factory=dict)


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
        twin._checkpoints = dict(self._checkpoints)
        twin._example_cache = twin._gate_values_cache = twin._diagnostics_cache = None
        twin._gates_cache = {}
        return twin

    def saved(self) -> SavedRun:
        """What `resume` needs to carry on from here, bit for bit (not the `back` history)."""
        at_start = self.start is not None and self.position > 0
        t = self.trainer
        params, opt_state, iteration = ((self.start.params, self.start.opt_state, self.start.iteration) if at_start
                                        else (t.params, t.opt_state, t.iteration))
        status, diverged_at = (self.start.status, self.start.diverged_at) if at_start else (self.status, self.diverged_at)
        readings = {k: self._reading_at(k) for k in sorted(self._checkpoints)}
        kept = {k: r for k, r in readings.items() if r is not None and math.isfinite(r.loss)}
        return SavedRun(iteration, self.position if at_start else 0, params, opt_state, status, diverged_at,
                        {k: r.loss for k, r in kept.items()},
                        {k: {"accuracy": r.accuracy, "ratio": r.ratio, "flat": dict(r.flat)} for k, r in kept.items()})

    @classmethod
    def resume(cls, config: Config, saved: SavedRun | None, *, view: str = "neuron", example: int = 0,
               max_gates: int = DEFAULT_MAX_GATES) -> "Run":
        """A run of `config` put back where `saved` was (or at its start), on `example` in `view`.
        Raises StepError naming the field if the saved state does not fit the config."""
        run = cls(config, max_gates=max_gates)
        run.select(example)
        run.set_view(view)
        if saved is None:
            return run
        arch, t = run.arch, run.trainer
        for name in arch.param_names():
            for where, values in (("params", saved.params), ("optimizer.velocity", saved.opt_state.velocity),
                                  ("optimizer.second", saved.opt_state.second)):
                if name not in values:
                    if where == "params":
                        raise StepError(f"run.params.{name}", "is missing; every parameter of the network is needed")
                    continue
                if values[name].shape != arch.param_shape(name):
                    raise StepError(f"run.{where}.{name}", f"must have shape {list(arch.param_shape(name))}, "
                                    f"got {list(values[name].shape)}")
        for where, values in (("params", saved.params), ("optimizer.velocity", saved.opt_state.velocity),
                              ("optimizer.second", saved.opt_state.second)):
            extra = sorted(set(values) - set(arch.param_names()))
            if extra:
                raise StepError(f"run.{where}.{extra[0]}", f"is not a parameter of this network; it has "
                                f"{', '.join(arch.param_names())}")
        if not 0 <= saved.position <= len(run.ops):
            raise StepError("run.position", f"must be from 0 to {len(run.ops)} (the ops of one iteration in the "
                            f"{view} view), got {saved.position}")
        t.params, t.opt_state, t.iteration = dict(saved.params), saved.opt_state, saved.iteration
        run.status, run.diverged_at = saved.status, saved.diverged_at
        run._checkpoints = {}
        for k, loss in saved.losses.items():  # a checkpoint without marks (an older save): the loss alone
            mark = saved.marks.get(k, {})
            run._checkpoints[k] = Reading(loss, mark.get("accuracy"), mark.get("ratio"), dict(mark.get("flat") or {}))
        if saved.iteration % CHECKPOINT_EVERY == 0:
            run._checkpoints[saved.iteration] = t.params
        for _ in range(saved.position):
            run._advance_op()
        return run

    def _build(self, config: Config) -> None:
        self.trainer = Trainer(config)
        self.neuron_ops = neuron_ops(self.trainer.arch.sizes)
        self.position = 0
        self.start: Start | None = None
        self.work: Work | None = None
        self.history: deque[Start] = deque(maxlen=BACK_ITERATIONS)
        self.example = min(self.example, len(self.trainer.train) - 1)
        self.status, self.diverged_at = "ok", None
        self._example_cache: tuple[Params, int, Example] | None = None
        self._gates_cache: dict[int, GateStructure] = {}
        self._labels: dict[str, str] | None = None
        self._gate_values_cache: tuple | None = None  # (params, example, ExampleGraph, backward ops replayed)
        # the parameters (later: their Reading) every CHECKPOINT_EVERY iterations: the trend is judged on these
        self._checkpoints: dict[int, Params | Reading] = {0: self.trainer.params}
        self._diagnostics_cache: tuple | None = None
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
    def forward_params(self) -> Params:
        """The parameters this iteration's forward pass uses (or will use)."""
        return self.start.params if self.start is not None and self.position > 0 else self.trainer.params

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
            self._checkpoints[k] = self.trainer.params  # never changed in place: a reference is a copy
            for old in [i for i in self._checkpoints if i < k - KEEP_CHECKPOINTS]:
                del self._checkpoints[old]

    def _reading_at(self, iteration: int) -> Reading | None:
        """A checkpoint's reading (computed once, then kept instead of the weights)."""
        kept = self._checkpoints.get(iteration)
        if kept is None or isinstance(kept, Reading):
            return kept
        train = self.trainer.train
        with np.errstate(all="ignore"):
            ev = evaluate(self.arch, kept, train)
        result = reading(self.arch, kept, train.X, train.T, ev.loss, _finite(ev.accuracy))
        self._checkpoints[iteration] = result
        return result

    def trend(self):
        """The judged trend at this iteration, from the checkpoints up to it."""
        at = self.iteration - self.iteration % CHECKPOINT_EVERY
        window = trend_window(self.trainer.batches_per_epoch)
        readings = {}
        for k in range(max(0, at - LATCH_MEMORY - window), at + 1, CHECKPOINT_EVERY):
            r = self._reading_at(k)
            if r is not None:
                readings[k] = r
        return judge(readings, self.iteration, window)

    def diagnostics(self, loss: float | None, accuracy: float | None, fwd: Forward | None = None) -> Diagnostics:
        """Why the run might be stuck, on the whole training set at the live parameters (whose
        forward pass over it, `fwd`, the caller may already have); the trend-like findings are
        judged at the checkpoints (`judge`), so they hold still in between."""
        params, train = self.trainer.params, self.trainer.train
        key = (self.iteration, self.diverged_at, loss, accuracy)
        cached = self._diagnostics_cache
        if cached is not None and cached[0] is params and cached[1] == key:  # the cursor moved, the weights did not
            return cached[2]
        result = diagnose(self.arch, params, train.X, train.T, accuracy=accuracy, loss=loss, loss_then=None,
                          diverged_at=self.diverged_at, fwd=fwd, trend=self.trend())
        self._diagnostics_cache = (params, key, result)  # holding params keeps the identity test sound
        return result

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
        self._example_cache = None
        if self.iteration % CHECKPOINT_EVERY == 0:  # the trend is judged here: on the weights now in place
            self._checkpoints[self.iteration] = self.trainer.params

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

    # --- the selected example, in both views ---------------------------------------------

    def example_values(self) -> Example:
        """The selected example through the parameters this iteration's forward pass uses."""
        params = self.forward_params
        # the cache holds the params object itself and compares identity: keyed on id() alone, a
        # freed params object's id can be reused by a new one, and stale values would be shown
        cached = self._example_cache
        if cached is None or cached[0] is not params or cached[1] != self.example:
            rows = self.trainer.train.rows(slice(self.example, self.example + 1))
            with np.errstate(all="ignore"):
                fwd = forward(self.arch, params, rows.X)
                bwd = backward(self.arch, params, fwd, rows.T)
                loss = float(self.arch.loss_fn.per_example(fwd.Z[-1], rows.T)[0])
            self._example_cache = (params, self.example, Example(fwd, bwd, loss, int(rows.labels[0]), rows.T[0]))
        return self._example_cache[2]

    def _example_graph(self, params: Params):
        point = self.trainer.train.points[self.example]
        with np.errstate(all="ignore"):
            return build_example_graph(self.arch, params, list(self.config.features), tuple(point),
                                       int(self.trainer.train.labels[self.example]))

    def labels(self) -> dict[str, str]:
        """Neuron-view node id → the label a learner reads (x1, h1.2, p, L)."""
        if self._labels is None:
            nodes, _ = neuron_graph(self.arch.sizes, self.config.features, self.config.loss)
            self._labels = {n.id: n.label for n in nodes}
        return self._labels

    def gates(self) -> GateStructure:
        """The gate graph's structure for the selected example: bce's and cross-entropy's loss
        depend on its class (only the true class's probability reaches the loss)."""
        label = int(self.trainer.train.labels[self.example]) if self.config.loss != "mse" else -1
        if label not in self._gates_cache:
            self._gates_cache[label] = gate_structure(self._example_graph(self.trainer.params), self.neuron_ops,
                                                      self.arch.sizes, self.labels())
        return self._gates_cache[label]

    def gate_count(self) -> int:
        """Gates in the gate view, counted from the shape (the class never changes it by more than 2)."""
        sizes, f = self.arch.sizes, len(self.config.features)
        units = sum(sizes[l] * (2 * sizes[l - 1] + 1) for l in range(1, len(sizes)))
        return units + f + 4 * sizes[-1] + 4

    def gate_graph_values(self):
        """The gate graph at this iteration's forward parameters, as the cursor has replayed it."""
        params = self.forward_params
        key = (params, self.example)  # the object itself, compared by identity (see example_values)
        cached = self._gate_values_cache
        if cached is None or cached[0] is not params or cached[1] != self.example:
            self._gate_values_cache = (*key, self._example_graph(params), None)
        graph, replayed = self._gate_values_cache[2:]
        n_forward, n_backward = phase_counts(self.ops)
        done_backward = max(0, min(self.position - n_forward, n_backward))
        if replayed != done_backward:  # one frame asks several times (values, explain): replay once
            tape = graph.tape
            tape.backward_done = 0
            for _ in range(done_backward):
                tape.step_backward()
            self._gate_values_cache = (*key, graph, done_backward)
        return graph, done_backward

    # --- what the state reports ----------------------------------------------------------

    def node_values(self) -> dict[str, dict[str, float | None]]:
        return self._neuron_values() if self.view_name == "neuron" else self._gate_values()

    def _neuron_values(self) -> dict[str, dict[str, float | None]]:
        depth, sizes, done = self.arch.depth, self.arch.sizes, self.position
        empty = {"z": None, "a": None, "grad_z": None, "grad_a": None}
        ids = [node_id(l, j, depth) for l in range(depth + 1) for j in range(sizes[l])] + [LOSS_ID]
        if done == 0:
            return {i: dict(empty) for i in ids}
        ex = self.example_values()
        n_forward, n_backward = phase_counts(self.ops)
        reached = {op.node for op in self.ops[:min(done, n_forward)]}
        returned = {op.node for op in self.ops[n_forward:done] if op.phase == "backward"}
        backward_over = done >= n_forward + n_backward
        # a softmax output's p needs every output's z: until the last is reached, p waits (as the
        # inspector says), though each z is there as soon as its unit is
        softmax_waits = self.arch.loss == "cross_entropy" and any(
            node_id(depth, j, depth) not in reached for j in range(sizes[depth]))
        values: dict[str, dict[str, float | None]] = {}
        for l in range(depth + 1):
            for j in range(sizes[l]):
                nid = node_id(l, j, depth)
                v = dict(empty)
                if l == 0 or nid in reached:
                    v["z"], v["a"] = float(ex.forward.Z[l][0, j]), float(ex.forward.A[l][0, j])
                    if l == depth and softmax_waits:
                        v["a"] = None
                if (l == 0 and backward_over) or nid in returned:
                    v["grad_z"], v["grad_a"] = float(ex.backward.dZ[l][0, j]), float(ex.backward.dA[l][0, j])
                values[nid] = v
        loss = dict(empty)
        if LOSS_ID in reached:
            loss["z"] = loss["a"] = ex.loss
        if done > n_forward:
            loss["grad_z"] = loss["grad_a"] = 1.0  # dL/dL
        values[LOSS_ID] = loss
        return values

    def _gate_values(self) -> dict[str, dict[str, float | None]]:
        """Per gate-graph node: its value as z and a, its gradient as grad_z and grad_a."""
        structure = self.gates()
        empty = {"z": None, "a": None, "grad_z": None, "grad_a": None}
        if self.position == 0:
            return {n.id: dict(empty) for n in structure.nodes}
        graph, done_backward = self.gate_graph_values()
        n_forward, _ = phase_counts(self.ops)
        reached = {op.node for op in self.ops[:min(self.position, n_forward)]}
        gates = graph.tape.gates
        touched = {id(graph.loss)} if done_backward else set()
        for gate in gates[len(gates) - done_backward:]:
            touched.update(id(p) for p in gate.parents)
        live = self.trainer.params
        values = {}
        for node, value in zip(structure.nodes, graph.tape.values):
            v = dict(empty)
            if node.kind == "param":  # show the live value: the update pass moves it
                name, index = node.id.split("[", 1)
                v["z"] = v["a"] = float(live[name][tuple(int(k) for k in index.rstrip("]").split("]["))])
            elif node.kind != "gate" or node.id in reached:
                v["z"] = v["a"] = value.data
            if id(value) in touched:
                v["grad_z"] = v["grad_a"] = value.grad
            values[node.id] = v
        return values

    def _next_op(self) -> dict:
        op = self.ops[self.position % len(self.ops)]
        return {"phase": op.phase, "node": op.node}

    def view(self) -> RunView:
        from .explain import explain_op  # explain reads the run; the run only hands it over

        trainer = self.trainer
        with np.errstate(all="ignore"):  # one forward pass over the training set serves both
            train_forward = forward(self.arch, trainer.params, trainer.train.X)
            train = evaluate(self.arch, trainer.params, trainer.train, train_forward)
            test = evaluate(self.arch, trainer.params, trainer.test)
        n_forward, n_backward = phase_counts(self.ops)
        backward_over = self.position >= n_forward + n_backward
        loss, accuracy = _finite(train.loss), _finite(train.accuracy)
        return RunView(
            iteration=self.iteration, epoch=self.trainer.epoch, phase=self.phase, cursor=self.cursor,
            status=self.status, diverged_at=self.diverged_at, example=self.example,
            loss=loss, accuracy=accuracy,
            test_loss=_finite(test.loss) if test else None, test_accuracy=_finite(test.accuracy) if test else None,
            nodes=self.node_values(), params=self.trainer.params,
            grads=self.work.backward.grads if backward_over and self.work else None,
            view=self.view_name, can_back=self.can_back(),
            next=self._next_op(),
            explain=explain_op(self, self.current_op) if self.current_op else None,
            diagnostics=self.diagnostics(loss, accuracy, train_forward),
        )


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


__all__ = ["ConfigError", "Op", "Run", "RunView", "StepError", "STEP_UNITS", "StepUnit"]
