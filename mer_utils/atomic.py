"""Crash-safe file writes shared by every cache and result file of the study.

The rule: a reader must never mistake a half-written file for a complete one. Every writer
here writes to a temporary file in the same folder, flushes it to disk and then renames it over
the target (``os.replace`` is atomic on POSIX). An interrupted run therefore leaves either the
old complete file or no file, plus at most a stray ``*.tmp-*`` file that no reader looks at.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success.

    On an exception the temporary file is removed and ``target`` is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp made it 0600; give it the usual mode
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    """Atomically write ``data`` to ``target``."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: str | os.PathLike, text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``target``."""
    return write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike, obj) -> Path:
    """Atomically write ``obj`` as indented JSON (numpy scalars converted)."""
    return write_text(
        target, json.dumps(obj, indent=2, sort_keys=True, default=json_default) + "\n"
    )


def save_npz(target: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Atomically save arrays to an uncompressed ``.npz`` file.

    ``np.load`` of a truncated ``.npz`` raises (the zip directory is at the end of the file), and
    the rename means a truncated file can only come from outside this function.
    """
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return Path(target)


@contextlib.contextmanager
def locked(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path + '.lock'`` (for read-modify-write cycles
    shared by several processes, e.g. notebooks appending to one results table)."""
    lock = Path(str(path) + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def update_file(target: str | os.PathLike, transform: Callable[[bytes | None], bytes]) -> Path:
    """Atomically replace ``target`` by ``transform(old_content)`` under an exclusive lock.

    ``old_content`` is ``None`` when the file does not exist yet.
    """
    target = Path(target)
    with locked(target):
        old = target.read_bytes() if target.exists() else None
        return write_bytes(target, transform(old))


def json_default(obj):
    """``json.dumps`` fallback for numpy scalars and arrays, paths and read-only mappings (a
    :class:`mer_utils.profile.Profile`: its table values)."""
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
