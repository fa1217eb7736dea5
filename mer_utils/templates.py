"""The notebook templates: MyST markdown notebooks in ``notebooks/``, rendered for papermill.

Templates are text (MyST markdown notebooks, read with jupytext), so they diff like prose. The
runner renders one into the notebook papermill executes:

1. **The parameters cell is written once.** A template's cell tagged ``parameters`` holds only a
   comment; rendering fills it with the defaults of its page family from ``grid.yaml``
   (a notebook whose parameters cell holds its own assignments keeps them)
   (``parameters``: ``dataset`` pages, ``method`` pages, ``summary`` pages). The runner then
   passes every page its own values, which papermill injects after that cell.
2. **One template for every method.** The method pages come from ``notebooks/method.md``.
   Rendering for a method keeps only the cells whose ``when`` (cell metadata) holds for the
   method's entry in ``methods.yaml`` (``flow``, ``cnn``, ``resampling``) and fills
   ``{{title}}``, ``{{introduction}}``, ``{{resampling.heading}}``... from that entry.

``python -m mer_utils.templates notebooks/method.md --method MER-3DCNNST -o page.ipynb`` writes
a rendered template, ready for ``papermill page.ipynb out.ipynb -p dataset smic ...``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from . import config

REPO = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")
CONDITIONS = ("cnn", "flow", "flownet", "resampling")
"""The ``when`` conditions a method template's cells may carry."""


def family(template: str, method: str | None = None) -> str:
    """The page family of a template: ``method``, ``summary`` or ``dataset`` (``grid.yaml``)."""
    if method is not None:
        return "method"
    grid = config.load("grid")
    if any(page["template"] == template for page in grid["summary"]):
        return "summary"
    return "dataset"


def defaults(kind: str, method: str | None = None) -> dict:
    """The parameters a page of family ``kind`` declares, with their defaults."""
    params = config.load("grid")["parameters"]
    out = dict(params["summary" if kind == "summary" else "dataset"])
    if kind == "method":
        out["method"] = method or next(iter(config.methods()))
    return out


def parameters_source(values: dict) -> str:
    """The parameters cell: one literal assignment per parameter."""
    lines = [
        "# Parameters (defaults: mer_utils/data/grid.yaml; the runner passes each page its own)"
    ]
    lines += [f"{name} = {value!r}" for name, value in values.items()]
    return "\n".join(lines)


def read(template: str | Path) -> nbformat.NotebookNode:
    """A template as a notebook (jupytext; a path relative to the repository)."""
    import jupytext

    path = Path(template)
    return jupytext.read(path if path.is_absolute() else REPO / path)


def render(template: str, method: str | None = None) -> nbformat.NotebookNode:
    """The notebook papermill executes for ``template`` (and ``method``, for the method
    template): parameters cell filled, method cells kept or dropped, placeholders filled."""
    nb = read(template)
    entry = config.method(method) if method else None
    kind = family(template, method)
    cells = []
    for cell in nb.cells:
        when = cell.metadata.pop("when", None)
        if when is not None:
            if entry is None:
                raise ValueError(f"{template}: a cell has `when: {when}` but no method is given")
            if not holds(when, entry):
                continue
        if "parameters" in cell.metadata.get("tags", []) and not _has_code(cell.source):
            cell.source = parameters_source(defaults(kind, method))
        elif cell.cell_type == "markdown" and entry is not None:
            cell.source = fill(cell.source, entry, template)
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    return nb


def _has_code(source: str) -> bool:
    """Whether a cell holds any statement (a template's parameters cell holds only a comment)."""
    import ast

    return bool(ast.parse(source).body)


def holds(when: str, entry: dict) -> bool:
    """Whether a cell's ``when`` condition holds for a method entry."""
    if when not in CONDITIONS:
        raise ValueError(f"unknown cell condition `when: {when}` (known: {CONDITIONS})")
    if when in ("cnn", "flow", "flownet"):
        return entry["method"] == when
    return "resampling" in entry


def fill(text: str, entry: dict, where: str = "") -> str:
    """``{{name}}`` / ``{{name.part}}`` in ``text`` replaced by the method entry's values."""

    def value(match: re.Match) -> str:
        node = entry
        for part in match.group(1).split("."):
            if not isinstance(node, dict) or part not in node:
                raise KeyError(f"{where}: methods.yaml entry has no {match.group(1)!r}")
            node = node[part]
        return str(node).strip()

    return PLACEHOLDER.sub(value, text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m mer_utils.templates", description=__doc__.split("\n")[0]
    )
    p.add_argument("template", help="e.g. notebooks/method.md")
    p.add_argument("--method", help="the method of the method template (methods.yaml)")
    p.add_argument("-o", "--output", required=True, help="the notebook to write (.ipynb)")
    args = p.parse_args(argv)
    nbformat.write(render(args.template, args.method), args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
