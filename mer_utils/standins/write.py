"""Writing stand-ins: parameters, the folder, the frames, the annotation files, the marker.

:func:`generate` writes one dataset's stand-in into its folder, :func:`generate_all` several
under one data root, rendering all their subjects in one process pool (:mod:`.render`) and
keeping those whose marker already records the same seed, parameters and generator version.
The marker (``STANDIN.json``, :mod:`mer_utils.sources`) is written LAST and atomically, so an
interrupted generation is never taken for a complete one; while generating, ``STANDIN.partial``
marks the folder as a stand-in being written (so it may be deleted and regenerated, while a
folder with neither file, e.g. a licensed copy, is never deleted).
"""

from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path
from typing import Any, Iterable

from .. import atomic, config
from ..config import CLASSES
from ..sources import (
    MARKER,
    PARTIAL,
    NotAStandin,
    StandinInUse,
    check_marker,
    standin_lock,
    write_marker,
)
from . import layouts, render
from .subjects import DROP, MACRO, SubjectPlan, plan, real_structure

log = logging.getLogger("mer_utils.standins")

GENERATOR_VERSION = 4
"""Bumped whenever the generator's output changes for the same parameters."""


DEFAULT_AMPLITUDE = 3.0
"""Default ``amplitude`` (px on a 200 px face): the calibrated value of the quick profile."""


def resolve_params(
    name: str,
    frame_scale: float = 0.5,
    amplitude: float = DEFAULT_AMPLITUDE,
    subjects: int | None = None,
    max_clip_frames: int | None = None,
    casme_sq_videos: bool = False,
    **legacy: Any,
) -> dict:
    """Validated parameters of one dataset's stand-in, with the derived frame size and number
    of subjects (what the marker records and :func:`generate_all` compares)."""
    if "clip_frames" in legacy:  # the generator before version 2
        warnings.warn(
            "stand-ins: clip_frames is deprecated; the clip lengths are the real ones "
            "(use max_clip_frames to cap them)",
            DeprecationWarning,
            stacklevel=3,
        )
        lo_hi = legacy.pop("clip_frames")
        if max_clip_frames is None:
            max_clip_frames = int(lo_hi[1])
    if legacy:
        raise TypeError(
            f"unknown stand-in parameters {sorted(legacy)} (version {GENERATOR_VERSION} "
            "takes frame_scale, amplitude, subjects, max_clip_frames, casme_sq_videos)"
        )
    kit = layouts.layout(name)
    info = config.dataset_info(name)
    frame_scale = float(frame_scale)
    size = [int(round(v * frame_scale)) for v in info["frame_size"]]
    if min(size) < 120:
        raise ValueError(f"frame_scale {frame_scale} gives {size}: too small for dlib (min 120 px)")
    if not 0 < float(amplitude) <= 50:
        raise ValueError(f"amplitude must be in (0, 50] px, got {amplitude}")
    if max_clip_frames is not None and int(max_clip_frames) < 5:
        raise ValueError(f"max_clip_frames must be >= 5, got {max_clip_frames}")
    n_real = len(real_structure()[name])
    n_subjects = (
        n_real + len(kit.STANDIN_DROP_ONLY) if subjects is None else min(int(subjects), n_real)
    )
    if subjects is not None and int(subjects) < 1:
        raise ValueError(f"subjects must be >= 1, got {subjects}")
    return {
        "frame_scale": frame_scale,
        "frame_size": size,
        "amplitude": float(amplitude),
        "subjects": None if subjects is None else int(subjects),
        "max_clip_frames": None if max_clip_frames is None else int(max_clip_frames),
        "casme_sq_videos": bool(casme_sq_videos),
        "n_subjects": n_subjects,
    }


def _refuse_unless_standin(root: Path) -> None:
    """Raise :class:`~mer_utils.sources.NotAStandin` if ``root`` holds anything but a
    (possibly partial) stand-in whose marker matches it: such a folder is never deleted."""
    if root.is_dir() and any(root.iterdir()) and not (root / PARTIAL).exists():
        marker, problem = check_marker(root)
        if marker is None or problem:
            raise NotAStandin(
                f"{root} exists, is not empty and is not a stand-in "
                f"({problem or f'no {MARKER} or {PARTIAL}'}): refusing to overwrite it"
            )


