"""Forks and scenarios: a run copied or saved carries on exactly as the original would."""

from __future__ import annotations

import copy

import numpy as np
import orjson
import pytest

from app.engine import parse_config
from app.lessons import LESSONS
from app.run import Run, run_view
from app.scenario import ScenarioError, capture, from_document, to_document

SMALL = {"hidden": [3, 2], "dataset": {"n": 40}, "batch_size": 8, "lr": 0.1}


def make(**overrides) -> Run:
    return Run(parse_config({**SMALL, **overrides}))


def reported(run: Run) -> dict:
    """What a state reports, as plain values that compare exactly."""
    v = run_view(run)
    return {"iteration": v.iteration, "phase": v.phase, "cursor": v.cursor, "status": v.status, "nodes": v.nodes,
            "params": {k: a.tolist() for k, a in v.params.items()}, "loss": v.loss, "accuracy": v.accuracy,
            "test_loss": v.test_loss, "can_back": v.can_back,
            "grads": None if v.grads is None else {k: a.tolist() for k, a in v.grads.items()},
            "findings": v.diagnostics.findings, "plateau": v.diagnostics.plateau}


def through_json(run: Run, **extra) -> Run:
    """Save to a document, send it through JSON text, load it again."""
    text = orjson.dumps(to_document(capture(run, **extra), "test"))
    return from_document(orjson.loads(text)).build_run(1200)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_a_fork_is_independent_and_carries_on_like_the_original(optimizer):
    run = make(optimizer=optimizer)
    run.run("iteration", 25)
    run.run("op", 7)  # mid-iteration, with `back` history behind it
    before = reported(run)
    fork = run.fork()
    assert reported(fork) == before
    run.run("iteration", 30)
    run.back(3)
    assert reported(fork) == before, "stepping the original moved the fork"
    fork.run("iteration", 30)
    fork.back(3)
    assert reported(fork) == reported(run)
    after = reported(run)
    fork.configure({"lr": 0.5})
    fork.run("iteration", 5)
    assert run.config.lr == 0.1 and reported(run) == after, "changing the fork changed the original"


@pytest.mark.parametrize("optimizer,view,ops", [("sgd", "neuron", 0), ("momentum", "neuron", 9),
                                                ("adam", "gate", 0), ("adam", "gate", 40)])
def test_a_saved_run_carries_on_bit_for_bit(optimizer, view, ops):
    run = make(optimizer=optimizer)
    run.select(3)
    run.set_view(view)
    run.run("iteration", 215)  # past the plateau window, so the loss checkpoints matter
    run.run("op", ops)
    loaded = through_json(run)
    assert (loaded.view_name, loaded.example, loaded.position) == (view, 3, run.position)
    assert {k: v for k, v in reported(loaded).items() if k != "can_back"} == \
        {k: v for k, v in reported(run).items() if k != "can_back"}
    for r in (run, loaded):
        r.run("iteration", 100)
    assert reported(loaded) == reported(run)
    assert run.trainer.opt_state.steps == loaded.trainer.opt_state.steps


def test_custom_points_and_seeds_travel_with_the_scenario():
    points = [[0.5, 1.25, 0], [-2.0, 0.1, 1], [1.0, -1.0, 1], [3.3, 2.2, 0]]
    run = Run(parse_config({"dataset": {"name": "custom", "points": points, "test_fraction": 0.0},
                            "weight_seed": 1234, "hidden": [2], "batch_size": 2}))
    run.run("iteration", 3)
    loaded = through_json(run, title="four points", notes="watch the second one")
    assert loaded.config == run.config
    assert loaded.trainer.train.points.tolist() == run.trainer.train.points.tolist()


def test_a_diverged_run_is_refused_with_the_reason():
    run = make(loss="mse", lr=10.0, activation="relu", init="normal", hidden=[8, 8])
    run.run("iteration", 300)
    assert run.status == "diverged"
    # the case under test: weights that are no longer numbers (not only a loss that overflowed)
    assert not all(np.isfinite(a).all() for a in run.trainer.params.values())
    with pytest.raises(ScenarioError, match="not finite") as info:
        to_document(capture(run), "test")
    assert info.value.field.startswith("run.")


def _document() -> dict:
    run = make()
    run.run("iteration", 4)
    return orjson.loads(orjson.dumps(to_document(capture(run, title="t"), "test")))


def _with(change) -> dict:
    doc = copy.deepcopy(_document())
    change(doc)
    return doc


