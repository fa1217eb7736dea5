"""Executing the book's pages: papermill in worker processes, resume, the lock, interrupts.

:mod:`mer_utils.study` plans the pages (a list of :class:`Job`); :func:`run_jobs` executes them
with an *executor*: the embedded local one (:class:`LocalExecutor`, a process pool on this
machine, the default) or a Dask ``distributed`` cluster (:class:`mer_utils.cluster.DaskExecutor`).

Guarantees (the README's section on the runner repeats them):

* **Atomic pages.** A page is executed into a temporary file beside its final path and renamed
  over it only when papermill finished without error: a complete page is never replaced by a
  partial one, and a partial one never sits where a complete one is expected. A kernel that dies
  while starting (before any cell ran) is started once more.
* **Resume.** A page that succeeded leaves ``<page>.done.json`` with the fingerprint of what it
  read (:func:`fingerprint`): its template, its parameters, its data, the pages it depends on,
  the ``mer_utils`` modules its code uses (:func:`page_modules`) and the tables. A re-run skips
  pages whose fingerprint is unchanged. Inside a page, finished folds are kept in the fold store
  (:class:`mer_utils.experiment.FoldStore`), so an interrupted or re-run page refits only what is
  missing, and editing a module that computes nothing (e.g. ``report``) never retrains a model.
* **Interrupts.** Ctrl-C stops at once: running pages are killed (their kernels exit with them),
  finished pages and their records are kept, no partial page is left, and the exit status is 130.
  Worker processes are bound to the runner (Linux: a parent-death signal), so killing the
  runner, even with SIGKILL, takes them and their kernels down with it.
* **One runner per results folder.** A second runner on the same book folder stops at once with
  a message naming the first (:class:`RunLock`).
"""

from __future__ import annotations

import ast
import concurrent.futures as cf
import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import json
import logging
import multiprocessing
import os
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import nbformat

from . import atomic
from .processes import bind_to_parent

log = logging.getLogger("mer_utils.study")

REPO = Path(__file__).resolve().parent.parent
"""Repository root: the kernels' working directory, so notebook paths are relative to it."""
PACKAGE = REPO / "mer_utils"
RUNNING_SUFFIX = ".running.ipynb"
"""Pages under execution are written to ``<page>.<id>.running.ipynb`` and renamed when done."""


@dataclasses.dataclass
class Job:
    """One papermill execution: a template, its parameters and its deterministic output."""

    key: str  # e.g. "casme2/10-MER-3DCNNST" or "summary/results"
    template: str
    output: str
    parameters: dict
    after: list[str]
    data_stamp: str = ""

    @property
    def marker(self) -> Path:
        return REPO / (self.output + ".done.json")