def _prepare_root(root: Path) -> None:
    """Create ``root``; clear it only if it is empty or holds a (possibly partial) stand-in
    whose marker matches it."""
    _refuse_unless_standin(root)
    if root.exists() and any(root.iterdir()):
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    atomic.write_text(root / PARTIAL, "stand-in generation in progress\n")


def generate(
    name: str,
    root: str | Path,
    seed: int = 0,
    frame_scale: float = 0.5,
    amplitude: float = DEFAULT_AMPLITUDE,
    subjects: int | None = None,
    max_clip_frames: int | None = None,
    casme_sq_videos: bool = False,
    workers: int = 1,
    progress: bool = False,
    **legacy: Any,
) -> Path:
    """Write the stand-in of dataset ``name`` into ``root`` (the dataset's own folder).

    ``frame_scale`` scales the real frame size (``datasets.yaml``; 0.5 gives 240x320, SAMM
    544x1020); ``amplitude`` is the mean peak expression displacement in px on a face 200 px
    tall (scaled to the actual face); ``subjects`` (keep the N subjects with the most clips)
    and ``max_clip_frames`` (cap clip lengths) shrink the dataset for tests only;
    ``casme_sq_videos`` also writes CAS(ME)^2's ``rawvideo/*.avi`` (MJPG); ``workers`` renders
    in that many processes (same files). A non-empty ``root`` that is not a stand-in raises
    :class:`~mer_utils.sources.NotAStandin` (a ``FileExistsError``); an existing stand-in there
    is replaced, unless another process uses it (:class:`~mer_utils.sources.StandinInUse`).
    Returns ``root``.
    """
    params = resolve_params(
        name, frame_scale, amplitude, subjects, max_clip_frames, casme_sq_videos, **legacy
    )
    root = Path(root)
    _refuse_unless_standin(root)  # before a lock file is written beside it
    with standin_lock([root], exclusive=True):
        return _generate({name: root}, seed, {name: params}, workers, progress)[name]


def _generate(
    roots: dict[str, Path], seed: int, params: dict[str, dict], workers: int, progress: bool
) -> dict[str, Path]:
    """Generate several datasets, rendering all their subjects in one process pool. The
    caller holds their exclusive locks. Ctrl-C stops the pool and leaves the folders marked
    partial (regenerated next time): one ``KeyboardInterrupt`` that says so."""
    from tqdm import tqdm

    plans, tasks, bars = {}, [], {}
    for name, root in roots.items():
        prm = params[name]
        plans[name] = plan(name, seed, prm["subjects"], prm["max_clip_frames"])
        _prepare_root(root)
        tasks += render.make_tasks(name, seed, root, prm, plans[name])
        total = sum(c.label in (*CLASSES, DROP) for p in plans[name] for c in p.clips)
        bars[name] = tqdm(total=total, desc=f"stand-in {name}", unit="clip", disable=not progress)
    try:
        render.run_tasks(tasks, workers, bars)
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM under the runner (same object)
        folders = ", ".join(str(root) for root in roots.values())
        stop.args = (
            f"stand-in generation interrupted: {folders} left partial ({PARTIAL}), "
            "regenerated next time",
        )
        raise
    finally:
        for bar in bars.values():
            bar.close()
    for name, root in roots.items():
        quirks = layouts.layout(name).standin_annotation(root, seed, plans[name])
        write_marker(root, _marker(name, seed, params[name], plans[name], quirks))
        (root / PARTIAL).unlink()
        log.info("stand-in %s written to %s", name, root)
    return roots


