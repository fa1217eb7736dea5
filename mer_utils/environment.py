"""The environment every process of the study computes in: TensorFlow's variables, set before it
is imported (:func:`kernel_environment`), and workers that die with their parent
(:func:`bind_to_parent`: the runner's page workers, the stand-in generator's renderers)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

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


_PR_SET_PDEATHSIG = 1


def bind_to_parent() -> None:
    """Make this process die with its parent (Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)``) and
    leave Ctrl-C to the parent, which then stops its workers itself. Elsewhere a no-op."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before the signal was armed
        os._exit(1)
