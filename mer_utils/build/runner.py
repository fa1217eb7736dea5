"""Executing the book's pages: papermill in worker processes, resume, the lock, interrupts.

:mod:`mer_utils.build.study` plans the pages (a list of :class:`Job`); :func:`run_jobs` executes them
with an *executor*: the embedded local one (:class:`LocalExecutor`, a process pool on this
machine, the default) or a Dask ``distributed`` cluster (:class:`mer_utils.build.cluster.DaskExecutor`).

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

import concurrent.futures as cf
import contextlib
import copy
import dataclasses
import hashlib
import logging
import multiprocessing
import os
import re
import sys
import time
from pathlib import Path
from typing import Callable

import nbformat

from .. import atomic, config
from . import templates
from .fingerprints import REPO, fingerprint, read_marker, rendered
from .processes import bind_to_parent, exit_status, kernel_environment, now

log = logging.getLogger("mer_utils.build.study")

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
    method: str | None = None
    """The method of a method page (the method template is rendered for it)."""
    soft: list[str] = dataclasses.field(default_factory=list)
    """Pages to wait for that may fail: the page then runs anyway and says what is missing."""
    data_stamp: str = ""

    @property
    def marker(self) -> Path:
        return REPO / (self.output + ".done.json")


# ----------------------------------------------------------------------------- executing a page
def execute(template: str, output: str, parameters: dict, method: str | None = None) -> dict:
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
                _papermill(template, partial, parameters, method)
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


def _papermill(
    template: str, output: Path, parameters: dict, method: str | None = None, attempts: int = 2
) -> None:
    import papermill as pm

    timeout = config.cell_timeout(parameters.get("profile"))
    for attempt in range(1, attempts + 1):
        try:
            pm.execute_notebook(
                copy.deepcopy(rendered(template, method)),
                str(output),
                parameters=parameters,
                cwd=str(REPO),
                kernel_name="python3",
                progress_bar=False,
                log_output=False,
                execution_timeout=timeout,
            )
            return
        except pm.PapermillExecutionError:
            raise  # a cell raised: running it again would only repeat the error
        except TimeoutError:  # nbclient's CellTimeoutError
            raise PageTimeout(
                f"a cell ran longer than the profile's cell_timeout_s ({timeout} s; "
                f"profiles.yaml, {parameters.get('profile')}): stopped"
            ) from None
        except Exception as exc:  # noqa: BLE001 - the kernel did not start (port race, ...)
            if attempt == attempts or not _no_cell_ran(output):
                raise
            print(
                f"kernel failed before running any cell ({type(exc).__name__}: {exc}); "
                "starting it once more",
                file=sys.stderr,
            )


class PageTimeout(RuntimeError):
    """A cell of a page ran longer than its profile's ``cell_timeout_s``."""


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
    * the parameters cell is given the page's own values (:func:`templates.own_parameters`), so
      that the page, downloaded from the book, re-runs as it stands with papermill.
    * a per-dataset page's title names its dataset (:func:`templates.title_dataset`).
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
    templates.own_parameters(nb)
    templates.title_dataset(
        nb, nb.metadata.get("papermill", {}).get("parameters", {}).get("dataset")
    )
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
        kernel_environment()  # inherited by the workers and their kernels
        self._pool = cf.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=bind_to_parent,
        )

    def submit(self, job: Job) -> cf.Future:
        return self._pool.submit(execute, job.template, job.output, job.parameters, job.method)

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


# ----------------------------------------------------------------------------- the loop
class Interrupted(Exception):
    """Raised by :func:`run_jobs` after Ctrl-C or SIGTERM, once running pages are stopped;
    ``outcome`` holds what finished, ``status`` the exit status (130 or 143)."""

    def __init__(self, outcome: dict[str, dict], status: int = 130):
        super().__init__("interrupted")
        self.outcome = outcome
        self.status = status

    @property
    def signal(self) -> str:
        return _signal_name(self.status)


def _signal_name(status: int) -> str:
    return "SIGTERM" if status == 143 else "Ctrl-C"


