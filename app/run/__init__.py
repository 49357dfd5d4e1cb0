"""The run layer: a synchronous, deterministic stepper between the math and the server."""

from .ops import VIEWS, ViewName
from .saved import SavedRun, resume, save
from .stepper import STEP_UNITS, Run, StepError, StepUnit
from .view import RunView, run_view

__all__ = ["Run", "RunView", "SavedRun", "StepError", "STEP_UNITS", "StepUnit", "VIEWS", "ViewName", "resume",
           "run_view", "save"]
