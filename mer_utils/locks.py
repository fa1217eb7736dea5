"""Locks on stand-in folders: one generator writes a folder while nobody reads it.

Generating a stand-in takes an exclusive ``flock`` on ``<folder>.lock`` beside the folder, and a
runner holds a shared one for its whole run (:func:`standin_lock`); a generator that would
rewrite a folder in use stops at once (:class:`StandinInUse`), naming the folder and the process
that uses it (read from ``/proc/locks``). :mod:`mer_utils.sources` re-exports both names; like
it, this module never imports the generator.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

if TYPE_CHECKING:
    from .sources import Source

log = logging.getLogger("mer_utils.build.study")

LOCK_SUFFIX = ".lock"
"""``<folder>.lock`` beside a stand-in folder is its lock file."""


class StandinInUse(SystemExit):
    """A stand-in folder that must be (re)written is in use by another process: the generator
    stops at once (as ``SystemExit``, so a command prints the one-line message and exits 1).
    ``writing``: the other process is writing the folder itself (not only reading it)."""

    def __init__(self, message: str, writing: bool = False):
        super().__init__(message)
        self.message = message
        self.writing = writing

    def __str__(self) -> str:
        return self.message


_HELD: dict[str, list] = {}  # lock file -> [open file, "sh" or "ex", how many holds]


def _lock_file(folder: str | Path) -> Path:
    folder = Path(folder)
    return folder.parent / (folder.name + LOCK_SUFFIX)


def _holders(path: str | Path) -> list[tuple[int, str]]:
    """(pid, ``READ`` or ``WRITE``) of the other processes holding an ``flock`` on file
    ``path``, read from ``/proc/locks`` (empty where that is not available)."""
    try:
        st = Path(path).stat()
        table = Path("/proc/locks").read_text()
    except OSError:
        return []
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    out: list[tuple[int, str]] = []
    for line in table.splitlines():
        parts = line.split()
        if "->" in parts or len(parts) < 6 or parts[1] != "FLOCK" or parts[5] != inode:
            continue  # "->": a process waiting for the lock, not holding it
        pid = int(parts[4])
        if pid != os.getpid() and (pid, parts[3]) not in out:
            out.append((pid, parts[3]))
    return out


def lock_holders(path: str | Path) -> list[str]:
    """The other processes holding an ``flock`` on file ``path``, each as ``pid N (command)``
    (read from ``/proc/locks``; empty where that is not available)."""
    return [_describe(pid) for pid, _ in _holders(path)]


def _describe(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"pid {pid}"
    command = " ".join(raw.replace(b"\0", b" ").decode(errors="replace").split())
    return f"pid {pid} ({command[:160]})" if command else f"pid {pid}"


def _in_use(folder: Path, path: Path, fh) -> StandinInUse:
    holders = _holders(path)
    who = [_describe(pid) for pid, _ in holders]
    writing = any(kind == "WRITE" for _, kind in holders)
    if not holders and fh is not None:  # no /proc/locks: a writer notes itself in the file
        fh.seek(0)
        who = [line.strip() for line in fh.read().splitlines() if line.strip()][:1]
        writing = bool(who)
    return StandinInUse(
        f"stand-in {folder} is in use by {', '.join(who) or 'another process'}"
        f"{' (writing it)' if writing else ''}: not rewriting it; wait for that process to "
        "finish, or give this run its own --standins-dir",
        writing,
    )


def _acquire(folder: Path, exclusive: bool, wait: bool) -> tuple[str, str] | None:
    path = _lock_file(folder)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # opening the lock file below fails and says why
    key = os.path.realpath(path)
    held = _HELD.get(key)
    if held is not None:
        fh, mode = held[0], held[1]
        if mode == "ex" or not exclusive:
            held[2] += 1
            return key, "keep"
        try:  # this process reads the folder and now rewrites it: shared -> exclusive
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            error = _in_use(folder, path, None)
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH)  # a failed conversion drops the lock
            raise error from None
        held[1] = "ex"
        held[2] += 1
        _note_writer(fh)
        return key, "downgrade"
    try:
        fh = open(path, "a+")
    except OSError as exc:
        if exclusive:
            raise
        log.debug("no lock on %s (%s): read without one", folder, exc)
        return None
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        fcntl.flock(fh.fileno(), mode | fcntl.LOCK_NB)
    except BlockingIOError:
        if exclusive or not wait:
            error = _in_use(folder, path, fh)
            fh.close()
            raise error from None
        who = ", ".join(lock_holders(path)) or "another process"
        log.info("waiting for %s, which is writing the stand-in %s", who, folder)
        fcntl.flock(fh.fileno(), mode)
    if exclusive:
        _note_writer(fh)
    _HELD[key] = [fh, "ex" if exclusive else "sh", 1]
    return key, "close"


def _note_writer(fh) -> None:
    """Note this process in its lock file while it writes (named when /proc/locks is not)."""
    fh.seek(0)
    fh.truncate()
    command = " ".join(" ".join(sys.argv).split())[:160]
    fh.write(f"pid {os.getpid()} ({command}), writing since {time.ctime()}\n")
    fh.flush()


def _release(token: tuple[str, str] | None) -> None:
    if token is None:
        return
    key, action = token
    held = _HELD[key]
    held[2] -= 1
    if action == "downgrade" or (held[2] == 0 and held[1] == "ex"):
        held[0].truncate(0)  # the writer's note goes with its exclusive lock
    if action == "downgrade":
        fcntl.flock(held[0].fileno(), fcntl.LOCK_SH)
        held[1] = "sh"
    if held[2] == 0:
        fcntl.flock(held[0].fileno(), fcntl.LOCK_UN)
        held[0].close()
        del _HELD[key]


@contextlib.contextmanager
def standin_lock(
    folders: Iterable[Source | str | Path], exclusive: bool = False, wait: bool = True
) -> Iterator[None]:
    """Hold a lock on each stand-in folder of ``folders`` (sources of kind ``stand-in``, or
    paths) for the duration of the ``with`` block: an ``flock`` on ``<folder>.lock`` beside it.

    Shared (the default) is what a runner holds for its whole run: many readers at once, and
    no generator rewrites the folder meanwhile; if a generator is writing it, this waits until
    it is done (``wait``; without it, :class:`StandinInUse`). Exclusive is what the generator
    takes while it (re)writes a folder; it never waits: a folder in use by another process
    raises :class:`StandinInUse` at once, naming the folder and that process. Locks of one
    process nest: a runner that holds a shared lock may generate into the same folder (the
    lock becomes exclusive while it writes, then shared again). A lock file that cannot be
    created (a read-only place) leaves a shared lock out. Locks die with their process."""
    paths = []
    for item in folders:
        if hasattr(item, "kind"):  # a mer_utils.sources.Source
            if item.kind != "stand-in":
                continue
            item = item.dir
        paths.append(Path(item))
    tokens = []
    try:
        for folder in sorted(set(paths), key=str):
            tokens.append(_acquire(folder, exclusive, wait))
        yield
    finally:
        for token in reversed(tokens):
            _release(token)