def run_jobs(
    jobs: list[Job],
    executor=None,
    force: bool = False,
    on_update: Callable[[dict[str, dict]], None] | None = None,
    n_workers: int = 2,
) -> dict[str, dict]:
    """Execute ``jobs`` respecting their ``after`` order; return each job's outcome.

    ``force`` re-runs every page and has them refit every stored fold (:data:`config.REFIT_ENV`).
    Outcomes: ``ok`` (executed), ``cached`` (fingerprint unchanged, not re-run), ``failed``,
    ``skipped`` (a page in its ``after`` failed or was skipped: its output is replaced by a note
    saying so, never left from an earlier run looking current). Pages in a job's ``soft`` are
    waited for but may fail (the summary pages then show what succeeded and say what did not).
    ``on_update(outcomes)`` is called whenever outcomes change, so the manifest is current when
    the summary pages read it. Without ``executor`` a :class:`LocalExecutor` of ``n_workers`` is
    used. Ctrl-C (or SIGTERM) kills the running pages and raises :class:`Interrupted`.
    """
    refit = os.environ.get(config.REFIT_ENV)
    if force:  # --force re-runs everything: folds stored before now are refitted too
        os.environ[config.REFIT_ENV] = str(time.time())
    own = executor is None
    executor = executor or LocalExecutor(n_workers)
    outcome: dict[str, dict] = {}
    runs: dict[str, str] = {}  # key -> run id of the result in place
    pending = list(jobs)
    running: dict = {}
    try:
        while pending or running:
            settled = len(outcome)
            for job in list(pending):
                deps = [outcome.get(k, {}).get("status") for k in job.after]
                failed = [k for k in job.after if outcome.get(k, {}).get("status") in BAD]
                if failed:
                    outcome[job.key] = {
                        "status": "skipped",
                        "seconds": 0.0,
                        "error": f"a page it depends on did not succeed ({failed[0]})",
                    }
                    not_produced(job, outcome[job.key]["error"])
                    pending.remove(job)
                    continue
                soft = [outcome.get(k, {}).get("status") for k in job.soft]
                if not all(s in ("ok", "cached") for s in deps) or None in soft:
                    continue
                try:
                    fp = fingerprint(
                        job, [runs.get(k, outcome[k]["status"]) for k in job.after + job.soft]
                    )
                except Exception as exc:  # noqa: BLE001 - a template that cannot be read fails its page
                    outcome[job.key] = {
                        "status": "failed",
                        "seconds": 0.0,
                        "error": f"{job.template}: {type(exc).__name__}: {_first_line(exc)}",
                    }
                    pending.remove(job)
                    log.info("failed %s (%s)", job.key, outcome[job.key]["error"])
                    continue
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
    except KeyboardInterrupt as stop:
        executor.kill()
        # Ctrl-C can arrive inside ``executor.submit``: that page may already be running in a
        # worker but not yet be in ``running``. So every page not settled and not waiting counts
        # as interrupted, and the partial files of all pages are removed (their workers are dead).
        for job in jobs:
            final = REPO / job.output
            for partial in final.parent.glob(f"{final.stem}.*{RUNNING_SUFFIX}"):
                partial.unlink(missing_ok=True)
            if job.key not in outcome:
                started = job not in pending
                outcome[job.key] = {
                    "status": "interrupted",
                    "seconds": None,
                    "error": f"{'stopped' if started else 'not started'}: the run was stopped "
                    f"by {_signal_name(exit_status(stop))}; re-run to resume",
                }
        if on_update:
            on_update(outcome)
        raise Interrupted(outcome, exit_status(stop)) from None
    finally:
        if own:
            executor.close()
        if force:
            os.environ.pop(config.REFIT_ENV, None)
            if refit is not None:
                os.environ[config.REFIT_ENV] = refit
    assert {j.key for j in jobs} == set(outcome)
    return outcome


BAD = ("failed", "skipped", "interrupted")


def not_produced(job: Job, reason: str) -> None:
    """Replace a page the latest run could not produce by a note saying so (an earlier run's
    page must never look current), and drop its done-marker."""
    job.marker.unlink(missing_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            f"# {job.key}\n\nThis page was **not produced** by the latest run of the study: "
            f"{reason}. The reproducibility page lists every page and what failed."
        )
    ]
    path = REPO / job.output
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, nbformat.writes(nb))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    where = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
    return (text[0] if text else type(exc).__name__)[:300] + where


def _result(fut) -> dict:
    try:
        return dict(fut.result())
    except Exception as exc:  # noqa: BLE001 - a worker that died is a failed page, not a crash
        return {"status": "failed", "seconds": 0.0, "error": f"{type(exc).__name__}: {exc}"}
