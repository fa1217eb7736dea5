"""Stage 1 of Irawan et al. (2024): faces, landmarks, eye/mouth masks, crops, clip tensors.

The paper turns every clip into a normalised face sequence: 68 dlib landmarks, black masks
over both eyes and the mouth, a crop of the face, a resize (paper: 128x128) and grayscale.
This module does exactly that, with the choices the paper leaves open written down here:

Temporal normalisation
    A clip's frames are its onset..offset frames as the loader lists them
    (``table["frames"]``). ``n_frames`` indices are sampled uniformly over them with
    ``np.linspace(0, len(frames) - 1, n_frames).round()`` (first = onset, last = offset; a
    clip shorter than ``n_frames`` repeats frames). Only the sampled frames are decoded, so
    the cost per clip does not depend on the clip's length.

Face box (still head)
    Micro-expression clips are filmed with a still head, so the face is detected ONCE per clip
    with dlib's HOG frontal detector on the first sampled frame (at most
    :data:`DETECT_MAX_SIDE` pixels on the longer side; the box is scaled back). If nothing is
    found, the detector is retried with one upsampling step, then on the following sampled
    frames. The largest face wins. The box is reused for every frame of the clip.
    ``detect_every_frame=True`` instead detects on every sampled frame (the slow reference
    path used by the benchmark; a frame without a face reuses the nearest found box).
    A clip without a face in any sampled frame is excluded, logged and listed in
    :attr:`ClipSet.excluded` with the first file and the reason; it is never dropped silently.

Masks
    The 68 landmarks are computed on every sampled frame inside the clip's box, so the masks
    follow the eyes and lips (``landmark_every=k`` computes them on every k-th sampled frame
    and the last one and interpolates linearly in between: cheaper, and steadier mask edges). Each of the three groups 36-41 (right eye), 42-47 (left eye)
    and 48-59 (outer lips) is filled black as its convex hull with ``cv2.fillPoly``
    (8-connected edges, no extra dilation).

Crop, resize, gray
    The crop is the detection box (dlib boxes are square and tight: brows to chin) grown by
    :data:`CROP_MARGIN` of its side on every side; parts outside the frame are padded black.
    It is resized to ``size x size`` with ``cv2.INTER_AREA`` and stored as gray uint8.
    The frame is converted to gray first and masked, cropped and resized after that: the same
    result as the paper's order (mask, crop, resize, gray) up to rounding, at a third of the
    work (masks are black in every channel and gray conversion is a per-pixel weighted sum).

Key frames for the optical-flow baseline (:mod:`mer_utils.flow`)
    Beside the clip tensor, every kept clip yields two key frames, its onset and its apex
    (:attr:`ClipSet.keyframes`, uint8 (n, 2, K, K), K = ``keyframe_size``, default
    :data:`KEYFRAME_SIZE`), and the onset frame's 68 landmarks in key-frame pixel coordinates
    (:attr:`ClipSet.landmarks`, float32 (n, 68, 2) of x, y). The onset is the first sampled
    frame (already decoded); the apex is chosen by :func:`apex_position` (the coded apex, or
    the middle frame of the clip when the apex is unknown, e.g. in SMIC, which has no apex
    codes; the choice is the row's ``apex_rule``: ``"coded"`` or ``"middle"``) and decoded only
    when it is not one of the sampled frames. Both key frames are cropped with the onset
    frame's box (in the default mode: the clip's one box) grown by :data:`CROP_MARGIN`,
    exactly like the CNN frames, resized to K x K with ``cv2.INTER_AREA``, and masked with the
    UNION of the onset's and the apex's eye and mouth polygons, applied to BOTH frames: the
    black regions are identical in the two frames, so the masks themselves (which follow the
    eyes and lips as they move) produce no flow. The apex landmarks are computed on the apex
    frame itself (never interpolated).

Cache
    ``preprocess(..., cache_dir=...)`` stores the result as ONE file
    ``cache_dir/<dataset>-<key>.npz`` written through :func:`mer_utils.atomic.save_npz`.
    The key is the SHA-256 of the preprocessing parameters, :data:`ALGORITHM_VERSION`, the
    row table, every frame reference and the path, size and mtime (ns) of every file read
    (the sampled frames and the apex frame). The file holds the clips, the key frames, the
    landmarks and the rows (with ``apex_rule``); a file without any of them is rejected. A
    changed parameter or input file gives a new key; an unreadable, truncated or inconsistent
    cache file is logged as a warning and rebuilt.
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
from typing import NamedTuple, Sequence

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from mer_utils import atomic, datasets

log = logging.getLogger(__name__)

ALGORITHM_VERSION = 2
"""Bump when the algorithm changes its output: old cache files then stop matching.
(2: key frames, onset landmarks and ``apex_rule`` added to the output.)"""

KEYFRAME_SIZE = 128
"""Default side (pixels) of the onset/apex key frames of :attr:`ClipSet.keyframes`."""

APEX_RULES = ("coded", "middle")
"""Values of the rows' ``apex_rule`` column (see :func:`apex_position`)."""

