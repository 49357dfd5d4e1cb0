"""The room's question: one per session, who answered what until the reveal, tallies paced.

The run layer works out what a question asks and its truth (app/run/questions.py); this keeps
the answers of the connections, one each and anonymous (a connection object, never a name),
sends controllers a tally at most `TALLY_PER_SECOND` times a second, and at the reveal tells
every connection its own verdict. Every message is built by wire.py.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from app.run.questions import Posed, is_right, parse_answer, tally

from . import wire

TALLY_PER_SECOND = 4
ANSWERS_PER_SECOND = 10
_ids = itertools.count(1)


@dataclass
class Question:
    id: str
    posed: Posed
    answers: dict[Any, Any] = field(default_factory=dict)  # connection → its answer, while open
    last_tally: float = 0.0
    tally_due: asyncio.TimerHandle | None = None

    def counts(self) -> dict:
        return tally(self.posed, list(self.answers.values()))


def new_question(posed: Posed) -> Question:
    return Question(f"q{next(_ids)}", posed)


class AnswerRate:
    """At most ANSWERS_PER_SECOND answers in any second, per connection (a sliding window)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def allow(self, now: float) -> bool:
        self.times = [t for t in self.times if now - t < 1.0]
        if len(self.times) >= ANSWERS_PER_SECOND:
            return False
        self.times.append(now)
        return True


def record(question: Question, conn: Any, value: Any) -> Any:
    """Keep `conn`'s answer (replacing its earlier one); returns it as the question takes it.
    Raises StepError("value", …) for an answer the question cannot take."""
    parsed = parse_answer(question.posed, value)
    question.answers[conn] = parsed
    return parsed


def send_tally(session, question: Question, now: float | None = None) -> None:
    """Tell the controllers how the room answers: now, or as soon as the pace allows."""
    now = time.monotonic() if now is None else now
    wait = question.last_tally + 1.0 / TALLY_PER_SECOND - now
    if wait > 0:
        if question.tally_due is None:
            loop = asyncio.get_running_loop()
            question.tally_due = loop.call_later(wait, _tally_now, session, question)
        return
    _tally_now(session, question)


def _tally_now(session, question: Question) -> None:
    question.tally_due = None
    if session.question is not question:  # revealed or closed meanwhile: the reveal has the counts
        return
    question.last_tally = time.monotonic()
    session.push_controllers(wire.encode(wire.tally(question, session.viewer_count())))


def reveal(session, question: Question, re: Any, origin: Any) -> None:
    """Close the question and tell each connection (in every process) the truth, the counts and its own verdict."""
    finish(question)

    def message_for(conn: Any) -> dict:
        yours = question.answers.get(conn) if conn is not None else None
        return wire.reveal(question, yours, is_right(question.posed, yours) if yours is not None else False)

    session.push_each(message_for, re, origin)


def close(session, question: Question, re: Any = None, origin: Any = None) -> None:
    """Close it without the truth: everyone's page puts the question away."""
    finish(question)
    session.broadcast(wire.question(question, open_=False), re, origin)


def finish(question: Question) -> None:
    if question.tally_due is not None:
        question.tally_due.cancel()
        question.tally_due = None
