"""The package's layers: imports point one way (lower layers never import higher ones) and no
module imports itself back through a cycle. Every import is counted, including those inside
functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "jaxinter"

# rank of each top-level part of the package: a module may import its own subpackage and parts
# of strictly lower rank only.
LAYERS = {
    "errors": 0, "interrupt": 0,  # the standard library only
    "distributed": 0.5,  # meshes and processes: the rank-1 kernels take ``mesh=``
    "interactions": 1, "io": 1, "data": 1, "models": 1,
    "masking": 2, "training": 2,
    "analysis": 3,
    "studies": 4, "plots": 4,
    "sweeps": 4.5,
    "commands": 5,
    "cli": 6, "__init__": 6,
    "__main__": 7,  # the executable: Ctrl-C handling, then the command line
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str | None = None) -> set[str]:
    """Absolute names of the jaxinter modules (or packages) that ``path`` (the module ``name``,
    by default the one at that place in the package) imports."""
    name = name or _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "jaxinter"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "jaxinter":
                continue
            for alias in node.names:  # "from pkg import submodule" imports the submodule
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _exists(candidate) else target)
    return found


def _exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _part(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {m: _imports(p) for m, p in MODULES.items()}


def test_every_part_has_a_rank():
    assert {_part(m) for m in MODULES} <= set(LAYERS), set(map(_part, MODULES)) - set(LAYERS)


def upward_imports(module: str, graph: dict[str, set[str]]) -> list[str]:
    """Imports of ``module`` that reach a part of the same or a higher layer."""
    own = _part(module)
    return sorted(t for t in graph[module] if _part(t) != own and LAYERS[_part(t)] >= LAYERS[own])


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle between modules as a path, or None (a package importing its own
    submodules, as every ``__init__`` does, is not a cycle)."""
    edges = {m: {t for t in ts if t in graph and t != m and not t.startswith(m + ".")}
             for m, ts in graph.items()}
    state: dict[str, int] = {}

    def visit(m, path):
        state[m] = 1
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                return path + [t]
            if t not in state and (cycle := visit(t, path + [t])):
                return cycle
        state[m] = 2
        return None

    for m in sorted(edges):
        if m not in state and (cycle := visit(m, [m])):
            return cycle
    return None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    upward = upward_imports(module, GRAPH)
    assert not upward, f"{module} imports {upward} (same or higher layer)"


def test_no_import_cycles():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_checks_catch_planted_faults(tmp_path):
    """An upward import inside a function and a cycle through private modules are found."""
    planted = tmp_path / "_planted.py"
    planted.write_text("def f():\n    from ..analysis import order_summary\n")
    name = "jaxinter.interactions._planted"
    graph = {**GRAPH, name: _imports(planted, name)}
    assert upward_imports(name, graph) == ["jaxinter.analysis"]
    cyclic = {**GRAPH, "jaxinter.interactions._andor_result": GRAPH[
        "jaxinter.interactions._andor_result"] | {"jaxinter.interactions._andor"}}
    assert find_cycle(cyclic) is not None
