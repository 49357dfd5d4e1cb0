"""The one place that knows the wire format: every message the server sends is built here.

JSON text frames are encoded with orjson. Numbers that are not finite become null here,
explicitly, so that no message ever holds NaN or Infinity (orjson would write null for them
too, but a reader should not have to know that). Grids go out as one binary frame whose
layout is documented in docs/protocol.md and built by `grid_frame`.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
import orjson

from app.engine import choices, config_to_dict, limits, neuron_graph
from app.engine.config import COORD_LIMIT, ONE_INPUT_DATASETS
from app.engine.diagnostics import Diagnostics
from app.engine.gradcheck import EPSILON, GradCheck
from app.engine.heatmaps import boundary_range
from app.run import STEP_UNITS, VIEWS, Run, RunView
from app.run.view import Curve, GridMaps
from app.run.batchview import MATRICES, BatchView
from app.run.explain import Explanation, Line, Words
from app.run.playground import Playground, PlaygroundError
from app.run.stepper import BACK_ITERATIONS
from app.run.sweep import SeedResult

from .settings import Settings

PROTOCOL_VERSION = 1
GRID_MAGIC = b"BPG1"
GRID_HEADER = struct.Struct("<4sIHHHHfI")  # magic, seq, R, C, Rn, M, extent, reserved: 24 bytes
THUMBS_MAGIC = b"BPS1"  # sweep thumbnails: the same header, with (sweep, R, C, count, 0) in the middle


def encode(message: dict) -> bytes:
    return orjson.dumps(message)


def reply(message: dict, re: Any) -> dict:
    """`message` as the answer to the command whose id is `re`: with `"re"` when the command had one."""
    return message if re is None else {**message, "re": re}


def finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def array_json(a: np.ndarray) -> list:
    """A numpy array as nested lists, each non-finite entry as None."""
    if np.isfinite(a).all():
        return a.tolist()
    return np.where(np.isfinite(a), a, None).tolist()


def hello(session_id: str, role: str, settings: Settings) -> dict:
    return {"type": "hello", "protocol": PROTOCOL_VERSION, "session": session_id, "role": role,
            "limits": hello_limits(settings), "choices": hello_choices()}


def hello_limits(settings: Settings) -> dict:
    return {**limits(), "message_bytes": settings.max_message_bytes, "speed": settings.max_speed,
            "step_count": settings.max_step_count, "step_iterations": settings.max_step_iterations,
            "fps": settings.max_fps, "unacked_frames": settings.max_unacked, "gates": settings.max_gates,
            "back_iterations": BACK_ITERATIONS, "sweep_seeds": settings.max_sweep_seeds,
            "sweep_iterations": settings.max_sweep_iterations}


def hello_choices() -> dict:
    # the page builds its menus from this, so a value added to a model appears there unasked
    return {**choices(), "step_units": list(STEP_UNITS), "views": list(VIEWS)}


def graph(run: Run) -> dict:
    if run.view_name == "gate":
        return gate_graph(run)
    nodes, edges = neuron_graph(run.arch.sizes, run.config.features, run.config.loss)
    return {
        "type": "graph", "view": "neuron",
        "nodes": [{"id": n.id, "kind": n.kind, "layer": n.layer, "index": n.index, "label": n.label} for n in nodes],
        "edges": [{"id": e.id, "src": e.src, "dst": e.dst, "param": e.param, "i": e.i, "j": e.j} for e in edges],
    }


def gate_graph(run: Run) -> dict:
    """The selected example's gates: `layer` is the drawing column, `index` the row in it."""
    structure = run.gates()
    return {
        "type": "graph", "view": "gate", "example": run.example,
        "nodes": [{"id": n.id, "kind": n.kind, "layer": n.column, "index": n.row, "label": n.label, "op": n.op,
                   "of": n.of, "role": n.role, "rule": n.rule, "symbol": n.symbol} for n in structure.nodes],
        "edges": [{"id": e, "src": src, "dst": dst, "param": None, "i": k, "j": 0} for e, src, dst, k in structure.edges],
    }


def _line_json(line: Line) -> dict:
    if isinstance(line, Words):
        return {"words": line.text}
    return {"symbol": line.symbol, "relation": line.relation, "steps": list(line.steps), "result": line.result,
            "note": line.note, "quantity": line.quantity}


