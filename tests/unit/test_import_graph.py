"""The import graph of trainjet: no cycles, and imports that flow one way between layers.

grimp reads every import statement, including those inside functions and under
TYPE_CHECKING, so a lazy import cannot hide a cycle or a layer broken the wrong way round.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import grimp
import pytest

# Who may not import whom, by package prefix. `core` (the event model, the store, the fold)
# imports nothing outside itself: checked apart below. `training` is the ML side the runners
# call. The entry points (api, cli, runners) sit on top; `system` builds the parts they run
# on, so it imports none of the API or the CLI.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "trainjet.training": ("trainjet.api", "trainjet.cli", "trainjet.runners", "trainjet.system"),
    "trainjet.services": ("trainjet.api", "trainjet.cli"),
    "trainjet.replay": ("trainjet.api", "trainjet.cli", "trainjet.runners"),
    "trainjet.system": ("trainjet.api", "trainjet.cli"),
    "trainjet.runners": ("trainjet.api", "trainjet.cli"),
    "trainjet.api": ("trainjet.cli",),
}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("trainjet")


def imports_of(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    return {
        module: {m for m in graph.find_modules_directly_imported_by(module) if m != module}
        for module in graph.modules
    }


def cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative: the
    graph is deep enough to exhaust the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(edges.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(edges.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def a_cycle(edges: Mapping[str, Iterable[str]], component: list[str]) -> list[str]:
    """One concrete cycle through a component's first module, for the failure message."""
    members = set(component)
    start = component[0]
    path = [start]
    seen = {start}
    while True:
        step = sorted(m for m in edges[path[-1]] if m in members)
        if start in step and len(path) > 1:
            return [*path, start]
        fresh = [m for m in step if m not in seen]
        nxt = fresh[0] if fresh else step[0]
        if nxt in seen:  # closed a loop not through `start`: show that loop
            return [*path[path.index(nxt) :], nxt]
        path.append(nxt)
        seen.add(nxt)


def test_the_cycle_finder_finds_cycles_and_only_them() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(edges) == [["a", "b", "c"]]
    assert a_cycle(edges, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    edges = imports_of(graph)
    found = [" -> ".join(a_cycle(edges, c)) for c in cycles(edges)]
    assert not found, "import cycles between trainjet modules:\n" + "\n".join(found)


def test_core_imports_nothing_outside_core(graph: grimp.ImportGraph) -> None:
    outward = sorted(
        f"{module} -> {imported}"
        for module, imported_set in imports_of(graph).items()
        if module == "trainjet.core" or module.startswith("trainjet.core.")
        for imported in imported_set
        if not (imported == "trainjet.core" or imported.startswith("trainjet.core."))
    )
    assert not outward, "trainjet.core imports outside itself:\n" + "\n".join(outward)


@pytest.mark.parametrize("layer", list(FORBIDDEN))
def test_layers_import_one_way(graph: grimp.ImportGraph, layer: str) -> None:
    wrong = sorted(
        f"{module} -> {imported}"
        for module, imported_set in imports_of(graph).items()
        if module == layer or module.startswith(layer + ".")
        for imported in imported_set
        if any(imported == f or imported.startswith(f + ".") for f in FORBIDDEN[layer])
    )
    assert not wrong, f"{layer} imports a layer above it:\n" + "\n".join(wrong)
