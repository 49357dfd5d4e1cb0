"""The run layer: a synchronous, deterministic stepper between the math and the server."""

from .stepper import STEP_UNITS, Run, RunView, StepError

__all__ = ["Run", "RunView", "StepError", "STEP_UNITS"]
