"""Stage 1 over a dataset: every clip of a loader table through the face pipeline, cached.

:func:`load_clips` is what the later pages call: it reads a dataset (:func:`mer_utils.datasets.load`)
and runs :func:`for_profile`, stage 1 with the run profile's frame size and frame count, which
gives a :class:`ClipSet` (the clip tensors, their rows, the clips stage 1 excluded and why, and
the key frames of the optical-flow baseline). What happens to one clip is
:func:`mer_utils.faces.process_clip`.

Cache
    Every clip's result is cached on its own, under ``cache_dir/clips/<parameters>/``, keyed by
    its **content**: the stage-1 parameters, the clip's coded frames (onset, apex, offset) and
    the SHA-256 of the bytes of every file stage 1 reads for it (the sampled frames and the apex
    frame). A copy of the same data elsewhere, a regenerated stand-in with the same bytes, or the
    same clip inside another table (the MEGC 2019 composite reuses its three datasets' clips)
    finds its cache; a frame whose bytes changed does not. A clip excluded for a reason (no face,
    an odd frame) is cached with its reason. A cache file that cannot be read, or that holds
    arrays of the wrong shape, is logged and recomputed.

Windows
    The window protocol (``paper-windows``) cuts every clip into overlapping windows of
    ``n_frames`` frames taken from a denser sampling of the clip (:func:`window_frames`);
    :func:`load_clips` attaches a loader for it (run only when a window protocol needs it), and
    the stage-1 page computes it ahead (:func:`windows_for_profile`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from mer_utils import atomic, config, datasets, faces

from .profile import Profile

log = logging.getLogger(__name__)

ALGORITHM_VERSION = 3
"""Bump when stage 1 changes its output: old cache files then stop matching. (2: key frames,
onset landmarks and ``apex_rule``; 3: frames of another size, blank or cut frames exclude their
clip, and the cache is per clip and keyed by content.)"""

TABLE_COLUMNS = (
    "dataset",
    "subject",
    "clip",
    "label",
    "emotion",
    "onset",
    "apex",
    "offset",
    "source",
)
"""Columns copied from the loader table into :attr:`ClipSet.rows` (``source``: where the row was
read, or for the MEGC 2019 composite the dataset it comes from)."""
ROW_COLUMNS = (*TABLE_COLUMNS, "apex_rule")
"""Columns of :attr:`ClipSet.rows`: the loader's, plus ``apex_rule`` (``"coded"`` / ``"middle"``)."""
EXCLUDED_COLUMNS = ("subject", "clip", "file", "reason")
_INT_COLUMNS = ("onset", "apex", "offset")


@dataclass
class ClipSet:
    """Stage-1 output of one table: clip tensors with their rows and the excluded clips.

    ``X`` uint8 (n, n_frames, size, size, 1); ``rows`` (dataset, subject, clip, label,
    emotion, onset, apex, offset, apex_rule) aligned with ``X``, index 0..n-1; ``excluded``
    (subject, clip, file, reason); ``params`` the preprocessing parameters; ``from_cache``
    whether every clip was read from the cache; ``keyframes`` and ``landmarks`` the onset/apex
    key frames and the onset landmarks of every kept clip, aligned with ``X``.
    """

    X: np.ndarray
    rows: pd.DataFrame
    excluded: pd.DataFrame
    params: dict = field(default_factory=dict)
    from_cache: bool = False
    source: dict = field(default_factory=dict)
    """Where the clips were read: ``root`` (dataset folder) and ``annotation`` (file name),
    filled by :func:`load_clips` for the result records."""
    keyframes: np.ndarray | None = None
    """uint8 (n, 2, K, K): onset and apex key frames, gray, cropped like ``X``, masked with the
    union of both frames' eye/mouth polygons (K = ``params["keyframe_size"]``)."""
    landmarks: np.ndarray | None = None
    """float32 (n, 68, 2): the onset frame's 68 dlib landmarks (x, y) in key-frame pixels."""
    windows: object = None
    """A callable giving the denser sampling the window protocol cuts (see :func:`load_clips`),
    or None."""


