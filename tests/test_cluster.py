"""The runner on a real Dask ``distributed.LocalCluster`` (2 worker processes): the same seeds
give the same records as the local run, the folds are fitted on the cluster and stored by the
runner, and workers that cannot see the repository stop the run with a clear message."""

from __future__ import annotations

import shutil

import pytest

from mer_utils import code, folds, methods, results, schema
from mer_utils.build import study

pytestmark = pytest.mark.slow

DATASET = "casme_sq"  # the smoke build's (tests/conftest.py)
METHODS = ["MER-DACWB3DCNNST", "FLOW-LINEAR"]
PROTOCOLS = ["paper-leaky", "kfold"]
"""paper-leaky, the paper's split, rather than paper: in the smoke build (every protocol) the
paper run of a method that resamples nothing is a copy of its paper-leaky run, with that run's
folds (named after it, none stored of its own; experiment.runs_to_make)."""
ARGS = [
    "--profile",
    "smoke",
    "--datasets",
    DATASET,
    "--methods",
    *METHODS,
    "--protocols",
    *PROTOCOLS,
    "--jobs",
    "2",
]
SCORES = ["accuracy", "f1_macro", "f1_weighted", "uf1", "uar", "baseline_accuracy"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from distributed import LocalCluster

    # workers and the runner's kernels (2 jobs on 2 cores) train with one TensorFlow thread each
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TF_NUM_INTRAOP_THREADS", "1")
        env.setenv("TF_NUM_INTEROP_THREADS", "1")
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as c:
            yield c


def _run(tmp, standins, extra=()):
    book = tmp / "book"
    status = study.main(
        [
            *ARGS,
            "--book-dir",
            str(book),
            "--cache-dir",
            str(tmp / "cache"),
            "--standins-dir",
            str(standins),
            *extra,
        ]
    )
    return status, book


def test_same_records_locally_and_on_a_dask_cluster(
    tmp_path, standins_dir, smoke_build, cluster, monkeypatch
):
    # The local records: the smoke build's (tests/conftest.py), which ran every method and
    # protocol of the smoke profile on the same stand-in, locally, with one TensorFlow thread per
    # kernel as here; its runs of ARGS' methods and protocols are the local run of ARGS.
    # The summary pages send nothing to the cluster (the scale check trains in its own kernel,
    # on the runner's machine): the run on the cluster leaves them out.
    real_plan = study.plan
    monkeypatch.setattr(
        study,
        "plan",
        lambda *a, **k: [j for j in real_plan(*a, **k) if not j.key.startswith("summary/")],
    )
    status, local_book = smoke_build["status"], smoke_build["book"]
    assert status == 0
    fitted_here = []
    real = folds.fit_fold

    def spy(*args, **kwargs):  # folds fitted in this (runner or kernel) process
        fitted_here.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(folds, "fit_fold", spy)
    # stage 1 runs in the runner's kernels, never on the cluster: read back from the build's cache
    shutil.copytree(smoke_build["cache"], tmp_path / "dask" / "cache")
    status, dask_book = _run(
        tmp_path / "dask", standins_dir, ["--scheduler", cluster.scheduler_address]
    )
    assert status == 0
    assert fitted_here == []  # the runner fitted nothing itself: the cluster did
    key = [k for k in schema.KEY if k != "data_id"]  # the two books read the same stand-in
    local_res = results.load(local_book / "results", profile="smoke").where(
        method=METHODS, protocol=PROTOCOLS
    )
    remote_res = results.load(dask_book / "results", profile="smoke")
    local = local_res.metrics.set_index(key).sort_index()
    remote = remote_res.metrics.set_index(key).sort_index()
    assert list(local.index) == list(remote.index) and len(local) > 0
    # the same splits and test samples everywhere
    for col in ("n_folds", "n_samples", "n_test", "split_seed"):
        assert list(local[col]) == list(remote[col]), col
    split_cols = ["fold", "n_train", "n_val", "n_test", "test_subjects", "val_subjects"]
    assert (
        local_res.folds.sort_values(key + ["fold"])[split_cols].values.tolist()
        == remote_res.folds.sort_values(key + ["fold"])[split_cols].values.tolist()
    )
    # every record the same: the flow baseline (scikit-learn) and the network (the same initial
    # weights in every process and thread, the same per-fold seeds and, kernels and workers
    # having the same number of TensorFlow threads, the same arithmetic)
    for col in SCORES:
        differ = (local[col] - remote[col]).abs() >= 1e-9
        assert not differ.any(), (col, local[differ], remote[differ])
    cm = list(schema.CONFUSION_COLUMNS)
    assert (
        local_res.confusions.sort_values(key + ["subject"])[cm].values.tolist()
        == remote_res.confusions.sort_values(key + ["subject"])[cm].values.tolist()
    )
    assert set(local.index.get_level_values("method")) == {"MER-DACWB3DCNNST", "FLOW-LINEAR"}
    assert set(remote.index.get_level_values("protocol")) == set(PROTOCOLS)
    stored = list((dask_book / "results" / "folds").rglob("*.json"))
    assert len(stored) >= int(remote["n_folds"].sum())


def test_workers_that_cannot_see_the_repository_stop_the_run(cluster, tmp_path):
    from mer_utils.build.cluster import DaskExecutor

    executor = DaskExecutor(cluster.scheduler_address, local_workers=1)
    try:
        executor.check_paths([study.REPO])  # they share this machine's filesystem
        with pytest.raises(SystemExit, match="same paths as the runner"):
            executor.check_paths([tmp_path / "only-on-the-runner" / "data"])
    finally:
        executor.close()


def test_the_fitting_code_is_parsed_before_the_executor_threads_start(cluster, monkeypatch):
    """Python 3.11's ast.parse fails at random when two threads parse at once ("AST
    constructor recursion depth mismatch", CPython gh-106905), and the Dask executor computes
    fold keys, which hold the digest of the fitting code, in its page threads. The executor
    makes the digest in the runner's thread when it starts; its threads then parse nothing."""
    import threading

    from mer_utils.build.cluster import DaskExecutor

    parsed_in, real_parse = [], code.ast.parse

    def spy(*args, **kwargs):
        parsed_in.append(threading.current_thread())
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(code.ast, "parse", spy)
    for cached in (code.imports_of, code.closure, code.digest, code._parsed, code._code):
        cached.cache_clear()
    executor = DaskExecutor(cluster.scheduler_address, local_workers=1)
    try:
        assert parsed_in and set(parsed_in) == {threading.current_thread()}
        before = len(parsed_in)
        digests = list(executor._threads.map(lambda _: folds.code_digests(), range(8)))
        assert len(parsed_in) == before  # the threads parsed nothing
        assert all(d == digests[0] for d in digests) and set(digests[0]) == set(methods.kinds())
    finally:
        executor.close()
