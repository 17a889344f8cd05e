"""The package's import graph: stage packages form no cycle, the workspace imports no stage, modules stay small.

Imports are read with `ast` from the source, at module level and inside functions alike: a
function-level import is still a dependency, only deferred, and deferring one is how a cycle
hides. Imports under `if TYPE_CHECKING:` count too: they never run, but a stage that needs
another's types to be annotated depends on it as surely as one that calls it.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import linkhaven

ROOT = Path(linkhaven.__file__).parent
STAGES = (
    "cli",
    "deid",
    "derivations",
    "governance",
    "intake",
    "link",
    "publish",
    "schema",
    "service",
    "spec",
    "synth",
    "workspace",
)
WORKSPACE_MAY_IMPORT = {"workspace", "schema", "errors", "csvsafe", "sqlquote"}
"""The storage layer's allowed imports: itself, the table declarations, the errors and small utilities."""

MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every linkhaven module `path` imports, wherever the import statement sits."""
    tree = ast.parse(path.read_text(), str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "linkhaven" or name.startswith("linkhaven.")}


def _part(module: str) -> str | None:
    """The top-level part of linkhaven a module belongs to (`linkhaven.link.engine` -> `link`)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _graph() -> dict[str, set[str]]:
    """Stage package -> stage packages it imports."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in sorted(ROOT.rglob("*.py")):
        module = _module_name(path)
        source = _part(module)
        if source not in STAGES:
            continue
        for name in _imports(path):
            target = _part(name)
            if target in STAGES and target != source:
                graph[source].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle in `graph` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_cycle_between_stage_packages() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle between stage packages: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None


def test_the_workspace_imports_no_stage() -> None:
    offending: dict[str, set[str]] = {}
    for path in sorted((ROOT / "workspace").rglob("*.py")):
        bad = {
            name for name in _imports(path) if (_part(name) or "") not in WORKSPACE_MAY_IMPORT and name != "linkhaven"
        }
        if bad:
            offending[_module_name(path)] = bad
    assert offending == {}


def test_imports_inside_functions_and_type_checking_blocks_are_seen(tmp_path: Path) -> None:
    source = tmp_path / "linkhaven" / "workspace" / "sample.py"
    source.parent.mkdir(parents=True)
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from linkhaven.spec import ProjectSpec\n"
        "def f():\n    from linkhaven.governance import session\n"
        "from . import zones\n"
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path / "linkhaven"
    try:
        found = _imports(source)
    finally:
        ROOT = saved
    assert {"linkhaven.spec", "linkhaven.governance", "linkhaven.workspace.zones"} <= found


def test_no_module_is_over_the_size_limit() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in sorted(ROOT.rglob("*.py"))
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}, f"modules over {MAX_LINES} lines (split them by concept): {long}"
