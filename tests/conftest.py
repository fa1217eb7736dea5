"""Shared fixtures: one tiny set of generated stand-in datasets per test session."""
from __future__ import annotations

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import mer_utils  # noqa: E402,F401  (sets TensorFlow's environment before any test imports it)

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

STANDIN_SIZE = {
    "n_subjects": 6,
    "clips_per_subject": 5,
    "frame_size": (240, 320),
    "clip_frames": (8, 12),
}
"""Size of the session's stand-ins: tiny, so that generating all four takes seconds."""
STANDIN_SEED = 0


@pytest.fixture(scope="session")
def standins(tmp_path_factory) -> dict[str, Path]:
    """All four stand-in datasets, generated once per session: dataset key -> its folder.

    Treat them as read-only (copy frames elsewhere before modifying anything)."""
    from mer_utils import synthetic

    root = tmp_path_factory.mktemp("standins")
    return synthetic.generate_all(root, seed=STANDIN_SEED, progress=False, **STANDIN_SIZE)