def stage_params(
    size: int,
    n_frames: int,
    detect_every_frame: bool = False,
    landmark_every: int = 1,
    keyframe_size: int = faces.KEYFRAME_SIZE,
) -> dict:
    """Return the parameter dict that identifies a preprocessing run (stored in ClipSet.params)."""
    return {
        "version": ALGORITHM_VERSION,
        "size": int(size),
        "n_frames": int(n_frames),
        "crop_margin": faces.CROP_MARGIN,
        "detect_max_side": faces.DETECT_MAX_SIDE,
        "upsample_steps": list(faces.UPSAMPLE_STEPS),
        "mask_groups": [list(g) for g in faces.MASK_GROUPS],
        "detect_every_frame": bool(detect_every_frame),
        "landmark_every": int(landmark_every),
        "sampling": "linspace-round over onset..offset",
        "keyframe_size": int(keyframe_size),
        "keyframes": "onset (sampled frame 0) and apex (coded apex, else middle frame), "
        "onset box, union of both frames' eye/mouth masks on both",
        "checks": faces.CHECKS,
    }


def preprocess(
    table: pd.DataFrame,
    size: int,
    n_frames: int,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
    workers: int = 1,
    detect_every_frame: bool = False,
    landmark_every: int = 1,
    keyframe_size: int = faces.KEYFRAME_SIZE,
) -> ClipSet:
    """Run stage 1 on every clip of a loader table (:func:`mer_utils.faces.process_clip`).

    ``table`` is a :func:`mer_utils.datasets.load` DataFrame. With ``cache_dir`` every clip is
    read from / written to the per-clip cache (see the module docstring). ``workers > 1``
    spreads the clips to compute over a pool of forked processes (about 1.9x on 2 cores; do not
    use it in a process whose TensorFlow has already started). ``detect_every_frame`` runs the
    face detector on every sampled frame instead of once per clip (slower; for comparison);
    ``landmark_every=k`` computes landmarks on every k-th sampled frame (and the last) and
    interpolates in between; ``keyframe_size`` is the side of the onset/apex key frames. A
    corrupt frame raises ``DatasetError`` naming the file.
    """
    if size < 1 or n_frames < 1 or keyframe_size < 1:
        raise ValueError(
            f"size, n_frames and keyframe_size must be positive, got size={size}, "
            f"n_frames={n_frames}, keyframe_size={keyframe_size}"
        )
    params = stage_params(size, n_frames, detect_every_frame, landmark_every, keyframe_size)
    faces.landmark_frames(n_frames, landmark_every)  # validates landmark_every before any work
    refs_list = [list(refs) for refs in table["frames"]]
    apexes = [
        faces.apex_position(row, len(refs)) for (_, row), refs in zip(table.iterrows(), refs_list)
    ]
    folder = _cache_folder(cache_dir, params)
    digests: dict[str, str] = {}
    paths = [
        None if folder is None else folder / _clip_name(row, refs, index, params, digests)
        for (_, row), refs, (index, _) in zip(table.iterrows(), refs_list, apexes)
    ]
    outputs: list = [None if p is None else _read_clip(p, params) for p in paths]
    missing = [i for i, out in enumerate(outputs) if out is None]
    worker = functools.partial(
        faces.process_clip_checked,
        size=size,
        n_frames=n_frames,
        keyframe_size=keyframe_size,
        detect_every_frame=detect_every_frame,
        landmark_every=landmark_every,
    )
    computed = _run_clips(
        worker, [(refs_list[i], apexes[i][0]) for i in missing], progress, workers
    )
    for i, out in zip(missing, computed):
        outputs[i] = out
        if paths[i] is not None:
            _write_clip(paths[i], out)
    if folder is not None:
        log.info(
            "stage 1: %d clips from the cache, %d computed",
            len(outputs) - len(missing),
            len(missing),
        )
    return _assemble(table, apexes, outputs, params, from_cache=not missing)


