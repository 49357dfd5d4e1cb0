"""Every test's server keeps its saved scenarios in a throwaway file, never the user's own."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_SCRATCH = Path(tempfile.mkdtemp(prefix="backprop-lab-tests-"))
os.environ["BACKPROP_SCENARIO_DB"] = str(_SCRATCH / "scenarios.sqlite3")
