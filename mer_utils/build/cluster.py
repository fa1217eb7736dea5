"""Running the study on a Dask ``distributed`` cluster (``--scheduler ADDRESS``).

The unit of work on a cluster is a *fold*, not a page: a leave-one-subject-out run is as many
independent trainings as there are subjects, and they spread over the cluster's workers. For a
method page the runner

1. asks :func:`page_folds` which folds of the page's plan (:func:`mer_utils.experiment.plan`,
   the plan the page itself executes) the fold store does not hold yet (the stage-1 page of its
   dataset has already run, so the clips are in the stage-1 cache);
2. submits one Dask task per fold (:func:`fit_fold_task`), which reads the clips from the
   stage-1 cache, executes the fold with the one fold executor
   (:func:`mer_utils.experiment.execute`) and *returns* its result;
3. writes each result to the fold store itself, atomically, as it arrives: results are written
   only on the runner's side, so a lost worker means a task Dask runs again, never a
   half-written record;
4. executes the page with papermill on the runner's machine, exactly as without a cluster; the
   page finds every fold in the store and only gathers them. The notebooks do not change.

Pages that train nothing (overview, stage 1, summaries) run on the runner's machine too. The
same seeds give the same records wherever they run: each fold's model starts from the weights the
run seed gives (every initialiser and dropout layer seeded from it, never from Python's global
generator, which a Dask worker's other threads also draw from: :func:`mer_utils.models.layer_seed`)
and its training uses the fold's own seed. Identical to the last digit when the workers use as many
TensorFlow threads as the page kernels (``TF_NUM_INTRAOP_THREADS``); tests/test_cluster.py checks it.

Workers must see the repository and the data at the same paths as the runner (a shared
filesystem, as on every HPC cluster): :meth:`DaskExecutor.check_paths` asks every worker before
anything starts, and a worker whose fold key differs from the runner's (other code, other data)
fails its task with a message saying so.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import json
import logging
import os
import threading
from pathlib import Path

from .. import experiment, folds
from . import runner
from .runner import REPO, Job

log = logging.getLogger("mer_utils.build.study")


def _visible(paths: list[str]) -> dict:
    """Run on every worker: which of ``paths`` it cannot see, and where it is."""
    import socket

    return {"host": socket.gethostname(), "missing": [p for p in paths if not os.path.exists(p)]}


CONNECT_TIMEOUT = "30s"
"""How long the runner tries to reach the scheduler before it gives up with a message."""


class DaskExecutor:
    """Folds of method pages on a Dask cluster; pages themselves on the runner's machine.

    ``workers`` is how many pages may be in progress at once (most of them waiting for their
    folds on the cluster); ``local_workers`` how many pages papermill executes at once here.
    """

    name = "dask"

    def __init__(self, address: str, local_workers: int = 2, pages_in_flight: int = 16):
        from distributed import Client

        self.address = address
        self.client = Client(address, timeout=CONNECT_TIMEOUT)
        self.workers = max(1, int(pages_in_flight))
        self._local = runner.LocalExecutor(local_workers)
        self._threads = cf.ThreadPoolExecutor(max_workers=self.workers)
        self._lock = threading.Lock()
        self._submitted: list = []
        # The fold keys below are computed in those threads, and each holds the digest of the
        # fitting code, made by ast.parse. Python 3.11's ast.parse is not safe in two threads
        # at once ("SystemError: AST constructor recursion depth mismatch", CPython gh-106905):
        # make every kind's digest here, once, so that the threads only read them.
        folds.code_digests()

    def check_paths(self, paths: list[Path]) -> None:
        """Stop with a clear message unless every worker sees ``paths`` (the repository, the
        stage-1 cache, the data) at the same place as the runner."""
        wanted = [str(Path(p).resolve()) for p in paths]
        answers = self.client.run(_visible, wanted)
        if not answers:
            raise SystemExit(f"the Dask cluster at {self.address} has no workers")
        bad = {w: a for w, a in answers.items() if a["missing"]}
        if bad:
            lines = [
                f"  {w} ({a['host']}): cannot see {', '.join(a['missing'])}" for w, a in bad.items()
            ]
            raise SystemExit(
                "Dask workers must see the repository and the data at the same paths as the "
                "runner (a shared filesystem):\n" + "\n".join(lines)
            )
        log.info(
            "dask  %d workers at %s see the repository and the data", len(answers), self.address
        )

    def submit(self, job: Job) -> cf.Future:
        return self._threads.submit(self._folds_then_page, job)

    def _folds_then_page(self, job: Job) -> dict:
        if "method" in job.parameters:
            failed = self._fit_folds(job)
            if failed:
                return {"status": "failed", "seconds": 0.0, "error": failed}
        return self._local.submit(job).result()

    def _fit_folds(self, job: Job) -> str:
        """Fit the page's missing folds on the cluster and store them; '' or an error text."""
        from distributed import as_completed

        params = {
            **job.parameters,
            "dataset_dir": str(REPO / job.parameters["dataset_dir"]),
            "cache_dir": str(REPO / job.parameters["cache_dir"]),
            "results_dir": str(REPO / job.parameters["results_dir"]),
        }
        tasks = page_folds(params)
        if not tasks:
            return ""
        log.info("dask  %s: %d folds on the cluster", job.key, len(tasks))
        store = folds.FoldStore(params["results_dir"])
        futures = [
            self.client.submit(fit_fold_task, params, t, key=f"fold-{t.key}", pure=False, retries=1)
            for t in tasks
        ]
        with self._lock:
            self._submitted += futures
        try:
            for future in as_completed(futures):
                key, result = future.result()
                store.put(key, result)  # written here, on the runner's side, atomically
        except Exception as exc:  # noqa: BLE001 - a fold that failed fails its page
            for f in futures:
                f.cancel()
            return f"a fold failed on the cluster: {type(exc).__name__}: {exc}"
        return ""

    def wait(self, futures: list) -> set:
        done, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
        return done

    def kill(self) -> None:
        """Stop at once: cancel the folds on the cluster, kill the pages running here."""
        with self._lock:
            pending = [f for f in self._submitted if not f.done()]
        if pending:
            self.client.cancel(pending)
        self._local.kill()
        self._threads.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        self._local.close()
        self.client.close()


