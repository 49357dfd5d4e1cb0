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
    assert "[test]" in test and "chromium" in test and "redis-server" in test and "pytest" in test


def test_ci_runs_the_readmes_test_line():
    out = subprocess.run(["bash", "-c", "sed -n '/^line=/p' .ci/run"], capture_output=True, text=True, cwd=ROOT).stdout
    assert "Quickstart" in out and "sed -n 2p" in out


def _imports_of(path: Path, package: str) -> set[str]:
    """The app modules a module imports, at any depth of its code (a function-level import is
    still a dependency), relative imports resolved."""
    import ast

    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("app"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if base.startswith("app"):
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)  # `from . import wire` names a module
    return found


def _module_graph() -> dict[str, set[str]]:
    root = Path(__file__).resolve().parents[1]
    files = {".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (root / "app").rglob("*.py")}
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = {m for m in _imports_of(path, package) if m in files and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules around it, or None. Imports only needed by a type
    checker (under `if TYPE_CHECKING`) are counted too: they are a cycle waiting to happen."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_no_module_in_app_is_part_of_an_import_cycle():
    graph = _module_graph()
    assert "app.run.stepper" in graph and "app.server.wire" in graph["app.server.ws"]
    assert _cycle(graph) is None, " → ".join(_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


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
