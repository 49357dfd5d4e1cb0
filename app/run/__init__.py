"""The run layer: a synchronous, deterministic stepper between the math and the server."""

from .ops import VIEWS, ViewName
from .stepper import STEP_UNITS, Run, RunView, StepError, StepUnit

__all__ = ["Run", "RunView", "StepError", "STEP_UNITS", "StepUnit", "VIEWS", "ViewName"]