# ----------------------------------------------------------------------------- fingerprints
def page_modules(template: str | Path) -> list[str]:
    """The ``mer_utils`` source files a page's code uses, relative to the package.

    Read statically from the template's code cells: ``from mer_utils import x`` and
    ``from mer_utils.x import y`` name modules; ``report.<family>`` names one page family of
    :mod:`mer_utils.report`; then everything those modules import inside the package, followed
    transitively. The ``report`` and ``datasets`` packages count by what is used: their
    ``__init__`` files re-export submodules the page may never call.
    """
    nb = nbformat.read(REPO / template, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    roots: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mer_utils"):
            base = node.module.split(".")[1:]
            for alias in node.names:
                roots |= _module_files(base + [alias.name]) or _module_files(base)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("mer_utils."):
                    roots |= _module_files(alias.name.split(".")[1:])
    for family in set(re.findall(r"\breport\.(\w+)\.", code)):
        roots |= _module_files(["report", family])
    return sorted(_closure(frozenset(roots)))


def _module_files(parts: list[str]) -> set[str]:
    """The package-relative file of module ``mer_utils.<parts>`` (a package: its __init__)."""
    if not parts:
        return {"__init__.py"}
    path = PACKAGE.joinpath(*parts)
    if path.with_suffix(".py").is_file():
        return {str(path.with_suffix(".py").relative_to(PACKAGE))}
    if (path / "__init__.py").is_file():
        return {str((path / "__init__.py").relative_to(PACKAGE))}
    return set()


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
    """Package files module ``rel`` imports (relative or absolute). The ``report`` and
    ``datasets`` package inits count as importing their shared parts only."""
    path = PACKAGE / rel
    here = Path(rel).parent.parts
    if rel == "report/__init__.py":
        return {"report/style.py"}
    if rel == "datasets/__init__.py":
        return {str(p.relative_to(PACKAGE)) for p in (PACKAGE / "datasets").glob("*.py")} - {rel}
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(here[: len(here) - (node.level - 1)]) + (
                    node.module.split(".") if node.module else []
                )
            elif node.module and node.module.startswith("mer_utils"):
                base = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:
                out |= _module_files(base + [alias.name]) or _module_files(base)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("mer_utils."):
                    out |= _module_files(alias.name.split(".")[1:])
    return out


def tables_stamp() -> str:
    """Fingerprint of the YAML and CSV tables of ``mer_utils/data`` (profiles, grid, labels...)."""
    h = hashlib.sha256()
    for path in sorted((PACKAGE / "data").glob("*")):
        if path.suffix in (".yaml", ".csv"):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def fingerprint(job: Job, dep_runs: list[str], tables: str | None = None) -> str:
    """Everything a page depends on, hashed: its template and parameters, its data stamp, the
    runs of the pages it depends on, the ``mer_utils`` files its code uses and the tables."""
    h = hashlib.sha256()
    h.update((REPO / job.template).read_bytes())
    h.update(json.dumps(job.parameters, sort_keys=True).encode())
    h.update(job.data_stamp.encode())
    h.update((tables or tables_stamp()).encode())
    for rel in page_modules(job.template):
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


# ----------------------------------------------------------------------------- executing a page
def execute(template: str, output: str, parameters: dict) -> dict:
    """Worker body: run one notebook with papermill. Returns status, seconds and error.

    The notebook is executed into ``<output stem>.<pid>.running.ipynb`` beside ``output`` and
    renamed over it only on success; on failure the partial file is removed (the error is in the
    returned status and in ``<output>.log``). The kernel's own stderr (TensorFlow's start-up
    chatter) goes to ``<output>.log``. A kernel that dies before running any cell is started
    once more.
    """
    started = time.time()
    final = REPO / output
    log_path = REPO / (output + ".log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(f"{final.stem}.{os.getpid()}{RUNNING_SUFFIX}")
    saved_stderr = os.dup(2)
    try:
        with open(log_path, "w") as log_file:
            os.dup2(log_file.fileno(), 2)
            try:
                _papermill(template, partial, parameters)
            finally:
                os.dup2(saved_stderr, 2)
        tidy(partial, log_path)
        os.replace(partial, final)
        return {"status": "ok", "seconds": round(time.time() - started, 1), "error": ""}
    except Exception as exc:  # noqa: BLE001 - every failure is collected and reported
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        return {
            "status": "failed",
            "seconds": round(time.time() - started, 1),
            "error": f"{type(exc).__name__}: {first_line[:500]}",
        }
    finally:
        os.close(saved_stderr)
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def _papermill(template: str, output: Path, parameters: dict, attempts: int = 2) -> None:
    import papermill as pm

    for attempt in range(1, attempts + 1):
        try:
            pm.execute_notebook(
                str(REPO / template),
                str(output),
                parameters=parameters,
                cwd=str(REPO),
                kernel_name="python3",
                progress_bar=False,
                log_output=False,
            )
            return
        except pm.PapermillExecutionError:
            raise  # a cell raised: running it again would only repeat the error
        except Exception as exc:  # noqa: BLE001 - the kernel did not start (port race, ...)
            if attempt == attempts or not _no_cell_ran(output):
                raise
            print(
                f"kernel failed before running any cell ({type(exc).__name__}: {exc}); "
                "starting it once more",
                file=sys.stderr,
            )


def _no_cell_ran(partial: Path) -> bool:
    """True when the partial notebook is absent or none of its code cells was executed."""
    try:
        nb = nbformat.read(partial, as_version=4)
    except (OSError, ValueError):
        return True
    return all(c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")


NATIVE_LOG = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWEF]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] .*)$"
)
"""Lines TensorFlow's C++ runtime writes to the kernel's stderr (start-up notes, CUDA probes)."""


PARAMETER_NOTE = ("profile", "protocols", "seed", "annotation")
"""Run parameters the visible note on a page names (dataset and data kind: the banner)."""


