"""The boundaries docs/architecture.md promises, checked by reading the imports (every import, also those
inside functions and under TYPE_CHECKING: a circle hidden in a function is still a circle)."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

EDGE = ROOT / "edge"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in EDGE.rglob("*.py")}


def imports(path: Path) -> set[str]:
    """Every module name this file imports (from x import y counts x.y where that is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES}
    return found


GRAPH = {name: {m for m in imports(path) if m in MODULES and m != name} for name, path in MODULES.items()}


def cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))
    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return found


def test_the_checker_sees_a_circle():
    GRAPH["edge.faces"].add("edge.detector")  # detector imports faces: this closes a circle
    try:
        assert any({"edge.detector", "edge.faces"} <= set(c) for c in cycles())
    finally:
        GRAPH["edge.faces"].discard("edge.detector")


def test_no_import_circles_in_edge():
    assert cycles() == []


def test_edge_never_imports_training_or_the_training_frameworks():
    banned = ("training", "tensorflow", "keras", "torch", "mlflow", "optuna")
    offenders = {name: sorted(m for m in imports(path) if m.split(".")[0] in banned)
                 for name, path in MODULES.items()}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_web_layer_reads_state_sessions_monitoring_and_config_only():
    # edge.strict: the settings base every config section (edge/web/settings.py too) is built on
    allowed = ("edge.web", "edge.state", "edge.sessions", "edge.monitoring.api", "edge.config", "edge.strict")
    reach = {name: sorted(m for m in GRAPH[name] if not m.startswith(allowed))
             for name in MODULES if name.startswith("edge.web")}
    assert {k: v for k, v in reach.items() if v} == {}


def test_the_runtime_does_not_depend_on_the_development_tools():
    # `python -m edge bench` is the one door from the command line into edge/devtools
    users = {name for name, deps in GRAPH.items() if any(d.startswith("edge.devtools") for d in deps)
             and not name.startswith("edge.devtools")}
    assert users == {"edge.__main__"}


def test_tests_share_helpers_not_each_other():
    importing = sorted(p.name for p in (ROOT / "tests").glob("test_*.py")
                       if any(m.startswith("tests.test_") for m in imports(p)))
    assert importing == []
