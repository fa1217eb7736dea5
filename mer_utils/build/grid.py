"""The run grid: which pages a run executes, with which parameters, and the table of contents.

``mer_utils/data/grid.yaml`` lists the pages per dataset (its ``methods`` entry: one page per
method of ``methods.yaml``, all from one template) and the summary pages. :func:`plan` turns it
into :class:`mer_utils.build.runner.Job` objects with deterministic output names,
``book/datasets/<dataset>/<name>.ipynb`` or ``book/summary/<name>.ipynb``; :func:`toc` writes
the book's table of contents from the same grid, so every page is in it exactly once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from .. import config
from ..sources import Source
from ..verdicts import dataset_protocols
from .runner import Job

BOOK = Path("book")
RESULTS = BOOK / "results"
CACHE = Path(".cache") / "stage1"


def plan(
    sources: dict[str, Source],
    profile_name: str,
    methods: list[str],
    protocols: list[str],
    seed: int,
    book: Path = BOOK,
    cache: Path = CACHE,
) -> list[Job]:
    """Turn ``grid.yaml`` into the list of jobs for the selected datasets and methods.

    ``book`` is where executed notebooks go (``book/datasets``, ``book/summary``) and results
    are written (``book/results``); ``cache`` holds the stage-1 arrays. Relative paths are
    relative to the repository root, the kernels' working directory. The data ids of the
    sources are filled in by the runner once the data are in place (:func:`set_data_ids`).
    """
    grid = config.load("grid")
    common = {
        "profile": profile_name,
        "protocols": list(protocols),
        "methods": list(methods),
        "seed": seed,
        "cache_dir": str(cache),
        "results_dir": str(book / "results"),
    }
    jobs: list[Job] = []
    for name, source in sources.items():
        composite = bool(source.parts)
        for page in expand_pages(grid["per_dataset"], methods, profile_name):
            if (
                page.get("for", ["dataset", "composite"]).count(
                    "composite" if composite else "dataset"
                )
                == 0
            ):
                continue
            method = page.get("parameters", {}).get("method")
            params = {
                **source.as_params(),
                "data_id": None,
                **common,
                "protocols": dataset_protocols(name, profile_name, protocols, method),
                **page.get("parameters", {}),
            }
            if method and not params["protocols"]:
                continue  # the dataset runs this method under none of the run's protocols
            # a composite's stage 1 waits for its parts' (it reuses their cached clips)
            soft = [
                f"{p.dataset}/{page['name']}"
                for p in source.parts
                if page["name"] == grid["stage1_page"]
            ]
            jobs.append(
                Job(
                    key=f"{name}/{page['name']}",
                    template=page["template"],
                    output=str(book / "datasets" / name / f"{page['name']}.ipynb"),
                    parameters=params,
                    after=[f"{name}/{dep}" for dep in page.get("after", [])],
                    method=method,
                    soft=soft,
                )
            )
    dataset_keys = [j.key for j in jobs]
    summary = [p for p in grid["summary"] if profile_name in p.get("profiles", [profile_name])]
    for page in summary:
        params = {
            "datasets": list(sources),
            "data_kinds": {n: s.kind for n, s in sources.items()},
            "data_ids": {},
            "dataset_dirs": {n: s.dir for n, s in sources.items()},
            **common,
        }
        jobs.append(
            Job(
                key=f"summary/{page['name']}",
                template=page["template"],
                output=str(book / "summary" / f"{page['name']}.ipynb"),
                parameters=params,
                after=list(page.get("after", [])),
            )
        )
    everything = [j.key for j in jobs]
    for job in jobs:
        if not job.key.startswith("summary/"):
            continue
        soft = []  # a summary page runs on what succeeded and says what did not
        for dep in job.after:
            if dep == "all-datasets":
                soft += dataset_keys
            elif dep == "all-pages":
                soft += [k for k in everything if k != job.key]
            else:
                soft.append(f"summary/{dep}")
        job.after, job.soft = [], soft
    # Drop dependencies on pages that were narrowed away (e.g. --methods) or not in the profile.
    keys = {j.key for j in jobs}
    for job in jobs:
        job.after = list(dict.fromkeys(k for k in job.after if k in keys))
        job.soft = list(dict.fromkeys(k for k in job.soft if k in keys))
    # The runner starts pages in this order as workers free up: summary pages that wait for
    # nothing go first, so that a long one (the scale check) overlaps the datasets' pages
    # instead of running alone at the end.
    return sorted(jobs, key=lambda j: not (j.key.startswith("summary/") and not j.after + j.soft))


def set_data_ids(jobs: list[Job], ids: dict[str, str]) -> None:
    """Give every page the data id of its dataset (summary pages: of every dataset)."""
    for job in jobs:
        if "data_ids" in job.parameters:
            job.parameters["data_ids"] = dict(ids)
        elif "dataset" in job.parameters:
            job.parameters["data_id"] = ids[job.parameters["dataset"]]


def expand_pages(pages: list[dict], methods: list[str], profile: str) -> list[dict]:
    """The per-dataset pages of ``grid.yaml`` with its ``methods`` entry expanded into one page
    per selected method of ``methods.yaml`` that runs under ``profile`` (page name, the method
    template, ``method`` parameter), and ``after: [methods]`` into those pages."""
    template = config.load("grid")["methods_template"]
    chosen = [
        (k, m)
        for k, m in config.methods().items()
        if k in methods and profile in m.get("profiles", [profile])
    ]
    method_pages = [m["page"] for _, m in chosen]
    out = []
    for page in pages:
        after = [
            d
            for dep in page.get("after", [])
            for d in (method_pages if dep == "methods" else [dep])
        ]
        if page.get("methods"):
            out += [
                {
                    "name": m["page"],
                    "template": template,
                    "title": m["title"],
                    "parameters": {"method": key},
                    "after": after,
                }
                for key, m in chosen
            ]
        else:
            out.append({**page, "after": after})
    return out


def data_id(source: Source, stamp: str) -> str:
    """The id of the data a dataset's pages read: its kind and a digest of its files (their
    paths in the folder, sizes and modification times, and the chosen annotation file). Every
    record keeps it, and a page shows only the records of the data it was run on."""
    return hashlib.sha256(f"{source.kind}\0{stamp}".encode()).hexdigest()[:12]


def full_grid(book: Path = BOOK) -> list[Job]:
    """Every page the table of contents lists: the grid for all datasets and methods."""

    def source(name: str) -> Source:
        parts = config.dataset_info(name).get("parts") or ()
        return Source(name, "", "stand-in", parts=tuple(source(p) for p in parts))

    all_sources = {n: source(n) for n in config.datasets()}
    quick = config.profile("quick")["protocols"]
    return plan(all_sources, "quick", list(config.methods()), quick, 0, book=book)


# ----------------------------------------------------------------------------- table of contents
def toc(book: Path = BOOK) -> dict:
    """The book's table of contents, generated from the registries: the text pages, then one
    chapter per dataset of ``datasets.yaml`` (``book/chapters/<key>.md``) with its pages in the
    grid's order (one per method of ``methods.yaml``). ``_toc.yml`` is this, written by
    ``python -m mer_utils.build --write-toc`` and checked by the tests."""
    frame = config.load("toc")
    jobs = full_grid(book)
    per_dataset = {}
    for job in jobs:
        dataset, _ = job.key.split("/")
        per_dataset.setdefault(dataset, []).append(job.output.removesuffix(".ipynb"))
    parts = []
    for part in frame["parts"]:
        if part.get("datasets"):
            chapters = [
                {"file": f"book/chapters/{d}", "sections": [{"file": f} for f in per_dataset[d]]}
                for d in config.datasets()
            ]
        else:
            chapters = [{"file": f} for f in part["chapters"]]
        parts.append({"caption": part["caption"], "chapters": chapters})
    return {"format": "jb-book", "root": frame["root"], "parts": parts}


def toc_text(book: Path = BOOK) -> str:
    """:func:`toc` as the text of ``_toc.yml``."""
    header = (
        "# Table of contents, GENERATED by `python -m mer_utils.build --write-toc` from\n"
        "# mer_utils/data/toc.yaml, datasets.yaml, grid.yaml and methods.yaml: edit those.\n"
    )
    return header + yaml.safe_dump(toc(book), sort_keys=False, width=100)
