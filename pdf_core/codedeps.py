"""The package files each stage runs, derived from its imports.

Snakemake tracks the code of a rule but not the modules that code imports, so each rule lists
the package files it depends on as inputs. Listing them by hand drifts (it did); here they are
computed: the ``cmd_<stage>`` function of :mod:`pdf_core.cli` is the entry point, and every
``pdf_core`` module it imports is followed transitively, imports inside functions included, as is
any string constant that names a package module (registries that import by name). The model
modules, which the registry imports by name at run time, are added per job by the train and
evaluate rules, so editing ``qmf.py`` reruns only qmf's jobs. dvc.yaml's ``deps`` are tested against
the same closure (tests/test_codedeps.py).
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


def _entry_imports(tree: ast.Module, function: str) -> set[str]:
    """Modules imported by ``function`` of a module and by the module's functions it calls, transitively."""
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    if function not in functions:
        raise ValueError(f"{PACKAGE}.cli has no function {function!r}")
    nodes = {name: list(ast.walk(node)) for name, node in functions.items()}
    called = _reachable([function], lambda f: [n.id for n in nodes[f] if isinstance(n, ast.Name) and n.id in functions])
    return set().union(*(_imported_modules(nodes[f]) for f in called))


@functools.cache
def stage_files(stage: str) -> tuple[Path, ...]:
    """Every package file ``python -m pdf_core <stage>`` runs (the model modules aside), sorted."""
    cli = module_file(f"{PACKAGE}.cli")
    tree = ast.parse(cli.read_text(encoding="utf-8"))
    top_level = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    # cli.py imports each stage's code inside its cmd_<stage> function (and the helpers it calls):
    # only that stage's imports count, plus cli's module-level ones
    entry = _imported_modules(top_level) | {f"{PACKAGE}.__main__"} | _entry_imports(tree, f"cmd_{stage}")
    return tuple(sorted(closure(entry, opaque=frozenset({f"{PACKAGE}.cli"}))))


def model_files(model: str) -> tuple[Path, ...]:
    """The model's own module and what it imports (its base classes, helpers)."""
    return tuple(sorted(closure({f"{PACKAGE}.models.{model}"})))
