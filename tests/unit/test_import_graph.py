"""No project module imports another that imports it back, directly or around a circle.

A stdlib-only checker: every .py file of the project's packages is parsed with `ast`, each
import of a project module is an edge (top-level and late, function-level imports alike: a late
import only hides a circle from the interpreter, not from the reader), and the graph must have
no cycle. Circles make a module's meaning depend on import order and invite late-import hacks.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "worker", "shared", "deploy", "tools")

Graph = dict[str, set[str]]


def module_name(path: Path, root: Path) -> str:
    """gateway/app.py -> gateway.app; a package's __init__.py is the package itself."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_sources(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, str]:
    """Module name -> source text of every .py file under the given top-level folders."""
    sources: dict[str, str] = {}
    for package in packages:
        folder = root / package
        if folder.is_dir():
            for path in sorted(folder.rglob("*.py")):
                sources[module_name(path, root)] = path.read_text(encoding="utf-8")
    return sources


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of `from <.level><target> import ...` written in `module`."""
    base = module.split(".")
    if not is_package:
        base.pop()  # a plain module's own package is its parent
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def imports_of(module: str, source: str, known: set[str], is_package: bool = False) -> set[str]:
    """The project modules `module` imports, wherever in the file the import statement is.

    `import a.b.c` and `from a.b.c import name` import a.b.c; `from a.b import c` imports the
    submodule a.b.c when there is one, else the name c of package a.b (its __init__). Parent
    packages that Python initialises on the way are not counted: that step is implicit and any
    circle through an __init__ shows up as an import the __init__ itself makes.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(_innermost_known(alias.name, known))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                target = _resolve_relative(module, is_package, node.level, node.module)
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in known else _innermost_known(target, known))
    found.discard("")
    found.discard(module)  # importing oneself (e.g. `from pkg import x` inside pkg) is no edge
    return found


def _innermost_known(name: str, known: set[str]) -> str:
    """The longest prefix of a dotted name that is a project module ('' for third-party)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return ""


def build_graph(sources: Mapping[str, str], packages: Iterable[str] = ()) -> Graph:
    """Module -> the project modules it imports. `packages`: names whose file is __init__.py."""
    known = set(sources)
    package_set = set(packages)
    return {name: imports_of(name, text, known, name in package_set)
            for name, text in sources.items()}


def circles(graph: Mapping[str, Iterable[str]]) -> list[set[str]]:
    """The groups of modules that reach each other through imports (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:  # recursive: the graph has ~100 nodes
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            group: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One closed path (first module repeated at the end) per circle."""
    return [_closed_path(graph, group) for group in circles(graph)]


def _closed_path(graph: Mapping[str, Iterable[str]], group: set[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    start = min(group)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for succ in sorted(graph.get(node, ())):
            if succ == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if succ in group and succ not in came_from:
                came_from[succ] = node
                queue.append(succ)
    raise AssertionError(f"no cycle through {start}")  # unreachable for a real group


def project_graph(root: Path = ROOT) -> Graph:
    """The import graph of this repository's packages."""
    sources = project_sources(root)
    packages = {name for name in sources
                if (root / name.replace(".", "/") / "__init__.py").is_file()}
    return build_graph(sources, packages)


# -- the project ------------------------------------------------------------------------------
def test_the_project_has_no_import_cycle() -> None:
    graph = project_graph()
    assert {"gateway.app", "worker.tasks", "shared.runtime"} <= set(graph)  # found the files
    assert graph["gateway.wsgi"] == {"gateway.app"}  # and their imports
    found = circles(graph)
    assert not found, "import cycles:\n" + "\n".join(
        f"{' -> '.join(_closed_path(graph, group))}  (circle of {len(group)}: "
        f"{', '.join(sorted(group))})" for group in found)


# -- the checker itself -----------------------------------------------------------------------
def test_a_circle_of_three_modules_is_reported() -> None:
    sources = {
        "pkg": "",
        "pkg.a": "from pkg import b\n",  # b is a submodule: an import of pkg.b
        "pkg.b": "def f():\n    import pkg.c.d  # late imports count too\n",
        "pkg.c": "",
        "pkg.c.d": "from pkg.a import thing\n",
        "pkg.e": "import pkg.a\nimport json\n",  # outside the circle; json is not ours
    }
    graph = build_graph(sources, packages={"pkg", "pkg.c"})
    assert graph["pkg.a"] == {"pkg.b"}
    assert graph["pkg.e"] == {"pkg.a"}
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.c.d", "pkg.a"]]


def test_two_modules_importing_each_other_are_reported() -> None:
    graph = build_graph({"app": "import tasks\n", "tasks": "from app import runtime\n"})
    assert find_cycles(graph) == [["app", "tasks", "app"]]


def test_an_init_that_imports_a_module_that_imports_the_package_back_is_a_circle() -> None:
    sources = {"pkg": "from pkg.core import run\n", "pkg.core": "from pkg import VERSION\n"}
    graph = build_graph(sources, packages={"pkg"})
    assert graph == {"pkg": {"pkg.core"}, "pkg.core": {"pkg"}}
    assert find_cycles(graph) == [["pkg", "pkg.core", "pkg"]]


def test_relative_imports_resolve_and_an_acyclic_graph_passes() -> None:
    sources = {
        "pkg": "from . import util\n",
        "pkg.util": "from .sub import leaf\n",
        "pkg.sub": "",
        "pkg.sub.leaf": "from .. import other\n",
        "pkg.other": "",
    }
    graph = build_graph(sources, packages={"pkg", "pkg.sub"})
    assert graph == {"pkg": {"pkg.util"}, "pkg.util": {"pkg.sub.leaf"}, "pkg.sub": set(),
                     "pkg.sub.leaf": {"pkg.other"}, "pkg.other": set()}
    assert find_cycles(graph) == []
