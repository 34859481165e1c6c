"""The shape of the code, read from its own imports: no cycle, and almost nothing runs back up."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("lims", "instruments", "libsearch")
SKIPPED = ("lims/migrations/versions",)
MAX_BACK_UP_IMPORTS = 2

Graph = dict[str, set[str]]


def module_files(root: Path = ROOT) -> dict[str, str]:
    """Map every dotted module name of our packages to its file, relative to the root."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if relative.startswith(SKIPPED):
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = relative
    return modules


def _imported_modules(tree: ast.AST, package: str, modules: dict[str, str]) -> set[str]:
    """The files an import statement anywhere in the tree loads by name."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names += [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                      for alias in node.names]
    targets = set()
    for name in names:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name:
            targets.add(modules[name])
    return targets


def file_graph(root: Path = ROOT) -> Graph:
    """Edges from each of our files to the files it imports (at any depth of the code)."""
    modules = module_files(root)
    graph: Graph = {}
    for name, relative in modules.items():
        package = name if relative.endswith("__init__.py") else name.rpartition(".")[0]
        tree = ast.parse((root / relative).read_text(encoding="utf-8"))
        graph[relative] = _imported_modules(tree, package, modules) - {relative}
    return graph


def unit_of(relative: str) -> str:
    """The unit a file belongs to: its top-level folder below a package, or the file itself."""
    parts = relative.split("/")
    if parts[0] != "lims":
        return parts[0] + "/"
    return "/".join(parts[:2]) + "/" if len(parts) > 2 else relative


def strongly_connected(graph: Graph) -> list[set[str]]:
    """The strongly connected components of the graph (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    components.append(component)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return components


def cycles(graph: Graph) -> list[set[str]]:
    """Every group of nodes that import each other round a loop."""
    return [component for component in strongly_connected(graph) if len(component) > 1]


def heights(graph: Graph) -> dict[str, int]:
    """Longest import path from each node down to a node importing nothing (cycles condensed)."""
    component_of = {}
    components = strongly_connected(graph)
    for number, component in enumerate(components):
        for node in component:
            component_of[node] = number
    height: dict[int, int] = {}
    # Tarjan yields components in reverse topological order: imported ones come first.
    for number, component in enumerate(components):
        below = [height[component_of[t]] + 1 for node in component for t in graph.get(node, ())
                 if component_of[t] != number]
        height[number] = max(below, default=0)
    return {node: height[component_of[node]] for node in graph}


def unit_graph(graph: Graph, unit=unit_of) -> dict[str, dict[str, int]]:
    """Imports between units, weighted by how many file imports each edge stands for."""
    units: dict[str, dict[str, int]] = {unit(source): defaultdict(int) for source in graph}
    for source, targets in graph.items():
        for target in targets:
            if unit(target) != unit(source):
                units[unit(source)][unit(target)] += 1
    return units


def unit_order(units: dict[str, dict[str, int]]) -> list[str]:
    """Units from the top layer down, with the fewest file imports pointing back up.

    Eades, Lin and Smyth's greedy ordering: units importing nothing left go last, units nobody
    left imports go first, else the unit with most weight out minus weight in.
    """
    left = set(units)
    first: list[str] = []
    last: list[str] = []

    def weight_out(node):
        return sum(w for t, w in units[node].items() if t in left)

    def weight_in(node):
        return sum(units[s].get(node, 0) for s in left)

    while left:
        for node in sorted(n for n in left if not weight_out(n)):
            last.insert(0, node)
            left.discard(node)
        sources = sorted(n for n in left if not weight_in(n))
        for node in sources:
            first.append(node)
            left.discard(node)
        if left and not sources:
            node = max(sorted(left), key=lambda n: weight_out(n) - weight_in(n))
            first.append(node)
            left.discard(node)
    return first + last


def back_up_imports(graph: Graph, unit=unit_of) -> list[tuple[str, str]]:
    """File imports that run back up a layer: from a unit to one placed above it.

    Units are ordered top-down (`unit_order`); in a graph of units without cycles no import
    runs back up, and each loop of units costs at least one.
    """
    position = {name: index for index, name in enumerate(unit_order(unit_graph(graph, unit)))}
    return sorted((source, target) for source, targets in graph.items() for target in targets
                  if position[unit(source)] > position[unit(target)])


def layer_count(graph: Graph, unit=unit_of) -> int:
    """How many layers the units stand on (longest path in the condensed graph of units)."""
    units: Graph = defaultdict(set)
    for source, targets in graph.items():
        units[unit(source)].update(unit(target) for target in targets)
        units[unit(source)].discard(unit(source))
    return max(heights(dict(units)).values()) + 1


def test_no_cycle_and_at_most_two_back_up_imports():
    graph = file_graph()
    found_cycles = cycles(graph)
    back_ups = back_up_imports(graph)
    units = {unit_of(source) for source in graph}
    print(f"{len(units)} units on {layer_count(graph)} layers, {len(found_cycles)} cycles, "
          f"{len(back_ups)} back-up imports: {back_ups}")
    assert not found_cycles, f"import cycles: {[sorted(c) for c in found_cycles]}"
    assert len(back_ups) <= MAX_BACK_UP_IMPORTS, f"imports that run back up a layer: {back_ups}"


def test_no_feature_imports_another_features_views():
    graph = file_graph()
    crossing = [(source, target) for source, targets in graph.items() for target in targets
                if target.endswith("/views.py") and unit_of(source) != unit_of(target)
                and source != "lims/__init__.py"]
    assert not crossing, f"views are imported only by their own package: {crossing}"


def test_a_new_cycle_fails_and_a_back_up_import_is_counted():
    tower = {"a/x.py": {"b/y.py"}, "b/y.py": {"c.py"}, "c.py": set()}
    assert cycles(tower) == [] and back_up_imports(tower, _folder) == []
    assert layer_count(tower, _folder) == 3
    looped = {**tower, "c.py": {"a/x.py"}}
    assert cycles(looped) == [{"a/x.py", "b/y.py", "c.py"}]
    # No file cycle, but unit b imports a unit (c) that imports b back: one import runs back up.
    sideways = {**tower, "b/y.py": {"c.py"}, "c.py": {"b/z.py"}, "b/z.py": set()}
    assert cycles(sideways) == []
    assert back_up_imports(sideways, _folder) == [("c.py", "b/z.py")]


def test_the_graph_is_read_from_the_code(tmp_path):
    (tmp_path / "lims" / "intake").mkdir(parents=True)
    (tmp_path / "lims" / "__init__.py").write_text("")
    (tmp_path / "lims" / "intake" / "__init__.py").write_text("")
    (tmp_path / "lims" / "db.py").write_text("import os\n")
    (tmp_path / "lims" / "intake" / "views.py").write_text(
        "from lims import db\n\ndef f():\n    from lims.intake.services import g\n")
    (tmp_path / "lims" / "intake" / "services.py").write_text("from .. import db\n")
    graph = file_graph(tmp_path)
    assert graph["lims/intake/views.py"] == {"lims/db.py", "lims/intake/services.py"}
    assert graph["lims/intake/services.py"] == {"lims/db.py"}
    assert unit_of("lims/intake/views.py") == "lims/intake/"
    assert unit_of("lims/db.py") == "lims/db.py"


def _folder(relative: str) -> str:
    return relative.split("/")[0]
