"""The publishing guard: a book whose pages used licensed data is not published by accident.

``make book PUBLISH=1`` (the publishing workflow) runs ``python -m mer_utils.study
--check-publish``, which calls :func:`check_publishable`. It judges the book that would be
published, not the latest run: every executed page in the book folder (the data kind in its
parameters), every record in its results table, and every page of the built HTML (the class the
data banner of a licensed page carries, :data:`LICENSED_CLASS`). Pages or records left by an
earlier run count as much as the latest run's.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import sys
from pathlib import Path

import nbformat

from .fingerprints import REPO

PUBLISH_LICENSED_ENV = "MER_PUBLISH_LICENSED"
"""Set to ``yes`` to allow publishing a book whose pages used licensed data."""

LICENSED_CLASS = "data-licensed"
"""CSS class of the data banner of every page that shows licensed data
(:mod:`mer_utils.report.banners`); the guard looks for it in the built HTML."""

HTML = Path("_build") / "html"


def licensed_notebooks(book: Path) -> list[str]:
    """Executed pages under ``book`` whose injected parameters say they read licensed data
    (``data_kind``, or a summary page's ``data_kinds``)."""
    out = []
    for path in sorted(Path(book).rglob("*.ipynb")):
        if path.name.endswith(".running.ipynb"):
            continue
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as exc:  # noqa: BLE001 - an unreadable page cannot be vouched for
            out.append(f"{path} (unreadable: {type(exc).__name__})")
            continue
        for cell in nb.cells:
            if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
                if "licensed" in _kinds(cell.source):
                    out.append(str(path))
                break
    return out


def _kinds(source: str) -> list[str]:
    """The data kinds a papermill parameters cell assigns (``data_kind``, ``data_kinds``)."""
    kinds = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in ("data_kind", "data_kinds"):
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    continue
                kinds += list(value.values()) if isinstance(value, dict) else [value]
    return kinds


def licensed_records(results_dir: Path) -> list[str]:
    """Datasets with records of licensed data in ``<results>/metrics.csv`` (read as plain CSV:
    a table the schema would reject still counts)."""
    path = Path(results_dir) / "metrics.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    found: dict[str, int] = {}
    for row in rows:
        if row.get("data_kind") == "licensed":
            found[row.get("dataset", "?")] = found.get(row.get("dataset", "?"), 0) + 1
    return [f"{path}: {n} records of licensed {d} data" for d, n in sorted(found.items())]


def licensed_manifest(results_dir: Path) -> list[str]:
    """Pages of the latest run that read licensed data, by its manifest (which the book offers
    for download)."""
    from .results import licensed_pages, manifest_path

    path = manifest_path(results_dir)
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [f"{path}: page {key} of the latest run" for key in licensed_pages(manifest)]


def licensed_html(html: Path) -> list[str]:
    """Built pages that carry the licensed-data banner."""
    if not Path(html).is_dir():
        return []
    return [
        str(p)
        for p in sorted(Path(html).rglob("*.html"))
        if LICENSED_CLASS in p.read_text(errors="replace")
    ]


def check_publishable(book: Path, html: Path = HTML) -> int:
    """Refuse (exit status 1) to publish a book whose pages, records or built HTML show
    licensed data, unless ``$MER_PUBLISH_LICENSED`` is ``yes``; also refuse a book folder with
    no executed page (nothing to judge)."""
    book = REPO / book
    html = REPO / html
    pages = list(book.rglob("*.ipynb")) if book.is_dir() else []
    if not pages:
        print(f"{book}: no executed page to check; build the book first", file=sys.stderr)
        return 1
    found = (
        licensed_notebooks(book)
        + licensed_records(book / "results")
        + licensed_manifest(book / "results")
        + [f"{p} (built page)" for p in licensed_html(html)]
    )
    allowed = os.environ.get(PUBLISH_LICENSED_ENV, "").lower() == "yes"
    if found and not allowed:
        shown = "\n".join(f"  {_short(f)}" for f in found[:12])
        more = f"\n  ... and {len(found) - 12} more" if len(found) > 12 else ""
        print(
            f"Not publishing: {len(found)} pages, records or built pages show licensed data "
            f"(from this run or an earlier one):\n{shown}{more}\nDataset licences restrict "
            "where their data and faces may appear. Remove them (make clean-book, then build "
            f"again on stand-ins), or, if your licences allow it, set {PUBLISH_LICENSED_ENV}=yes.",
            file=sys.stderr,
        )
        return 1
    what = "no page, record or built page shows licensed data"
    print(f"publishable: {what if not found else 'allowed by ' + PUBLISH_LICENSED_ENV}")
    return 0


def _short(text: str) -> str:
    return text.replace(str(REPO) + os.sep, "")
