"""What a page's result depends on: its fingerprint, and the files and table entries behind it.

A page that succeeded leaves ``<page>.done.json`` with the fingerprint of what it read
(:func:`fingerprint`): its rendered template, its parameters, its data (:func:`files_stamp`), the
pages it depends on, the ``mer_utils`` modules its code uses (:func:`page_modules`) and the table
entries it uses (:func:`page_tables`). The runner (:mod:`mer_utils.build.runner`) skips a page whose
fingerprint is unchanged.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import nbformat

from .. import code

if TYPE_CHECKING:
    from ..sources import Source
    from .runner import Job

REPO = Path(__file__).resolve().parents[2]
"""Repository root: the kernels' working directory, so notebook paths are relative to it."""
PACKAGE = REPO / "mer_utils"


def page_modules(template: str | Path, method: str | None = None) -> list[str]:
    """The ``mer_utils`` source files a page's code uses, relative to the package.

    Read statically from the rendered template's code cells: ``from mer_utils import x`` and
    ``from mer_utils.x import y`` name modules; ``report.<family>`` names one page family of
    :mod:`mer_utils.report`; then everything those modules import inside the package, followed
    transitively. The ``report`` and ``datasets`` packages count by what is used: their
    ``__init__`` files re-export submodules the page may never call. The hidden cell that
    generates a missing stand-in (:data:`mer_utils.build.templates.PREPARE`, metadata ``mer.prepare``)
    does not count: in a run of the study the runner has generated the data already, and what
    the page computes depends on those data (their digest is part of the page's fingerprint),
    not on the generator's code.
    """
    nb = rendered(str(template), method)
    source = "\n".join(
        c.source
        for c in nb.cells
        if c.cell_type == "code" and not c.metadata.get("mer", {}).get("prepare")
    )
    roots = code.imports_in(source, (), PACKAGE)
    for family in set(re.findall(r"\breport\.(\w+)\.", source)):
        roots |= _module_files(["report", family])
    if method:  # the plug-in that runs the method (the registry imports it by its kind)
        from .. import methods

        roots |= _module_files(methods.module_of(method).split(".")[1:])
    return sorted(_closure(frozenset(roots)))


def _module_files(parts: list[str]) -> set[str]:
    """The package-relative file of module ``mer_utils.<parts>`` (a package: its __init__)."""
    found = code.file_of(parts, PACKAGE)
    return {found} if found else set()


