"""The processes of a run: workers bound to the runner, their environment, signals, the lock.

* The runner's page workers (:mod:`mer_utils.build.runner`) and the stand-in generator's rendering
  workers (:mod:`mer_utils.standins.render`) call :func:`bind_to_parent` when they start, so that
  killing the parent, even with SIGKILL, takes them down with it.
* :func:`kernel_environment` is what every kernel and Dask worker gets on top of the runner's
  environment: TensorFlow allocates GPU memory as it needs it, so that the two pages the runner
  executes at once (or several workers) share one card.
* :func:`stop_signals`: SIGTERM is handled like Ctrl-C, and a second signal while the first is
  being handled is ignored (the run is already stopping) instead of interrupting the clean-up.
* :class:`RunLock`: one runner per results folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from ..environment import (  # noqa: F401 (the runner's)
    KERNEL_ENV,
    bind_to_parent,
    kernel_environment,
)


# ----------------------------------------------------------------------------- signals
class Stopped(KeyboardInterrupt):
    """Raised in the runner's main thread by SIGINT (Ctrl-C) or SIGTERM; ``status`` is the
    exit status a command reports for it (130 or 143: 128 + the signal number)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def status(self) -> int:
        return 128 + self.signum


def exit_status(exc: BaseException) -> int:
    """130 after Ctrl-C, 143 after SIGTERM."""
    return exc.status if isinstance(exc, Stopped) else 128 + signal.SIGINT


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """Inside the block, SIGINT and SIGTERM raise :class:`Stopped` once; further signals while
    the run stops are reported on one line and otherwise ignored, so the clean-up (killing the
    workers, removing partial pages, writing the manifest) is never cut short. The previous
    handlers are restored on exit, unless a stop happened: then the command is ending, and
    both signals are ignored from there on (``SIG_IGN``, not a Python handler: at interpreter
    shutdown Python resets its own handlers to the default, so a signal then would kill the
    process with -15 instead of letting it exit with 143)."""
    stopping = []

    def handler(signum, frame):  # noqa: ARG001 - the signal module's signature
        if stopping:
            print(f"{signal.Signals(signum).name}: already stopping", file=sys.stderr)
            return
        stopping.append(signum)
        raise Stopped(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():  # after a stop the process is on its way out
            signal.signal(s, signal.SIG_IGN if stopping else h)


# ----------------------------------------------------------------------------- the lock
def now() -> str:
    """The current time in UTC, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class RunLock:
    """One runner per results folder: an exclusive ``flock`` on ``<results>/runner.lock``.

    The lock dies with the process that holds it (even on SIGKILL), so a crashed runner never
    blocks the next one. A second runner gets :class:`SystemExit` naming the first.
    """

    def __init__(self, results_dir: Path):
        self.path = Path(results_dir) / "runner.lock"
        self._fh = None

    def __enter__(self) -> "RunLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+")
        except OSError as exc:
            raise SystemExit(
                f"cannot write to the book folder {self.path.parent} ({exc.strerror}): the "
                "runner writes its pages and results there; give a writable --book-dir"
            ) from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise SystemExit(
                f"another runner is using {self.path.parent} ({holder}); wait for "
                "it to finish or stop it, or give this run its own --book-dir"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}, started {now()}\n")
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
