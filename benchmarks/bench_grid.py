"""Benchmark: the grid's throughput in trainings per hour (``make bench``), one JSON line each.

Runs the same small grid three ways with the real runner (``python -m mer_utils.build``):
one local worker (``--jobs 1``), two local workers (``--jobs 2``), and a Dask
``distributed.LocalCluster`` of two worker processes (``--scheduler``). The grid: the quick
profile on the CAS(ME)^2 stand-in, two methods (MER-3DCNNST, MER-DA3DCNNST) under ``kfold``:
10 trainings. Stand-ins and the stage-1 cache are made once beforehand and shared, so the
figures measure the pages and their trainings. ``trainings_per_hour`` counts fitted folds over
the runner's wall-clock time (page start-up included: that is what a user waits for).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bench import emitter  # noqa: E402  (benchmarks/_bench.py)

emit = emitter("grid")

REPO = Path(__file__).resolve().parent.parent
ARGS = [
    "--profile",
    "quick",
    "--datasets",
    "casme_sq",
    "--variants",
    "MER-3DCNNST",
    "MER-DA3DCNNST",
    "--protocols",
    "kfold",
]


def run(tmp: Path, name: str, extra: list[str]) -> tuple[float, int]:
    """One runner invocation into its own book folder; (seconds, folds fitted)."""
    book = tmp / name
    cmd = [
        sys.executable,
        "-m",
        "mer_utils.build.study",
        *ARGS,
        "--book-dir",
        str(book),
        "--cache-dir",
        str(tmp / "cache"),
        "--standins-dir",
        str(tmp / "standins"),
        *extra,
    ]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    folds = len(list((book / "results" / "folds").rglob("*.json")))
    return seconds, folds


def main() -> None:
    from distributed import LocalCluster

    with tempfile.TemporaryDirectory(prefix="bench-grid-") as tmp:
        tmp = Path(tmp)
        # warm-up: stand-ins and the stage-1 cache, shared by the three runs
        run(tmp, "warm-up", ["--jobs", "2"])
        shutil.rmtree(tmp / "warm-up")
        for name, extra in (("local-1", ["--jobs", "1"]), ("local-2", ["--jobs", "2"])):
            seconds, folds = run(tmp, name, extra)
            emit(
                "trainings_per_hour",
                3600 * folds / seconds,
                "trainings/h",
                executor=name,
                trainings=folds,
                seconds=round(seconds, 1),
            )
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
        os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            seconds, folds = run(
                tmp, "dask-2", ["--jobs", "2", "--scheduler", cluster.scheduler_address]
            )
        emit(
            "trainings_per_hour",
            3600 * folds / seconds,
            "trainings/h",
            executor="dask LocalCluster, 2 workers",
            trainings=folds,
            seconds=round(seconds, 1),
        )


if __name__ == "__main__":
    main()
