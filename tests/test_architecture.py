"""The import contract (issue #11, docs/architecture.md), read from the source with ``ast``.

The repository's folders are one package, ``deter``: api/ is the root, cli/ is ``deter.cli``,
solver/ is ``deter.solver`` (pyproject.toml's package-dir). Every import is read, at module
level, inside functions and under ``if TYPE_CHECKING:`` alike (a type-only import is still a
dependency), relative imports resolved to dotted names. The checks:

- no import cycle between modules;
- imports point only down the layer order (:data:`LAYERS`), and sibling packages that share a
  layer (analysis, simulation, policy) do not import each other;
- no module imports a private name (``_x``) from another module;
- the layers that must stay light import no numeric or solver library (:data:`FORBIDDEN`).

``lint-imports`` (pyproject.toml's ``[tool.importlinter]``) checks the same layers on the
installed package; this test also runs without it and reports every violation at once.
"""

from __future__ import annotations

import ast
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Source folder -> the package it is installed as (pyproject.toml's package-dir).
PACKAGE_DIRS = {"api": "deter", "cli": "deter.cli", "solver": "deter.solver"}

#: Bottom to top. A module may import its own layer's package and anything below it. Entries
#: in one tuple are siblings: they share a rank and may not import each other. A name covers
#: the module and everything under it; ``=name`` covers only that module (a package's
#: ``__init__``), so the ``deter.solver`` facade does not cover the layers inside it;
#: ``name.*`` covers the modules directly in the package (api/'s files). The most specific
#: entry wins.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("deter.solver.results",),
    ("deter.solver.spec",),
    ("deter.solver.model",),
    ("deter.solver.formulation",),
    ("deter.solver.engine",),
    ("deter.solver.analysis", "deter.solver.simulation", "deter.solver.policy"),
    ("deter.solver.batch",),
    ("deter.solver.report",),
    ("deter.solver.control",),
    ("deter.solver.problem", "=deter.solver"),
    ("deter.solver.rl",),
    # The command line, in its own layers: plumbing, rendering, shared glue, commands, app.
    ("deter.cli.exit_codes", "deter.cli.options"),
    ("deter.cli.render",),
    ("deter.cli.common",),
    ("deter.cli.commands",),
    ("deter.cli.app", "=deter.cli"),
    ("deter.cli.entry",),
    # The public API (api/: ``deter``, ``deter.runtime``, ...) and ``python -m deter``.
    ("=deter", "deter.*"),
)