def _assemble(table, apexes, outputs, params, from_cache: bool) -> ClipSet:
    size, n_frames, k = params["size"], params["n_frames"], params["keyframe_size"]
    kept, excluded = [], []
    for (_, row), (_, rule), out in zip(table.iterrows(), apexes, outputs):
        if isinstance(out, faces.Excluded):
            log.warning(
                "stage 1: excluded %s/%s (%s): %s",
                row["subject"],
                row["clip"],
                out.file,
                out.reason,
            )
            excluded.append(
                {
                    "subject": row["subject"],
                    "clip": row["clip"],
                    "file": out.file,
                    "reason": out.reason,
                }
            )
        else:
            values = {c: _plain(row[c]) for c in TABLE_COLUMNS}
            kept.append(({**values, "apex_rule": rule}, out))
    if kept:
        X, keyframes, points = (np.stack([o[i] for _, o in kept]) for i in range(3))
    else:
        X = np.zeros((0, n_frames, size, size, 1), dtype=np.uint8)
        keyframes = np.zeros((0, 2, k, k), dtype=np.uint8)
        points = np.zeros((0, 68, 2), dtype=np.float32)
    return ClipSet(
        X=X,
        rows=_rows_frame([r for r, _ in kept]),
        excluded=_excluded_frame(excluded),
        params=params,
        from_cache=from_cache,
        keyframes=keyframes,
        landmarks=points,
    )