def _explain_json(explanation: Explanation) -> dict:
    """`lines` as text (for readers that only read), `rows` the same lines as structure."""
    out = {"node": explanation.node, "phase": explanation.phase, "lines": explanation.as_text(),
           "rows": [_line_json(line) for line in explanation.lines]}
    if explanation.terms is not None:
        out["terms"] = [{"edge": t.edge, "from": t.source, "w": finite(t.w), "grad": finite(t.grad),
                         "product": finite(t.product)} for t in explanation.terms]
    return out


def state(view: RunView, seq: int, extra: dict | None = None) -> dict:
    message = {
        "type": "state", "seq": seq, "iteration": view.iteration, "epoch": view.epoch,
        "phase": view.phase, "cursor": view.cursor, "status": view.status, "diverged_at": view.diverged_at,
        "loss": finite(view.loss), "test_loss": finite(view.test_loss),
        "accuracy": finite(view.accuracy), "test_accuracy": finite(view.test_accuracy),
        "r2": finite(view.r2), "test_r2": finite(view.test_r2),
        "example": view.example,
        "nodes": {nid: {k: finite(v) for k, v in values.items()} for nid, values in view.nodes.items()},
        "params": {name: array_json(value) for name, value in view.params.items()},
        "grads": None if view.grads is None else {name: array_json(g) for name, g in view.grads.items()},
        "view": view.view, "can_back": view.can_back,
        "next": None if view.next is None else {"phase": view.next[0], "node": view.next[1]},
    }
    if message["status"] == "ok" and _has_non_finite(view):
        # a gradient (or a value) overflowed before any weight did: what is sent as null is a
        # divergence already, and the state must say so, not show nulls beside "ok"
        message["status"], message["diverged_at"] = "diverged", view.iteration
    if view.explain is not None:
        message["explain"] = _explain_json(view.explain)
    if view.diagnostics is not None:
        message["diagnostics"] = diagnostics(view.diagnostics)
    if view.curve is not None:
        message["curve"] = curve(view.curve)
    if extra:
        message.update(extra)
    return message


def _has_non_finite(view: RunView) -> bool:
    arrays = [*view.params.values(), *(view.grads or {}).values()]
    if any(not np.isfinite(a).all() for a in arrays):
        return True
    return any(v is not None and not math.isfinite(v) for values in view.nodes.values() for v in values.values())


CURVE_DECIMALS = 3


def curve(c: Curve) -> dict:
    """A one-input fit as a line: x from −6 to 6 in equal steps, and the pieces that sum to it."""
    # a thousandth is a tenth of a pixel on the tallest plot (12 units over 1080 px), and the
    # short numbers keep the frame under half the size
    return {"x0": float(c.x[0]), "x1": float(c.x[-1]), "prediction": array_json(np.round(c.prediction, CURVE_DECIMALS)),
            "pieces": array_json(np.round(c.pieces, CURVE_DECIMALS)), "bias": finite(c.bias), "units": c.units}


def diagnostics(d: Diagnostics) -> dict:
    return {
        "dead": d.dead, "saturated": d.saturated, "symmetric": d.symmetric,
        "grad_norms": {name: finite(v) for name, v in d.grad_norms.items()},
        "layer_norms": [finite(v) for v in d.layer_norms], "ratio": finite(d.ratio),
        "vanishing": d.vanishing, "exploding": d.exploding, "plateau": d.plateau, "gain": finite(d.gain),
        "diverged_at": d.diverged_at,
        "findings": [{"kind": f.kind, "short": f.short, "text": f.text} for f in d.findings],
        # what plateau, vanishing, exploding and saturation were judged on (a checkpoint), or null
        "judged": None if d.trend is None else {"iteration": d.trend.at, "loss": finite(d.trend.loss),
                                                "accuracy": finite(d.trend.accuracy), "ratio": finite(d.trend.ratio),
                                                "window": d.trend.window},
    }


def config(run: Run) -> dict:
    return {"type": "config", "config": config_to_dict(run.config)}


def dataset(run: Run) -> dict:
    """The points the boundary is drawn behind, train and test apart: [x1, x2, label] rows, or
    for regression [x1, x2, y] ([x1, y] for a one-input dataset), as a config's points are written."""
    trainer, cfg = run.trainer, run.config
    one_input = cfg.dataset.name in ONE_INPUT_DATASETS

    def row(point, label) -> list:
        if not cfg.regression:
            return [float(point[0]), float(point[1]), int(label)]
        return [float(point[0]), float(label)] if one_input else [float(point[0]), float(point[1]), float(label)]

    def rows(split) -> list:
        return [row(point, label) for point, label in zip(split.points, split.labels)]

    return {"type": "dataset", "classes": cfg.classes, "task": "regression" if cfg.regression else "classification",
            "train": rows(trainer.train), "test": rows(trainer.test)}


