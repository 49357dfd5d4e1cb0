"""One seed of a seed sweep: the current config from another weight seed, trained and judged.

Each seed is trained by the very same `Run` a session uses, so a sweep's numbers are those of
single runs by construction, not by care. The server runs `train_in_worker` in a pool of
worker processes; `init_worker` hands each process the shared cancel flags, one byte per
sweep slot, which a worker reads every few iterations so that cancelling stops the work
within a few milliseconds rather than at the end of a seed. A worker also watches that the
server is still there, and ends if it is not: a server killed outright leaves nothing running.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from app.engine import Config
from app.engine.diagnostics import PLATEAU_ACCURACY
from app.engine.heatmaps import heatmaps

from .stepper import Run
from .view import RunView, run_view

THUMBNAIL = 32  # pixels a side: enough to tell a boundary that found the pattern from one that did not
CHECK_EVERY = 16  # iterations between looks at the cancel flag
PARENT_CHECK_SECONDS = 1.0  # how often a worker makes sure the server that started it is still there


@dataclass(frozen=True)
class SeedResult:
    weight_seed: int
    loss: float | None
    accuracy: float | None
    test_accuracy: float | None
    r2: float | None  # regression's score in place of accuracy
    test_r2: float | None
    verdict: str  # ok | stuck | diverged
    reason: str
    diverged_at: int | None
    kinds: list[str]  # the diagnostics' findings present at the end
    boundary: np.ndarray  # (C, R, R) float32: the final decision boundary, as the grid frame has it


def verdict(view: RunView, iterations: int) -> tuple[str, str]:
    """ok, stuck or diverged, with the reason in numbers: for a stuck seed, the diagnosis's
    findings in a few words each, most serious first, as the diagnosis panel states them."""
    d = view.diagnostics
    if view.status == "diverged":
        return "diverged", f"the numbers overflowed at iteration {view.diverged_at}"
    regression = view.accuracy is None and view.r2 is not None
    score = view.r2 if regression else view.accuracy
    if score is not None and score >= PLATEAU_ACCURACY:
        return "ok", f"fits with R² {score:.2f}" if regression else f"{score:.0%} of training points right"
    said = [f.short for f in d.findings]
    if said:
        return "stuck", "; ".join(said)
    # below 90% with nothing wrong found: it is still learning, and the numbers say how fast
    accuracy = (f"R² {score:.2f}" if regression else f"{score:.0%} right") if score is not None else "no score"
    loss = f", loss {view.loss:.2g}" if view.loss is not None else ""
    gain, trend = d.gain, d.trend
    pace = (f", {'down' if gain >= 0 else 'up'} {abs(gain):.1%} over the {trend.window} iterations to {trend.at}"
            if gain is not None and trend is not None else "")
    return "stuck", f"{accuracy} after {iterations} iterations{loss}{pace}: not stalled, just slow so far"


def train_seed(config: Config, weight_seed: int, iterations: int, resolution: int = THUMBNAIL,
               should_stop: Callable[[], bool] = lambda: False) -> SeedResult | None:
    """`iterations` whole iterations from `weight_seed`; None if told to stop on the way."""
    run = Run(config.model_copy(update={"weight_seed": weight_seed}))
    for done, _ in enumerate(run.step("iteration", iterations), 1):
        if done % CHECK_EVERY == 0 and should_stop():
            return None
    view = run_view(run)
    what, why = verdict(view, iterations)
    boundary, _ = heatmaps(run.arch, run.trainer.params, list(config.features), resolution)
    return SeedResult(weight_seed, view.loss, view.accuracy, view.test_accuracy, view.r2, view.test_r2, what, why,
                      view.diverged_at,
                      [f.kind for f in view.diagnostics.findings], boundary.astype(np.float32))


# --- in a worker process ---------------------------------------------------------------------

_cancel_flags = None


def init_worker(flags, server: int) -> None:
    """Runs once in each worker: keep the shared flags, yield the CPU to the server's loop, and
    end with the server (the process `server`)."""
    global _cancel_flags
    _cancel_flags = flags
    try:
        os.nice(5)  # a sweep uses spare cores; the sessions being watched come first
    except OSError:
        pass
    threading.Thread(target=_end_with, args=(server,), name="end-with-server", daemon=True).start()


def _end_with(server: int) -> None:
    # A server that shuts down ends its workers itself; one killed outright (kill -9, or a second
    # Ctrl-C) cannot. An orphaned worker would wait for work for ever (it holds its own end of the
    # queue, so it never sees the server go), and keep the server's resource tracker alive too.
    # The server's pid comes from the server: a worker it spawned just before dying may already
    # be an orphan when this starts.
    while os.getppid() == server:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def train_in_worker(config: Config, weight_seed: int, iterations: int, resolution: int, slot: int) -> SeedResult | None:
    return train_seed(config, weight_seed, iterations, resolution, lambda: bool(_cancel_flags[slot]))