def _run_clips(worker, jobs: list, progress: bool, workers: int) -> list:
    bar = functools.partial(
        tqdm, total=len(jobs), desc="stage 1", unit="clip", disable=not progress
    )
    if workers <= 1 or len(jobs) < 2:
        return [worker(job) for job in bar(jobs)]
    faces.load_models()  # once in the parent; forked workers inherit them
    import multiprocessing

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(bar(pool.map(worker, jobs, chunksize=max(1, len(jobs) // (4 * workers)))))


# ----------------------------------------------------------------------------- a dataset
def load_clips(
    dataset: str,
    dataset_dir: str | os.PathLike,
    profile: str | Profile,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
    annotation: str | os.PathLike | None = None,
    data_id: str | None = None,
) -> ClipSet:
    """Load dataset ``dataset`` from ``dataset_dir`` (``annotation``: the annotation file, when
    the folder holds several) and run stage 1 with a profile's settings (:func:`for_profile`).

    This is what the later pages call; with the same ``cache_dir`` it reads the cache the
    stage-1 page wrote. With ``data_id`` (the runner's digest of the dataset's files, which
    changes with any file) the whole result is kept as one snapshot, so the next page that asks
    reads it back without re-reading the annotation file or a single frame. The result's
    ``windows`` loads the denser sampling of the window protocol when a run needs it.
    """
    snapshot = _snapshot_path(cache_dir, dataset, data_id, profile, annotation)
    table_of = functools.cache(lambda: datasets.load(dataset, dataset_dir, annotation=annotation))
    clips = _read_snapshot(snapshot, _params_of(profile)) if snapshot is not None else None
    if clips is None:
        clips = for_profile(
            table_of(), profile, cache_dir=cache_dir, progress=progress, dataset_dir=dataset_dir
        )
        if snapshot is not None:
            _write_snapshot(snapshot, clips)
    clips.windows = _window_loader(table_of, profile, cache_dir, dataset_dir, clips)
    return clips


def _snapshot_path(cache_dir, dataset, data_id, profile, annotation) -> Path | None:
    """``cache_dir/sets/<dataset>-<key>.npz``: the key holds the data id, the stage-1
    parameters and the annotation file chosen."""
    if cache_dir is None or not data_id:
        return None
    text = json.dumps(
        [dataset, data_id, _params_of(profile), annotation], sort_keys=True, default=str
    )
    return (
        Path(cache_dir) / "sets" / f"{dataset}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.npz"
    )


def _params_of(profile: str | Profile) -> dict:
    prof = _profile(profile)
    return stage_params(
        prof["size"], prof["n_frames"], keyframe_size=prof.get("keyframe_size", faces.KEYFRAME_SIZE)
    )


def _write_snapshot(path: Path, clips: ClipSet) -> None:
    rows = [{k: _plain(v) for k, v in r.items()} for r in clips.rows.to_dict("records")]
    meta = {
        "rows": rows,
        "excluded": clips.excluded.to_dict("records"),
        "params": clips.params,
        "source": clips.source,
    }
    atomic.save_npz(
        path,
        X=clips.X,
        keyframes=clips.keyframes,
        landmarks=clips.landmarks,
        meta=np.array(json.dumps(meta, default=_plain)),
    )


def _read_snapshot(path: Path, params: dict) -> ClipSet | None:
    """The snapshot at ``path``, or None (absent; an unreadable one, or one whose contents do
    not have the shapes and types of stage 1 under ``params``, is logged and recomputed)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            X, keyframes, landmarks = z["X"], z["keyframes"], z["landmarks"]
        rows = _check_snapshot(meta, X, keyframes, landmarks, params)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        log.warning("stage 1: unusable snapshot %s (%s): recomputed", path, exc)
        return None
    log.info("stage 1: %d clips from the snapshot %s", len(X), path.name)
    return ClipSet(
        X=X,
        rows=rows,
        excluded=_excluded_frame(meta["excluded"]),
        params=meta["params"],
        from_cache=True,
        source=meta["source"],
        keyframes=keyframes,
        landmarks=landmarks,
    )


def _check_snapshot(meta, X, keyframes, landmarks, params: dict) -> pd.DataFrame:
    """The snapshot's rows; ``ValueError`` naming what does not fit stage 1 under ``params``."""
    if not isinstance(meta, dict) or not isinstance(meta.get("rows"), list):
        raise ValueError("no list of rows")
    if not isinstance(meta.get("excluded"), list) or not isinstance(meta.get("params"), dict):
        raise ValueError("no excluded clips or parameters")
    n, t, s, k = len(meta["rows"]), params["n_frames"], params["size"], params["keyframe_size"]
    for name, arr, dtype, shape in (
        ("X", X, np.uint8, (n, t, s, s, 1)),
        ("keyframes", keyframes, np.uint8, (n, 2, k, k)),
        ("landmarks", landmarks, np.float32, (n, 68, 2)),
    ):
        if arr.dtype != dtype or arr.shape != shape:
            raise ValueError(f"{name} {arr.dtype}{arr.shape}, expected {np.dtype(dtype)}{shape}")
    rows = _rows_frame(meta["rows"])
    if set(rows["label"]) - set(config.CLASSES) or rows[["subject", "clip"]].isna().any().any():
        raise ValueError("rows without a subject, a clip or one of the classes")
    return rows


def for_profile(
    table: pd.DataFrame,
    profile: str | Profile,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
    dataset_dir: str | os.PathLike | None = None,
) -> ClipSet:
    """Stage 1 on a loaded table with a profile's frame size, frame count and key-frame size
    (``profile`` is a name from ``profiles.yaml`` or the profile dict; its optional
    ``keyframe_size`` defaults to :data:`mer_utils.faces.KEYFRAME_SIZE`). The stage-1 page and
    :func:`load_clips` both call it, so they share the cache."""
    prof = _profile(profile)
    clips = preprocess(
        table,
        prof["size"],
        prof["n_frames"],
        cache_dir=cache_dir,
        progress=progress,
        keyframe_size=prof.get("keyframe_size", faces.KEYFRAME_SIZE),
    )
    report = table.attrs.get("report", {})
    annotation = report.get("annotation") or report.get("frames_from") or ""
    clips.source = {
        "root": str(dataset_dir or report.get("frames_from", "")),
        "annotation": Path(str(annotation)).name,
    }
    return clips


def _profile(profile):
    from .profile import resolve

    return resolve(profile)


def window_frames(profile: str | Profile) -> int | None:
    """Frames of the denser stage-1 sampling the window protocol cuts its windows from
    (``n_frames + (per_clip - 1) x stride``), or None where the profile defines no windows."""
    prof = _profile(profile)
    w = prof.get("windows")
    if not w:
        return None
    return int(prof["n_frames"]) + (int(w["per_clip"]) - 1) * int(w["stride"])


def windows_for_profile(
    table: pd.DataFrame,
    profile: str | Profile,
    protocols: list[str],
    cache_dir: str | os.PathLike | None = None,
    dataset_dir: str | os.PathLike | None = None,
) -> ClipSet | None:
    """The denser stage-1 sampling the window protocol needs, when one of ``protocols`` splits
    windows; None otherwise. The stage-1 page calls it so that the method pages find it cached."""
    from mer_utils import protocols as protocols_

    n = window_frames(profile)
    if n is None or not any(protocols_.info(p).get("samples") == "windows" for p in protocols):
        return None
    return for_profile(
        table, {**_profile(profile), "n_frames": n}, cache_dir, dataset_dir=dataset_dir
    )


def _window_loader(table_of, profile, cache_dir, dataset_dir, clips):
    """A callable giving ``(denser tensor of the clips that kept a face in both samplings, mask
    over the clips)``, run only when a window protocol needs it (and then once). ``table_of``
    gives the loader table (read only then)."""

    @functools.cache
    def load():
        n = window_frames(profile)
        if n is None:
            raise ValueError("the profile defines no windows (profiles.yaml: windows)")
        longer = for_profile(
            table_of(), {**_profile(profile), "n_frames": n}, cache_dir, dataset_dir=dataset_dir
        )
        index = {(r["subject"], r["clip"]): i for i, r in enumerate(longer.rows.to_dict("records"))}
        pairs = list(zip(clips.rows["subject"], clips.rows["clip"]))
        keep = np.array([p in index for p in pairs], dtype=bool)
        return longer.X[[index[p] for p, k in zip(pairs, keep) if k]], keep

    return load


# ----------------------------------------------------------------------------- tables
def _plain(value):
    """Return ``value`` as a JSON-friendly Python scalar (pandas NA -> None)."""
    if value is None or (not isinstance(value, (list, tuple, np.ndarray)) and pd.isna(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _rows_frame(records: list[dict]) -> pd.DataFrame:
    columns = list(ROW_COLUMNS)
    rows = pd.DataFrame.from_records(records, columns=columns)
    for col in _INT_COLUMNS:
        rows[col] = pd.array(
            [None if v is None or pd.isna(v) else int(v) for v in rows[col]], dtype="Int64"
        )
    for col in set(columns) - set(_INT_COLUMNS):
        rows[col] = rows[col].astype(object)
    return rows.reset_index(drop=True)


def _excluded_frame(records: list[dict]) -> pd.DataFrame:
    return pd.DataFrame.from_records(records, columns=list(EXCLUDED_COLUMNS)).astype(object)


def summary(clips: ClipSet) -> pd.DataFrame:
    """Return a table of kept and excluded clip counts, excluded ones split by reason."""
    out = [{"status": "kept", "reason": "", "clips": len(clips.rows)}]
    for reason, n in clips.excluded.groupby("reason").size().items():
        out.append({"status": "excluded", "reason": reason, "clips": int(n)})
    return pd.DataFrame(out, columns=["status", "reason", "clips"])


# ----------------------------------------------------------------------------- cache
def _cache_folder(cache_dir, params: dict) -> Path | None:
    if cache_dir is None:
        return None
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    return Path(cache_dir) / "clips" / digest


def _file_digest(name: str, digests: dict[str, str]) -> str:
    """SHA-256 of a file's bytes (memoised per call of :func:`preprocess`)."""
    if name not in digests:
        h = hashlib.sha256()
        try:
            with open(name, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        except OSError as err:
            raise datasets.DatasetError(f"{name}: frame cannot be read ({err.strerror})") from err
        digests[name] = h.hexdigest()
    return digests[name]


def clip_key(
    row, refs: list[str], apex_index: int, params: dict, digests: dict | None = None
) -> str:
    """The content key of one clip's stage-1 result: the parameters, the clip's coded frames
    and the bytes of every file stage 1 reads for it (see the module docstring)."""
    digests = {} if digests is None else digests
    h = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    h.update(json.dumps([len(refs), int(apex_index)]).encode())
    for i in [*faces.sample_indices(len(refs), params["n_frames"]), apex_index]:
        ref = str(refs[i])
        h.update(_file_digest(datasets.file_of(ref), digests).encode())
        h.update(ref.rsplit("#", 1)[-1].encode() if "#" in ref else b"")  # a video's frame
    return h.hexdigest()


def _clip_name(row, refs, apex_index, params, digests) -> str:
    key = clip_key(row, refs, apex_index, params, digests)
    return f"{key[:2]}/{key}.npz"


def _write_clip(path: Path, out) -> None:
    if isinstance(out, faces.Excluded):
        atomic.save_npz(path, excluded=np.array(json.dumps([out.file, out.reason])))
    else:
        atomic.save_npz(path, frames=out.frames, keyframes=out.keyframes, landmarks=out.landmarks)


def _read_clip(path: Path, params: dict):
    """A cached clip (a :class:`mer_utils.faces.ClipOutput` or :class:`~mer_utils.faces.Excluded`),
    or None when absent or unusable (logged)."""
    if not path.exists():
        return None
    n, s, k = params["n_frames"], params["size"], params["keyframe_size"]
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "excluded" in npz:
                file, reason = json.loads(str(npz["excluded"]))
                return faces.Excluded(file, reason)
            frames, keyframes, points = npz["frames"], npz["keyframes"], npz["landmarks"]
        for name, arr, dtype, shape in (
            ("frames", frames, np.uint8, (n, s, s, 1)),
            ("keyframes", keyframes, np.uint8, (2, k, k)),
            ("landmarks", points, np.float32, (68, 2)),
        ):
            if arr.dtype != dtype or arr.shape != shape:
                raise ValueError(
                    f"{name} {arr.dtype}{arr.shape}, expected {np.dtype(dtype)}{shape}"
                )
    except (OSError, EOFError, KeyError, ValueError, TypeError, zipfile.BadZipFile) as err:
        log.warning(
            "stage 1: cache file %s is unusable (%s: %s); recomputing",
            path,
            type(err).__name__,
            err,
        )
        return None
    return faces.ClipOutput(frames, keyframes, points)


# ----------------------------------------------------------------------------- figures
def apex_frame(table_row: pd.Series) -> str:
    """The apex frame reference of a loader row (:func:`mer_utils.faces.apex_position`)."""
    frames = list(table_row["frames"])
    return frames[faces.apex_position(table_row, len(frames))[0]]


def pipeline_examples(table: pd.DataFrame, size: int = 128, seed: int = 0) -> list[dict]:
    """The paper's Figure-2 steps (:func:`mer_utils.faces.pipeline_steps`) on the apex frame of
    one random clip per class present (CLASSES order): ``[{"label", "clip", "steps"}]``."""
    from mer_utils import config

    out = []
    for label in config.CLASSES:
        rows = table[table["label"] == label]
        if rows.empty:
            continue
        row = rows.sample(1, random_state=seed).iloc[0]
        out.append(
            {
                "label": label,
                "clip": f"{row['subject']}/{row['clip']}",
                "steps": faces.pipeline_steps(datasets.read_frame(apex_frame(row)), size=size),
            }
        )
    return out
