"""Where each dataset's data come from, and whether a folder holds a stand-in.

The runner (:mod:`mer_utils.study`) asks :func:`resolve_sources` which folder each dataset's
pages read: a licence holder's copy under the data root (or a ``--dataset-dir``), else the
dataset's stand-in. Whether a folder is a stand-in is read from the folder itself (its
:data:`MARKER`, ``STANDIN.json``), never from how it was passed. This module only *reads* that
status; writing stand-ins is :mod:`mer_utils.standins`' job, and nothing here imports it, so
that reading the data's status never depends on the generator's code.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from . import config
from .config import CLASSES

log = logging.getLogger("mer_utils.study")

__all__ = [
    "DATA_ROOT_ENV",
    "DEFAULT_DATA_ROOT",
    "MARKER",
    "PARTIAL",
    "STANDINS",
    "Source",
    "SourceError",
    "data_stamp",
    "expected_counts",
    "is_standin",
    "read_marker",
    "resolve_sources",
]

MARKER = "STANDIN.json"
"""Completion marker written last into every stand-in dataset folder."""
PARTIAL = "STANDIN.partial"
"""Present while a stand-in is being written (removed when the marker is written)."""
STANDINS = Path("data") / "standins"
"""Where the runner generates stand-ins (``--standins-dir``), relative to the repository."""
DATA_ROOT_ENV = "MER_DATA_ROOT"
DEFAULT_DATA_ROOT = Path("data") / "licensed"
"""Where licensed copies are looked for when neither ``--data-root`` nor ``$MER_DATA_ROOT`` is
given; the only data root that may be absent (then every dataset uses its stand-in)."""


@dataclasses.dataclass(frozen=True)
class Source:
    """Where one dataset's data come from, as every notebook and record reports it."""

    dataset: str
    dir: str
    kind: str  # "licensed" | "stand-in"
    annotation: str | None = None  # the annotation file chosen with --annotation, if any

    def as_params(self) -> dict:
        return {
            "dataset": self.dataset,
            "dataset_dir": self.dir,
            "data_kind": self.kind,
            "annotation": self.annotation,
        }


class SourceError(ValueError):
    """A data path given on the command line (or in ``$MER_DATA_ROOT``) that cannot be used."""


# ----------------------------------------------------------------------------- data sources
def resolve_sources(
    datasets: list[str],
    data_root: str | None,
    overrides: dict[str, str],
    standins: Path = STANDINS,
    annotations: dict[str, str] | None = None,
) -> dict[str, Source]:
    """Decide, per dataset, which folder its pages read and what kind of data that folder is.

    ``overrides`` (``--dataset-dir``) and an explicit ``data_root`` must be existing folders:
    an explicit path that is missing or is a file raises :class:`SourceError`. Without a data
    root the default one (:data:`DEFAULT_DATA_ROOT`) is tried, and only it may be missing. A
    dataset with no folder under the root uses its stand-in (logged). The kind (``stand-in`` or
    ``licensed``) is read from the folder: a stand-in folder passed as a data root is still a
    stand-in; a half-written stand-in is an error.
    """
    from .datasets import find_root
    from .runner import REPO

    annotations = annotations or {}
    for name, path in overrides.items():
        if name not in datasets:
            raise SourceError(
                f"--dataset-dir {name}={path}: {name} is not among the selected datasets {datasets}"
            )
        if not path:
            raise SourceError(f"--dataset-dir {name}=: empty path")
        _require_folder(Path(path), f"--dataset-dir {name}")
    for name in annotations:
        if name not in datasets:
            raise SourceError(f"--annotation {name}=...: {name} is not among the selected datasets")
    if data_root:
        _require_folder(Path(data_root), "--data-root / $" + DATA_ROOT_ENV)
        root = Path(data_root)
    else:
        root = REPO / DEFAULT_DATA_ROOT
        if not root.is_dir():
            log.info(
                "no folder %s (the default data root): every dataset uses its stand-in",
                DEFAULT_DATA_ROOT,
            )
            root = None
    sources = {}
    for name in datasets:
        folder = config.dataset_info(name)["folder"]
        found = (
            Path(overrides[name])
            if name in overrides
            else (find_root(name, root) if root else None)
        )
        if found is None:
            if root is not None:
                log.warning(
                    "%s: no folder %s under the data root %s; using the stand-in",
                    name,
                    folder,
                    root,
                )
            sources[name] = Source(name, str(standins / folder), "stand-in")
            continue
        if (found / PARTIAL).exists() and not is_standin(found):
            raise SourceError(
                f"{found}: a stand-in whose generation did not finish "
                f"({PARTIAL} present); delete it or let the runner regenerate it"
            )
        kind = "stand-in" if is_standin(found) else "licensed"
        sources[name] = Source(name, str(found.resolve()), kind, annotations.get(name))
    return sources


def _require_folder(path: Path, what: str) -> None:
    if not path.exists():
        raise SourceError(f"{what}: {path} does not exist")
    if not path.is_dir():
        raise SourceError(f"{what}: {path} is a file, not a folder")


def data_stamp(source: Source) -> str:
    """Fingerprint of a dataset folder: the (path, size, mtime) of every annotation and frame
    file in it (:func:`mer_utils.runner.files_stamp`), and the chosen annotation file. A frame
    replaced in place in a licensed copy changes it, so every page reading that dataset reruns."""
    from .runner import REPO, files_stamp

    return files_stamp(REPO / source.dir) + (source.annotation or "")


# ----------------------------------------------------------------------------- the marker
def read_marker(root: str | Path) -> dict | None:
    """The stand-in marker of folder ``root`` as written, or None (missing, unreadable or not
    a stand-in marker)."""
    path = Path(root) / MARKER
    if not path.is_file():
        return None
    try:
        marker = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("unreadable stand-in marker %s: %s", path, exc)
        return None
    return marker if isinstance(marker, dict) and marker.get("standin") is True else None


def is_standin(root: str | Path) -> bool:
    """True when ``root`` holds a complete stand-in (its ``STANDIN.json`` marker)."""
    return read_marker(root) is not None


def expected_counts(root: str | Path) -> dict[str, int]:
    """Class counts (CLASSES order) the loader must return for the stand-in in ``root``."""
    marker = read_marker(root)
    if marker is None:
        raise ValueError(f"{Path(root) / MARKER}: missing or not a stand-in marker")
    return {label: int(marker["expected_counts"][label]) for label in CLASSES}
