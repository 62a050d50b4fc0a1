"""The package's two laws, and its map, kept true.

1. Imports flow one way: the modules of ``injectq_like`` form no import
   circle, counting imports made inside functions and under ``TYPE_CHECKING``.
2. No module reaches into another's private names: it neither imports a
   ``_name`` from another module nor reads or writes ``obj._name`` where
   ``_name`` is defined by another module of the package and not by itself.

``docs/architecture.md`` lists every module, each below the modules it
imports, with its job; these tests fail when the map and the code part ways.
"""

from __future__ import annotations

import ast
import graphlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "injectq_like"
MAP = ROOT / "docs" / "architecture.md"
MAX_LINES = 420


@dataclass
class Module:
    name: str  # dotted, relative to the package: "_scope", "integrations.starlette"
    path: Path
    tree: ast.Module
    imports: set[str] = field(default_factory=set)  # package modules it imports
    private_imports: list[tuple[int, str, str]] = field(default_factory=list)  # (line, module, name)
    defines: set[str] = field(default_factory=set)  # private names it defines
    reads: list[tuple[int, str]] = field(default_factory=list)  # (line, attribute) of obj._attribute


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or "__init__"


def _resolve(module: str, level: int, target: str | None) -> str | None:
    """The package-relative name an import refers to, or None when it is outside the package."""
    if level == 0:
        if target is None or not (target == "injectq_like" or target.startswith("injectq_like.")):
            return None
        rest = target.removeprefix("injectq_like").removeprefix(".")
        return rest or "__init__"
    base = module.split(".")
    is_package = (PACKAGE / Path(*base) / "__init__.py").exists() if module != "__init__" else True
    if not is_package:
        base = base[:-1]
    if module == "__init__":
        base = []
    base = base[: len(base) - (level - 1)] if level > 1 else base
    joined = ".".join([*base, *([target] if target else [])])
    return joined or "__init__"


def _known(name: str, modules: dict[str, Module]) -> str | None:
    """The module an imported dotted name belongs to (``integrations._base.X`` -> ``integrations._base``)."""
    while name:
        if name in modules:
            return name
        if "." not in name:
            return None
        name = name.rpartition(".")[0]
    return None


def _load() -> dict[str, Module]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        modules[name] = Module(name, path, ast.parse(path.read_text(), str(path)))
    for module in modules.values():
        _read(module, modules)
    return modules


def _read(module: Module, modules: dict[str, Module]) -> None:
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ImportFrom):
            base = _resolve(module.name, node.level, node.module)
            if base is None:
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}" if base != "__init__" else alias.name
                if submodule in modules and submodule != module.name:
                    module.imports.add(submodule)
                    continue
                owner = _known(base, modules)
                if owner is not None and owner != module.name:
                    module.imports.add(owner)
                    if _is_private(alias.name):
                        module.private_imports.append((node.lineno, owner, alias.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                dotted = _resolve(module.name, 0, alias.name)
                owner = _known(dotted, modules) if dotted is not None else None
                if owner is not None and owner != module.name:
                    module.imports.add(owner)
        elif isinstance(node, ast.Attribute) and _is_private(node.attr):
            module.reads.append((node.lineno, node.attr))
            value = node.value
            if isinstance(node.ctx, ast.Store) and isinstance(value, ast.Name) and value.id in {"self", "cls"}:
                module.defines.add(node.attr)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and _is_private(node.name):
            module.defines.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for assigned in targets:
                if isinstance(assigned, ast.Name):
                    if _is_private(assigned.id):
                        module.defines.add(assigned.id)
                    if assigned.id == "__slots__" and node.value is not None:
                        module.defines.update(
                            element.value
                            for element in ast.walk(node.value)
                            if isinstance(element, ast.Constant)
                            and isinstance(element.value, str)
                            and _is_private(element.value)
                        )


MODULES = _load()


def _crossings() -> Iterator[str]:
    defined_elsewhere: dict[str, set[str]] = {}
    for module in MODULES.values():
        for name in module.defines:
            defined_elsewhere.setdefault(name, set()).add(module.name)
    for module in MODULES.values():
        for line, owner, name in module.private_imports:
            yield f"{module.name}.py:{line} imports the private name {name} from {owner}"
        for line, attribute in module.reads:
            owners = defined_elsewhere.get(attribute, set()) - {module.name}
            if owners and attribute not in module.defines:
                yield f"{module.name}.py:{line} touches .{attribute}, private to {', '.join(sorted(owners))}"


def test_imports_form_no_circle() -> None:
    """Every module imports only modules that do not import it back, directly or not."""
    sorter = graphlib.TopologicalSorter({m.name: m.imports for m in MODULES.values()})
    try:
        sorter.prepare()
    except graphlib.CycleError as error:
        pytest.fail(f"import circle: {' -> '.join(error.args[1])}")


def test_no_module_touches_another_modules_private_names() -> None:
    """What modules share is a plain name; a ``_name`` stays in the module that defines it."""
    assert list(_crossings()) == []


def test_every_module_stays_small() -> None:
    """No module is over a few hundred lines: each has one job."""
    sizes = {m.name: len(m.path.read_text().splitlines()) for m in MODULES.values()}
    assert {name: size for name, size in sizes.items() if size > MAX_LINES} == {}


def test_every_module_states_its_job() -> None:
    """Each module opens with a docstring saying what it is for."""
    assert [m.name for m in MODULES.values() if not ast.get_docstring(m.tree)] == []


def _map_rows() -> list[str]:
    """The modules listed in docs/architecture.md's table, in its order."""
    rows = re.findall(r"^\| `([\w/.]+)\.py` \|", MAP.read_text(), flags=re.MULTILINE)
    return [row.replace("/", ".").removesuffix(".__init__") for row in rows]


def test_the_map_lists_every_module_once() -> None:
    """docs/architecture.md names each module of the package exactly once."""
    rows = _map_rows()
    assert sorted(rows) == sorted(MODULES)
    assert len(rows) == len(set(rows))


def test_the_map_orders_modules_as_they_import() -> None:
    """In docs/architecture.md, every module comes after each module it imports."""
    position = {name: n for n, name in enumerate(_map_rows())}
    wrong = [
        f"{module.name} imports {imported}, listed below it"
        for module in MODULES.values()
        for imported in sorted(module.imports)
        if position.get(imported, -1) > position.get(module.name, -1)
    ]
    assert wrong == []


def test_the_checks_see_a_crossing_and_a_circle(tmp_path: Path) -> None:
    """The walker itself works: a private import, a private attribute and an import are all found."""
    source = "from ._scope import _OPEN\nfrom . import _container\ndef f(scope):\n    return scope._cache\n"
    module = Module("_probe", tmp_path / "_probe.py", ast.parse(source))
    _read(module, MODULES)
    assert module.private_imports == [(1, "_scope", "_OPEN")]
    assert module.imports == {"_scope", "_container"}
    assert (4, "_cache") in module.reads