BAD = [
    ("not an object", lambda d: d.clear() or d.update(x=1), "x"),
    ("another format", lambda d: d.update(format="something-else"), "format"),
    ("another version", lambda d: d.update(version=2), "version"),
    ("unknown field", lambda d: d.update(colour="red"), "colour"),
    ("no config", lambda d: d.pop("config"), "config"),
    ("bad config", lambda d: d["config"].update(hidden=[99]), "config.hidden[0]"),
    ("title too long", lambda d: d.update(title="x" * 500), "title"),
    ("title not text", lambda d: d.update(title=["a"]), "title"),
    ("unknown panel", lambda d: d.update(hidden=["controls", "toolbar"]), "hidden[1]"),
    ("unknown view", lambda d: d.update(view="matrix"), "view"),
    ("example out of range", lambda d: d.update(example=999), "example"),
    ("negative iteration", lambda d: d["run"].update(iteration=-1), "run.iteration"),
    ("a weight of the wrong shape", lambda d: d["run"]["params"].update(W1=[[1.0, 2.0]]), "run.params.W1"),
    ("a missing parameter", lambda d: d["run"]["params"].pop("b2"), "run.params.b2"),
    ("an extra parameter", lambda d: d["run"]["params"].update(W9=[1.0]), "run.params.W9"),
    ("text for a number", lambda d: d["run"]["params"].update(b1=["a", "b", "c"]), "run.params.b1"),
    ("ragged weights", lambda d: d["run"]["params"].update(W1=[[1.0], [1.0, 2.0]]), "run.params.W1"),
    ("cursor past the iteration", lambda d: d["run"].update(position=10_000), "run.position"),
    ("unknown status", lambda d: d["run"].update(status="fine"), "run.status"),
    ("unknown run field", lambda d: d["run"].update(cursor="h1_0"), "run.cursor"),
]


@pytest.mark.parametrize("name,change,field", BAD, ids=[b[0] for b in BAD])
def test_a_bad_scenario_is_refused_naming_the_field(name, change, field):
    with pytest.raises(ScenarioError) as info:
        from_document(_with(change)).build_run(1200)
    assert info.value.field == field, str(info.value)
    assert len(str(info.value)) < 400


def test_every_lesson_step_loads():
    for lesson in LESSONS:
        assert len(lesson["steps"]) >= 3  # a lesson is a sequence of steps, not one scenario
        for step in lesson["steps"]:
            scenario = from_document(step)
            run = scenario.build_run(1200)
            assert scenario.title and scenario.notes and run.view_name == step["view"]


def test_a_saved_run_keeps_the_judged_diagnosis_and_an_old_document_still_loads():
    # six sigmoid layers: the vanishing finding and saturation shares come from the checkpoints
    run = make(hidden=[4, 4, 4, 4, 4, 4], activation="sigmoid", batch_size=10)
    run.run("iteration", 437)
    doc = orjson.loads(orjson.dumps(to_document(capture(run), "test")))
    assert set(doc["run"]["marks"]) == set(doc["run"]["losses"]) and "430" in doc["run"]["marks"]
    loaded = from_document(doc).build_run(1200)
    assert repr(run_view(loaded).diagnostics) == repr(run_view(run).diagnostics)
    del doc["run"]["marks"]  # a scenario saved before marks: loads, the losses still judge the plateau
    older = run_view(from_document(doc).build_run(1200)).diagnostics
    assert (older.gain, older.plateau) == (run_view(run).diagnostics.gain, run_view(run).diagnostics.plateau)
    for bad, field in ((lambda d: d["run"]["marks"].update({"7": {}}), "run.marks.7"),
                       (lambda d: d["run"]["marks"]["430"].update({"ratio": "x"}), "run.marks.430.ratio")):
        broken = orjson.loads(orjson.dumps(to_document(capture(run), "test")))
        bad(broken)
        with pytest.raises(ScenarioError) as info:
            from_document(broken)
        assert info.value.field == field


def test_new_weights_are_judged_at_once_at_a_checkpoint():
    run = make()
    run.run("iteration", 20)
    params = {k: (v * 0.0).tolist() for k, v in run.trainer.params.items() if k.startswith("W")}
    run.set_params(params)
    d = run_view(run).diagnostics
    assert d.trend.ratio == d.ratio  # judged on the weights in place, not those before the edit


def test_new_documents_name_their_panels_hidden_panels_and_old_ones_with_hidden_still_load():
    run = make()
    document = to_document(capture(run, hidden_panels=["charts", "legend"]), "test")
    assert document["hidden_panels"] == ["charts", "legend"] and "hidden" not in document
    assert document["config"]["hidden"] == [3, 2], "the config's hidden is still the layer widths"
    assert from_document(document).hidden_panels == ["charts", "legend"]
    old = {k: v for k, v in document.items() if k != "hidden_panels"} | {"hidden": ["inspector", "charts", "inspector"]}
    assert from_document(old).hidden_panels == ["inspector", "charts"]
    assert all("hidden" not in step and "hidden_panels" in step for lesson in LESSONS for step in lesson["steps"])


@pytest.mark.parametrize("change,field", [
    (lambda d: d.update(hidden_panels=["charts", "menu"]), "hidden_panels[1]"),
    (lambda d: d.update(hidden_panels="charts"), "hidden_panels"),
    (lambda d: d.update(hidden=["charts"]), "hidden"),  # both names at once: which is meant?
    (lambda d: d.update(hidden=[], hidden_panels=[]), "hidden"),
])
def test_panels_are_refused_under_the_name_they_were_given(change, field):
    with pytest.raises(ScenarioError) as info:
        from_document(_with(change))
    assert info.value.field == field, str(info.value)