@functools.cache
def _closure(roots: frozenset[str]) -> frozenset[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        todo += sorted(_imports_of(rel) - seen)
    return frozenset(seen)


@functools.cache
def _imports_of(rel: str) -> set[str]:
    """Package files module ``rel`` imports (:func:`mer_utils.code.imports_in`). The ``report``
    and ``datasets`` package inits count as importing their shared parts only."""
    if rel == "report/__init__.py":
        return {"report/style.py"}
    if rel == "datasets/__init__.py":
        return {str(p.relative_to(PACKAGE)) for p in (PACKAGE / "datasets").glob("*.py")} - {rel}
    return code.imports_in((PACKAGE / rel).read_text(), Path(rel).parent.parts, PACKAGE)


SELECTED_TABLES = ("profiles", "protocols", "datasets", "labels", "methods")
"""Tables of which a page depends on the entries it uses only (its profile, its protocols, its
datasets, its methods); the other tables (:func:`page_tables`) count as a whole."""


def page_tables(job: Job) -> str:
    """Fingerprint of the table entries a page depends on.

    From ``profiles.yaml``, ``protocols.yaml``, ``datasets.yaml``, ``labels.yaml`` and
    ``methods.yaml`` only the entries the page uses: its profile (and the profile of its scale
    check), its protocols, its dataset (a summary page: the run's datasets) and its method (a
    summary or evaluation page: the run's methods). Every other table of ``mer_utils/data``
    counts as a whole. Editing the title of a method a run does not select re-runs nothing.
    """
    from .. import config

    p = job.parameters
    profile = config.load("profiles").get(p.get("profile"), {})
    profiles = [p.get("profile"), (profile.get("scale_check") or {}).get("profile")]
    datasets = [p["dataset"]] if "dataset" in p else list(p.get("datasets", []))
    methods = [job.method] if job.method else list(p.get("methods") or config.methods())
    wanted = {
        "profiles": profiles,
        "protocols": list(p.get("protocols", [])),
        "datasets": datasets,
        "labels": datasets,
        "methods": methods,
    }
    h = hashlib.sha256()
    for name, keys in wanted.items():
        table = config.load(name)
        entries = {k: table.get(k) for k in keys if k}
        if name == "profiles":  # the runner's own values (a time limit) change no result
            entries = {k: _without(v, config.RUNNER_KEYS) for k, v in entries.items()}
        h.update(json.dumps(entries, sort_keys=True).encode())
    for path in sorted((PACKAGE / "data").glob("*")):
        if path.suffix in (".yaml", ".csv") and path.stem not in SELECTED_TABLES:
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def _without(entry, keys):
    return {k: v for k, v in entry.items() if k not in keys} if isinstance(entry, dict) else entry


@functools.lru_cache(maxsize=64)
def rendered(template: str, method: str | None = None):
    """The notebook a page executes: its template rendered (:mod:`mer_utils.build.templates`)."""
    from . import templates

    return templates.render(template, method)


def _page_text(nb: nbformat.NotebookNode) -> str:
    """The rendered notebook as text, its cells numbered instead of their ids: reading a
    template gives every cell a new random id (nbformat 4.5), in every process, and a page whose
    ids alone differ is the same page (with them, a rerun or a resume found no page current)."""
    cells = [{**cell, "id": f"cell-{i}"} for i, cell in enumerate(nb.cells)]
    return nbformat.writes(nbformat.from_dict({**nb, "cells": cells}))


def fingerprint(job: Job, dep_runs: list[str]) -> str:
    """Everything a page depends on, hashed: its rendered template and parameters, its data
    stamp, the runs of the pages it depends on, the ``mer_utils`` files its code uses and the
    table entries it uses (:func:`page_tables`)."""
    h = hashlib.sha256()
    h.update(_page_text(rendered(job.template, job.method)).encode())
    h.update(json.dumps(job.parameters, sort_keys=True).encode())
    h.update(job.data_stamp.encode())
    h.update(page_tables(job).encode())
    for rel in page_modules(job.template, job.method):
        h.update(rel.encode())
        h.update((PACKAGE / rel).read_bytes())
    for run in dep_runs:
        h.update(run.encode())
    return h.hexdigest()


def read_marker(job: Job) -> dict | None:
    """The done-marker of a job's last successful run, or ``None`` (missing or unreadable)."""
    try:
        marker = json.loads(job.marker.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not (REPO / job.output).exists():
        return None
    return marker


def files_stamp(root: Path, skip: Iterable[str] = ()) -> str:
    """(path, size, mtime) of every file under ``root``, hashed; ``skip``: names left out.

    One ``os.scandir`` walk with the stat that ``scandir`` already has: tens of thousands of
    frames take a fraction of a second. A frame replaced in place, renamed, added or removed
    changes the stamp. Links to folders are followed; a broken link, a link loop or a link back
    to a folder above it is a :class:`~mer_utils.datasets.DatasetError` naming the link.
    """
    from ..datasets import DatasetError

    h = hashlib.sha256()
    skip = set(skip)
    stack = [(Path(root), frozenset({_folder_id(root)}))]
    while stack:
        folder, above = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except PermissionError:
            raise DatasetError(f"{folder}: permission denied (cannot list the folder)") from None
        for entry in entries:
            if entry.name in skip:
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    here = _folder_id(entry.path)
                    if here in above:
                        raise DatasetError(
                            f"{entry.path}: a link loop (it leads back to a folder above it, "
                            f"{os.readlink(entry.path)}); remove the link"
                        )
                    stack.append((Path(entry.path), above | {here}))
                    continue
                st = entry.stat()
            except FileNotFoundError:
                raise DatasetError(
                    f"{entry.path}: a broken link (its target {os.readlink(entry.path)} does "
                    "not exist); restore the file or remove the link"
                ) from None
            except OSError as exc:  # ELOOP: links that point at each other
                raise DatasetError(
                    f"{entry.path}: cannot be read ({exc.strerror}); a link loop? remove the link"
                ) from None
            h.update(
                f"{os.path.relpath(entry.path, root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode()
            )
    return h.hexdigest()


def _folder_id(path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def data_stamp(source: Source) -> str:
    """Fingerprint of a dataset folder: the (path, size, mtime) of every annotation and frame
    file in it (:func:`mer_utils.build.fingerprints.files_stamp`), and the chosen annotation file. A frame
    replaced in place in a licensed copy changes it, so every page reading that dataset reruns."""
    if source.parts:  # a composite: its parts' folders, not everything beside them
        return "".join(data_stamp(p) for p in source.parts)
    return files_stamp(REPO / source.dir) + (source.annotation or "")