def tidy(notebook: Path, log: Path) -> int:
    """Prepare an executed notebook for the book; returns the native log lines moved.

    * TensorFlow's C++ log lines leave the cells' stderr outputs for ``log`` (ipykernel captures
      the kernel's file descriptor 2, so its start-up chatter would otherwise be on the page);
      other stderr text (Python warnings) stays.
    * papermill's injected-parameters cell is hidden (tag ``remove-cell``) and a one-line note
      of the run parameters the banner does not show takes its place.
    """
    nb = nbformat.read(notebook, as_version=4)
    moved: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept_outputs = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                lines = out["text"].splitlines(keepends=True)
                native = [ln for ln in lines if NATIVE_LOG.match(ln.rstrip("\n"))]
                moved += native
                out["text"] = "".join(ln for ln in lines if ln not in native)
                if not out["text"].strip():
                    continue
            kept_outputs.append(out)
        cell["outputs"] = kept_outputs
    _hide_injected_parameters(nb)
    if moved:
        with open(log, "a") as fh:
            fh.writelines(moved)
    atomic.write_text(notebook, nbformat.writes(nb))
    return len(moved)


def _hide_injected_parameters(nb) -> None:
    params = nb.metadata.get("papermill", {}).get("parameters", {})
    for i, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" not in tags:
            continue
        if "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
        shown = [(k, params[k]) for k in PARAMETER_NOTE if params.get(k) is not None]
        if shown and not (i + 1 < len(nb.cells) and nb.cells[i + 1].metadata.get("run-note")):
            text = "; ".join(
                f"{k} `{', '.join(map(str, v)) if isinstance(v, list) else v}`" for k, v in shown
            )
            note = nbformat.v4.new_markdown_cell(f"*Run with* {text}.")
            note.metadata["run-note"] = True
            nb.cells.insert(i + 1, note)
        return


def clean_partials(book: Path) -> list[Path]:
    """Remove what a killed runner can leave half-written under ``book``: pages under execution
    (``*.running.ipynb``) and the temporary files of atomic writes (``.<name>.tmp-*``). Neither
    is ever read as a result; this only tidies up. Call it while holding the :class:`RunLock`."""
    removed = []
    for pattern in (f"*{RUNNING_SUFFIX}", ".*.tmp-*"):
        for path in (REPO / book).rglob(pattern):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


# ----------------------------------------------------------------------------- executors
class LocalExecutor:
    """The embedded executor: a process pool of ``workers`` processes on this machine, one page
    per process at a time, each page's kernel a child of its worker."""

    name = "local"

    def __init__(self, workers: int):
        self.workers = max(1, int(workers))
        self._pool = cf.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=bind_to_parent,
        )

    def submit(self, job: Job) -> cf.Future:
        return self._pool.submit(execute, job.template, job.output, job.parameters)

    def wait(self, futures: list) -> set:
        done, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
        return done

    def kill(self) -> None:
        """Stop every running page at once (their kernels exit with their workers)."""
        children = multiprocessing.active_children()
        for child in children:
            child.kill()
        for child in children:
            child.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