# ----------------------------------------------------------------------------- fold tasks
def page_folds(params: dict) -> list[experiment.FoldTask]:
    """The folds of a method page's plan (:func:`mer_utils.experiment.plan`) that the fold store
    does not hold yet.

    ``params`` are the page's notebook parameters, paths absolute. The runner sends these
    tasks to the cluster and stores what comes back; the page then executes the same plan and
    finds every fold in the store.
    """
    runs = experiment.page_runs(params, build=False)
    store = folds.FoldStore(params["results_dir"])
    return [task for _, task in experiment.plan(runs) if store.get(task.key) is None]


def fit_fold_task(params: dict, task: experiment.FoldTask) -> tuple[str, object]:
    """Execute one fold task of :func:`page_folds` on a cluster worker; return ``(key, result)``.

    The worker makes the page's runs exactly as the page would (:func:`mer_utils.experiment.
    page_runs`, kept per process: a worker fitting many folds of one page loads the clips and
    builds the method once) and executes the fold with :func:`mer_utils.experiment.execute`. A
    key that differs from the runner's means the worker sees other data or other code: an error,
    never a silently different result. Writes nothing: the runner stores the result.
    """
    runs = _runs(json.dumps(params, sort_keys=True))
    planned = next(r for r in runs if (r.protocol, r.repeat) == (task.protocol, task.repeat))
    if folds.fold_key(planned.spec, task.fold) != task.key:
        raise RuntimeError(
            f"fold {params['method']} {task.protocol} r{task.repeat} f{task.fold}: this worker "
            "computes another key than the runner: it sees other data, cache or code (check "
            "that workers share the repository and the data at the same paths)"
        )
    return task.key, experiment.execute(planned, task)


@functools.lru_cache(maxsize=4)
def _runs(params: str) -> list[experiment.Planned]:
    return experiment.page_runs(json.loads(params), build=True)
