"""Shared fixtures, each built once per test session and read-only to the tests that use it:
the generated stand-in datasets and the smoke build of the study (issue 26: the suite's time).

A test that changes any of it copies what it changes first."""

from __future__ import annotations

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

import mer_utils  # noqa: E402,F401  (sets TensorFlow's environment before any test imports it)

STANDIN_SIZE = {
    "subjects": 6,
    "max_clip_frames": 12,
    "frame_scale": 0.5,
    "amplitude": 3.0,
}
"""The session's stand-ins: the smoke profile's subset (the 6 subjects with the most
three-class clips of each dataset, every clip cut to at most 12 frames) at 240x320 (SAMM
544x1020), so that generating all four takes seconds. Subjects, per-class counts and
(uncapped) lengths are those of the real datasets (mer_utils/data/subjects.csv). They are the
smoke profile's own stand-ins (``standin`` in profiles.yaml), so that the runner finds them up
to date under :func:`standins_dir` and never generates them again."""
STANDIN_SEED = 0
SMOKE_DATASET = "casme_sq"
"""The one dataset of the smoke build (the header-less spreadsheets and long-video frames)."""


def _generate(root: Path, datasets: list[str] | None) -> dict[str, Path]:
    from mer_utils import config, sources
    from mer_utils import standins as generator

    assert sources.standin_params(config.profile("smoke")["standin"]) == sources.standin_params(
        {"seed": STANDIN_SEED, **STANDIN_SIZE}
    ), "the session's stand-ins must be the smoke profile's (tests/conftest.py, profiles.yaml)"
    folder = sources.standin_root(root, config.profile("smoke")["standin"])
    return generator.generate_all(
        folder, seed=STANDIN_SEED, datasets=datasets, progress=False, workers=2, **STANDIN_SIZE
    )


@pytest.fixture(scope="session")
def standins_dir(tmp_path_factory) -> Path:
    """A ``--standins-dir`` for the runner's tests: the smoke profile's CAS(ME)^2 stand-in where
    the runner looks for it (``<this folder>/<digest>/CASME_sq``), generated once per session.

    Read-only: a run takes a shared lock on it and finds it up to date."""
    root = tmp_path_factory.mktemp("standins")
    _generate(root, [SMOKE_DATASET])
    return root


@pytest.fixture(scope="session")
def standins(standins_dir) -> dict[str, Path]:
    """All four stand-in datasets, generated once per session: dataset key -> its folder (in
    :func:`standins_dir`, whose CAS(ME)^2 stand-in is kept as it is).

    Treat them as read-only (copy frames elsewhere before modifying anything)."""
    return _generate(standins_dir, None)


@pytest.fixture(scope="session")
def smoke_build(tmp_path_factory, standins_dir) -> dict:
    """The smoke build, run once per session: every page of the grid (all methods, all the
    smoke profile's protocols, the summary pages) on the CAS(ME)^2 stand-in, executed by the
    runner. ``book``: its book folder (pages, results, fold store); ``cache``: its stage-1 cache;
    ``standins``: its ``--standins-dir``; ``status``: the runner's exit status.

    Read-only: tests that run on it again copy what they change (a rerun of the whole build on
    the same folder, which must change nothing, is the one exception). Its kernels train with one
    TensorFlow thread each, as the Dask workers of tests/test_cluster.py do, so that the records
    are comparable with the cluster's on any machine (on 2 cores the runner picks 1 anyway)."""
    from mer_utils.build import study

    tmp = tmp_path_factory.mktemp("smoke-build")
    build = {"tmp": tmp, "book": tmp / "book", "cache": tmp / "cache", "standins": standins_dir}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TF_NUM_INTRAOP_THREADS", "1")
        env.setenv("TF_NUM_INTEROP_THREADS", "1")
        env.chdir(Path.cwd())  # the runner works in the repository: back to where we were after
        build["status"] = study.main(
            [
                "--profile",
                "smoke",
                "--datasets",
                SMOKE_DATASET,
                "--jobs",
                "2",
                "--book-dir",
                str(build["book"]),
                "--cache-dir",
                str(build["cache"]),
                "--standins-dir",
                str(standins_dir),
            ]
        )
    return build