def explain(explanation: Explanation) -> dict:
    return {"type": "explain", **_explain_json(explanation)}


def verify(check: GradCheck, iteration: int, batch: int) -> dict:
    return {"type": "verify", "max_rel_error": finite(check.max_rel_error), "max_abs_error": finite(check.max_abs_error),
            "worst": check.worst, "backprop": finite(check.backprop), "numeric": finite(check.numeric),
            "checked": check.checked, "iteration": iteration, "batch": batch, "epsilon": EPSILON}


def batch(view: BatchView) -> dict:
    layers = [{"layer": layer.layer, "activation": layer.activation, "shapes": layer.shapes,
               **{name: _matrix(getattr(layer, name)) for name in MATRICES}} for layer in view.layers]
    return {"type": "batch", "iteration": view.iteration, "n": view.n, "rows_shown": view.rows_shown,
            "examples": view.examples, "layers": layers}


def _matrix(value: np.ndarray | None) -> list | None:
    return None if value is None else array_json(value)


def sweep_result(result: SeedResult) -> dict:
    return {"weight_seed": result.weight_seed, "loss": finite(result.loss), "accuracy": finite(result.accuracy),
            "test_accuracy": finite(result.test_accuracy), "r2": finite(result.r2), "test_r2": finite(result.test_r2),
            "verdict": result.verdict, "reason": result.reason,
            "diverged_at": result.diverged_at, "findings": result.kinds}


def sweep_started(job) -> dict:
    return {"type": "sweep_progress", "sweep": job.id, "done": 0, "total": len(job.seeds), "seeds": job.seeds,
            "iterations": job.iterations}


def sweep_cancelling(job) -> dict:
    return {"type": "sweep_progress", "sweep": job.id, "done": len(job.results), "total": len(job.seeds),
            "cancelling": True}


def sweep_progress(job, result: SeedResult) -> dict:
    return {"type": "sweep_progress", "sweep": job.id, "done": len(job.results), "total": len(job.seeds),
            "result": sweep_result(result)}


def sweep_results(job) -> dict:
    """The whole sweep, in the order of its seeds; a cancelled one lists the seeds that finished."""
    finished = job.finished
    planes = finished[0].boundary.shape[0] if finished else 0
    # a failed sweep (a worker died) stopped early, so it is also `cancelled`: a page that knows
    # nothing of `failed` still shows it as one that ended with the seeds listed
    return {"type": "sweep", "sweep": job.id, "iterations": job.iterations, "total": len(job.seeds),
            "cancelled": job.cancelled or job.failed is not None, "failed": job.failed is not None,
            "config": config_to_dict(job.config),
            "results": [sweep_result(r) for r in finished],
            "thumbnails": {"resolution": job.resolution, "planes": planes, "count": len(finished)}}


def sweep_thumbnails(job, extent: float = COORD_LIMIT) -> bytes:
    """Each finished seed's final boundary, as the grid frame's boundary planes, one after another."""
    finished = job.finished
    planes = finished[0].boundary.shape[0] if finished else 0
    header = GRID_HEADER.pack(THUMBS_MAGIC, job.id & 0xFFFFFFFF, job.resolution, planes, len(finished), 0, extent, 0)
    span = boundary_range(job.config.regression)
    flat = [_quantise(np.nan_to_num(r.boundary, nan=sum(span) / 2), *_filled(span, planes)) for r in finished]
    return b"".join([header, *flat])


def presentation(p: dict) -> dict:
    """How the session is being shown: title, notes, hidden panels, and the lesson step if any.
    Titles and notes are plain text; every page inserts them as text, never as markup."""
    return {"type": "presentation", **p}


def error(code: str, message: str, field: str | None = None, re: Any = None) -> dict:
    out: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if field is not None:
        out["field"] = field
    return reply(out, re)


def _filled(span: tuple[float, float], planes: int) -> tuple[np.ndarray, np.ndarray]:
    """One (lo, hi) for every plane."""
    return np.full(planes, span[0]), np.full(planes, span[1])


