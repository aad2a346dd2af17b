"""The library's imports follow the layer order of docs/architecture.md ("Layers"),
and no modules import each other (directly or through others).

Every module of the package is parsed (imports inside functions count; those under
``if TYPE_CHECKING:`` do not, they are for type checkers only); a module may import
modules of its own layer or of a lower one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pinngelu

ROOT = Path(pinngelu.__file__).parent

LAYERS = (
    (
        "foundation",
        ("pinngelu.checks", "pinngelu.memory", "pinngelu.parallel", "pinngelu.io.files"),
    ),
    ("network and kernels", ("pinngelu.activations", "pinngelu.network", "pinngelu.kernels")),
    ("optimisers", ("pinngelu.optim",)),
    ("geometry", ("pinngelu.geometry",)),
    ("loss", ("pinngelu.loss", "pinngelu.jacobian")),
    (
        "physics",
        (
            "pinngelu.elasticity",
            "pinngelu.williams",
            "pinngelu.rigid_body",
            "pinngelu.hard_bc",
            "pinngelu.solution",
        ),
    ),
    (
        "formulations",
        (
            "pinngelu.formulation",
            "pinngelu.singular",
            "pinngelu.enrichment",
            "pinngelu.strong",
            "pinngelu.energy",
            "pinngelu.problem",
            "pinngelu.family",
        ),
    ),
    ("training", ("pinngelu.training",)),
    ("output and cross-checks", ("pinngelu.io", "pinngelu.plotting", "pinngelu.fem")),
    ("package", ("pinngelu",)),
    ("application and examples", ("pinngelu.app", "pinngelu.cases", "pinngelu.__main__")),
)
"""Lowest first; the same order as the table of docs/architecture.md."""


def _modules() -> dict[str, Path]:
    """Every module of the package by name, the case scripts (``pinngelu.cases``,
    installed from ``cases/``) included."""
    import pinngelu.cases

    out = {}
    for base, pkg in ((ROOT, "pinngelu"), (Path(pinngelu.cases.__file__).parent, "pinngelu.cases")):
        for p in base.rglob("*.py"):
            parts = p.relative_to(base).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            out[".".join((pkg, *parts))] = p
    return out


MODULES = _modules()


def _layer(name: str) -> int:
    best, index = "", None
    for i, (_, prefixes) in enumerate(LAYERS):
        for pre in prefixes:
            if (name == pre or name.startswith(pre + ".")) and len(pre) > len(best):
                best, index = pre, i
    if index is None:
        raise AssertionError(f"module {name} is in no layer of LAYERS")
    return index


class _Imports(ast.NodeVisitor):
    def __init__(self, name: str, is_pkg: bool) -> None:
        self.name, self.is_pkg, self.found = name, is_pkg, set()

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
            for n in node.orelse:
                self.visit(n)
            return
        self.generic_visit(node)

    def _add(self, target: str) -> None:
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target and target != self.name:
            self.found.add(target)

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            if a.name.startswith("pinngelu"):
                self._add(a.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.name if self.is_pkg else self.name.rpartition(".")[0]
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            mod = base + ("." + node.module if node.module else "")
        else:
            mod = node.module or ""
        if not mod.startswith("pinngelu"):
            return
        for a in node.names:
            full = f"{mod}.{a.name}"
            self._add(full if full in MODULES else mod)


def _graph() -> dict[str, set[str]]:
    graph = {}
    for name, path in MODULES.items():
        v = _Imports(name, path.name == "__init__.py")
        v.visit(ast.parse(path.read_text()))
        graph[name] = v.found
    return graph


GRAPH = _graph()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def _package_edges(graph):
    """Edges between modules, dropping a package's own imports of its submodules (a
    package ``__init__`` re-exports them) and the submodules' imports of their
    package's ``__init__``, which are no dependency between distinct modules."""
    out = {}
    for v, ws in graph.items():
        out[v] = {
            w
            for w in ws
            if not w.startswith(v + ".")
            and not (v.startswith(w + ".") and MODULES[w].name == "__init__.py")
        }
    return out


def test_every_module_is_in_a_layer():
    for name in MODULES:
        _layer(name)


def test_no_module_imports_one_that_imports_it():
    assert _cycles(_package_edges(GRAPH)) == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_go_down_the_layers(name):
    mine = _layer(name)
    up = sorted(w for w in GRAPH[name] if _layer(w) > mine)
    assert not up, f"{name} ({LAYERS[mine][0]}) imports {up} from a higher layer"


def test_the_checker_sees_a_cycle_and_an_upward_import():
    """The checks themselves can fail: a made-up graph with a cycle and an import from
    the physics layer into the training layer."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _layer("pinngelu.training.loop") > _layer("pinngelu.elasticity")


def test_every_subpackage_is_installed():
    """Each subpackage is in pyproject.toml's package list (a plain install, not
    editable, would leave it out otherwise)."""
    import tomllib

    pyproject = ROOT.parent / "pyproject.toml"
    if not pyproject.exists():
        pytest.skip("not a source checkout")
    listed = set(tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["packages"])
    packages = {n for n, p in MODULES.items() if p.name == "__init__.py"}
    assert packages <= listed, sorted(packages - listed)
