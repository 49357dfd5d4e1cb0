"""The promises the project makes to a newcomer: layering, the CLI, the two-line Quickstart."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_engine_imports_nothing_from_the_web_layer():
    code = ("import sys, app.engine; "
            "bad = [m for m in ('fastapi', 'starlette', 'uvicorn', 'app.server') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_serve_command_has_its_flags_and_defaults():
    out = subprocess.run([sys.executable, "-m", "app", "serve", "--help"], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert "--host" in out and "--port" in out
    assert "127.0.0.1" in out and "8000" in out


def _quickstart_lines() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return block.strip("\n").split("\n")


def test_quickstart_is_two_lines_run_then_test():
    run, test = _quickstart_lines()
    assert ".venv" in run and "pip install" in run and run.rstrip().endswith("backprop-lab serve")
    assert "[test]" in test and "chromium" in test and "pytest" in test


def test_ci_runs_the_readmes_test_line():
    out = subprocess.run(["bash", "-c", "sed -n '/^line=/p' .ci/run"], capture_output=True, text=True, cwd=ROOT).stdout
    assert "Quickstart" in out and "sed -n 2p" in out


def test_only_the_app_assembly_imports_the_route_modules():
    import ast

    server = ROOT / "app" / "server"
    routers = {path.stem for path in server.glob("*.py") if "router = APIRouter()" in path.read_text()}
    assert {"http", "classroom", "ws"} <= routers
    for path in server.glob("*.py"):
        if path.stem == "main":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            module = node.module or ""
            if node.level == 0 and module.startswith("app.server."):
                module = module.removeprefix("app.server.")
            elif node.level != 1:
                continue
            imported = {module} if module else {alias.name for alias in node.names}
            assert not imported & routers, f"{path.name} imports from the router module {imported & routers}"
