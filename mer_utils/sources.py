"""Where each dataset's data come from, and whether a folder holds a stand-in.

The runner (:mod:`mer_utils.build.study`) asks :func:`resolve_sources` which folder each dataset's
pages read: a licence holder's copy under the data root (or a ``--dataset-dir``), else the
dataset's stand-in. This module only *reads* stand-ins; writing them is
:mod:`mer_utils.standins`' job, and nothing here imports it (not even inside a function), so that
reading the data's status never depends on the generator's code.

* **One folder per parameter set.** Stand-ins of different generation parameters (seed,
  ``frame_scale``, ``amplitude``, ``subjects``, ``max_clip_frames``, ``casme_sq_videos``) live
  in different folders, ``<standins dir>/<digest of the parameters>/<dataset folder>``
  (:func:`standin_root`, e.g. ``data/standins/3f9a1c02b7de/CASME2``), so a runner of one
  profile never rewrites the stand-in another profile's runner reads.
* **The marker must match the folder.** Whether a folder is a stand-in is read from the folder
  itself, never from how it was passed: its :data:`MARKER` (``STANDIN.json``) records the
  generator's parameters and version, every file's relative path and size (one digest), the
  content hash of the annotation files beside them and a hash of its own fields
  (:func:`write_marker`). :func:`is_standin` checks all of it in one walk of the folder; a
  marker that does not match (a licensed copy holding a copied marker, a changed field, files
  added, removed or resized) makes the folder licensed data, with a warning naming the folder
  and what did not match.
* **Locks** (:mod:`mer_utils.locks`, re-exported here). Generating a stand-in takes an
  exclusive ``flock`` on ``<folder>.lock`` beside the folder, and a runner holds a shared one
  for its whole run (:func:`standin_lock`); a generator that would rewrite a folder in use stops
  at once (:class:`StandinInUse`), naming the folder and the process that uses it.

``python -m mer_utils.sources PROFILE DATASET`` prints the folder of a dataset's stand-in under
a profile (what the runner reads), e.g. for running one notebook by hand.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Mapping

from . import atomic, config
from .config import CLASSES
from .locks import LOCK_SUFFIX, StandinInUse, lock_holders, standin_lock  # noqa: F401 - re-exported

log = logging.getLogger("mer_utils.build.study")

REPO = Path(__file__).resolve().parent.parent
"""Repository root: relative data folders are read from it."""

__all__ = [
    "DATA_ROOT_ENV",
    "DEFAULT_DATA_ROOT",
    "MARKER",
    "PARTIAL",
    "STANDINS",
    "STANDIN_DEFAULTS",
    "NotAStandin",
    "Source",
    "SourceError",
    "StandinInUse",
    "check_marker",
    "expected_counts",
    "is_standin",
    "read_marker",
    "resolve_sources",
    "standin_digest",
    "standin_lock",
    "standin_params",
    "standin_root",
    "write_marker",
]

MARKER = "STANDIN.json"
"""Completion marker written last into every stand-in dataset folder."""
PARTIAL = "STANDIN.partial"
"""Present while a stand-in is being written (removed when the marker is written)."""
STANDINS = Path("data") / "standins"
"""Where the runner generates stand-ins (``--standins-dir``), relative to the repository."""
STANDIN_DEFAULTS: dict = {
    "seed": 0,
    "frame_scale": 0.5,
    "amplitude": 3.0,
    "subjects": None,
    "max_clip_frames": None,
    "casme_sq_videos": False,
}
"""The stand-in generation parameters and their defaults (a profile's ``standin`` block gives
some of them; :func:`standin_params` fills in the rest)."""
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
    annotation: str | dict | None = None  # --annotation's file (a composite: part -> file)
    parts: tuple[Source, ...] = ()  # a composite's parts (MEGC 2019: SMIC-HS, CASME II, SAMM)

    def as_params(self) -> dict:
        return {
            "dataset": self.dataset,
            "dataset_dir": self.dir,
            "data_kind": self.kind,
            "annotation": self.annotation,
        }


class SourceError(ValueError):
    """A data path given on the command line (or in ``$MER_DATA_ROOT``) that cannot be used."""


class NotAStandin(SourceError, FileExistsError):
    """A folder where a stand-in would be written holds something that is not a stand-in: it
    is never overwritten (also a ``FileExistsError``)."""


# ----------------------------------------------------------------------------- parameter folders
def standin_params(standin: Mapping | None = None) -> dict:
    """The full set of stand-in generation parameters: ``standin`` (a profile's ``standin``
    block, or None) over :data:`STANDIN_DEFAULTS`, with canonical types. Parameters the
    defaults do not know are kept as given (the generator rejects them)."""
    out = {**STANDIN_DEFAULTS, **dict(standin or {})}
    out["seed"] = int(out["seed"])
    out["frame_scale"] = float(out["frame_scale"])
    out["amplitude"] = float(out["amplitude"])
    for key in ("subjects", "max_clip_frames"):
        out[key] = None if out[key] is None else int(out[key])
    out["casme_sq_videos"] = bool(out["casme_sq_videos"])
    return out


def standin_digest(standin: Mapping | None = None) -> str:
    """A short digest (12 hex digits) of the stand-in parameters: the name of their folder."""
    text = json.dumps(standin_params(standin), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def standin_root(standins: str | Path, standin: Mapping | None = None) -> Path:
    """The folder holding the stand-ins of parameters ``standin`` under the stand-ins folder
    ``standins``: ``standins/<digest>`` (its dataset folders are inside)."""
    return Path(standins) / standin_digest(standin)


# ----------------------------------------------------------------------------- data sources
def resolve_sources(
    datasets: list[str],
    data_root: str | None,
    overrides: dict[str, str],
    standins: Path = STANDINS,
    annotations: dict[str, str] | None = None,
    standin: Mapping | None = None,
) -> dict[str, Source]:
    """Decide, per dataset, which folder its pages read and what kind of data that folder is.

    ``overrides`` (``--dataset-dir``) and an explicit ``data_root`` must be existing folders:
    an explicit path that is missing or is a file raises :class:`SourceError`. Without a data
    root the default one (:data:`DEFAULT_DATA_ROOT`) is tried, and only it may be missing. A
    dataset with no folder under the root uses its stand-in (logged): with ``standin`` (the
    profile's ``standin`` block) the folder ``standin_root(standins, standin)/<folder>``,
    without it ``standins/<folder>``. The kind (``stand-in`` or ``licensed``) is read from the
    folder: a stand-in folder passed as a data root is still a stand-in; a half-written
    stand-in is an error; a ``standins`` folder that holds licensed data (a dataset folder that
    is not a stand-in) is an error, since stand-ins are never written over it.
    """
    from .datasets import find_root

    annotations = annotations or {}
    selectable = set(datasets) | {
        p for d in datasets for p in config.dataset_info(d).get("parts") or ()
    }
    for name, path in overrides.items():
        if name not in selectable:
            raise SourceError(
                f"--dataset-dir {name}={path}: {name} is not among the selected datasets {datasets}"
            )
        if not path:
            raise SourceError(f"--dataset-dir {name}=: empty path")
        _require_folder(Path(path), f"--dataset-dir {name}")
    for name in annotations:
        if name not in selectable:
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
    generated = Path(standins) if standin is None else standin_root(standins, standin)

    def resolve(name: str) -> Source:
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
            return Source(name, str(generated / folder), "stand-in")
        standin_here = is_standin(found)
        if (found / PARTIAL).exists() and not standin_here:
            raise SourceError(
                f"{found}: a stand-in whose generation did not finish "
                f"({PARTIAL} present); delete it or let the runner regenerate it"
            )
        kind = "stand-in" if standin_here else "licensed"
        return Source(name, str(found.resolve()), kind, annotations.get(name))

    sources: dict[str, Source] = {}
    for name in datasets:
        if not config.dataset_info(name).get("parts"):
            sources[name] = resolve(name)
    for name in datasets:
        parts = config.dataset_info(name).get("parts")
        if parts:  # every part as if selected itself: same options, same stand-in fallback
            sources[name] = composite(name, tuple(sources.get(p) or resolve(p) for p in parts))
    sources = {name: sources[name] for name in datasets}
    generate = [
        s for s in flat(sources) if s.kind == "stand-in" and s.dir.startswith(str(generated))
    ]
    if generate:
        _check_standins_dir(REPO / standins, [REPO / s.dir for s in generate], standin is None)
    return sources


COMPOSITES = Path(".cache") / "composites"
"""Where a composite whose parts lie in different places gets its folder: links named by the
parts' folders, pointing at them."""


def composite(name: str, parts: tuple[Source, ...]) -> Source:
    """The source of composite ``name`` from the sources of its parts. Its folder holds the
    parts' folders: their common parent where they lie side by side under their own names (a
    data root, the stand-ins' folder), else a folder of links to them under
    :data:`COMPOSITES`. Its kind is ``stand-in`` only when every part is one."""

    folders = [config.dataset_info(p.dataset)["folder"] for p in parts]
    parents = {str(Path(p.dir).parent) for p in parts}
    if len(parents) == 1 and all(Path(p.dir).name == f for p, f in zip(parts, folders)):
        folder = Path(parents.pop())
    else:
        text = json.dumps([str((REPO / p.dir).resolve()) for p in parts])
        folder = COMPOSITES / f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
        (REPO / folder).mkdir(parents=True, exist_ok=True)
        for p, f in zip(parts, folders):
            link = REPO / folder / f
            if not link.is_symlink() or os.readlink(link) != str((REPO / p.dir).resolve()):
                link.unlink(missing_ok=True)
                link.symlink_to((REPO / p.dir).resolve(), target_is_directory=True)
    kind = "stand-in" if all(p.kind == "stand-in" for p in parts) else "licensed"
    annotation = {p.dataset: p.annotation for p in parts if p.annotation} or None
    return Source(name, str(folder), kind, annotation, parts)


def flat(sources: dict[str, Source]) -> list[Source]:
    """Every source the run reads, a composite's parts included, each folder once."""
    out: dict[str, Source] = {}
    for s in sources.values():
        for one in s.parts or (s,):
            out.setdefault(one.dir, one)
    return list(out.values())


def _check_standins_dir(standins: Path, targets: list[Path], flat: bool = False) -> None:
    """Refuse to generate into a place that holds licensed data: a target folder that exists
    and is neither a stand-in nor a half-written one, or (unless ``flat``: the targets are
    directly in ``standins``) a stand-ins folder with a dataset folder directly inside it that
    is not a stand-in, the layout of a data root. Stand-ins are never written over either."""
    for name in [] if flat else config.datasets():
        if not config.dataset_info(name)["folder"]:
            continue  # a composite: no folder of its own
        folder = standins / config.dataset_info(name)["folder"]
        if not folder.is_dir() or not any(folder.iterdir()):
            continue
        if read_marker(folder) is None and not (folder / PARTIAL).exists():
            raise NotAStandin(
                f"--standins-dir {standins}: {folder} is not a stand-in (no {MARKER}): this "
                "looks like a folder of licensed data, and stand-ins are never written there; "
                "give --standins-dir a folder of its own (default: data/standins)"
            )
        log.info(
            "%s: a stand-in of the layout before parameter folders, no longer used (stand-ins "
            "now live in %s/<parameter digest>/); delete it to free the space",
            folder,
            standins,
        )
    for folder in targets:
        if not folder.is_dir() or not any(folder.iterdir()) or (folder / PARTIAL).exists():
            continue
        marker, problem = check_marker(folder)
        if marker is None or problem:
            raise NotAStandin(
                f"{folder} is not a stand-in ({problem or f'no {MARKER}'}): it is never "
                "overwritten; if it is a stand-in you no longer need, delete it yourself"
            )


def _require_folder(path: Path, what: str) -> None:
    if not path.exists():
        raise SourceError(f"{what}: {path} does not exist")
    if not path.is_dir():
        raise SourceError(f"{what}: {path} is a file, not a folder")


# ----------------------------------------------------------------------------- the marker
def read_marker(root: str | Path) -> dict | None:
    """The stand-in marker of folder ``root`` as written, unchecked, or None (missing,
    unreadable or not a stand-in marker). :func:`check_marker` checks it against the folder."""
    path = Path(root) / MARKER
    if not path.is_file():
        return None
    try:
        marker = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("unreadable stand-in marker %s: %s", path, exc)
        return None
    return marker if isinstance(marker, dict) and marker.get("standin") is True else None


def contents(root: str | Path) -> dict:
    """What a stand-in folder holds, as its marker records it: the number of files, their
    bytes, a digest of every file's relative path and size, and the SHA-256 of every file
    directly in the folder (the annotation files). The marker and the partial flag are left
    out. One ``os.scandir`` walk."""
    root = Path(root)
    entries: list[str] = []
    annotations: dict[str, str] = {}
    total = 0
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as it:
            for entry in it:
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), rel + "/"))
                    continue
                if not prefix and entry.name in (MARKER, PARTIAL) or system_file(entry.name):
                    continue
                size = entry.stat().st_size
                total += size
                entries.append(f"{rel}\0{size}\n")
                if not prefix:
                    annotations[entry.name] = hashlib.sha256(
                        Path(entry.path).read_bytes()
                    ).hexdigest()
    digest = hashlib.sha256("".join(sorted(entries)).encode()).hexdigest()
    return {"files": len(entries), "bytes": total, "digest": digest, "annotations": annotations}


