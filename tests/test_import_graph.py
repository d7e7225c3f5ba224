"""No module of the two packages imports itself back through others: the import graph of
``kada_collectors.*`` (every import statement, function-local ones included) has no cycle."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).parents[1]
SOURCES = sorted(ROOT.glob("packages/*/src"))
TOP = "kada_collectors"


def modules(sources: list[Path]) -> dict[str, Path]:
    """Every module under ``kada_collectors`` in ``sources``, by dotted name (a package by its own name)."""
    found = {}
    for source in sources:
        for path in sorted((source / TOP).rglob("*.py")):
            parts = list(path.relative_to(source).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that the module ``name`` (at ``path``) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            origin = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                # ``from package import module`` needs that module, not what the package defines
                submodule = f"{origin}.{alias.name}"
                targets.add(submodule if submodule in known else origin)
    return {target for target in targets if target in known and target != name}


def import_graph(sources: list[Path]) -> dict[str, set[str]]:
    found = modules(sources)
    return {name: imported(name, path, set(found)) for name, path in found.items()}


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (its modules, the first repeated last), or None."""
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        return list(exc.args[1])
    return None


def test_the_packages_import_in_no_circle():
    graph = import_graph(SOURCES)
    # the walk saw both packages and their imports, relative and function-local ones alike
    assert "kada_collectors.lib.files" in graph["kada_collectors.lib.writer"]
    assert "kada_collectors.extractors.postgres.querylog.entries" in graph[
        "kada_collectors.extractors.postgres.querylog.cloudwatch"]
    assert "kada_collectors.lib.landing.local" in graph["kada_collectors.lib.landing"]  # inside a function
    found = cycle(graph)
    assert found is None, "modules that import each other in a circle: " + " -> ".join(found)


def test_a_circle_is_found_even_through_a_function_local_import(tmp_path):
    package = tmp_path / TOP / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import B\n\nA = 1\n")
    (package / "b.py").write_text("B = 2\n\n\ndef later():\n    from . import a\n    return a.A\n")
    (package / "c.py").write_text("from kada_collectors.pkg import a\nfrom . import d\n")
    (package / "d.py").write_text("import kada_collectors.pkg.b\nfrom . import VERSION\n")
    graph = import_graph([tmp_path])
    assert graph[f"{TOP}.pkg.c"] == {f"{TOP}.pkg.a", f"{TOP}.pkg.d"}
    assert graph[f"{TOP}.pkg.d"] == {f"{TOP}.pkg.b", f"{TOP}.pkg"}
    found = cycle(graph)
    assert found is not None and set(found) == {f"{TOP}.pkg.a", f"{TOP}.pkg.b"}