def _marker(
    name: str, seed: int, params: dict, plans: list[SubjectPlan], quirks: list[str]
) -> dict:
    """The generator's record for the marker (:func:`mer_utils.sources.write_marker` adds the
    folder's contents and the hash of the fields)."""
    clips = [c for p in plans for c in p.clips]
    counts = {label: sum(c.label == label for c in clips) for label in CLASSES}
    dropped = {}
    labels = layouts.layout(name).STANDIN_LABELS
    if DROP in labels:
        spelling = next(iter(labels[DROP])).casefold()
        dropped[f"label {spelling}"] = sum(c.label == DROP for c in clips)
    if layouts.long_videos(name):
        dropped["type macro-expression"] = sum(c.label == MACRO for c in clips)
    return {
        "standin": True,
        "dataset": name,
        "display": config.dataset_info(name)["display"],
        "generator": "mer_utils.standins",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "params": params,
        "expected_counts": counts,
        "dropped_rows": dropped,
        "subjects": [p.id for p in plans],
        "frames": sum(c.n for c in clips)
        + sum(n for p in plans for v in p.videos for kind, n in v.segments if kind == "rest"),
        "ambiguous_clips": sum(c.ambiguous for c in clips),
        "styles": {
            p.id: {
                "preferred": {label: p.style.codes(label) for label in CLASSES},
                "gain": round(p.style.gain, 3),
                "apex_share": round(p.style.apex_share, 3),
                "mirror": p.look.mirror,
            }
            for p in plans
        },
        "quirks": quirks,
        "note": (
            "Synthetic stand-in built from skimage.data.astronaut() by mer_utils.standins; "
            "NOT the licensed dataset. Same subjects, clips per class and clip lengths as "
            "the real dataset (subjects.csv); frames scaled by frame_scale."
        ),
    }


def _up_to_date(root: Path, name: str, seed: int, params: dict) -> bool:
    """Whether ``root`` holds this stand-in already: a marker that matches the folder and
    records the same dataset, seed, parameters and generator version."""
    marker, problem = check_marker(root)
    return bool(
        marker
        and not problem
        and marker.get("dataset") == name
        and marker.get("seed") == seed
        and marker.get("params") == params
        and marker.get("generator_version") == GENERATOR_VERSION
    )


def generate_all(
    data_root: str | Path,
    seed: int = 0,
    datasets: Iterable[str] | None = None,
    progress: bool = False,
    workers: int = 2,
    **params: Any,
) -> dict[str, Path]:
    """Generate every dataset (or ``datasets``) into ``data_root/<folder>`` (folder names from
    ``datasets.yaml``); ``params`` are :func:`generate`'s (``frame_scale``, ``amplitude``,
    ``subjects``, ``max_clip_frames``, ``casme_sq_videos``). A dataset whose marker matches
    its folder and records the same seed, parameters and generator version is kept as is; the
    others are rendered together in ``workers`` processes.

    Locks (:func:`mer_utils.sources.standin_lock`): the check holds shared locks, so it waits
    while another process writes one of the folders (then finds it up to date); rewriting
    takes exclusive ones and stops at once with :class:`~mer_utils.sources.StandinInUse` if
    another process reads a folder that must be rewritten. The runner generates into
    ``<standins>/<digest of the parameters>`` (:func:`mer_utils.sources.standin_root`), so
    profiles never share a folder."""
    names = list(config.datasets(composites=False) if datasets is None else datasets)
    roots = {name: Path(data_root) / config.dataset_info(name)["folder"] for name in names}
    resolved = {name: resolve_params(name, **params) for name in names}
    for root in roots.values():
        _refuse_unless_standin(root)  # before a lock file is written beside it
    while True:
        with standin_lock(roots.values()):
            todo = {n: r for n, r in roots.items() if not _up_to_date(r, n, seed, resolved[n])}
        for name in [n for n in roots if n not in todo]:
            log.info("stand-in %s in %s is up to date", name, roots[name])
        if not todo:
            return roots
        try:
            with standin_lock(todo.values(), exclusive=True):
                todo = {n: r for n, r in todo.items() if not _up_to_date(r, n, seed, resolved[n])}
                if todo:
                    _generate(todo, seed, {n: resolved[n] for n in todo}, workers, progress)
            return roots
        except StandinInUse as busy:
            if not busy.writing:  # read by another process: never rewritten under it
                raise
            log.info("%s; checking again when it is done", busy.message)