SYSTEM_FILES = (".DS_Store", "Thumbs.db", "desktop.ini")
"""Files a file browser leaves in any folder it shows (and ``._*``, macOS metadata): no part
of a stand-in, so :func:`contents` does not count them."""


def system_file(name: str) -> bool:
    return name in SYSTEM_FILES or name.startswith("._")


def newer_files(root: str | Path, than: float, most: int = 3) -> list[str]:
    """Up to ``most`` files under ``root`` (relative paths) changed after the time ``than``."""
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            if name in (MARKER, PARTIAL) or system_file(name):
                continue
            if path.lstat().st_mtime > than:
                found.append(str(path.relative_to(root)))
                if len(found) >= most:
                    return sorted(found)
    return sorted(found)


def _fields_digest(marker: Mapping) -> str:
    fields = {k: v for k, v in marker.items() if k != "marker_digest"}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=atomic.json_default)
    return hashlib.sha256(text.encode()).hexdigest()


def write_marker(root: str | Path, fields: Mapping) -> dict:
    """Write ``root``'s marker: ``fields`` (the generator's record: ``standin``, dataset,
    parameters, version, expected counts...) plus ``contents`` (:func:`contents` of the folder
    as it is now) and ``marker_digest``, a hash of all the other fields. Atomic; returns it."""
    marker = json.loads(json.dumps(dict(fields), default=atomic.json_default))
    marker["contents"] = contents(root)
    marker["marker_digest"] = _fields_digest(marker)
    atomic.write_json(Path(root) / MARKER, marker)
    return marker