CROP_MARGIN = 0.15
"""The face crop is the dlib box grown by this fraction of its side on each side."""

DETECT_MAX_SIDE = 320
"""Frames are downscaled for detection so their longer side is at most this (pixels). At 320 a
CASME II face (about 280 px wide in 640 x 480) is about 140 px, well above the smallest face the
HOG detector finds without upsampling (about 80 px); smaller faces are found by the upsampling
step tried next (down to about 40 px). Detection then costs a quarter of what it costs at 640
(``make bench``: stage 1 at the real frame sizes)."""

UPSAMPLE_STEPS = (0, 1)
"""dlib detector upsampling steps tried in turn on a frame (1 finds faces down to ~40 px)."""

EYE_RIGHT = tuple(range(36, 42))
EYE_LEFT = tuple(range(42, 48))
MOUTH_OUTER = tuple(range(48, 60))
MASK_GROUPS: tuple[tuple[int, ...], ...] = (EYE_RIGHT, EYE_LEFT, MOUTH_OUTER)
"""Landmark index groups (iBUG 68-point scheme) masked black: both eyes and the outer lips."""

TABLE_COLUMNS = ("dataset", "subject", "clip", "label", "emotion", "onset", "apex", "offset")
"""Columns copied from the loader table into :attr:`ClipSet.rows`."""
ROW_COLUMNS = (*TABLE_COLUMNS, "apex_rule")
"""Columns of :attr:`ClipSet.rows`: the loader's, plus ``apex_rule`` (``"coded"`` / ``"middle"``)."""
EXCLUDED_COLUMNS = ("subject", "clip", "file", "reason")
_INT_COLUMNS = ("onset", "apex", "offset")
STEP_NAMES = ("raw", "landmarks", "masked", "cropped", "final")
"""The steps of :func:`pipeline_steps`, in the paper's Figure-2 order."""

Box = tuple[int, int, int, int]
"""A face box as (left, top, right, bottom) in frame pixels, right/bottom exclusive."""


# ----------------------------------------------------------------------------- dlib models
@functools.cache
def _detector():
    import dlib

    return dlib.get_frontal_face_detector()


@functools.cache
def _predictor():
    import dlib
    import face_recognition_models

    return dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())


# ----------------------------------------------------------------------------- single frames
def to_gray(frame: np.ndarray) -> np.ndarray:
    """Return ``frame`` (BGR colour or already gray, uint8) as a 2-D gray uint8 array."""
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 1:
        return frame[:, :, 0]
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def detect_face(frame_gray: np.ndarray) -> Box | None:
    """Return the largest frontal face box in a gray frame, or ``None`` when there is none.

    The frame is downscaled to at most :data:`DETECT_MAX_SIDE` pixels on its longer side and
    the detector tries the upsampling steps of :data:`UPSAMPLE_STEPS` in turn.
    """
    scale = min(1.0, DETECT_MAX_SIDE / max(frame_gray.shape))
    work = (
        frame_gray
        if scale == 1.0
        else cv2.resize(frame_gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    )
    for upsample in UPSAMPLE_STEPS:
        rects = _detector()(work, upsample)
        if len(rects):
            r = max(rects, key=lambda r: r.width() * r.height())
            return tuple(
                int(round(v / scale)) for v in (r.left(), r.top(), r.right() + 1, r.bottom() + 1)
            )
    return None


def landmarks(frame_gray: np.ndarray, box: Box) -> np.ndarray:
    """Return the 68 dlib landmarks of the face in ``box`` as an int32 array (68, 2) of (x, y)."""
    import dlib

    shape = _predictor()(frame_gray, dlib.rectangle(box[0], box[1], box[2] - 1, box[3] - 1))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.int32)


