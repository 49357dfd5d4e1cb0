"""The shipped lesson says what the diagnosis panel will show: each step whose notes describe a
failure shows that finding once the step's described action is done; and its questions are
asked where their ops are, each with a truth."""

from __future__ import annotations

import re

import pytest

from app.lessons import LESSONS, lesson
from app.run import run_view
from app.run.explain import explain_node
from app.run.questions import pose
from app.scenario import from_document

# The words a step's notes use for a failure, and the finding kind the panel shows for it.
DESCRIBED = {"stall": "plateau", "dead": "dead", "vanish": "vanishing", "overflow": "diverged",
             "copies of each other": "symmetric"}

STEPS = lesson("backprop-in-10")["steps"]


def described(notes: str) -> set[str]:
    return {kind for word, kind in DESCRIBED.items() if word in notes.lower()}


def play_to(notes: str) -> int | None:
    """The iteration the notes tell the learner to play to ("play to iteration N", "by iteration N")."""
    said = re.findall(r"(?:to|by) iteration (\d+)", notes)
    return max(map(int, said)) if said else None


def test_the_failures_the_lesson_describes_are_the_five_it_is_about():
    assert [sorted(described(s["notes"])) for s in STEPS] == [
        [], [], [], [], ["plateau"], ["dead", "plateau"], ["plateau", "vanishing"], ["diverged"],
        ["plateau", "symmetric"]]


@pytest.mark.parametrize("step", [s for s in STEPS if described(s["notes"])], ids=lambda s: s["title"])
def test_a_step_that_describes_a_failure_shows_it_once_played_as_its_notes_say(step):
    iterations = play_to(step["notes"])
    assert iterations, f"{step['title']}: the notes should say how far to play"
    run = from_document(step).build_run(1200)
    run.run("iteration", iterations)
    view = run_view(run)
    found = {f.kind for f in view.diagnostics.findings}
    assert described(step["notes"]) <= found, f"{step['title']}: notes describe {described(step['notes'])}, " \
                                              f"the panel shows {found}"
    if "three points in four" in step["notes"]:
        assert 0.7 <= view.accuracy <= 0.8


def test_the_step_that_learns_shows_nothing_wrong_once_it_has():
    step = next(s for s in STEPS if s["title"].startswith("4 "))
    run = from_document(step).build_run(1200)
    run.run("iteration", 1000)  # the lucky seed's preset budget
    view = run_view(run)
    assert view.diagnostics.findings == [] and view.accuracy >= 0.9


def _reach_before(run, before: dict) -> None:
    """Step the lesson's run until its next op is the one a question waits for."""
    for _ in range(len(run.ops)):
        upcoming = run.ops[run.position % len(run.ops)]
        if upcoming.phase == before["phase"] and before.get("node", upcoming.node) == upcoming.node:
            return
        run.run("op")
    raise AssertionError(f"the first iteration never reaches {before}")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda l: l["id"])
def test_every_lesson_question_is_asked_where_its_op_is_and_has_a_truth(lesson):
    for step, asks in lesson.get("questions", {}).items():
        for q in asks:
            run = from_document(lesson["steps"][step]).build_run(1200)
            _reach_before(run, q["before"])
            posed = pose(run, q["kind"], q["target"], q["prompt"])
            assert posed.truth is not None and posed.working.lines


def test_backprop_in_10_asks_a_forward_value_a_dead_relus_gradient_sign_and_a_fork_sum():
    lesson = next(l for l in LESSONS if l["id"] == "backprop-in-10")
    posed = {}
    for step, asks in lesson["questions"].items():
        for q in asks:
            run = from_document(lesson["steps"][step]).build_run(1200)
            _reach_before(run, q["before"])
            posed[step] = (run, pose(run, q["kind"], q["target"], q["prompt"]))
    run, forward = posed[0]
    assert forward.kind == "number" and forward.target["quantity"] == "a" and run.phase == "idle"
    run, sign = posed[1]
    dead = sign.target["node"]
    assert sign.kind == "sign" and sign.truth == "0"
    assert run_view(run).nodes[dead]["z"] <= 0  # the unit is a dead ReLU for this example
    run, fork = posed[2]
    run.run("pass")  # the backward pass done: x1's gradient is complete
    contributions = [line for line in explain_node(run, "x1").as_text() if "contributions add" in line]
    assert fork.kind == "number" and contributions and "2 contributions add" in contributions[0]
    assert fork.truth == pytest.approx(run_view(run).nodes["x1"]["grad_a"], rel=1e-12)


def test_the_curve_lesson_bends_once_then_fits_then_stays_flat_as_its_notes_say():
    one, six, flat = lesson("curve-from-pieces")["steps"]
    first = from_document(one).build_run(1200)
    assert first.config.hidden == [1] and first.config.regression
    fit = from_document(six).build_run(1200)
    fit.run("iteration", 1000)
    view = run_view(fit)
    assert view.diagnostics.findings == [] and view.r2 >= 0.95  # "R² near 0.97 by iteration 1000"
    stuck = from_document(flat).build_run(1200)
    stuck.run("iteration", play_to(flat["notes"]))
    view = run_view(stuck)
    assert described(flat["notes"]) == {"dead", "plateau"} <= {f.kind for f in view.diagnostics.findings}
    assert abs(view.r2) < 0.05 and not view.curve.pieces.any()  # every piece 0: the bias alone, a flat line


def test_the_curve_lessons_question_is_the_sign_of_2_times_the_error():
    item = lesson("curve-from-pieces")
    q = item["questions"][0][0]
    run = from_document(item["steps"][0]).build_run(1200)
    _reach_before(run, q["before"])
    posed = pose(run, q["kind"], q["target"], q["prompt"])
    run.run("op")  # the output's backward op: dL/dŷ is there now
    view = run_view(run)
    y_hat, y = view.nodes["out0"]["a"], run.trainer.train.labels[run.example]
    assert view.nodes["out0"]["grad_a"] == pytest.approx(2 * (y_hat - y), rel=1e-12)
    assert posed.truth == ("+" if y_hat > y else "-")