def check_marker(root: str | Path) -> tuple[dict | None, str | None]:
    """``root``'s marker and what in it does not match the folder (None when it all does).

    A folder without a marker gives ``(None, None)``. Checked: the hash of the marker's own
    fields, the number, bytes and path-and-size digest of the files, and the content of the
    annotation files."""
    marker = read_marker(root)
    if marker is None:
        return None, None
    if "contents" not in marker or "marker_digest" not in marker:
        return marker, "the marker records no contents (written by an older generator)"
    if marker["marker_digest"] != _fields_digest(marker):
        return marker, "the marker's fields were changed after it was written"
    try:
        now = contents(root)
    except OSError as exc:
        return marker, f"the folder cannot be read ({exc})"
    was = marker["contents"]
    if (now["files"], now["bytes"], now["digest"]) != (was["files"], was["bytes"], was["digest"]):
        newer = newer_files(root, (Path(root) / MARKER).stat().st_mtime)
        return marker, (
            f"files added, removed or resized: {now['files']} files, {now['bytes']} bytes, the "
            f"marker records {was['files']} files, {was['bytes']} bytes"
            + (f"; changed since the marker: {', '.join(newer)}" if newer else "")
        )
    changed = sorted(
        name
        for name in set(now["annotations"]) | set(was["annotations"])
        if now["annotations"].get(name) != was["annotations"].get(name)
    )
    if changed:
        return marker, f"annotation files changed: {', '.join(changed)}"
    return marker, None


