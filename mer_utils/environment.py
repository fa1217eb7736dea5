"""The environment every process of the study computes in, set before TensorFlow is imported."""

from __future__ import annotations

import os

KERNEL_ENV = {
    # TensorFlow maps nearly all of a GPU's memory in the first process that uses it; with
    # memory growth it takes what it needs, so two kernels (or workers) share one card.
    "TF_FORCE_GPU_ALLOW_GROWTH": "true",
    # The oneDNN kernels: 6-10x faster 3D convolutions on a CPU (book: environment).
    "TF_ENABLE_ONEDNN_OPTS": "1",
}
"""Set (unless already set) in the runner's environment, which its kernels inherit, and on
every Dask worker before a fold is fitted there."""


def kernel_environment(environ: dict | None = None) -> dict[str, str]:
    """Put :data:`KERNEL_ENV` into ``environ`` (default ``os.environ``) where a variable is not
    set already (a user's own choice wins); return the values now in force."""
    environ = os.environ if environ is None else environ
    for name, value in KERNEL_ENV.items():
        environ.setdefault(name, value)
    return {name: environ[name] for name in KERNEL_ENV}
