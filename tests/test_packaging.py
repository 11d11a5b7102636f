"""The package-dir layout's guards (issue 21 item 16): api/ is ``deter``, cli/ ``deter.cli``,
solver/ ``deter.solver``, problems/ ``deter.problems``. The wheel's package list is every
folder with an ``__init__.py``, no folder is left out (a new subpackage missing from the
list installs without its modules), and the folders never import under their own names."""

from __future__ import annotations

import importlib.util
import tomllib

from tests.support.paths import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def folder_packages() -> set[str]:
    """The import name of every folder with an ``__init__.py``, by pyproject's package-dir."""
    found = set()
    for name, folder in SETUPTOOLS["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *relative.parts]))
    return found


def test_the_wheels_packages_are_the_folders() -> None:
    listed = set(SETUPTOOLS["packages"])
    assert listed == folder_packages(), sorted(listed ^ folder_packages())


def test_every_data_folder_is_shipped() -> None:
    """Folders of data (no ``__init__.py``) under a package are in its package-data."""
    data = SETUPTOOLS["package-data"]
    for name, folder in SETUPTOOLS["package-dir"].items():
        base = ROOT / folder
        for sub in base.iterdir():
            if (
                not sub.is_dir()
                or (sub / "__init__.py").exists()
                or sub.name.startswith(("_", "."))
            ):
                continue
            files = [f for f in sub.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
            if not files:
                continue
            patterns = data.get(name, [])
            assert any(p.startswith(f"{sub.name}/") for p in patterns), f"{name}: {sub.name}/"


def test_the_folders_do_not_import_under_their_own_names() -> None:
    """With the repository root on sys.path (a pytest ``pythonpath = ["."]``), ``solver``
    and ``cli`` would import as top-level packages: a second copy of every class, whose
    exceptions ``deter``'s own ``except`` clauses do not catch."""
    for name in ("solver", "cli", "api", "problems"):
        assert importlib.util.find_spec(name) is None, name
    assert "pythonpath" not in PYPROJECT["tool"]["pytest"]["ini_options"]


def test_the_import_contracts_name_only_modules_that_exist() -> None:
    """No stale names (``deter.cli.plots``, ``deter.cli.files``) in the contracts."""
    contracts = PYPROJECT["tool"]["importlinter"]["contracts"]
    names: set[str] = set()
    for contract in contracts:
        containers = contract.get("containers", [])
        for layer in contract.get("layers", []):
            for part in layer.split("|"):
                module = part.strip().strip("()")
                if containers:
                    names.update(f"{c}.{module}" for c in containers)
                else:
                    names.add(module)
        names.update(contract.get("source_modules", []))
    for name in sorted(names):
        path = (
            name.removesuffix(".**").replace("deter.cli", "cli").replace("deter.solver", "solver")
        )
        if path.startswith("deter"):
            path = "api" + path[len("deter") :]
        candidate = ROOT / path.replace(".", "/")
        assert candidate.with_suffix(".py").exists() or candidate.is_dir(), name
