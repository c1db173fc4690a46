"""The import graph of the package has no cycles, at module and at subpackage level, and the layers that must
work without jax (structures, trajectory, analysis) import none."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "superionic"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[str]:
    """Every superionic module imported anywhere in the file (functions included: a lazy import still ties the
    two modules together), except under ``if TYPE_CHECKING:``. ``from pkg import name`` counts as an import of
    ``pkg.name`` when that is a module, else of ``pkg``."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.append(candidate if candidate in MODULES else node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return [name for name in found if name.split(".")[0] == "superionic"]


def _graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for name, path in MODULES.items():
        graph.add_node(name)
        for target in _imports(ast.parse(path.read_text())):
            while target not in MODULES:  # "import superionic.md.units" style names of a module's attribute
                target = target.rsplit(".", 1)[0]
            if target != name:
                graph.add_edge(name, target)
    return graph


def _layer(module: str) -> str:
    """The subpackage (superionic.md, ...) or top-level module (superionic.units, ...) a module belongs to."""
    return ".".join(module.split(".")[:2])


def test_module_import_graph_has_no_cycles():
    graph = _graph()
    assert graph.number_of_edges() > 100  # the walk found the imports
    assert graph.has_edge("superionic.md.driver", "superionic.md.engine")  # lazy and top-level ones alike
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_subpackages_import_each_other_one_way():
    graph = _graph()
    layers = nx.DiGraph()
    for a, b in graph.edges:
        if _layer(a) != _layer(b) and _layer(a) != "superionic":
            layers.add_edge(_layer(a), _layer(b))
    cycles = list(nx.simple_cycles(layers))
    assert not cycles, f"subpackages import each other in a circle: {cycles[:5]}"
    # the layering the docs describe: structures under potentials under md under analysis' users
    assert not nx.has_path(layers, "superionic.structures", "superionic.potentials")
    assert not nx.has_path(layers, "superionic.potentials", "superionic.md")
    assert not nx.has_path(layers, "superionic.analysis", "superionic.md")
    assert not nx.has_path(layers, "superionic.analysis", "superionic.potentials")
    # the workflow drives training (the specialist), never the other way round
    assert nx.has_path(layers, "superionic.estimate", "superionic.training")
    assert not nx.has_path(layers, "superionic.training", "superionic.estimate")
    assert not nx.has_path(layers, "superionic.training", "superionic.discovery")


def test_structures_trajectory_and_analysis_import_without_jax():
    code = (
        "import sys; import superionic.structures, superionic.trajectory, superionic.analysis, superionic.units; "
        "bad = [m for m in sys.modules if m == 'jax' or m.startswith(('jax.', 'superionic.md', 'superionic.potentials'))]; "
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
