"""Worker processes that die with the process that started them.

The runner's page workers (:mod:`mer_utils.runner`) and the stand-in generator's rendering
workers (:mod:`mer_utils.standins.render`) call :func:`bind_to_parent` when they start, so that
killing the parent, even with SIGKILL, takes them down with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

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
