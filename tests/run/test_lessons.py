"""The shipped lesson says what the diagnosis panel will show: each step whose notes describe a
failure shows that finding once the step's described action is done."""

from __future__ import annotations

import re

import pytest

from app.lessons import lesson
from app.scenario import from_document
from app.run import run_view

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