# ----------------------------------------------------------------------------- the lock
class RunLock:
    """One runner per results folder: an exclusive ``flock`` on ``<results>/runner.lock``.

    The lock dies with the process that holds it (even on SIGKILL), so a crashed runner never
    blocks the next one. A second runner gets :class:`SystemExit` naming the first.
    """

    def __init__(self, results_dir: Path):
        self.path = Path(results_dir) / "runner.lock"
        self._fh = None

    def __enter__(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise SystemExit(
                f"another runner is using {self.path.parent} ({holder}); wait for "
                "it to finish or stop it, or give this run its own --book-dir"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, started {now()}\n")
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()


# ----------------------------------------------------------------------------- the loop
class Interrupted(Exception):
    """Raised by :func:`run_jobs` after Ctrl-C, once running pages are stopped; ``outcome``
    holds what finished."""

    def __init__(self, outcome: dict[str, dict]):
        super().__init__("interrupted")
        self.outcome = outcome


def run_jobs(
    jobs: list[Job],
    executor=None,
    force: bool = False,
    on_update: Callable[[dict[str, dict]], None] | None = None,
    n_workers: int = 2,
    before_job: Callable[[Job], None] | None = None,
) -> dict[str, dict]:
    """Execute ``jobs`` respecting their ``after`` order; return each job's outcome.

    Outcomes: ``ok`` (executed), ``cached`` (fingerprint unchanged, not re-run), ``failed``,
    ``skipped`` (a dependency failed or was skipped). ``on_update(outcomes)`` is called whenever
    outcomes change, so the manifest is current when the summary pages read it. ``before_job``
    runs in the runner before a job is submitted (the Dask executor fits a page's folds there).
    Without ``executor`` a :class:`LocalExecutor` of ``n_workers`` is used. Ctrl-C kills the
    running pages and raises :class:`Interrupted`.
    """
    own = executor is None
    executor = executor or LocalExecutor(n_workers)
    tables = tables_stamp()
    outcome: dict[str, dict] = {}
    runs: dict[str, str] = {}  # key -> run id of the result in place
    pending = list(jobs)
    running: dict = {}
    try:
        while pending or running:
            settled = len(outcome)
            for job in list(pending):
                deps = [outcome.get(k, {}).get("status") for k in job.after]
                if any(s in ("failed", "skipped") for s in deps):
                    outcome[job.key] = {
                        "status": "skipped",
                        "seconds": 0.0,
                        "error": "a page it depends on did not succeed",
                    }
                    pending.remove(job)
                    continue
                if not all(s in ("ok", "cached") for s in deps):
                    continue
                fp = fingerprint(job, [runs[k] for k in job.after], tables)
                marker = read_marker(job)
                if not force and marker and marker.get("fingerprint") == fp:
                    outcome[job.key] = {
                        "status": "cached",
                        "seconds": marker.get("seconds", 0.0),
                        "error": "",
                        "finished": marker.get("finished"),
                    }
                    runs[job.key] = marker["run"]
                    pending.remove(job)
                    continue
                if len(running) >= getattr(executor, "workers", n_workers):
                    continue
                job.marker.unlink(missing_ok=True)
                (REPO / job.output).parent.mkdir(parents=True, exist_ok=True)
                if before_job is not None:
                    before_job(job)
                log.info("run   %s", job.key)
                pending.remove(job)
                running[executor.submit(job)] = (job, fp)
            if on_update and len(outcome) > settled:  # pages found cached or skipped
                on_update(outcome)
            if not running:
                if pending and len(outcome) == settled:
                    raise RuntimeError(f"pages wait on each other: {[j.key for j in pending]}")
                continue
            for fut in executor.wait(list(running)):
                job, fp = running.pop(fut)
                result = _result(fut)
                result["finished"] = now()
                outcome[job.key] = result
                log.info(
                    "%-6s %s (%.0f s) %s",
                    result["status"],
                    job.key,
                    result["seconds"],
                    result["error"],
                )
                if result["status"] == "ok":
                    run_id = hashlib.sha256(f"{fp}{result['finished']}".encode()).hexdigest()
                    runs[job.key] = run_id
                    atomic.write_json(job.marker, {"fingerprint": fp, "run": run_id, **result})
                if on_update:
                    on_update(outcome)
    except KeyboardInterrupt:
        executor.kill()
        # Ctrl-C can arrive inside ``executor.submit``: that page may already be running in a
        # worker but not yet be in ``running``. So every page not settled and not waiting counts
        # as interrupted, and the partial files of all pages are removed (their workers are dead).
        for job in jobs:
            final = REPO / job.output
            for partial in final.parent.glob(f"{final.stem}.*{RUNNING_SUFFIX}"):
                partial.unlink(missing_ok=True)
            if job.key not in outcome and job not in pending:
                outcome[job.key] = {
                    "status": "interrupted",
                    "seconds": None,
                    "error": "stopped by Ctrl-C; re-run to resume",
                }
        if on_update:
            on_update(outcome)
        raise Interrupted(outcome) from None
    finally:
        if own:
            executor.close()
    assert {j.key for j in jobs} == set(outcome)
    return outcome


def _result(fut) -> dict:
    try:
        return dict(fut.result())
    except Exception as exc:  # noqa: BLE001 - a worker that died is a failed page, not a crash
        return {"status": "failed", "seconds": 0.0, "error": f"{type(exc).__name__}: {exc}"}


def now() -> str:
    """The current time in UTC, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def files_stamp(root: Path, skip: Iterable[str] = ()) -> str:
    """(path, size, mtime) of every file under ``root``, hashed; ``skip``: names left out.

    One ``os.scandir`` walk with the stat that ``scandir`` already has: tens of thousands of
    frames take a fraction of a second. A frame replaced in place, renamed, added or removed
    changes the stamp.
    """
    h = hashlib.sha256()
    skip = set(skip)
    stack = [Path(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except PermissionError:
            from .datasets import DatasetError

            raise DatasetError(f"{folder}: permission denied (cannot list the folder)") from None
        for entry in entries:
            if entry.name in skip:
                continue
            if entry.is_dir(follow_symlinks=True):
                stack.append(Path(entry.path))
            else:
                st = entry.stat()
                h.update(
                    f"{os.path.relpath(entry.path, root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode()
                )
    return h.hexdigest()