#: Layer package -> third-party packages it may not import (directly; see import-linter for
#: indirect chains): the spec and results stay free of numerics so ``deter validate`` and
#: ``deter schema`` start fast, only the formulation and above build cvxpy programs, and a
#: deployed policy's runtime needs no solver.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "deter.solver.results": ("numpy", "scipy", "cvxpy"),
    "deter.solver.spec": ("numpy", "scipy", "cvxpy"),
    "deter.solver.model": ("cvxpy",),
    "deter.solver.policy": ("cvxpy",),
    "deter.solver": ("deter.cli",),
}


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    imported: str  # dotted module name (the nearest module of ours, or a third-party one)
    name: str | None  # the name taken from it (``from m import name``), if any
    path: Path
    line: int
    written: str  # the dotted name as written, resolved: what is missing when it is not ours

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def source_modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    modules: dict[str, Path] = {}
    for folder, package in PACKAGE_DIRS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join((package, *parts))] = path
    return modules


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _absolute(module: str, path: Path, level: int, target: str | None) -> str:
    """Resolve ``from <level dots><target> import ...`` inside ``module``."""
    if level == 0:
        return target or ""
    package = module if _is_package(path) else module.rpartition(".")[0]
    base = package.split(".")
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def _nearest(name: str, modules: dict[str, Path]) -> str:
    """The longest prefix of ``name`` that is one of our modules (or ``name`` itself)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return name


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(
                    module, _nearest(alias.name, modules), None, path, node.lineno, alias.name
                )
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, path, node.level, node.module)
            if base == "__future__":
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in modules:  # ``from package import submodule``
                    yield Import(module, full, None, path, node.lineno, full)
                else:
                    yield Import(
                        module, _nearest(base, modules), alias.name, path, node.lineno, base
                    )


def all_imports() -> list[Import]:
    modules = source_modules()
    return [imp for name, path in modules.items() for imp in imports_of(name, path, modules)]


def _covers(entry: str, module: str) -> bool:
    if entry.startswith("="):
        return module == entry[1:]
    if entry.endswith(".*"):
        parent, _, child = module.rpartition(".")
        return parent == entry[:-2] and bool(child)
    return module == entry or module.startswith(entry + ".")


def _specificity(entry: str) -> int:
    return len(entry.strip("=*"))


def layer_of(module: str) -> tuple[int, str] | None:
    """(rank, entry) of the most specific layer entry covering ``module``."""
    best: tuple[int, str] | None = None
    for rank, entries in enumerate(LAYERS):
        for entry in entries:
            if _covers(entry, module) and (
                best is None or _specificity(entry) > _specificity(best[1])
            ):
                best = (rank, entry)
    return best


def _is_ours(module: str) -> bool:
    return module == "deter" or module.startswith("deter.")


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_module_outside(module: str, importer: str) -> bool:
    """A private module (``pkg._impl``) imported from outside the package that holds it."""
    parts = module.split(".")
    for end, part in enumerate(parts):
        if _is_private(part):
            parent = ".".join(parts[:end])
            return not (importer == parent or importer.startswith(parent + "."))
    return False


# --- the checks -----------------------------------------------------------------------------


def test_every_module_has_a_layer() -> None:
    unplaced = [m for m in source_modules() if layer_of(m) is None]
    assert not unplaced, "modules in no layer (add them to LAYERS): " + ", ".join(unplaced)


def test_imports_of_our_modules_name_modules_that_exist() -> None:
    modules = source_modules()
    missing = [
        f"{imp.where()}: {imp.importer} imports {imp.written}, which does not exist"
        for imp in all_imports()
        if _is_ours(imp.written) and imp.written not in modules
    ]
    assert not missing, "imports of missing modules:\n" + "\n".join(sorted(set(missing)))


def test_imports_point_down_the_layers() -> None:
    wrong: list[str] = []
    for imp in all_imports():
        if not _is_ours(imp.imported) or imp.written != imp.imported:
            continue  # third-party, or a missing module (reported above)
        here, there = layer_of(imp.importer), layer_of(imp.imported)
        if here is None or there is None or here[1] == there[1]:
            continue
        if there[0] > here[0]:
            wrong.append(f"{imp.where()}: {imp.importer} imports {imp.imported} (a higher layer)")
        elif there[0] == here[0]:
            wrong.append(
                f"{imp.where()}: {imp.importer} imports its sibling layer {imp.imported} "
                f"({here[1].strip('=*')} and {there[1].strip('=*')} must stay independent)"
            )
    assert not wrong, "imports against the layer order:\n" + "\n".join(sorted(set(wrong)))


def test_no_private_names_imported_from_other_modules() -> None:
    reaches: list[str] = []
    for imp in all_imports():
        if not _is_ours(imp.imported) or imp.imported == imp.importer:
            continue
        if imp.name is not None and _is_private(imp.name):
            reaches.append(f"{imp.where()}: {imp.importer} imports {imp.imported}.{imp.name}")
        elif _private_module_outside(imp.imported, imp.importer):
            reaches.append(f"{imp.where()}: {imp.importer} imports {imp.imported}")
    message = "private names imported from another module:\n" + "\n".join(sorted(set(reaches)))
    assert not reaches, message


def test_light_layers_import_no_heavy_libraries() -> None:
    found: list[str] = []
    for imp in all_imports():
        for layer, banned in FORBIDDEN.items():
            if not _covers(layer, imp.importer):
                continue
            for package in banned:
                if _covers(package, imp.imported):
                    found.append(f"{imp.where()}: {imp.importer} imports {imp.imported}")
    assert not found, "forbidden imports:\n" + "\n".join(sorted(set(found)))


#: Solvers reached around cvxpy: the design card has every program solved through cvxpy
#: (formulation/program.py:solve_problem; array-shaped LPs through formulation/linear.py).
DIRECT_SOLVERS = ("highspy", "clarabel", "scipy.optimize.linprog", "scipy.optimize.milp")


def test_no_solver_is_called_around_cvxpy() -> None:
    found = [
        f"{imp.where()}: {imp.importer} imports {name}"
        for imp in all_imports()
        for name in [imp.imported if imp.name is None else f"{imp.imported}.{imp.name}"]
        if any(_covers(solver, name) for solver in DIRECT_SOLVERS)
    ]
    assert not found, "solvers called directly:\n" + "\n".join(sorted(found))


def import_cycles() -> list[str]:
    """Every group of modules that import each other in a circle: a cycle through it, and the
    imports inside the group (each must go for the group to fall apart)."""
    graph: dict[str, set[str]] = {m: set() for m in source_modules()}
    for imp in all_imports():
        if imp.imported in graph and imp.imported != imp.importer:
            graph[imp.importer].add(imp.imported)
    # Tarjan's algorithm, iterative.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)
    found: list[str] = []
    for group in groups:
        inside = sorted(f"{a} -> {b}" for a in group for b in graph[a] & group)
        found.append(
            " -> ".join(_one_cycle(graph, group))
            + "\n    imports within the cycle: "
            + "; ".join(inside)
        )
    return found


def _one_cycle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest cycle through the group's first module (breadth-first), for the message."""
    start = min(group)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for child in sorted(graph[node] & group):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return sorted(group)  # pragma: no cover - a strongly connected group always has a cycle


