"""Client → server commands as pydantic models: a discriminated union on "type".

Unknown fields are refused and types are strict, so a typo or a string where a number
belongs never passes silently. `parse_command` turns any bad input into a `CommandError`
naming the field, the value and what is allowed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from app.engine.config import config_error_from
from app.run import StepUnit, ViewName
from app.run.questions import MAX_PROMPT, QuestionKind

MessageId = Union[Annotated[int, Field(strict=True)], str]


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    id: MessageId | None = None


class Configure(_Command):
    type: Literal["configure"]
    config: dict[str, Any]


class Randomize(_Command):
    type: Literal["randomize"]
    weight_seed: int | None = None


class SetParams(_Command):
    type: Literal["set_params"]
    params: dict[str, Any]


class Step(_Command):
    type: Literal["step"]
    unit: StepUnit = "iteration"
    count: int = 1


class Play(_Command):
    type: Literal["play"]
    speed: float = 30.0


class Pause(_Command):
    type: Literal["pause"]


class Select(_Command):
    type: Literal["select"]
    example: int


class Snapshot(_Command):
    type: Literal["snapshot"]


class Back(_Command):
    type: Literal["back"]
    count: int = 1


class View(_Command):
    type: Literal["view"]
    view: ViewName


class Verify(_Command):
    type: Literal["verify"]


class Explain(_Command):
    type: Literal["explain"]
    node: Annotated[str, Field(max_length=64)]


class Batch(_Command):
    type: Literal["batch"]


class Sweep(_Command):
    type: Literal["sweep"]
    count: int | None = None
    seeds: list[int] | None = None
    iterations: int = 500


class SweepCancel(_Command):
    type: Literal["sweep_cancel"]


class Load(_Command):
    """Put the session on a saved scenario, or on one step of a lesson."""

    type: Literal["load"]
    scenario: Annotated[str, Field(max_length=64)] | None = None
    lesson: Annotated[str, Field(max_length=64)] | None = None
    step: int = 0


class Hide(_Command):
    """The panels every page of the session hides (the presenter's choice, mirrored to viewers)."""

    type: Literal["hide"]
    panels: Annotated[list[str], Field(max_length=32)]


class Ask(_Command):
    """Open a question to the room (docs/protocol.md, "Questions")."""

    type: Literal["ask"]
    kind: QuestionKind = "number"
    target: Annotated[dict[str, Any], Field(max_length=8)] | None = None
    prompt: Annotated[str, Field(max_length=MAX_PROMPT)] | None = None
    fade: int = 0  # 1 or 2: the question brings its working, faded (a learner practising alone)


class Answer(_Command):
    """One connection's answer; the run layer checks the value against the question's kind."""

    type: Literal["answer"]
    question: Annotated[str, Field(max_length=32)]
    value: Any


class Reveal(_Command):
    type: Literal["reveal"]
    question: Annotated[str, Field(max_length=32)]


class CloseQuestion(_Command):
    type: Literal["close_question"]
    question: Annotated[str, Field(max_length=32)]


class Ack(_Command):
    type: Literal["ack"]
    seq: Annotated[int, Field(ge=0)]  # frame numbers start at 1


_MODELS: dict[str, type[_Command]] = {
    "configure": Configure, "randomize": Randomize, "set_params": SetParams, "step": Step, "play": Play,
    "pause": Pause, "select": Select, "snapshot": Snapshot, "ack": Ack,
    "back": Back, "view": View, "verify": Verify, "explain": Explain, "batch": Batch,
    "sweep": Sweep, "sweep_cancel": SweepCancel, "load": Load, "hide": Hide,
    "ask": Ask, "answer": Answer, "reveal": Reveal, "close_question": CloseQuestion,
}
COMMAND_TYPES = tuple(_MODELS)
_adapter: TypeAdapter = TypeAdapter(Annotated[Union[tuple(_MODELS.values())], Field(discriminator="type")])


class CommandError(ValueError):
    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def message_id(raw: Any) -> MessageId | None:
    """The command's "id", if it is a usable one, so that even a refusal can carry `re`."""
    if isinstance(raw, dict):
        value = raw.get("id")
        if isinstance(value, str) and len(value) <= 200 or (isinstance(value, int) and not isinstance(value, bool)):
            return value
    return None


def parse_command(raw: Any) -> _Command:
    if not isinstance(raw, dict):
        raise CommandError("invalid_message", f"a command must be a JSON object with a \"type\", got {type(raw).__name__}")
    kind = raw.get("type")
    if kind not in COMMAND_TYPES:
        got = "no \"type\"" if kind is None else f"{kind!r}"
        raise CommandError("invalid_message", f"type must be one of {', '.join(COMMAND_TYPES)}; got {got}", "type")
    try:
        return _adapter.validate_python(raw)
    except ValidationError as exc:
        # skip the union tag pydantic puts first in each location: the field is what the client wrote
        model = _MODELS[kind]
        problem = config_error_from(exc, skip=1, known={"": tuple(model.model_fields)})
        raise CommandError("invalid_message", f"{kind}: {problem}", problem.field) from None

