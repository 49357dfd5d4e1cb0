"""A run saved as plain values, and put back where it was, bit for bit.

`save` keeps the iteration the cursor is in (its `Start`), how many of its ops are done, and
the checkpoints' readings the trend is judged on; `resume` rebuilds the run from its config
and replays those ops. The `back` history is not kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from app.engine import Config, OptimizerState, Params
from app.engine.diagnostics import Reading

from .stepper import DEFAULT_MAX_GATES, Run, Start, StepError


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


def save(run: Run) -> SavedRun:
    """What `resume` needs to carry on from here, bit for bit."""
    start, _ = run.iteration_inputs()
    readings = {k: run.reading_at(k) for k in sorted(run.checkpoints)}
    kept = {k: r for k, r in readings.items() if r is not None and math.isfinite(r.loss)}
    return SavedRun(start.iteration, run.position if run.begun else 0, start.params, start.opt_state, start.status,
                    start.diverged_at, {k: r.loss for k, r in kept.items()},
                    {k: {"accuracy": r.accuracy, "ratio": r.ratio, "flat": dict(r.flat)} for k, r in kept.items()})


def resume(config: Config, saved: SavedRun | None, *, view: str = "neuron", example: int = 0,
           max_gates: int = DEFAULT_MAX_GATES) -> Run:
    """A run of `config` put back where `saved` was (or at its start), on `example` in `view`.
    Raises StepError naming the field if the saved state does not fit the config."""
    run = Run(config, max_gates=max_gates)
    run.select(example)
    run.set_view(view)
    if saved is None:
        return run
    _check_fits(run, saved, view)
    readings = {}
    for k, loss in saved.losses.items():  # a checkpoint without marks (an older save): the loss alone
        mark = saved.marks.get(k, {})
        readings[k] = Reading(loss, mark.get("accuracy"), mark.get("ratio"), dict(mark.get("flat") or {}))
    run.restore(Start(saved.params, saved.opt_state, saved.iteration, saved.status, saved.diverged_at),
                saved.position, readings)
    return run


def _check_fits(run: Run, saved: SavedRun, view: str) -> None:
    arch = run.arch
    stores = (("params", saved.params), ("optimizer.velocity", saved.opt_state.velocity),
              ("optimizer.second", saved.opt_state.second))
    for name in arch.param_names():
        for where, values in stores:
            if name not in values:
                if where == "params":
                    raise StepError(f"run.params.{name}", "is missing; every parameter of the network is needed")
                continue
            if values[name].shape != arch.param_shape(name):
                raise StepError(f"run.{where}.{name}", f"must have shape {list(arch.param_shape(name))}, "
                                f"got {list(values[name].shape)}")
    for where, values in stores:
        extra = sorted(set(values) - set(arch.param_names()))
        if extra:
            raise StepError(f"run.{where}.{extra[0]}", f"is not a parameter of this network; it has "
                            f"{', '.join(arch.param_names())}")
    if not 0 <= saved.position <= len(run.ops):
        raise StepError("run.position", f"must be from 0 to {len(run.ops)} (the ops of one iteration in the "
                        f"{view} view), got {saved.position}")
