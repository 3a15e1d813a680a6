"""The direction of dependencies in shared/ (README, Layout), read from the source with
ast: every import counts, also one inside a function or under TYPE_CHECKING.

The edge (shared.http) parses requests and calls the services; the services decide and
call what is below them (identity, the pipeline, storage, the queries); nothing below the
services calls up into them, no service knows HTTP, and no two modules need each other."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EDGE = "shared.http"
SERVICES = "shared.services"


@cache
def imports() -> dict[str, set[str]]:
    """Each module of shared/ and the modules of shared/ it imports."""
    paths = {}
    for path in (ROOT / "shared").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from a import b` imports the module a.b when there is one, else a.
                found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base for a in node.names)
        graph[module] = {name for name in found if name in paths and name != module}
    return graph


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_graph_is_read():
    graph = imports()
    assert "shared.services.inference" in graph["shared.http.inference"]
    assert "shared.db.queries.users" in graph["shared.identity"]


def test_nothing_below_the_services_imports_them():
    wrong = {module: sorted(d for d in deps if _within(d, SERVICES))
             for module, deps in imports().items()
             if not _within(module, SERVICES) and not _within(module, EDGE)}
    assert {m: d for m, d in wrong.items() if d} == {}


def test_no_service_imports_the_http_edge():
    wrong = {module: sorted(d for d in deps if _within(d, EDGE))
             for module, deps in imports().items() if _within(module, SERVICES)}
    assert {m: d for m, d in wrong.items() if d} == {}


def test_no_import_cycle():
    graph = imports()
    # Tarjan's strongly connected components: any of more than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for dependency in graph[module]:
            if dependency not in index:
                visit(dependency)
                low[module] = min(low[module], low[dependency])
            elif dependency in stack:
                low[module] = min(low[module], index[dependency])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert cycles == []


def _reachable(module: str) -> set[str]:
    graph, seen, todo = imports(), set(), [module]
    while todo:
        for dependency in graph[todo.pop()] - seen:
            seen.add(dependency)
            todo.append(dependency)
    return seen


def test_the_common_edge_reaches_no_service():
    # handle() and Request load with every function: a service they import would be loaded
    # (and be a dependency) of every route, whichever service the route calls.
    for common in (EDGE, f"{EDGE}.request"):
        assert sorted(m for m in _reachable(common) if _within(m, SERVICES)) == [], common