def test_no_import_cycles() -> None:
    cycles = import_cycles()
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize(
    ("module", "path", "level", "target", "expected"),
    [
        ("deter.solver.spec.loading", "loading.py", 1, "document", "deter.solver.spec.document"),
        (
            "deter.solver.spec.loading",
            "loading.py",
            2,
            "results.errors",
            "deter.solver.results.errors",
        ),
        ("deter.cli.commands", "__init__.py", 1, "batch", "deter.cli.commands.batch"),
        ("deter.cli.commands.check", "check.py", 2, None, "deter.cli"),
        ("deter.cli.app", "app.py", 2, None, "deter"),
        ("deter.cli.app", "app.py", 0, "deter.solver", "deter.solver"),
    ],
)
def test_relative_imports_resolve(
    module: str, path: str, level: int, target: str | None, expected: str
) -> None:
    assert _absolute(module, Path(path), level, target) == expected


def test_the_reader_sees_imports_inside_functions_and_type_checking_blocks(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .a import A\n"
        "def f():\n    from ..b import _hidden\n",
        encoding="utf-8",
    )
    modules = {"deter.x.mod": source, "deter.x.a": source, "deter.b": source}
    found = {(i.imported, i.name) for i in imports_of("deter.x.mod", source, modules)}
    assert ("deter.x.a", "A") in found
    assert ("deter.b", "_hidden") in found


# --- CI runs what the README says -----------------------------------------------------------


def test_ci_runs_the_readme_test_command_and_every_check() -> None:
    """.ci/run's steps, in order, contain the README's test command, step for step, and the
    checks the README's Development section lists."""
    steps = [
        " ".join(shlex.split(line)[2:]).replace("run_pytest", "pytest")
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.startswith("step ")
    ]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = "bash scripts/install-browser.sh && pip install -e '.[test]' && pytest"
    assert f"\n{command}\n" in readme
    parts = [" ".join(shlex.split(part)) for part in command.split(" && ")]
    positions = [steps.index(part) for part in parts]
    assert positions == sorted(positions), steps
    for check in (
        "ruff check .",
        "ruff format --check .",
        "bash scripts/typecheck.sh",
        "bash scripts/lint-imports.sh",
    ):
        assert check in steps, f".ci/run does not run {check!r}"
        assert check in readme, f"README does not list {check!r}"
