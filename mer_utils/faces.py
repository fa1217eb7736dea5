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
    :attr:`mer_utils.stage1.ClipSet.excluded` with the first file and the reason; it is never dropped silently.

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
    (:attr:`mer_utils.stage1.ClipSet.keyframes`, uint8 (n, 2, K, K), K = ``keyframe_size``, default
    :data:`KEYFRAME_SIZE`), and the onset frame's 68 landmarks in key-frame pixel coordinates
    (:attr:`mer_utils.stage1.ClipSet.landmarks`, float32 (n, 68, 2) of x, y). The onset is the first sampled
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

Frames that do not belong
    A sampled frame of another size than the clip's other frames, or one that differs from the
    frame the face was found on by more than :data:`FRAME_CHANGE_MAX` grey levels on average
    inside the face box (or shows almost no texture there, :data:`MIN_TEXTURE`) and in which the
    detector then finds no face where the box is (a blank or a cut frame), excludes the clip: it is listed with that frame's file and the reason, and
    no pixels are ever made up from a box that does not fit the frame.

Stage 1 over a whole dataset, with its cache, is :mod:`mer_utils.stage1`.
"""

from __future__ import annotations

import functools
import logging
from typing import NamedTuple, Sequence

import cv2
import numpy as np
import pandas as pd

from mer_utils import datasets

log = logging.getLogger(__name__)

KEYFRAME_SIZE = 128
"""Default side (pixels) of the onset/apex key frames of :attr:`mer_utils.stage1.ClipSet.keyframes`."""

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

FRAME_CHANGE_MAX = 40.0
"""Mean absolute grey-level change inside the face box, from the frame the face was found on,
above which a sampled frame is checked for a face of its own (a micro-expression changes a few
grey levels; a blank or a cut frame changes tens)."""
MIN_TEXTURE = 4.0
"""Grey-level standard deviation inside the face box below which a frame is taken for blank and
checked for a face of its own (a face has tens)."""
CHECKS = (
    "sampled and apex frames of one size; a frame changing more than "
    f"{FRAME_CHANGE_MAX:g} grey levels in the face box, or with less than {MIN_TEXTURE:g} of "
    "texture there, must show a face there"
)
"""The frame checks, in words (part of stage 1's parameters, so the cache knows them)."""
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


def load_models() -> None:
    """Load dlib's detector and predictor (once per process; forked workers inherit them)."""
    _detector(), _predictor()


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


def _clip_boxes(grays: Sequence[np.ndarray], every_frame: bool) -> tuple[list[Box], int] | None:
    """One box per frame (the same box unless ``every_frame``) and the frame it was found on,
    or None without a face."""
    if not every_frame:
        for t, gray in enumerate(grays):
            box = detect_face(gray)
            if box is not None:
                return [box] * len(grays), t
        return None
    found = [detect_face(gray) for gray in grays]
    known = [i for i, b in enumerate(found) if b is not None]
    if not known:
        return None
    return [found[min(known, key=lambda k: abs(k - i))] for i in range(len(grays))], known[0]


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

    ``row`` is a loader-table or stage-1 row (anything with ``.get``: ``onset``, ``apex``,
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
    """Stage-1 output of one clip (see :func:`process_clip`)."""

    frames: np.ndarray
    """uint8 (n_frames, size, size, 1): the CNN's clip tensor."""
    keyframes: np.ndarray
    """uint8 (2, K, K): onset and apex key frames (union masks)."""
    landmarks: np.ndarray
    """float32 (68, 2): the onset frame's landmarks in key-frame pixels (x, y)."""


class Excluded(NamedTuple):
    """A clip stage 1 cannot process: the frame file that shows why, and the reason."""

    file: str
    reason: str


def process_clip(
    refs: Sequence[str],
    size: int,
    n_frames: int,
    apex_index: int | None = None,
    keyframe_size: int = KEYFRAME_SIZE,
    detect_every_frame: bool = False,
    landmark_every: int = 1,
) -> ClipOutput | Excluded:
    """One clip's frames, key frames and onset landmarks, or why the clip is excluded.

    ``refs`` are the clip's onset..offset frame references; only the sampled ones are decoded
    (with :func:`mer_utils.datasets.read_frames`, which raises ``DatasetError`` naming a
    corrupt file), plus the apex frame ``refs[apex_index]`` when it is not among them
    (``apex_index`` None: the middle frame). A clip without a face, or with a frame that does
    not belong (another size; a blank or cut frame), is :class:`Excluded`. The key frames use
    the onset's box (the clip's one box in the default mode). The apex landmarks are reused
    when the apex is a sampled frame whose landmarks were computed in that box, else computed
    on the apex frame.
    """
    clip = _sampled_clip(refs, size, n_frames, detect_every_frame, landmark_every)
    if isinstance(clip, Excluded):
        return clip
    frames, picked, decoded, boxes, points, shape = clip
    apex_index = len(refs) // 2 if apex_index is None else int(apex_index)
    apex_ref = refs[apex_index]
    if apex_ref not in decoded:
        apex = datasets.read_frames([apex_ref])[0]
        if apex.shape[:2] != shape:
            return _odd_size(apex_ref, apex.shape[:2], shape)
        decoded[apex_ref] = to_gray(apex)
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


def process_clip_checked(job: tuple[list[str], int], **kw) -> ClipOutput | Excluded:
    """:func:`process_clip` of one ``(refs, apex_index)`` job (what stage 1's workers run)."""
    refs, apex_index = job
    return process_clip(refs, apex_index=apex_index, **kw)


def _odd_size(ref: str, got: tuple, want: tuple) -> Excluded:
    return Excluded(
        datasets.file_of(ref),
        f"a frame of another size: {got[1]}x{got[0]} among the clip's {want[1]}x{want[0]} frames",
    )


def _sampled_clip(
    refs: Sequence[str], size: int, n_frames: int, detect_every_frame: bool, landmark_every: int
):
    """The clip tensor and what the key frames reuse: (frames, picked refs, decoded gray frames
    by ref, boxes, landmarks per sampled frame, frame shape), or :class:`Excluded`."""
    from collections import Counter

    picked = [refs[i] for i in sample_indices(len(refs), n_frames)]
    unique = list(dict.fromkeys(picked))
    raw = dict(zip(unique, datasets.read_frames(unique)))
    shape = Counter(raw[r].shape[:2] for r in unique).most_common(1)[0][0]
    odd = [r for r in unique if raw[r].shape[:2] != shape]
    if odd:
        return _odd_size(odd[0], raw[odd[0]].shape[:2], shape)
    decoded = {r: to_gray(raw[r]) for r in unique}
    grays = [decoded[r] for r in picked]
    found = _clip_boxes(grays, detect_every_frame)
    if found is None:
        return Excluded(
            datasets.file_of(refs[0]), f"no frontal face in any of the {n_frames} sampled frames"
        )
    boxes, reference = found
    if not detect_every_frame:
        stray = _stray_frame(grays, boxes[0], reference)
        if stray is not None:
            return Excluded(
                datasets.file_of(picked[stray]),
                "a blank or cut frame: no face where the clip's other frames have one",
            )
    points = clip_landmarks(grays, boxes, landmark_every)
    frames = np.stack([face_frame(g, b, size, p) for g, b, p in zip(grays, boxes, points)])[
        ..., None
    ]
    return frames, picked, decoded, boxes, points, shape


def _stray_frame(grays: Sequence[np.ndarray], box: Box, reference: int) -> int | None:
    """The first sampled frame that changed far more than a face does inside the clip's box and
    in which the detector finds no face overlapping the box, or None."""

    def small(gray):
        patch = crop(gray, box)
        return cv2.resize(patch, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)

    ref = small(grays[reference])
    for t, gray in enumerate(grays):
        patch = small(gray)
        changed = np.abs(patch - ref).mean() > FRAME_CHANGE_MAX
        if t == reference or not (changed or patch.std() < MIN_TEXTURE):
            continue
        own = detect_face(gray)
        if own is None or _overlap(own, box) < 0.3:
            return t
    return None


def _overlap(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0