def _quantise(maps: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> bytes:
    """Each map between its own lo and hi as bytes 0–255. A diverged network's maps and ranges
    can hold NaN and ±inf: those become the ends of the range (or its middle for NaN), never an
    undefined cast."""
    lo = np.nan_to_num(np.asarray(lo, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    hi = np.nan_to_num(np.asarray(hi, dtype=np.float64), nan=1.0, posinf=1.0, neginf=1.0)
    span = np.where(hi > lo, hi - lo, 1.0)[:, None, None]
    middle = (lo + hi)[:, None, None] / 2
    clean = np.where(np.isnan(maps), middle, np.clip(np.nan_to_num(maps, nan=0.0), lo[:, None, None], hi[:, None, None]))
    q = np.rint((clean - lo[:, None, None]) / span * 255.0)
    return np.clip(q, 0, 255).astype(np.uint8).tobytes()


def grid_frame(maps: GridMaps, seq: int) -> bytes:
    """Decision boundary (C planes, probability·255; for regression one plane, the prediction
    from −6 to 6) and hidden-neuron maps (M planes, each scaled between its own lo and hi, given
    after the header) as uint8, 8-byte aligned."""
    boundary, neurons, lo, hi = maps.boundary, maps.neurons, maps.lo, maps.hi
    m = len(neurons)
    ranges = np.column_stack([lo, hi]).astype(np.float32).tobytes()
    header = GRID_HEADER.pack(GRID_MAGIC, seq & 0xFFFFFFFF, maps.resolution, len(boundary), maps.neuron_resolution,
                              m, maps.extent, 0)
    parts = [header, ranges, b"\0" * (-len(ranges) % 8),
             _quantise(boundary, *_filled(maps.boundary_range, len(boundary)))]
    parts.append(b"\0" * (-sum(map(len, parts)) % 8))
    parts.append(_quantise(neurons, lo, hi) if m else b"")
    return b"".join(parts)


# --- predict, then reveal --------------------------------------------------------------------------

def _answer_json(value: Any) -> Any:
    return finite(value) if isinstance(value, float) else value


def question(q, open_: bool = True) -> dict:
    """A question opened (or, with open false, closed unrevealed); `node` and `edge` say what to
    highlight."""
    posed = q.posed
    message = {"type": "question", "id": q.id, "kind": posed.kind, "target": posed.target, "prompt": posed.prompt,
               "open": open_, "choices": posed.choices, "node": posed.node, "edge": posed.edge}
    if posed.hint is not None:  # a learner practising alone: the working comes faded with the question
        message["fade"], message["hint"] = posed.fade, _explain_json(posed.hint)
    return message


def tally(q, connected: int) -> dict:
    return {"type": "tally", "question": q.id, "answers": len(q.answers), "connected": connected, "counts": q.counts()}


def answered(q, value: Any) -> dict:
    """The answer this connection has stored (it may change it until the reveal)."""
    return {"type": "answered", "question": q.id, "value": _answer_json(value)}


def reveal(q, yours: Any, right: bool) -> dict:
    working = q.posed.working
    return {"type": "reveal", "question": q.id, "truth": _answer_json(q.posed.truth), "counts": q.counts(),
            "answers": len(q.answers), "yours": _answer_json(yours), "right": right,
            "explain": working.as_text(), "working": _explain_json(working)}


# --- the gate playground (docs/protocol.md, "The gate playground") -------------------------------

def playground(p: Playground) -> dict:
    """The whole replay: the graph as the gate view draws it, the leaves' values, each step's
    numbers and explanation, and the answer. Every non-finite number is null."""
    return {
        "type": "playground", "expression": p.expression,
        "values": {name: finite(x) for name, x in p.values.items()}, "variables": list(p.values),
        "graph": {
            "view": "gate",
            "nodes": [{"id": n.id, "kind": n.kind, "layer": n.column, "index": n.row, "label": n.label, "op": n.op,
                       "of": n.of or None, "role": n.role, "rule": n.rule, "symbol": n.symbol} for n in p.nodes],
            "edges": [{"id": e, "src": src, "dst": dst, "i": k} for e, src, dst, k in p.edges],
        },
        "start": {node: finite(x) for node, x in p.start.items()},
        "steps": [{"phase": s.phase, "node": s.node, "inputs": list(s.inputs), "value": finite(s.value),
                   "grads": {node: finite(g) for node, g in s.grads.items()}, "explain": _explain_json(s.explanation)}
                  for s in p.steps],
        "value": finite(p.value), "grads": {name: finite(g) for name, g in p.grads.items()}, "problem": p.problem,
    }


def playground_refusal(exc: PlaygroundError) -> dict:
    """A 422's body: the protocol's error, with the column it points at and the variables the
    expression names (so the page can offer a field for each, even for an expression refused)."""
    body: dict = {"code": "invalid_expression" if exc.field == "expr" else "invalid_message",
                  "message": str(exc), "field": exc.field, "reason": exc.reason}
    if exc.column is not None:
        body["column"] = exc.column
    return {"error": body, "variables": list(exc.variables)}
