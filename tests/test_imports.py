"""The import graph of wheelmemo's own modules has no cycle.

Every ``import`` of a ``wheelmemo`` module counts, at the top of a module or inside a
function (a deferred import is still a dependency, only a later one); imports under
``if TYPE_CHECKING:`` do not (they never run).  A cycle means two modules each need the
other: the layering (hooks, then the per-hook logic, the engine, the adapters, the
storage) no longer reads from the tree.
"""

from __future__ import annotations

import ast
from pathlib import Path

import wheelmemo

PACKAGE = Path(wheelmemo.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:``."""
    found: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        found.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                todo.extend(child.orelse)
                continue
            todo.append(child)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the wheelmemo modules it imports (at any depth, TYPE_CHECKING aside)."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        needs: set[str] = set()
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                needs.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                target = ".".join([*base, *([node.module] if node.module else [])])
                for alias in node.names:  # ``from . import _key`` imports the module _key
                    needs.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in files else target)
        graph[name] = {n for n in needs if n in files and n != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_is_read() -> None:
    graph = import_graph()
    assert "wheelmemo._memo" in graph["wheelmemo._hooks"]  # a deferred import counts
    assert "wheelmemo._engine" in graph["wheelmemo._memo"]
    assert "wheelmemo._hooks" in graph["wheelmemo"]


def test_no_import_cycle() -> None:
    assert _cycles(import_graph()) == []
