"""Lessons: ordered scenarios with what to say at each, stepped with PageDown and PageUp.

Each step is a scenario document (app/scenario.py) built from a preset, so a lesson needs no
saved file and changes with the presets it is made of. A step may carry questions: each is
asked (the `ask` command, docs/protocol.md) by the teacher's page when the run's next op in
the step's first iteration is the one `before` names, so the room predicts before it sees.
The tests load every step and pose every question.
"""

from __future__ import annotations

from app.presets import PRESETS
from app.scenario import FORMAT, VERSION

_BY_ID = {preset["id"]: preset for preset in PRESETS}


def _step(preset: str, title: str, notes: str, *, view: str = "neuron", hidden_panels: tuple[str, ...] = (),
          example: int = 0, **config_changes) -> dict:
    config = {**_BY_ID[preset]["config"], **config_changes}
    return {"format": FORMAT, "version": VERSION, "title": title, "notes": notes, "hidden_panels": list(hidden_panels),
            "view": view, "example": example, "config": config, "run": None}


_QUIET = ("diagnosis", "charts")  # the first steps are about one example, not about training


def _ask(before: dict, kind: str, prompt: str, target: dict | None = None) -> dict:
    """A question asked just before the op `before` names ({"phase"}, and "node" to be exact)."""
    return {"before": before, "kind": kind, "target": target or {"next": True}, "prompt": prompt}

LESSONS: list[dict] = [
    {
        "id": "backprop-in-10",
        "title": "Backprop in 10 minutes",
        "description": "From one example's numbers to why some runs get stuck: two whiteboard steps, "
                       "a run that learns, and four that do not.",
        # step index → its questions: a forward value, a gradient's sign at a dead ReLU, a fork's sum
        "questions": {
            0: [_ask({"phase": "forward", "node": "h1_0"}, "number",
                     "h1.1 adds up w·x over its inputs, plus its bias, then applies relu. What will its a be?")],
            1: [_ask({"phase": "backward", "node": "h1_1"}, "sign",
                     "For this example h1.2's z is below zero. Will its dL/dz be positive, negative or zero?",
                     {"node": "h1_1", "quantity": "grad_z"})],
            2: [_ask({"phase": "backward"}, "number",
                     "x1 feeds two multiply gates. Once both have passed their gradient back, what will dL/dx1 be?",
                     {"node": "x1", "quantity": "grad_a"})],
        },
        "steps": [
            _step("whiteboard", "1 · One example goes forward",
                  "Four points and two relu units with whole-number weights. Press → to compute one node at a "
                  "time: each unit adds up its weighted inputs (z) and passes the sum through relu (a). "
                  "Stop at the loss: that one number says how wrong the network is on this example.",
                  hidden_panels=_QUIET),
            _step("whiteboard", "2 · The gradient comes back",
                  "Keep pressing →. Backward, every node gets dL/d(its value): the gradient from above times "
                  "its own local slope. That product is the chain rule, and the inspector writes it out with "
                  "the real numbers. Press ← to go back and look again.",
                  hidden_panels=_QUIET),
            _step("whiteboard", "3 · The same thing gate by gate",
                  "Each multiply, add and relu is now its own node. An add passes the gradient on unchanged, a "
                  "multiply swaps in the other input, relu lets it through only where it fired; where a value "
                  "fans out, the gradients coming back add up.",
                  view="gate", hidden_panels=_QUIET),
            _step("xor-lucky", "4 · Many steps: the network learns",
                  "Space plays. Each iteration is the same forward, backward and update on a batch of 10 points. "
                  "Watch the boundary bend into four quadrants while the loss falls.",
                  hidden_panels=("inspector",)),
            _step("xor-unlucky", "5 · Same network, unlucky start",
                  "Only the weight seed differs. Play to iteration 1000: the loss stalls with about three points "
                  "in four right, and the diagnosis says so. Press r to re-randomize and play again; some starts "
                  "learn and some do not.",
                  hidden_panels=("inspector",)),
            _step("dead-relus", "6 · Dead ReLUs",
                  "A learning rate of 3 throws most ReLUs below zero on every point in a few steps. A dead unit "
                  "passes back no gradient, so nothing can revive it: watch the units turn grey. Play to iteration "
                  "300 and the diagnosis names the dead units and the stalled loss.",
                  hidden_panels=("inspector",)),
            _step("vanishing-sigmoid", "7 · The gradient vanishes",
                  "Each sigmoid scales the gradient by a quarter at most; six of them leave almost nothing for the "
                  "first layer. Watch the gradient-norm chart fan out over powers of ten; by iteration 600 the "
                  "diagnosis reports the vanishing gradient and the stalled loss.",
                  hidden_panels=("inspector",)),
            _step("diverging-lr", "8 · Too large a step",
                  "Each update overshoots by more than the one before, until the numbers overflow (play to "
                  "iteration 200: they do at 146). A learning rate is a step size along the gradient, not a speed-up.",
                  hidden_panels=("inspector",)),
            _step("zero-init", "9 · Every neuron the same",
                  "Starting from all zeros, the units of a layer get the same gradient and stay copies of each "
                  "other forever, and by iteration 600 the loss stalls. Random starting weights are what break "
                  "the tie.",
                  hidden_panels=("inspector",)),
        ],
    },
    {
        "id": "curve-from-pieces",
        "title": "A curve from bent pieces",
        "description": "Regression: one ReLU makes one bend, six of them add up to a wave, and a fit that "
                       "dies stays a flat line.",
        "questions": {
            0: [_ask({"phase": "backward", "node": "out0"}, "sign",
                     "The loss is (ŷ − y)². Look at ŷ and this example's target y: will dL/dŷ be positive, "
                     "negative or zero?",
                     {"node": "out0", "quantity": "grad_a"})],
        },
        "steps": [
            _step("curve-pieces", "1 · One unit, one bend",
                  "One ReLU between x1 and the prediction: it is flat on one side of its bend and straight on "
                  "the other, so the fit is a line with one kink. Press → through one example: the loss is the "
                  "squared distance from its target, and its gradient is 2·(ŷ − y).",
                  hidden=[1], hidden_panels=_QUIET, example=2),
            _step("curve-pieces", "2 · Six bends add up",
                  "Six units: turn on \"pieces\" under the plot and play. The prediction is the sum of the pieces "
                  "a·w plus the output's bias; watch them slide and tilt until the sum follows the wave, R² near "
                  "0.97 by iteration 1000.",
                  hidden_panels=("inspector",)),
            _step("curve-flat", "3 · A fit that stays flat",
                  "A learning rate of 0.1 kills the second layer's ReLUs in the first steps: their pieces are 0, "
                  "and the output learns only its bias, the mean of the targets. Play to iteration 300 and the "
                  "diagnosis names the dead units and the stalled loss.",
                  hidden_panels=("inspector",)),
        ],
    },
]

_LESSONS_BY_ID = {lesson["id"]: lesson for lesson in LESSONS}


def lesson(lesson_id: str) -> dict | None:
    return _LESSONS_BY_ID.get(lesson_id)


def lesson_summary(item: dict) -> dict:
    """What the lesson menu shows: the lesson and its steps' titles and notes."""
    questions = item.get("questions", {})
    return {"id": item["id"], "title": item["title"], "description": item["description"],
            "steps": [{"title": s["title"], "notes": s["notes"], "questions": questions.get(k, [])}
                      for k, s in enumerate(item["steps"])]}
