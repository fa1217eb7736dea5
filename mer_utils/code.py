"""The code a result depends on: a module's import closure inside the package, as code.

A fold's result depends on the code its fit runs: the fold machinery (:mod:`mer_utils.folds`),
the plug-in of its method (:mod:`mer_utils.methods`) and everything they import inside the
package, followed transitively (imports inside functions too: a fit may call them). That set
is derived here from the source (:func:`closure`), never kept by hand, and :func:`digest` hashes
its code without docstrings and comments (:func:`code_of`): a new module a fit imports joins
the fold keys by itself, and editing prose refits nothing. Text the book prints (pages, the
sentence table, ``report``) is outside every such closure: fitting modules do not import it.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
"""The ``mer_utils`` folder; module files are named relative to it (``methods/cnn.py``)."""


def module_file(module: str) -> str:
    """The package-relative file of ``mer_utils.<...>`` module ``module``."""
    parts = module.split(".")
    found = file_of(parts[1:]) if parts[0] == PACKAGE.name else None
    if found is None:
        raise ValueError(f"no file of {PACKAGE.name} for module {module}")
    return found


def file_of(parts: list[str], package: Path | None = None) -> str | None:
    """The package-relative file of module ``mer_utils.<parts>`` (a package: its
    ``__init__.py``), or None where there is none."""
    package = PACKAGE if package is None else package
    path = package.joinpath(*parts) if parts else package
    if parts and path.with_suffix(".py").is_file():
        return str(path.with_suffix(".py").relative_to(package))
    if (path / "__init__.py").is_file():
        return str((path / "__init__.py").relative_to(package))
    return None


@functools.cache
def imports_of(rel: str) -> frozenset[str]:
    """The package files module file ``rel`` imports anywhere in its code (:func:`imports_in`),
    with the ``__init__`` of every package on the way (Python runs them)."""
    found = imports_in((PACKAGE / rel).read_text(), Path(rel).parent.parts)
    parents = {f for rel_ in found for f in _parents(rel_)}
    return frozenset((found | parents) - {rel})


def imports_in(code: str, here: tuple[str, ...] = (), package: Path | None = None) -> set[str]:
    """The package files that ``code`` imports, at the top or inside functions: relative
    imports from the package folder ``here`` and ``mer_utils...`` imports (a page's code has
    only these)."""
    out: set[str] = set()
    for node in ast.walk(_parsed(code)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(here[: len(here) - (node.level - 1)])
                base += node.module.split(".") if node.module else []
            elif node.module and node.module.split(".")[0] == PACKAGE.name:
                base = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:
                found = file_of(base + [alias.name], package) or file_of(base, package)
                out |= {found} if found else set()
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE.name:
                    found = file_of(alias.name.split(".")[1:], package)
                    out |= {found} if found else set()
    return out


def _parents(rel: str) -> set[str]:
    """The ``__init__.py`` of every package above module file ``rel``."""
    parts = Path(rel).parent.parts
    return {str(Path(*parts[:i], "__init__.py")) for i in range(1, len(parts) + 1)}


@functools.cache
def closure(roots: tuple[str, ...]) -> tuple[str, ...]:
    """Every package file the module files ``roots`` import, transitively, roots and the
    package's ``__init__`` included, sorted."""
    seen: set[str] = set()
    todo = [*roots, "__init__.py"]
    while todo:
        rel = todo.pop()
        if rel not in seen:
            seen.add(rel)
            todo += sorted(imports_of(rel) - seen)
    return tuple(sorted(seen))


@functools.cache
def digest(roots: tuple[str, ...]) -> str:
    """SHA-256 of the code of :func:`closure` of ``roots`` (file names and code without
    docstrings and comments)."""
    h = hashlib.sha256()
    for rel in closure(roots):
        h.update(rel.encode())
        h.update(code_of(PACKAGE / rel).encode())
    return h.hexdigest()


def code_of(path: Path) -> str:
    """The code of a Python file without docstrings and comments (its syntax tree, dumped)."""
    return _code(Path(path).read_text())


@functools.lru_cache(maxsize=512)
def _parsed(text: str) -> ast.Module:
    return ast.parse(text)


@functools.lru_cache(maxsize=512)
def _code(text: str) -> str:
    tree = ast.parse(text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):  # docstrings, and strings documenting an attribute
            node.body = [b for b in body if not _is_string(b)] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def _is_string(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )
