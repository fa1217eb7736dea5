"""The publishing guard: a book whose pages used licensed data is not published by accident.

``make book PUBLISH=1`` (the publishing workflow) runs ``python -m mer_utils.build
--check-publish``, which calls :func:`check_publishable`. It judges the book that would be
published, not the latest run: every executed page in the book folder and in the built HTML
(the data kind in its parameters); every table, prediction file, archive and JSON file the book
folder or the built HTML holds (``_downloads`` included): a row of licensed data, or of a data id
that no stand-in page or record vouches for (rows left by a licensed run whose records were
deleted), refuses; and every built page that carries the licensed banner: an element of class
:data:`LICENSED_CLASS`, parsed as HTML, so a page that merely quotes the word passes. Pages,
rows or files left by an earlier run count as much as the latest run's.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import nbformat

from ..report.banners import LICENSED_CLASS  # the CSS class the guard looks for
from ..results import manifest_path
from .fingerprints import REPO

PUBLISH_LICENSED_ENV = "MER_PUBLISH_LICENSED"
"""Set to ``yes`` to allow publishing a book whose pages used licensed data."""


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
    for name, value in _assigned(source).items():
        if name in ("data_kind", "data_kinds"):
            kinds += list(value.values()) if isinstance(value, dict) else [value]
    return kinds


def _assigned(source: str) -> dict:
    """The literal values a papermill parameters cell assigns, by name."""
    out = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return out


def licensed_records(results_dir: Path) -> list[str]:
    """Datasets with records of licensed data in ``<results>/metrics.csv`` (read as plain CSV:
    a table the schema would reject still counts)."""
    path = Path(results_dir) / "metrics.csv"
    if not path.exists():
        return []
    return _judge_csv(path, path.read_bytes(), None)


def licensed_manifest(results_dir: Path) -> list[str]:
    """Pages of the latest run that read licensed data, by its manifest (which the book offers
    for download)."""
    path = manifest_path(results_dir)
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return _judge_json(path, manifest)


class _BannerFinder(HTMLParser):
    """Finds an element whose ``class`` attribute holds :data:`LICENSED_CLASS` (the banner
    itself); the same word in a page's text or code is not an element and does not count."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "class" and LICENSED_CLASS in (value or "").split():
                self.found = True


def shows_banner(html_text: str) -> bool:
    """True when an HTML page carries the licensed-data banner (an element of class
    :data:`LICENSED_CLASS`), parsed as HTML."""
    finder = _BannerFinder()
    finder.feed(html_text)
    finder.close()
    return finder.found


def licensed_html(html: Path) -> list[str]:
    """Built pages that carry the licensed-data banner."""
    if not Path(html).is_dir():
        return []
    return [
        str(p)
        for p in sorted(Path(html).rglob("*.html"))
        if shows_banner(p.read_text(errors="replace"))
    ]


# ----------------------------------------------------------------------------- shipped files
class _Ids:
    """The data ids the book vouches for as stand-ins (executed pages and records of stand-in
    data), and those it knows as licensed. A row or file of any other data id is not published:
    nothing says what it was computed from (e.g. rows left by a licensed run whose records were
    deleted)."""

    def __init__(self):
        self.standin: set[str] = set()
        self.licensed: set[str] = set()

    def add(self, kind, data_id) -> None:
        if isinstance(data_id, str) and data_id and kind in ("licensed", "stand-in"):
            (self.licensed if kind == "licensed" else self.standin).add(data_id)

    def verdict(self, data_id: str) -> str | None:
        """None when ``data_id`` is a stand-in's; else why the data cannot be vouched for."""
        if data_id in self.licensed:
            return "licensed"
        if data_id in self.standin:
            return None
        return "unvouched"


def known_ids(book: Path) -> _Ids:
    """The data ids of the book's executed pages (their injected parameters) and of its records
    (``metrics.csv``), by kind."""
    ids = _Ids()
    notebooks = list(Path(book).rglob("*.ipynb")) if Path(book).is_dir() else []
    for path in notebooks:
        for params in _parameters(path):
            ids.add(params.get("data_kind"), params.get("data_id"))
            kinds, dids = params.get("data_kinds"), params.get("data_ids")
            if isinstance(kinds, dict) and isinstance(dids, dict):
                for name, did in dids.items():
                    ids.add(kinds.get(name), did)
    metrics = Path(book) / "results" / "metrics.csv"
    for row in _rows(metrics.read_bytes() if metrics.exists() else b""):
        ids.add(row.get("data_kind"), row.get("data_id"))
    # a data id known as licensed anywhere is never vouched for as a stand-in
    ids.standin -= ids.licensed
    return ids


def _parameters(path: Path) -> list[dict]:
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - judged (and refused) by licensed_notebooks
        return []
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            return [_assigned(cell.source)]
    return []


def _rows(data: bytes) -> list[dict]:
    text = data.decode("utf-8", errors="replace")
    return list(csv.DictReader(io.StringIO(text)))


SHIPPED = (".csv", ".zip", ".json")
"""Suffixes of the files the guard reads as data (tables, prediction files, archives, JSON)."""

NOT_SHIPPED = ("folds",)
"""Folders of ``<book>/results`` that are caches, never a download (the fold store)."""


def shipped_files(book: Path, html: Path) -> list[Path]:
    """Every table, prediction file, archive and JSON file of the book folder (the fold store
    and the runner's done-markers aside) and of the built HTML (``_downloads`` included)."""
    out = []
    if Path(book).is_dir():
        for path in sorted(Path(book).rglob("*")):
            rel = path.relative_to(book).parts
            if rel[:2] in {("results", n) for n in NOT_SHIPPED} or path.name.endswith(".done.json"):
                continue
            if path.is_file() and path.suffix in SHIPPED:
                out.append(path)
    if Path(html).is_dir():
        out += [p for p in sorted(Path(html).rglob("*")) if p.is_file() and p.suffix in SHIPPED]
    return out


def licensed_files(files: list[Path], ids: _Ids) -> list[str]:
    """Tables, prediction files, archives and JSON files among ``files`` with a row or entry of
    licensed data, or of data no stand-in page or record vouches for."""
    out = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            out.append(f"{path} (unreadable: {type(exc).__name__})")
            continue
        out += _judge(path, path.name, data, ids)
    return out


def _judge(where, name: str, data: bytes, ids: _Ids) -> list[str]:
    if name.endswith(".zip"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return [
                    found
                    for member in archive.namelist()
                    if not member.endswith("/")
                    for found in _judge(f"{where}:{member}", member, archive.read(member), ids)
                ]
        except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
            return [f"{where} (unreadable archive: {type(exc).__name__})"]
    if name.endswith(".json"):
        try:
            return _judge_json(where, json.loads(data.decode("utf-8", errors="replace")))
        except ValueError:
            return [f"{where} (unreadable JSON)"]
    if name.endswith(".csv"):
        return _judge_prediction(where, name, ids) + _judge_csv(where, data, ids)
    return []


def _judge_prediction(where, name: str, ids: _Ids) -> list[str]:
    """A run's predictions file is named ``<dataset>__<method>__...__<data id>__<profile
    id>.csv`` (:func:`mer_utils.results.predictions_name`): its rows carry no data id, its name
    does."""
    parts = Path(name).name.removesuffix(".csv").split("__")
    if len(parts) != 8 or not parts[4].startswith("seed"):
        return []
    verdict = ids.verdict(parts[6])
    if verdict is None:
        return []
    return [f"{where}: predictions of {_WHY[verdict]} (data id {parts[6]})"]


_WHY = {
    "licensed": "licensed data",
    "unvouched": "data no stand-in page or record vouches for",
}


def _judge_csv(where, data: bytes, ids: _Ids | None) -> list[str]:
    """Rows of licensed data (``data_kind``), or (given ``ids``) of a data id not vouched for
    (``data_id``)."""
    found: dict[tuple[str, str], int] = {}
    for row in _rows(data):
        if row.get("data_kind") == "licensed":
            key = ("licensed", row.get("dataset", "?"))
        elif (
            ids and "data_id" in row and (verdict := ids.verdict(row["data_id"] or "")) is not None
        ):
            key = (verdict, row.get("dataset", "?"))
        else:
            continue
        found[key] = found.get(key, 0) + 1
    return [
        f"{where}: {n} records of licensed {d} data"
        if why == "licensed"
        else f"{where}: {n} rows of {d} {_WHY[why]}"
        for (why, d), n in sorted(found.items())
    ]


def _judge_json(where, value) -> list[str]:
    """A manifest's licensed pages; in any other JSON file, a ``data_kind`` (or
    ``data_kinds``) entry that says ``licensed``."""
    from ..results import licensed_pages

    if isinstance(value, dict) and isinstance(value.get("pages"), list):
        try:
            pages = licensed_pages(value)
        except (KeyError, TypeError, AttributeError):
            return [f"{where} (a manifest that cannot be read)"]
        return [f"{where}: page {key} of the latest run" for key in pages]
    return [f"{where}: an entry of licensed data"] if _says_licensed(value) else []


def _says_licensed(value) -> bool:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "data_kind" and item == "licensed":
                return True
            if key == "data_kinds" and isinstance(item, dict) and "licensed" in item.values():
                return True
            if _says_licensed(item):
                return True
    elif isinstance(value, list):
        return any(_says_licensed(v) for v in value)
    return False


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
        + licensed_notebooks(html)  # the executed pages the built book ships (_sources)
        + licensed_files(shipped_files(book, html), known_ids(book))
        + [f"{p} (built page)" for p in licensed_html(html)]
    )
    allowed = os.environ.get(PUBLISH_LICENSED_ENV, "").lower() == "yes"
    if found and not allowed:
        shown = "\n".join(f"  {_short(f)}" for f in found[:12])
        more = f"\n  ... and {len(found) - 12} more" if len(found) > 12 else ""
        print(
            f"Not publishing: {len(found)} pages, tables, files or built pages show licensed "
            "data, or data no stand-in page or record vouches for (from this run or an earlier "
            f"one):\n{shown}{more}\nDataset licences restrict "
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
