"""The files the runner writes beside the executed pages.

* placeholders for pages of the book the latest run did not execute (:func:`write_placeholders`),
  so a narrowed run still builds and says plainly what was not run;
* ``book/results/manifest.json``, the record of the latest run (:func:`write_manifest`);
* ``book/generated/*.md``, text the book's markdown pages include, generated from the tables
  (:func:`write_generated`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shlex
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from .. import atomic, config, results
from ..sources import Source
from .fingerprints import REPO, read_marker
from .grid import BOOK, RESULTS, full_grid
from .processes import now
from .runner import Job


def write_placeholders(selected: list[Job], book: Path = BOOK) -> list[str]:
    """Give every page of the full grid that has never been executed a short placeholder.

    The table of contents lists every dataset and summary page; a narrowed run (``--datasets
    smic``) or a profile without some page (the scale check is not run at the paper profile)
    must still build without warnings, and the placeholder says plainly that the page was not
    run."""
    selected_keys = {j.key for j in selected}
    written = []
    for job in full_grid(book):
        path = REPO / job.output
        group, name = job.key.split("/")
        if job.key in selected_keys or path.exists():
            continue
        if group != "summary" and group not in config.datasets():
            continue
        where = "" if group == "summary" else f" ({config.dataset_info(group)['display']})"
        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_markdown_cell(
                f"# {name}{where}\n\n"
                "This page was **not executed** in the latest run of the study (the run was "
                "narrowed with `--datasets` or `--methods`, or its profile does not run this "
                "page). Run `make book` to produce it."
            )
        ]
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, nbformat.writes(nb))
        written.append(job.output)
    return written


def other_pages(selected: list[Job], book: Path = BOOK) -> list[dict]:
    """Pages of the book that the latest run did not execute: either left from an earlier run
    (with that run's finish time, from its done-marker) or placeholders never executed."""
    selected_keys = {j.key for j in selected}
    out = []
    for job in full_grid(book):
        if job.key in selected_keys or not (REPO / job.output).exists():
            continue
        marker = read_marker(job)
        out.append(
            {
                "key": job.key,
                "output": job.output,
                "status": "from an earlier run" if marker else "not executed",
                "finished": marker.get("finished", "") if marker else "",
            }
        )
    return out


def write_manifest(
    jobs: list[Job],
    outcome: dict[str, dict],
    sources: dict[str, Source],
    profile_name: str,
    argv: list[str],
    results_dir: Path = RESULTS,
    book: Path = BOOK,
    started: float | None = None,
) -> Path:
    """Record the latest run: every page, its parameters, data source, status and timing, and
    the pages of the book it did not execute (``other_pages``)."""
    manifest = {
        "written": now(),
        "started": (
            ""
            if started is None
            else datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds")
        ),
        "wall_seconds": None if started is None else round(time.time() - started, 1),
        "command": shown_command(argv),
        "profile": profile_name,
        "profile_parameters": config.profile(profile_name).as_dict(),
        "sources": {n: dataclasses.asdict(s) for n, s in sources.items()},
        "pages": [
            {
                "key": j.key,
                "template": j.template,
                "output": j.output,
                "parameters": j.parameters,
                **outcome.get(j.key, {"status": "pending", "seconds": None, "error": ""}),
            }
            for j in jobs
        ],
        "other_pages": other_pages(jobs, book),
    }
    write_run_summary(manifest, REPO / results_dir, book)
    path = REPO / results.manifest_path(results_dir)
    try:
        return atomic.write_json(path, manifest)
    except OSError as exc:
        # The folder cannot take a new file (made read-only, full): rewrite the manifest in
        # place where it can be, so it never calls finished pages pending, and say so.
        kept = False
        with contextlib.suppress(OSError):
            if path.is_file():
                path.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
                kept = True
        raise ResultsUnwritable(path.parent, exc, kept=kept) from None


class ResultsUnwritable(OSError):
    """The results folder cannot be written: the runner stops its pages (they could not write
    their records) with one line; ``kept`` says whether the manifest was rewritten in place
    (it then tells the truth) or could not be updated at all."""

    def __init__(self, folder: Path, cause: OSError, kept: bool):
        why = cause.strerror or type(cause).__name__
        super().__init__(f"{folder}: the results folder cannot be written ({why})")
        self.kept = kept
        self.outcome: dict[str, dict] = {}


PATH_OPTIONS = (
    "--book-dir",
    "--cache-dir",
    "--standins-dir",
    "--data-root",
    "--dataset-dir",
    "--annotation",
)
"""Options of the runner whose value is a path (``NAME=PATH`` for the last two)."""


def shown_command(argv: list[str]) -> str:
    """The command line of a run as the manifest and the reproducibility page show it: every
    absolute path relative to the repository where it lies inside it, else its last two parts
    (:func:`mer_utils.report.banners.shown_path`: never the build machine's own folders), and
    each word quoted for a shell."""
    from ..report.banners import shown_path

    def shown(option: str, value: str) -> str:
        name, sep, path = value.partition("=") if option in PATH_OPTIONS[-2:] else ("", "", value)
        if path.startswith("~") or Path(path).is_absolute():
            path = shown_path(str(Path(path).expanduser()))
        return f"{name}{sep}{path}"

    words, option = [], None
    for word in argv:
        head, eq, value = word.partition("=")
        if option:
            words.append(shown(option, word))
            option = None
        elif head in PATH_OPTIONS and eq:
            words.append(f"{head}={shown(head, value)}")
        else:
            words.append(word)
            option = word if word in PATH_OPTIONS else None
    return " ".join(["python -m mer_utils.build", *(shlex.quote(w) for w in words)])


RUN_SUMMARY = "run.md"
"""``<book>/generated/run.md``: the latest run's measured time and counts, which the course
page includes (no time or count on that page is typed by hand)."""


def run_summary(manifest: dict, records: int | None) -> str:
    """One paragraph of the run's measurements: wall time, pages executed and reused, the sum
    of the executed pages' own times, records in the results table, CPU cores."""
    pages = manifest["pages"]
    ran = [p for p in pages if p.get("status") == "ok"]
    reused = [p for p in pages if p.get("status") == "cached"]
    other = len(pages) - len(ran) - len(reused)
    wall = manifest.get("wall_seconds")
    page_seconds = sum(p.get("seconds") or 0 for p in ran)
    text = (
        f"Measured by the run that built this book (`{manifest['command']}`, profile "
        f"`{manifest['profile']}`, {os.cpu_count()} CPU cores): "
    )
    if wall is not None:
        text += f"the runner took **{wall / 60:.0f} minutes** ({wall:.0f} s wall clock) for "
    text += f"{len(pages)} pages: {len(ran)} executed ({page_seconds:.0f} s of page time"
    text += f"), {len(reused)} reused from an earlier run"
    text += f", {other} not finished" if other else ""
    text += "."
    if records is not None:
        text += f" The results table holds {records} records."
    if reused:
        text += (
            " Reused pages cost no time in this run: a first build of the same profile takes"
            " longer (`make book` on a clean clone; the README states a recorded one)."
        )
    return text + "\n"


def write_run_summary(manifest: dict, results_dir: Path, book: Path = BOOK) -> Path:
    """Write :func:`run_summary` to ``<book>/generated/run.md``."""
    metrics = Path(results_dir) / "metrics.csv"
    records = None
    if metrics.is_file():
        with open(metrics, newline="") as fh:
            records = max(sum(1 for _ in fh) - 1, 0)
    return atomic.write_text(
        REPO / book / "generated" / RUN_SUMMARY, run_summary(manifest, records)
    )


def write_generated(book: Path = BOOK) -> list[Path]:
    """Text the book's markdown pages include, generated from the tables so it never drifts:
    ``<book>/generated/methods.md`` (the methods of ``methods.yaml`` and their switches),
    ``protocols.md`` (the protocols of ``protocols.yaml``: what they split, what the paper
    states of them) and, until the findings page has run, a placeholder ``findings.md``."""
    mark = {True: "yes", False: ""}
    methods = [
        "| method | what it adds | augmentation | SMOTE | class weights | from |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in config.methods().items():
        methods.append(
            f"| {name} | {m['summary']} | {mark[m['augment']]} | {mark[m['smote']]} | "
            f"{mark[m['class_weight']]} | {'the paper' if m['paper'] else 'this study'} |"
        )
    protocols = [
        "| protocol | what is split | subject-independent | interval | what the paper states |",
        "|---|---|---|---|---|",
    ]
    for name, p in config.load("protocols").items():
        interval = (
            "corrected t over splits" if p["interval"] == "splits" else "bootstrap over subjects"
        )
        protocols.append(
            f"| `{name}` | {p['title']} | {mark[p['subject_independent']] or 'no'} | {interval} "
            f"| {p['paper']} |"
        )
    folder = REPO / book / "generated"
    written = []
    for name, rows in (("methods.md", methods), ("protocols.md", protocols)):
        written.append(atomic.write_text(folder / name, "\n".join(rows) + "\n"))
    summary = folder / "findings.md"  # the findings page replaces it with the computed summary
    if not summary.exists():
        written.append(
            atomic.write_text(
                summary,
                ":::{note}\nThe findings are computed by the page {doc}`summary/findings` when "
                "the book is built; this build has not run it.\n:::\n",
            )
        )
    run = folder / RUN_SUMMARY  # the manifest replaces it with the run's measurements
    if not run.exists():
        written.append(
            atomic.write_text(run, "This build has not recorded a run of the study yet.\n")
        )
    return written
