"""The notebook templates: MyST markdown notebooks in ``notebooks/``, rendered for papermill.

Templates are text (MyST markdown notebooks, read with jupytext), so they diff like prose. The
runner renders one into the notebook papermill executes:

1. **The parameters cell is written once.** A template's cell tagged ``parameters`` holds only a
   comment; rendering fills it with the defaults of its page family from ``grid.yaml``
   (a notebook whose parameters cell holds its own assignments keeps them)
   (``parameters``: ``dataset`` pages, ``method`` pages, ``summary`` pages; a ``dataset_dir``
   of null there is the default dataset's stand-in folder under the default profile). The
   runner then passes every page its own values, which papermill injects after that cell, and
   writes them into the executed page's parameters cell (:func:`own_parameters`): a page
   downloaded from the book describes itself, and ``papermill page.ipynb out.ipynb -p seed 1``
   changes one value and keeps the others.
2. **A page makes its data.** After the parameters cell of a dataset or method page, a hidden
   cell calls :func:`mer_utils.standins.ondemand.ensure_data`: a stand-in folder that is missing
   (the page runs on another machine) is generated from the page's profile.
3. **One template for every method.** The method pages come from ``notebooks/method.md``.
   Rendering for a method keeps only the cells whose ``when`` (cell metadata) holds for the
   method's entry in ``methods.yaml`` (``flow``, ``cnn``, ``resampling``) and fills
   ``{{title}}``, ``{{introduction}}``, ``{{resampling.heading}}``... from that entry.

``python -m mer_utils.build.templates notebooks/method.md --method MER-3DCNNST -o page.ipynb`` writes
a rendered template, ready for ``papermill page.ipynb out.ipynb -p dataset smic ...``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from .. import config

REPO = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")


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
    if "dataset_dir" in out and out["dataset_dir"] is None:
        from ..sources import STANDINS, standin_root

        folder = config.dataset_info(out["dataset"]).get("folder") or ""
        standin = config.profile(out["profile"]).get("standin")
        out["dataset_dir"] = str(standin_root(STANDINS, standin) / folder)
    if kind == "method":
        out["method"] = method or next(iter(config.methods()))
    return out


TEMPLATE_HEADER = (
    "# Parameters (defaults: mer_utils/data/grid.yaml; the runner passes each page its own)"
)
PAGE_HEADER = (
    "# This page's parameters, as the study ran it. `papermill PAGE.ipynb OUT.ipynb -p NAME VALUE`\n"
    '# changes one (lists with -y, e.g. -y "protocols: [kfold]") and keeps the others.'
)
PREPARE = (
    "# The data this page reads: a missing stand-in folder is generated from the page's profile\n"
    "from mer_utils.standins.ondemand import ensure_data\n\n"
    "ensure_data(dataset, dataset_dir, data_kind, profile)"
)
"""The hidden cell after a dataset or method page's parameters cell."""


def parameters_source(values: dict, header: str = TEMPLATE_HEADER) -> str:
    """The parameters cell: one literal assignment per parameter."""
    lines = [header]
    lines += [f"{name} = {value!r}" for name, value in values.items()]
    return "\n".join(lines)


def assignments(source: str) -> dict:
    """The literal assignments of a parameters cell, in order (``name = literal``)."""
    import ast

    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                out[target.id] = ast.literal_eval(node.value)
    return out


def own_parameters(nb: nbformat.NotebookNode) -> bool:
    """Write an executed page's own parameters (papermill's injected values over the
    template's defaults) into its parameters cell, so that the page re-runs as it stands and
    papermill, which replaces the injected cell with only the values it is given, changes only
    those. Returns whether a parameters cell was found."""
    injected = nb.metadata.get("papermill", {}).get("parameters", {})
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            values = {**assignments(cell.source), **injected}
            cell.source = parameters_source(values, PAGE_HEADER)
            return True
    return False


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
            if not holds(when, method):
                continue
        if "parameters" in cell.metadata.get("tags", []) and not _has_code(cell.source):
            cell.source = parameters_source(defaults(kind, method))
            if kind != "summary":
                cells += [cell, _prepare_cell()]
                continue
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


def page_title(nb: nbformat.NotebookNode) -> str:
    """The title of a page: the first level-1 heading of its first markdown cell that has one."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def title_dataset(nb: nbformat.NotebookNode, dataset: str | None) -> str:
    """Give a per-dataset page its dataset in its title (``# Evaluation summary — SMIC``), so
    that no two pages of the book share a title and a link to one names its dataset. Returns
    the new title (unchanged without a dataset or a title, or when it names it already)."""
    title = page_title(nb)
    if not dataset or not title:
        return title
    display = config.dataset_info(dataset)["display"]
    if title.endswith(f" — {display}"):
        return title
    for cell in nb.cells:
        if cell.cell_type == "markdown" and f"# {title}" in cell.source.splitlines():
            lines = cell.source.splitlines()
            lines[lines.index(f"# {title}")] = f"# {title} — {display}"
            cell.source = "\n".join(lines)
            break
    return f"{title} — {display}"


def _prepare_cell() -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(PREPARE)
    cell.metadata["tags"] = ["remove-cell"]
    cell.metadata["mer"] = {"prepare": True}
    return cell


def _has_code(source: str) -> bool:
    """Whether a cell holds any statement (a template's parameters cell holds only a comment)."""
    import ast

    return bool(ast.parse(source).body)


def holds(when: str, method: str) -> bool:
    """Whether a cell's ``when`` condition holds for a method: whether the method's page shows
    that optional section (:func:`mer_utils.methods.shows`, its plug-in declares it)."""
    from .. import methods

    known = methods.sections()
    if when not in known:
        raise ValueError(f"unknown cell condition `when: {when}` (known: {known})")
    return methods.shows(method, when)


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
        prog="python -m mer_utils.build.templates", description=__doc__.split("\n")[0]
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
