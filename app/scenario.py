"""Scenarios: a run saved with how to show it, as one JSON document.

A scenario holds the config (seeds and custom points included), the run's state (`SavedRun`:
iteration, cursor, parameters, optimiser memory), the view and selected example, the panels
to hide (`hidden_panels`; documents written before it was named so call it `hidden`, the name
the config gives its layer widths, and still load), a title and notes. The same document is
what `POST /api/scenarios` stores, what `GET /api/scenarios/{id}` returns and what export and
import read and write, so a file moved to another machine with the same version carries on bit
for bit: float64 values are written as the shortest decimal that reads back as the same number.

Parsing checks everything and raises `ScenarioError` naming the field (`run.params.W1`,
`hidden_panels[2]`), never half-loads. Nothing here knows HTTP or websockets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.engine import Config, ConfigError, OptimizerState, config_to_dict, parse_config
from app.run import Run, StepError
from app.run.ops import VIEWS
from app.run.saved import SavedRun, resume, save

FORMAT = "backprop-lab/scenario"
VERSION = 1
# Panels of the page a scenario may hide (the page's `data-panel` names).
PANELS = ("controls", "inspector", "legend", "metrics", "diagnosis", "charts", "boundary", "custom-data")
MAX_TITLE = 120
MAX_NOTES = 4000
MAX_ITERATION = 10**9
STATUSES = ("ok", "diverged")
FIELDS = ("format", "version", "app_version", "title", "notes", "hidden_panels", "hidden", "view", "example", "config",
          "run")
RUN_FIELDS = ("iteration", "position", "params", "optimizer", "status", "diverged_at", "losses", "marks")
OPTIMIZER_FIELDS = ("steps", "velocity", "second")


class ScenarioError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field} {message}")
        self.field, self.reason = field, message


@dataclass
class Scenario:
    config: Config
    saved: SavedRun | None = None  # None: the config's run at iteration 0
    title: str = ""
    notes: str = ""
    hidden_panels: list[str] = field(default_factory=list)
    view: str = "neuron"
    example: int = 0

    def build_run(self, max_gates: int) -> Run:
        try:
            return resume(self.config, self.saved, view=self.view, example=self.example, max_gates=max_gates)
        except StepError as exc:  # the saved state does not fit the config (shapes, cursor, example)
            raise ScenarioError(exc.field, str(exc)[len(exc.field) + 1:]) from None


def capture(run: Run, *, title: str = "", notes: str = "", hidden_panels: list[str] | None = None) -> Scenario:
    """The scenario of a live run, exactly where it is."""
    return Scenario(run.config, save(run), title, notes, list(hidden_panels or []), run.view_name, run.example)


def check_panels(names: list, where: str) -> list[str]:
    """`names` checked as panel names, each kept once in the order given; a ScenarioError naming
    `where[k]` for the first that is not a panel."""
    for k, name in enumerate(names):
        if name not in PANELS:
            raise ScenarioError(f"{where}[{k}]", f"must be one of {', '.join(PANELS)}, got {str(name)[:40]!r}")
    return list(dict.fromkeys(names))


# --- to JSON -----------------------------------------------------------------------------

def _arrays(values: dict[str, np.ndarray]) -> dict[str, Any]:
    return {k: v.tolist() for k, v in sorted(values.items())}


def to_document(scenario: Scenario, app_version: str) -> dict:
    """The JSON-ready document. Raises ScenarioError if the run holds numbers JSON cannot."""
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION, "app_version": app_version,
                           "title": scenario.title, "notes": scenario.notes,
                           "hidden_panels": list(scenario.hidden_panels),
                           "view": scenario.view, "example": scenario.example,
                           "config": config_to_dict(scenario.config), "run": None}
    saved = scenario.saved
    if saved is not None:
        for where, values in (("params", saved.params), ("optimizer.velocity", saved.opt_state.velocity),
                              ("optimizer.second", saved.opt_state.second)):
            for name, array in values.items():
                if not np.isfinite(array).all():
                    raise ScenarioError(f"run.{where}.{name}", "holds numbers that are not finite (the run diverged); "
                                        "a scenario stores finite numbers only: go back, or re-randomize")
        doc["run"] = {
            "iteration": saved.iteration, "position": saved.position, "params": _arrays(saved.params),
            "optimizer": {"steps": saved.opt_state.steps, "velocity": _arrays(saved.opt_state.velocity),
                          "second": _arrays(saved.opt_state.second)},
            "status": saved.status, "diverged_at": saved.diverged_at,
            "losses": {str(k): v for k, v in sorted(saved.losses.items())},
            # what the diagnosis's hysteresis replays at each checkpoint (without them it starts afresh)
            "marks": {str(k): _mark(v) for k, v in sorted(saved.marks.items())},
        }
    return doc


# --- from JSON ---------------------------------------------------------------------------

def _unknown(obj: dict, known: tuple[str, ...], where: str) -> None:
    extra = sorted(set(obj) - set(known))
    if extra:
        raise ScenarioError(f"{where}{extra[0]}", f"is not a field of a scenario here; known fields: {', '.join(known)}")


def _object(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise ScenarioError(where, f"must be an object, got {type(value).__name__}")
    return value


def _whole(value: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ScenarioError(where, f"must be a whole number from {lo} to {hi}, got {value!r}"[:200])
    return value


def _text(value: Any, where: str, most: int) -> str:
    if not isinstance(value, str):
        raise ScenarioError(where, f"must be text, got {type(value).__name__}")
    if len(value) > most:
        raise ScenarioError(where, f"must be at most {most} characters, got {len(value)}")
    return value


def _array_map(value: Any, where: str) -> dict[str, np.ndarray]:
    arrays = {}
    for name, nested in _object(value, where).items():
        try:
            array = np.array(nested, dtype=np.float64)
        except (TypeError, ValueError):
            raise ScenarioError(f"{where}.{name}", "must be a nested list of numbers") from None
        if array.dtype != np.float64 or array.ndim not in (1, 2) or isinstance(nested, (int, float)):
            raise ScenarioError(f"{where}.{name}", "must be a list (a bias) or a list of equal-length lists (weights)")
        if not np.isfinite(array).all():
            raise ScenarioError(f"{where}.{name}", "must hold finite numbers only")
        arrays[name] = array
    return arrays


def _mark(mark: dict) -> dict:
    def finite(v):
        return v if v is not None and math.isfinite(v) else None
    return {"accuracy": finite(mark["accuracy"]), "ratio": finite(mark["ratio"]), "flat": dict(mark["flat"])}


def _saved(value: Any) -> SavedRun:
    run = _object(value, "run")
    _unknown(run, RUN_FIELDS, "run.")
    for required in ("iteration", "params"):
        if required not in run:
            raise ScenarioError(f"run.{required}", "is missing")
    iteration = _whole(run["iteration"], "run.iteration", 0, MAX_ITERATION)
    position = _whole(run.get("position", 0), "run.position", 0, 10**7)
    opt = _object(run.get("optimizer") or {}, "run.optimizer")
    _unknown(opt, OPTIMIZER_FIELDS, "run.optimizer.")
    state = OptimizerState(_whole(opt.get("steps", 0), "run.optimizer.steps", 0, MAX_ITERATION),
                           _array_map(opt.get("velocity") or {}, "run.optimizer.velocity"),
                           _array_map(opt.get("second") or {}, "run.optimizer.second"))
    status = run.get("status", "ok")
    if status not in STATUSES:
        raise ScenarioError("run.status", f"must be one of {', '.join(STATUSES)}, got {status!r}"[:200])
    diverged_at = run.get("diverged_at")
    if diverged_at is not None:
        diverged_at = _whole(diverged_at, "run.diverged_at", 0, iteration)
    losses = {}
    for key, loss in _object(run.get("losses") or {}, "run.losses").items():
        if not key.isdigit():
            raise ScenarioError(f"run.losses.{key}"[:80], "keys must be iteration numbers")
        if isinstance(loss, bool) or not isinstance(loss, (int, float)) or not math.isfinite(loss):
            raise ScenarioError(f"run.losses.{key}", "must be a finite number")
        losses[int(key)] = float(loss)
    marks = {}
    for key, mark in _object(run.get("marks") or {}, "run.marks").items():
        if not key.isdigit() or int(key) not in losses:
            raise ScenarioError(f"run.marks.{key}"[:80], "keys must be iteration numbers that run.losses has")
        mark = _object(mark, f"run.marks.{key}")
        _unknown(mark, ("accuracy", "ratio", "flat"), f"run.marks.{key}.")
        values = {}
        for name in ("accuracy", "ratio"):
            v = mark.get(name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                raise ScenarioError(f"run.marks.{key}.{name}", "must be a finite number or null")
            values[name] = None if v is None else float(v)
        flat = {}
        for unit, share in _object(mark.get("flat") or {}, f"run.marks.{key}.flat").items():
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
                raise ScenarioError(f"run.marks.{key}.flat.{unit}"[:80], "must be a share from 0 to 1")
            flat[unit] = float(share)
        marks[int(key)] = {**values, "flat": flat}
    return SavedRun(iteration, position, _array_map(run["params"], "run.params"), state, status, diverged_at, losses,
                    marks)


def from_document(doc: Any) -> Scenario:
    """A scenario from its JSON document, every field checked on its own; whether the saved run
    fits the config (shapes, cursor, example) is found by `build_run`."""
    doc = _object(doc, "scenario")
    _unknown(doc, FIELDS, "")
    if doc.get("format", FORMAT) != FORMAT:
        raise ScenarioError("format", f"must be {FORMAT!r}: this file is not a Backprop Lab scenario")
    if doc.get("version", VERSION) != VERSION:
        raise ScenarioError("version", f"must be {VERSION}, got {doc.get('version')!r}; "
                            "this scenario was written by another version of Backprop Lab")
    if "app_version" in doc:
        _text(doc["app_version"], "app_version", 40)
    if "config" not in doc:
        raise ScenarioError("config", "is missing; a scenario needs at least its config")
    try:
        config = parse_config(doc["config"])
    except ConfigError as exc:
        raise ScenarioError(f"config.{exc.field}" if exc.field else "config", exc.reason) from None
    hidden_panels = _hidden_panels(doc)
    view = doc.get("view", "neuron")
    if view not in VIEWS:
        raise ScenarioError("view", f"must be one of {', '.join(VIEWS)}, got {str(view)[:40]!r}")
    return Scenario(
        config=config,
        saved=_saved(doc["run"]) if doc.get("run") is not None else None,
        title=_text(doc.get("title", ""), "title", MAX_TITLE),
        notes=_text(doc.get("notes", ""), "notes", MAX_NOTES),
        hidden_panels=hidden_panels, view=view,
        example=_whole(doc.get("example", 0), "example", 0, 10**6),
    )


def _hidden_panels(doc: dict) -> list[str]:
    """The panels to hide, under either name; each is checked on its own (naming its own field), and a
    document that gives both is refused, since which one it means cannot be known."""
    given = {}
    for where in ("hidden_panels", "hidden"):
        if where in doc:
            names = doc[where] or []
            if not isinstance(names, list):
                raise ScenarioError(where, f"must be a list of panel names ({', '.join(PANELS)})")
            given[where] = check_panels(names, where)
    if len(given) > 1:
        raise ScenarioError("hidden", "is the old name of hidden_panels; give one of the two, not both")
    return next(iter(given.values()), [])
