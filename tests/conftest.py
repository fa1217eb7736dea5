"""Shared fixtures: one small set of generated stand-in datasets per test session."""

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
(uncapped) lengths are those of the real datasets (mer_utils/data/subjects.csv)."""
STANDIN_SEED = 0


@pytest.fixture(scope="session")
def standins(tmp_path_factory) -> dict[str, Path]:
    """All four stand-in datasets, generated once per session: dataset key -> its folder.

    Treat them as read-only (copy frames elsewhere before modifying anything)."""
    from mer_utils import standins as generator

    root = tmp_path_factory.mktemp("standins")
    return generator.generate_all(
        root, seed=STANDIN_SEED, progress=False, workers=2, **STANDIN_SIZE
    )
