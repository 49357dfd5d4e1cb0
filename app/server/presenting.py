"""What a session shows, and the runs it can be put on: presentations, lesson steps and saved scenarios.

A presentation is how every page of a session is shown (the `presentation` message): title,
notes, hidden panels, the saved scenario it came from and where in a lesson it is. The routes
and the websocket's `load` both come here; nothing here knows HTTP or websockets.
"""

from __future__ import annotations

import asyncio
from app.lessons import LESSONS, lesson
from app.scenario import Scenario, ScenarioError, from_document
from app.storage import ScenarioStore

def blank_presentation() -> dict:
    return {"title": "", "notes": "", "hidden": [], "scenario": None, "lesson": None}


def scenario_presentation(scenario: Scenario, scenario_id: str | None = None, lesson_step: dict | None = None) -> dict:
    return {**blank_presentation(), "title": scenario.title, "notes": scenario.notes,
            "hidden": list(scenario.hidden_panels), "scenario": scenario_id, "lesson": lesson_step}


def forked_presentation(presentation: dict) -> dict:
    """A fork's: the presenter hides panels to pace the class, but a student's own copy is for
    exploring, so it shows them all (the inspector above all: without it the chain rule is unreadable)."""
    return {**presentation, "lesson": None, "hidden": []}


def lesson_scenario(lesson_id: str, step: int) -> tuple[Scenario, dict]:
    """One step of a lesson and the presentation's `lesson`, which says where in the lesson it is.
    Raises ScenarioError naming the field when there is no such lesson or step."""
    item = lesson(lesson_id)
    if item is None:
        raise ScenarioError("lesson", f"must be one of {', '.join(l['id'] for l in LESSONS)}, got {lesson_id!r}")
    steps = item["steps"]
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < len(steps):
        raise ScenarioError("step", f"must be from 0 to {len(steps) - 1} (the lesson has {len(steps)} steps), got {step!r}")
    return from_document(steps[step]), {"id": item["id"], "title": item["title"], "step": step, "steps": len(steps)}


async def saved_scenario(store: ScenarioStore, scenario_id: str) -> Scenario | None:
    """A saved scenario, read in a worker thread, or None if there is none. Raises StorageError
    when the database fails, ScenarioError when the document no longer loads."""
    doc = await asyncio.to_thread(store.get, scenario_id)
    return None if doc is None else from_document(doc)