def is_standin(root: str | Path) -> bool:
    """True when ``root`` holds a complete stand-in whose marker matches the folder
    (:func:`check_marker`). A marker that does not match is logged as a warning naming the
    folder and what did not match, and the folder counts as licensed data."""
    marker, problem = check_marker(root)
    if problem:
        log.warning(
            "%s: its %s does not match the folder (%s); treated as licensed data, not as a "
            "stand-in",
            root,
            MARKER,
            problem,
        )
    return marker is not None and problem is None


def expected_counts(root: str | Path) -> dict[str, int]:
    """Class counts (CLASSES order) the loader must return for the stand-in in ``root``."""
    marker, problem = check_marker(root)
    if marker is None or problem:
        raise ValueError(
            f"{Path(root) / MARKER}: missing, not a stand-in marker or not matching the folder"
            + (f" ({problem})" if problem else "")
        )
    return {label: int(marker["expected_counts"][label]) for label in CLASSES}


# ----------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    """``python -m mer_utils.sources PROFILE DATASET [--standins-dir DIR]``: print the folder
    of the dataset's stand-in under that profile, as the runner uses it."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m mer_utils.sources", description=main.__doc__)
    p.add_argument("profile", choices=list(config.load("profiles")))
    p.add_argument("dataset", choices=list(config.datasets()))
    p.add_argument("--standins-dir", type=Path, default=STANDINS)
    args = p.parse_args(argv)
    standin = config.profile(args.profile).get("standin")
    folder = config.dataset_info(args.dataset)["folder"]  # a composite: none, the parts' parent
    print(standin_root(args.standins_dir, standin) / (folder or ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
