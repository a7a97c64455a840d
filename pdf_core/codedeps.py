"""The package files each stage runs, derived from its imports.

Snakemake tracks the code of a rule but not the modules that code imports, so the settings stamps
(:mod:`pdf_core.stamps`) hash the package files a stage runs: the stage's module
(:mod:`pdf_core.stages.<stage>`) and every ``pdf_core`` module it imports, transitively, imports inside
functions included, as is any string constant that names a package module (registries that import by
name). The model modules, which the model registry imports by name at run time, count per model for the
stages that run one, so editing ``qmf.py`` reruns only qmf's jobs.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = "pdf_core"
PACKAGE_DIR = Path(__file__).resolve().parent


def module_file(module: str) -> Path | None:
    """``pdf_core.a.b`` -> ``pdf_core/a/b.py`` (or its package ``__init__.py``); None if not a module."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _with_parents(module: str) -> list[str]:
    """Importing ``pdf_core.a.b`` runs ``pdf_core/__init__.py`` and ``pdf_core/a/__init__.py`` too."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _imported_modules(nodes) -> set[str]:
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from pdf_core import paths` imports the submodule pdf_core.paths
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(PACKAGE + "."):
            found.add(node.value)
    return {m for name in found for m in _with_parents(name) if module_file(m) is not None}


def _runtime_nodes(tree: ast.AST):
    """Every node, except inside ``if TYPE_CHECKING:`` blocks (imports for annotations never run)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


@functools.cache
def _module_imports(path: Path) -> frozenset[str]:
    return frozenset(_imported_modules(_runtime_nodes(ast.parse(path.read_text(encoding="utf-8")))))


def _reachable(start, successors) -> set:
    """``start`` and everything reachable from it through ``successors(item)``."""
    todo, seen = list(start), set()
    while todo:
        item = todo.pop()
        if item not in seen:
            seen.add(item)
            todo.extend(successors(item))
    return seen


def closure(modules: set[str], opaque: frozenset[str] = frozenset()) -> set[Path]:
    """Files of ``modules`` and of every package module they import, transitively.

    The imports of an ``opaque`` module are not followed (its file still counts).
    """
    reached = _reachable(modules, lambda m: () if m in opaque else _module_imports(module_file(m)))
    return {module_file(m) for m in reached}


@functools.cache
def stage_files(stage: str) -> tuple[Path, ...]:
    """Every package file ``python -m pdf_core <stage>`` runs (the model modules aside), sorted: the import
    closure of :mod:`pdf_core.stages.<stage>`, and the entry point that dispatches to it."""
    # cli.py imports every stage to list them: its own file counts, its imports do not
    entry = {f"{PACKAGE}.stages.{stage}", f"{PACKAGE}.__main__"}
    return tuple(sorted(closure(entry, opaque=frozenset({f"{PACKAGE}.cli"}))))


def model_files(model: str) -> tuple[Path, ...]:
    """The model's own module and what it imports (its base classes, helpers)."""
    return tuple(sorted(closure({f"{PACKAGE}.models.{model}"})))