def mask_polygons(points: np.ndarray) -> list[np.ndarray]:
    """Return the convex hulls (int32, (k, 2) of x, y) of both eyes and the outer lips.

    ``points`` are the 68 landmarks of :func:`landmarks`; the groups are :data:`MASK_GROUPS`.
    """
    return [
        cv2.convexHull(points[list(group)].astype(np.int32)).reshape(-1, 2) for group in MASK_GROUPS
    ]


def apply_masks(
    image: np.ndarray, polygons: Sequence[np.ndarray], offset: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Return a copy of ``image`` with ``polygons`` filled black (polygons shifted by -offset).

    Each polygon is filled on its own, so overlapping polygons black out their union
    (one ``cv2.fillPoly`` call with several polygons would apply the even-odd rule and leave
    their overlap unfilled).
    """
    out = image.copy()
    for p in polygons:
        cv2.fillPoly(
            out, [(p - np.asarray(offset, dtype=np.int32)).astype(np.int32)], 0, lineType=cv2.LINE_8
        )
    return out


def crop_box(box: Box, margin: float = CROP_MARGIN) -> Box:
    """Return ``box`` grown by ``margin`` of its side on each side (may leave the frame)."""
    left, top, right, bottom = box
    dx = int(round((right - left) * margin))
    dy = int(round((bottom - top) * margin))
    return left - dx, top - dy, right + dx, bottom + dy


def crop(image: np.ndarray, box: Box) -> np.ndarray:
    """Return ``image[top:bottom, left:right]``, padding black where ``box`` leaves the frame."""
    left, top, right, bottom = box
    h, w = image.shape[:2]
    inner = image[max(top, 0) : min(bottom, h), max(left, 0) : min(right, w)]
    pads = (max(-top, 0), max(bottom - h, 0), max(-left, 0), max(right - w, 0))
    if not any(pads):
        return inner
    return cv2.copyMakeBorder(inner, *pads, cv2.BORDER_CONSTANT, value=0)


def face_frame(
    frame_gray: np.ndarray, box: Box, size: int, points: np.ndarray | None = None
) -> np.ndarray:
    """Return one preprocessed frame: masks, crop to ``box`` + margin, resize (size x size).

    ``points`` are the frame's 68 landmarks; computed in ``box`` when not given.
    """
    polygons = mask_polygons(landmarks(frame_gray, box) if points is None else points)
    region = crop_box(box)
    masked = apply_masks(crop(frame_gray, region), polygons, offset=region[:2])
    return cv2.resize(masked, (size, size), interpolation=cv2.INTER_AREA)


def pipeline_steps(frame: np.ndarray, size: int = 128) -> dict[str, np.ndarray]:
    """Return the paper's Figure-2 steps for one frame, in the frame's own channel order.

    Keys: ``raw`` (the frame), ``landmarks`` (box, 68 points and mask outlines drawn),
    ``masked`` (eyes and mouth filled black), ``cropped`` (face box with margin) and ``final``
    (``size x size`` gray uint8). Raises ``ValueError`` when no face is found.
    """
    gray = to_gray(frame)
    box = detect_face(gray)
    if box is None:
        raise ValueError("no frontal face found in the frame")
    points = landmarks(gray, box)
    polygons = mask_polygons(points)
    colour = (
        frame if frame.ndim == 3 and frame.shape[2] == 3 else cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    )
    drawn = colour.copy()
    thick = max(1, max(frame.shape[:2]) // 320)
    cv2.rectangle(drawn, box[:2], (box[2] - 1, box[3] - 1), (255, 200, 0), thick)
    cv2.polylines(drawn, polygons, True, (0, 0, 255), thick)
    for x, y in points:
        cv2.circle(drawn, (int(x), int(y)), thick, (0, 255, 0), -1)
    masked = apply_masks(colour, polygons)
    cropped = crop(masked, crop_box(box))
    final = cv2.resize(to_gray(cropped), (size, size), interpolation=cv2.INTER_AREA)
    return dict(zip(STEP_NAMES, (frame, drawn, masked, cropped, final)))


# ----------------------------------------------------------------------------- clips
def sample_indices(n_available: int, n_frames: int) -> np.ndarray:
    """Return ``n_frames`` indices spread uniformly over ``0..n_available-1`` (linspace, rounded)."""
    if n_available < 1:
        raise ValueError("a clip needs at least one frame")
    return np.linspace(0, n_available - 1, n_frames).round().astype(int)


def _clip_boxes(grays: Sequence[np.ndarray], every_frame: bool) -> list[Box] | None:
    """Return one box per frame (the same box unless ``every_frame``), or None without a face."""
    if not every_frame:
        for gray in grays:
            box = detect_face(gray)
            if box is not None:
                return [box] * len(grays)
        return None
    found = [detect_face(gray) for gray in grays]
    known = [i for i, b in enumerate(found) if b is not None]
    if not known:
        return None
    return [found[min(known, key=lambda k: abs(k - i))] for i in range(len(grays))]


def landmark_frames(n: int, every: int) -> list[int]:
    """Return the sampled-frame positions whose landmarks are computed: 0, every, 2*every, ..., n-1."""
    if every < 1:
        raise ValueError(f"landmark_every must be >= 1, got {every}")
    return sorted(set(range(0, n, every)) | {n - 1})


def clip_landmarks(
    grays: Sequence[np.ndarray], boxes: Sequence[Box], every: int = 1
) -> list[np.ndarray]:
    """Return the 68 landmarks of every frame of a clip.

    They are computed on the frames of :func:`landmark_frames` and linearly interpolated
    (rounded to pixels) for the frames in between; ``every=1`` computes them on every frame.
    """
    keys = landmark_frames(len(grays), every)
    known = {k: landmarks(grays[k], boxes[k]) for k in keys}
    out = []
    for t in range(len(grays)):
        if t in known:
            out.append(known[t])
            continue
        lo = max(k for k in keys if k < t)
        hi = min(k for k in keys if k > t)
        w = (t - lo) / (hi - lo)
        out.append(np.rint((1 - w) * known[lo] + w * known[hi]).astype(np.int32))
    return out


def apex_position(row, n_frames_in_clip: int) -> tuple[int, str]:
    """Return ``(index, rule)``: the apex frame's 0-based position in the clip's frame list.

    ``row`` is a loader-table or ClipSet row (anything with ``.get``: ``onset``, ``apex``,
    ``offset`` frame numbers, possibly missing). ``rule`` is ``"coded"`` when the coded apex
    is used: it is known and lies between onset and offset (and inside the ``n_frames_in_clip``
    frames onset..offset); otherwise ``"middle"`` and the index is ``n_frames_in_clip // 2``,
    the middle frame. SMIC has no apex codes, so every SMIC clip gets ``"middle"``; elsewhere a
    missing (CASME II ``'/'``) or out-of-range apex does. This is the one place the study
    chooses the apex frame (stage 1's key frames and the stage-1 figure use it).
    """
    n = int(n_frames_in_clip)
    if n < 1:
        raise ValueError("a clip needs at least one frame")
    apex, onset, offset = (row.get(k) for k in ("apex", "onset", "offset"))
    if _known(apex) and _known(onset):
        apex, onset = int(apex), int(onset)
        inside = onset <= apex and (not _known(offset) or apex <= int(offset))
        if inside and apex - onset < n:
            return apex - onset, "coded"
    return n // 2, "middle"


def onset_apex_frames(row, crop: bool = True) -> tuple[np.ndarray, np.ndarray, int, str]:
    """The onset and apex frames of one loader-table row, as read from disk (BGR or gray), the
    apex's 0-based position in the clip and its rule (:func:`apex_position`).

    With ``crop`` both frames are cut to the onset frame's face box (:func:`detect_face`)
    widened by half its size on each side, within the frame (the whole frames when no face is
    found): for figures of the raw motion.
    """
    from . import datasets

    frames = list(row["frames"])
    k, rule = apex_position(row, len(frames))
    onset, apex = datasets.read_frame(frames[0]), datasets.read_frame(frames[k])
    box = detect_face(to_gray(onset)) if crop else None
    if box is not None:
        h, w = onset.shape[:2]
        left, top, right, bottom = crop_box(box, 0.5)
        y0, y1, x0, x1 = max(top, 0), min(bottom, h), max(left, 0), min(right, w)
        onset, apex = onset[y0:y1, x0:x1], apex[y0:y1, x0:x1]
    return onset, apex, k, rule


def _known(value) -> bool:
    return value is not None and not pd.isna(value)


def keyframe_pair(
    onset_gray: np.ndarray,
    apex_gray: np.ndarray,
    box: Box,
    size: int,
    onset_points: np.ndarray,
    apex_points: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the key frames uint8 (2, size, size) and the onset landmarks in their coordinates.

    Both frames are cropped to ``box`` grown by :data:`CROP_MARGIN` (as :func:`face_frame`
    does), masked with the UNION of the onset's and the apex's eye/mouth polygons (the same
    black regions in both frames, so the masks produce no flow), and resized to
    ``size x size`` with ``cv2.INTER_AREA``. The landmarks (float32 (68, 2), x, y) are mapped
    with the resize's pixel-centre convention: ``x' = (x - left + 0.5) * size / width - 0.5``.
    """
    region = crop_box(box)
    polygons = mask_polygons(onset_points) + mask_polygons(apex_points)
    pair = np.stack(
        [
            cv2.resize(
                apply_masks(crop(g, region), polygons, offset=region[:2]),
                (size, size),
                interpolation=cv2.INTER_AREA,
            )
            for g in (onset_gray, apex_gray)
        ]
    )
    scale = np.array([size / (region[2] - region[0]), size / (region[3] - region[1])])
    points = (np.asarray(onset_points, np.float64) - np.array(region[:2]) + 0.5) * scale - 0.5
    return pair, points.astype(np.float32)


class ClipOutput(NamedTuple):
    """Stage-1 output of one clip (see :func:`process_clip_full`)."""

    frames: np.ndarray
    """uint8 (n_frames, size, size, 1): the CNN's clip tensor."""
    keyframes: np.ndarray
    """uint8 (2, K, K): onset and apex key frames (union masks)."""
    landmarks: np.ndarray
    """float32 (68, 2): the onset frame's landmarks in key-frame pixels (x, y)."""


def process_clip_full(
    refs: Sequence[str],
    size: int,
    n_frames: int,
    apex_index: int | None = None,
    keyframe_size: int = KEYFRAME_SIZE,
    detect_every_frame: bool = False,
    landmark_every: int = 1,
) -> ClipOutput | None:
    """Return one clip's frames, key frames and onset landmarks, or ``None`` without a face.

    ``refs`` are the clip's onset..offset frame references; only the sampled ones are decoded
    (with :func:`mer_utils.datasets.read_frames`, which raises ``DatasetError`` naming a
    corrupt file), plus the apex frame ``refs[apex_index]`` when it is not among them
    (``apex_index`` None: the middle frame). The key frames use the onset's box (the clip's
    one box in the default mode; with ``detect_every_frame`` also the onset's, so that both
    key frames share one coordinate frame). The apex landmarks are reused when the apex is a
    sampled frame whose landmarks were computed in that box, else computed on the apex frame.
    """

    clip = _sampled_clip(refs, size, n_frames, detect_every_frame, landmark_every)
    if clip is None:
        return None
    frames, picked, decoded, boxes, points = clip
    apex_index = len(refs) // 2 if apex_index is None else int(apex_index)
    apex_ref = refs[apex_index]
    if apex_ref not in decoded:
        decoded[apex_ref] = to_gray(datasets.read_frames([apex_ref])[0])
    box = boxes[0]
    computed = [
        t
        for t in landmark_frames(len(picked), landmark_every)
        if picked[t] == apex_ref and boxes[t] == box
    ]
    apex_points = points[computed[0]] if computed else landmarks(decoded[apex_ref], box)
    pair, onset_points = keyframe_pair(
        decoded[picked[0]], decoded[apex_ref], box, keyframe_size, points[0], apex_points
    )
    return ClipOutput(frames, pair, onset_points)


def process_clip(
    refs: Sequence[str],
    size: int,
    n_frames: int,
    detect_every_frame: bool = False,
    landmark_every: int = 1,
) -> np.ndarray | None:
    """Return one clip as uint8 (n_frames, size, size, 1), or ``None`` when no face is found.

    ``refs`` are the clip's onset..offset frame references; only the sampled ones are decoded
    (with :func:`mer_utils.datasets.read_frames`, which raises ``DatasetError`` naming a
    corrupt file). The clip tensor only; :func:`process_clip_full` also makes the key frames.
    """
    clip = _sampled_clip(refs, size, n_frames, detect_every_frame, landmark_every)
    return None if clip is None else clip[0]


def _sampled_clip(
    refs: Sequence[str], size: int, n_frames: int, detect_every_frame: bool, landmark_every: int
):
    """The clip tensor and what the key frames reuse: (frames, picked refs, decoded gray frames
    by ref, boxes, landmarks per sampled frame), or None when no face is found."""

    picked = [refs[i] for i in sample_indices(len(refs), n_frames)]
    unique = list(dict.fromkeys(picked))
    decoded = dict(zip(unique, (to_gray(f) for f in datasets.read_frames(unique))))
    grays = [decoded[r] for r in picked]
    boxes = _clip_boxes(grays, detect_every_frame)
    if boxes is None:
        return None
    points = clip_landmarks(grays, boxes, landmark_every)
    frames = np.stack([face_frame(g, b, size, p) for g, b, p in zip(grays, boxes, points)])[
        ..., None
    ]
    return frames, picked, decoded, boxes, points


def _clip_job(job: tuple[list[str], int], **kw) -> ClipOutput | None:
    refs, apex_index = job
    return process_clip_full(refs, apex_index=apex_index, **kw)


# ----------------------------------------------------------------------------- the stage
@dataclass
class ClipSet:
    """Stage-1 output of one table: clip tensors with their rows and the excluded clips.

    ``X`` uint8 (n, n_frames, size, size, 1); ``rows`` (dataset, subject, clip, label,
    emotion, onset, apex, offset, apex_rule) aligned with ``X``, index 0..n-1; ``excluded``
    (subject, clip, file, reason); ``params`` the preprocessing parameters; ``from_cache``
    whether the result was read from the cache file; ``keyframes`` and ``landmarks`` the
    onset/apex key frames and the onset landmarks of every kept clip, aligned with ``X`` (see
    the module docstring).
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


def stage_params(
    size: int,
    n_frames: int,
    detect_every_frame: bool = False,
    landmark_every: int = 1,
    keyframe_size: int = KEYFRAME_SIZE,
) -> dict:
    """Return the parameter dict that identifies a preprocessing run (stored in ClipSet.params)."""
    return {
        "version": ALGORITHM_VERSION,
        "size": int(size),
        "n_frames": int(n_frames),
        "crop_margin": CROP_MARGIN,
        "detect_max_side": DETECT_MAX_SIDE,
        "upsample_steps": list(UPSAMPLE_STEPS),
        "mask_groups": [list(g) for g in MASK_GROUPS],
        "detect_every_frame": bool(detect_every_frame),
        "landmark_every": int(landmark_every),
        "sampling": "linspace-round over onset..offset",
        "keyframe_size": int(keyframe_size),
        "keyframes": "onset (sampled frame 0) and apex (coded apex, else middle frame), "
        "onset box, union of both frames' eye/mouth masks on both",
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
    keyframe_size: int = KEYFRAME_SIZE,
) -> ClipSet:
    """Run stage 1 on every clip of a loader table (see the module docstring for the method).

    ``table`` is a :func:`mer_utils.datasets.load` DataFrame. Returns a :class:`ClipSet`.
    With ``cache_dir`` the result is read from / written to ``cache_dir/<dataset>-<key>.npz``.
    ``workers > 1`` spreads clips over a pool of forked processes (about 1.9x on 2 cores; do
    not use it in a process whose TensorFlow has already started). ``detect_every_frame`` runs the face
    detector on every sampled frame instead of once per clip (slower; for comparison).
    ``landmark_every=k`` computes landmarks on every k-th sampled frame (and the last) and
    interpolates them in between (``1``: every frame, the default). ``keyframe_size`` is the
    side of the onset/apex key frames (:attr:`ClipSet.keyframes`).
    A corrupt frame raises ``DatasetError`` naming the file.
    """
    if size < 1 or n_frames < 1 or keyframe_size < 1:
        raise ValueError(
            f"size, n_frames and keyframe_size must be positive, got size={size}, "
            f"n_frames={n_frames}, keyframe_size={keyframe_size}"
        )
    params = stage_params(size, n_frames, detect_every_frame, landmark_every, keyframe_size)
    landmark_frames(n_frames, landmark_every)  # validates landmark_every before any work
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"{_dataset_tag(table)}-{cache_key(table, params)[:16]}.npz"
        cached = _read_cache(path, params)
        if cached is not None:
            log.info("stage 1: reused cache %s (%d clips)", path, len(cached.rows))
            return cached
    clips = _compute(table, params, progress, workers)
    if path is not None:
        _write_cache(path, clips)
        log.info("stage 1: wrote cache %s (%d clips)", path, len(clips.rows))
    return clips


def load_clips(
    dataset: str,
    dataset_dir: str | os.PathLike,
    profile: str | dict,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
    annotation: str | os.PathLike | None = None,
) -> ClipSet:
    """Load dataset ``dataset`` from ``dataset_dir`` (``annotation``: the annotation file, when
    the folder holds several) and run stage 1 with a profile's settings (:func:`for_profile`).

    This is what the later pages call; with the same ``cache_dir`` it reads the cache file the
    stage-1 page wrote.
    """

    table = datasets.load(dataset, dataset_dir, annotation=annotation)
    return for_profile(
        table, profile, cache_dir=cache_dir, progress=progress, dataset_dir=dataset_dir
    )


def for_profile(
    table: pd.DataFrame,
    profile: str | dict,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
    dataset_dir: str | os.PathLike | None = None,
) -> ClipSet:
    """Stage 1 on a loaded table with a profile's frame size, frame count and key-frame size
    (``profile`` is a name from ``profiles.yaml`` or the profile dict; its optional
    ``keyframe_size`` defaults to :data:`KEYFRAME_SIZE`). The stage-1 page and :func:`load_clips`
    both call it, so they share one cache file."""
    from mer_utils import config

    prof = config.profile(profile) if isinstance(profile, str) else profile
    clips = preprocess(
        table,
        prof["size"],
        prof["n_frames"],
        cache_dir=cache_dir,
        progress=progress,
        keyframe_size=prof.get("keyframe_size", KEYFRAME_SIZE),
    )
    report = table.attrs.get("report", {})
    annotation = report.get("annotation") or report.get("frames_from") or ""
    clips.source = {
        "root": str(dataset_dir or report.get("frames_from", "")),
        "annotation": Path(str(annotation)).name,
    }
    return clips


def _compute(table: pd.DataFrame, params: dict, progress: bool, workers: int) -> ClipSet:
    size, n_frames, k = params["size"], params["n_frames"], params["keyframe_size"]
    refs_list = [list(refs) for refs in table["frames"]]
    apexes = [apex_position(row, len(refs)) for (_, row), refs in zip(table.iterrows(), refs_list)]
    jobs = [(refs, index) for refs, (index, _) in zip(refs_list, apexes)]
    worker = functools.partial(
        _clip_job,
        size=size,
        n_frames=n_frames,
        keyframe_size=k,
        detect_every_frame=params["detect_every_frame"],
        landmark_every=params["landmark_every"],
    )
    results = _run_clips(worker, jobs, progress, workers)
    kept, excluded = [], []
    for (_, row), refs, (_, rule), out in zip(table.iterrows(), refs_list, apexes, results):
        if out is None:
            reason = f"no frontal face in any of the {n_frames} sampled frames"
            log.warning(
                "stage 1: excluded %s/%s (%s): %s", row["subject"], row["clip"], refs[0], reason
            )
            excluded.append(
                {"subject": row["subject"], "clip": row["clip"], "file": refs[0], "reason": reason}
            )
        else:
            kept.append(({**{c: _plain(row[c]) for c in TABLE_COLUMNS}, "apex_rule": rule}, out))
    if kept:
        X, keyframes, points = (np.stack([o[i] for _, o in kept]) for i in range(3))
    else:
        X = np.zeros((0, n_frames, size, size, 1), dtype=np.uint8)
        keyframes = np.zeros((0, 2, k, k), dtype=np.uint8)
        points = np.zeros((0, 68, 2), dtype=np.float32)
    rows = _rows_frame([r for r, _ in kept])
    return ClipSet(
        X=X,
        rows=rows,
        excluded=_excluded_frame(excluded),
        params=params,
        from_cache=False,
        keyframes=keyframes,
        landmarks=points,
    )


def _run_clips(worker, jobs: list, progress: bool, workers: int) -> list:
    bar = functools.partial(
        tqdm, total=len(jobs), desc="stage 1", unit="clip", disable=not progress
    )
    if workers <= 1 or len(jobs) < 2:
        return [worker(job) for job in bar(jobs)]
    _detector(), _predictor()  # load once in the parent; forked workers inherit them
    import multiprocessing

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(bar(pool.map(worker, jobs, chunksize=max(1, len(jobs) // (4 * workers)))))


# ----------------------------------------------------------------------------- tables
def _plain(value):
    """Return ``value`` as a JSON-friendly Python scalar (pandas NA -> None)."""
    if value is None or (not isinstance(value, (list, tuple, np.ndarray)) and pd.isna(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _rows_frame(records: list[dict]) -> pd.DataFrame:
    rows = pd.DataFrame.from_records(records, columns=list(ROW_COLUMNS))
    for col in _INT_COLUMNS:
        rows[col] = pd.array(
            [None if v is None or pd.isna(v) else int(v) for v in rows[col]], dtype="Int64"
        )
    for col in set(ROW_COLUMNS) - set(_INT_COLUMNS):
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
def _dataset_tag(table: pd.DataFrame) -> str:
    names = sorted(set(table["dataset"])) if len(table) else []
    return names[0] if len(names) == 1 else ("empty" if not names else "mixed")


def cache_key(table: pd.DataFrame, params: dict) -> str:
    """Return the SHA-256 hex key of a stage-1 run: params, rows, frame refs and file stats.

    Every frame reference is hashed; the files actually read (the sampled frames and the apex
    frame, or a video) are hashed with their size and mtime in nanoseconds.
    """
    h = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    stats: dict[str, tuple[int, int]] = {}
    for _, row in table.iterrows():
        refs = [str(r) for r in row["frames"]]
        h.update(json.dumps([_plain(row[c]) for c in TABLE_COLUMNS], default=str).encode())
        h.update(json.dumps(refs).encode())
        apex, _ = apex_position(row, len(refs))
        for i in [*sample_indices(len(refs), params["n_frames"]), apex]:
            name = datasets.file_of(refs[i])
            if name not in stats:
                try:
                    st = os.stat(name)
                except OSError as err:
                    from mer_utils.datasets import DatasetError

                    raise DatasetError(
                        f"{name}: frame of clip {row['subject']}/{row['clip']} "
                        f"cannot be read ({err.strerror})"
                    ) from err
                stats[name] = (st.st_size, st.st_mtime_ns)
            h.update(json.dumps([name, *stats[name]]).encode())
    return h.hexdigest()


def _write_cache(path: Path, clips: ClipSet) -> None:
    atomic.save_npz(
        path,
        X=clips.X,
        keyframes=clips.keyframes,
        landmarks=clips.landmarks,
        rows=np.array(
            json.dumps(
                [{c: _plain(v) for c, v in r.items()} for r in clips.rows.to_dict("records")]
            )
        ),
        excluded=np.array(json.dumps(clips.excluded.to_dict(orient="records"))),
        params=np.array(json.dumps(clips.params, sort_keys=True)),
    )


def _read_cache(path: Path, params: dict) -> ClipSet | None:
    """Return the cached ClipSet at ``path``, or None when absent or unusable (logged)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            X, keyframes, points = npz["X"], npz["keyframes"], npz["landmarks"]
            records = json.loads(str(npz["rows"]))
            rows = _rows_frame(records)
            excluded = _excluded_frame(json.loads(str(npz["excluded"])))
            stored = json.loads(str(npz["params"]))
        n, k = len(rows), params["keyframe_size"]
        expected = (n, params["n_frames"], params["size"], params["size"], 1)
        if stored != params or X.dtype != np.uint8 or X.shape != expected:
            raise ValueError(f"X {X.dtype}{X.shape} / params do not match the expected {expected}")
        if keyframes.dtype != np.uint8 or keyframes.shape != (n, 2, k, k):
            raise ValueError(
                f"keyframes {keyframes.dtype}{keyframes.shape}, expected uint8{(n, 2, k, k)}"
            )
        if points.dtype != np.float32 or points.shape != (n, 68, 2):
            raise ValueError(
                f"landmarks {points.dtype}{points.shape}, expected float32{(n, 68, 2)}"
            )
        rules = [r.get("apex_rule") for r in records]
        if any(rule not in APEX_RULES for rule in rules):
            raise ValueError(f"rows without a valid apex_rule ({sorted(set(map(str, rules)))})")
    except (
        OSError,
        EOFError,
        KeyError,
        ValueError,
        TypeError,
        AttributeError,
        zipfile.BadZipFile,
    ) as err:
        log.warning(
            "stage 1: cache file %s is unusable (%s: %s); rebuilding it",
            path,
            type(err).__name__,
            err,
        )
        return None
    return ClipSet(
        X=X,
        rows=rows,
        excluded=excluded,
        params=params,
        from_cache=True,
        keyframes=keyframes,
        landmarks=points,
    )


# ----------------------------------------------------------------------------- figures
def apex_frame(table_row: pd.Series) -> str:
    """The apex frame reference of a loader row (:func:`apex_position`: the coded apex, or the
    middle frame when the apex is unknown)."""
    frames = list(table_row["frames"])
    return frames[apex_position(table_row, len(frames))[0]]


def pipeline_examples(table: pd.DataFrame, size: int = 128, seed: int = 0) -> list[dict]:
    """The paper's Figure-2 steps (:func:`pipeline_steps`) on the apex frame of one random clip
    per class present (CLASSES order): ``[{"label", "clip": "subject/clip", "steps"}]``."""
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
                "steps": pipeline_steps(datasets.read_frame(apex_frame(row)), size=size),
            }
        )
    return out
