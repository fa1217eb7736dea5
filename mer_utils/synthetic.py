"""Synthetic stand-ins for the four micro-expression datasets, in their real on-disk layouts.

The licensed datasets (CASME II, SAMM, SMIC, CAS(ME)^2) may not be redistributed, so the study's
default run reads stand-ins that this module generates. Each stand-in is written in exactly the
folder layout and annotation-file format that :mod:`mer_utils.datasets` reads from a licensed
copy (spreadsheets included, with the real files' quirks), so the very same loader code runs on
both. What a stand-in is:

* **Faces.** Every pseudo-subject is built from ``skimage.data.astronaut()`` (the one real face
  photo a required package ships). Subjects differ visibly: face scale and position, in-plane
  rotation, mirroring, gamma, skin-tone (per-channel gain), a lighting gradient across the
  frame and a fixed skin-texture noise pattern. dlib's frontal detector and 68-point predictor
  find the face in every frame (the landmarks of each subject are computed once, with dlib,
  on its neutral face).
* **Motion.** A clip is an onset -> apex -> offset sequence. The expression is a smooth local
  displacement field (a sum of Gaussian bumps centred on landmark regions, applied with
  ``cv2.remap``) scaled by a raised-cosine time profile that is 0 at onset and offset and 1 at
  the apex. The field depends on the class and is zero inside the eye (landmarks 36-41, 42-47)
  and outer-lip (48-59) polygons that stage 1 blacks out, fading in smoothly outside them:

  ==========  ===========================================================================
  surprise    brows raised (region of landmarks 17-26); action units 1+2
  negative    brows lowered and drawn together, nose wrinkled (27-35); action units 4+9
  positive    cheeks raised, skin just outside the lip corners (48, 54) pulled out/up; 6+12
  ==========  ===========================================================================

  The peak displacement is ``amplitude`` pixels at a frame height of 240 (scaled with the
  frame height), times a random per-clip factor (0.7-1.3). 'others' clips (which the loaders
  drop) move like a random class at half strength.
* **Nuisances.** Every frame gets a global sub-pixel jitter (at most 1 px) and sensor noise
  (Gaussian, sigma 2 grey levels); every clip a random gain/offset of its intensity (in
  CAS(ME)^2, every long video, since its clips are cut from it).
* **Classes.** About 15 % of the rows carry the label each loader drops ('others', SAMM
  'Other'; SMIC has no such folder); of the rest about 50 % negative, 25 % positive and 25 %
  surprise, dealt round-robin over subjects so that every class appears in several subjects
  and subject-grouped splits are possible.
* **Quirks** of the real files, written so the loaders are exercised on them: CASME II
  subjects as text ('01') in some rows and numbers in others, one ApexFrame '/'; SAMM's 13
  preamble rows, one apex outside onset..offset, one Offset Frame '?'; CAS(ME)^2's header-less
  sheets, macro-expression rows (dropped by the loader), one micro row with offset 0 (its apex
  is exactly mid-clip, so apex + (apex - onset) is the true offset), video codes stored as text
  and as numbers; SMIC's unpadded subject folders. ``STANDIN.json`` lists them.
* **Size.** Frames are ``frame_size`` (default 240x320, H x W): smaller than the real
  datasets' 640x480 (or SAMM's 2040x1088) to keep generation and the book fast. Clips have
  ``clip_frames`` frames (default 12-20; real clips at 200 fps are 24-141 frames long).
  SAMM frames are grayscale JPEG, SMIC frames BMP, the others colour JPEG (quality 90).

A ``STANDIN.json`` marker (seed, parameters, generator version, expected class counts, the
quirks written) is written LAST and atomically, so an interrupted generation is never taken for
a complete one; while generating, a ``STANDIN.partial`` file marks the folder as a stand-in
being written (so it may be deleted and regenerated, while a folder with neither file, e.g. a
licensed copy, is never deleted).

CAS(ME)^2 naming rule followed (the loader's, see :mod:`mer_utils.datasets`): the first sheet's
participant number maps through sheet ``naming rule1`` (three columns: folder number, folder
name, participant, e.g. ``15 | s15 | 1``) to the subject folder (``s15``);
the expression name's stem (``disgust1`` of ``disgust1_2``) maps through sheet ``naming rule2``
to a 4-digit video code (``0101``); the long video is ``rawpic/s15/15_0101<title>/`` (the title,
e.g. ``disgustingteeth``, is part of the folder name only).
"""
from __future__ import annotations

import datetime
import io
import json
import logging
import math
import re
import shutil
import zipfile
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import cv2
import numpy as np

from . import atomic, config, faces
from .config import CLASSES

log = logging.getLogger(__name__)

__all__ = [
    "GENERATOR_VERSION",
    "MARKER",
    "Subject",
    "make_subject",
    "generate",
    "generate_all",
    "is_standin",
    "expected_counts",
    "onset_apex_figure",
]

GENERATOR_VERSION = 1
"""Bumped whenever the generator's output changes for the same parameters."""
MARKER = "STANDIN.json"
"""Completion marker written last into every stand-in dataset folder."""
PARTIAL = "STANDIN.partial"
"""Present while a stand-in is being written (removed when the marker is written)."""

DROP = "others"
"""Internal name of the label every loader drops (spelled per dataset in ``_EMOTIONS``)."""
_DROP_FRACTION = 0.15
_CLASS_FRACTIONS = {"negative": 0.50, "positive": 0.25, "surprise": 0.25}
_REFERENCE_HEIGHT = 240
_NOISE_SD = 2.0
_JITTER_SD = 0.35
_JPEG = [cv2.IMWRITE_JPEG_QUALITY, 90]
_FIXED_TIME = datetime.datetime(2024, 1, 1)
_DATASET_IDS = {name: i for i, name in enumerate(config.DATASETS)}

# Original label spellings of the real annotation files, with the real files' frequencies as
# weights (shared/reference/datasets.md). These describe what the real files contain (what a
# loader must read), not the loaders' mapping table (mer_utils/data/labels.yaml).
_EMOTIONS: dict[str, dict[str, dict[str, int]]] = {
    "casme2": {
        "negative": {"disgust": 63, "repression": 27, "sadness": 4, "fear": 2},
        "positive": {"happiness": 1},
        "surprise": {"surprise": 1},
        DROP: {"others": 1},
    },
    "samm": {
        "negative": {"Anger": 57, "Contempt": 12, "Disgust": 9, "Fear": 8, "Sadness": 6},
        "positive": {"Happiness": 1},
        "surprise": {"Surprise": 1},
        DROP: {"Other": 1},
    },
    "smic": {"negative": {"negative": 1}, "positive": {"positive": 1}, "surprise": {"surprise": 1}},
    "casme_sq": {
        "negative": {"negative": 1},
        "positive": {"positive": 1},
        "surprise": {"surprise": 1},
        DROP: {"others": 1},
    },
}
_ACTION_UNITS = {"negative": "4+9", "positive": "6+12", "surprise": "1+2", DROP: "14"}
_SMIC_ABBREV = {"negative": "ne", "positive": "po", "surprise": "sur"}

# CAS(ME)^2 long videos: (4-digit code, expression-name stem, title in the folder name).
_CASME_SQ_VIDEOS: tuple[tuple[str, str, str], ...] = (
    ("0101", "disgust1", "disgustingteeth"),
    ("0102", "disgust2", "eatingworms"),
    ("0401", "anger1", "girlcrashing"),
    ("0402", "anger2", "beatingpregnantwoman"),
    ("0502", "happy1", "funnyerrors"),
    ("0503", "happy2", "funnyfarting"),
    ("0505", "happy3", "funnyinnovations"),
    ("0507", "happy4", "climbingthewall"),
    ("0508", "happy5", "funnydunkey"),
)
# Subject folder numbers of the real CAS(ME)^2 (participant 1 -> s15, 2 -> s16, ...).
_CASME_SQ_FOLDERS = (15, 16, 19, 20, 21, 22, 23, 24, 25, 26, 27, 29, 30, 31, 32, 33, 34, 35,
                     36, 37, 38, 40)

_SAMM_PREAMBLE = (
    "SAMM Micro-Movement Dataset - FACS codes (synthetic stand-in generated by mer_utils.synthetic)",
    "Please cite: Davison et al., SAMM: A Spontaneous Micro-Facial Movement Dataset, IEEE TAC 2018",
    "This file mimics the layout of SAMM_Micro_FACS_Codes_v2.xlsx; it holds no real data.",
    None,
    "Key:",
    "R = right side of the face, L = left side",
    "A = asymmetric movement",
    "? = offset not coded",
    "/ = not applicable",
    None,
    "Objective Classes follow Davison et al. (2018)",
    "Estimated Emotion is the coders' estimate",
    None,
)
_SAMM_HEADER = ("Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame",
                "Offset Frame", "Duration", "Micro", "Action Units", "Estimated Emotion",
                "Objective Classes", "Notes")
_CASME2_HEADER = ("Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
                  "Action Units", "Estimated Emotion", "Objective Classes")


# ---------------------------------------------------------------------------------------------
# Pseudo-subjects
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Look:
    """Appearance parameters of one pseudo-subject (all drawn from the seed)."""

    scale: float  # face size relative to 0.42 x frame height (dlib box)
    rotation: float  # degrees, in-plane
    mirror: bool
    shift: tuple[float, float]  # face-centre offset, fraction of (W, H)
    gamma: float
    tone: tuple[float, float, float]  # B, G, R gains
    light_strength: float  # gain change from frame centre to edge
    light_angle: float  # radians
    texture_sd: float  # grey levels
    texture_sigma: float  # px


@dataclass
class Subject:
    """One pseudo-subject: its neutral face, lighting, landmarks and expression fields.

    ``base`` is the neutral face before lighting (float32, HxWx3 BGR or HxW gray),
    ``gain`` the fixed multiplicative lighting map (HxW float32), ``landmarks`` the 68 dlib
    points (x, y) of the neutral face, ``fields`` one unit displacement field per class
    (HxWx2, content displacement in px for strength 1, peak 1; 'others' clips borrow one),
    ``mask`` the filled eye and outer-lip polygons (HxW bool).
    """

    look: Look
    base: np.ndarray
    gain: np.ndarray
    landmarks: np.ndarray
    fields: dict[str, np.ndarray]
    mask: np.ndarray

    def render(self, motion: str, strength: float, jitter: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        """Return the face warped by ``strength`` px of ``motion``'s field and shifted by
        ``jitter`` (dx, dy) px, lit, as float32 (no noise, no clipping)."""
        h, w = self.gain.shape
        gx, gy = _grid(h, w)
        field = self.fields[motion]
        map_x = gx - (field[..., 0] * strength + jitter[0])
        map_y = gy - (field[..., 1] * strength + jitter[1])
        out = cv2.remap(self.base, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        return out * (self.gain if out.ndim == 2 else self.gain[..., None])


@cache
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.flags.writeable = gy.flags.writeable = False
    return gx, gy


@cache
def _dlib_models():
    """dlib's detector and 68-point predictor: the same loaded-once models stage 1 uses."""
    return faces._detector(), faces._predictor()


@cache
def _astronaut() -> tuple[np.ndarray, tuple[float, float], float]:
    """The astronaut photo (BGR float32), its dlib face-box centre and size."""
    from skimage import data

    rgb = data.astronaut()
    detector, _ = _dlib_models()
    box = detector(rgb, 0)[0]
    centre = ((box.left() + box.right()) / 2, (box.top() + box.bottom()) / 2)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).astype(np.float32)
    bgr.flags.writeable = False
    return bgr, centre, float(box.height())


def _draw_look(rng: np.random.Generator, index: int) -> Look:
    return Look(
        scale=float(rng.uniform(0.95, 1.15)),
        rotation=float(rng.uniform(-7, 7)),
        mirror=bool(index % 2),
        shift=(float(rng.uniform(-0.06, 0.06)), float(rng.uniform(-0.04, 0.04))),
        gamma=float(rng.uniform(0.75, 1.35)),
        tone=tuple(float(v) for v in rng.uniform(0.8, 1.1) * rng.uniform(0.9, 1.1, 3)),
        light_strength=float(rng.uniform(0.12, 0.35)),
        light_angle=float(rng.uniform(0, 2 * math.pi)),
        texture_sd=float(rng.uniform(2.0, 7.0)),
        texture_sigma=float(rng.uniform(0.7, 2.0)),
    )


def _neutral_face(look: Look, frame_size: tuple[int, int], gray: bool,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Place, tone and texture the astronaut's face; return (base, lighting gain)."""
    h, w = frame_size
    src, (cx, cy), box = _astronaut()
    if look.mirror:
        src = src[:, ::-1]
        cx = src.shape[1] - 1 - cx
    k = look.scale * 0.42 * h / box
    m = cv2.getRotationMatrix2D((cx, cy), look.rotation, k)
    m[:, 2] += (w / 2 + look.shift[0] * w - cx, 0.48 * h + look.shift[1] * h - cy)
    img = cv2.warpAffine(np.ascontiguousarray(src), m, (w, h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT)
    img = 255.0 * np.power(np.clip(img, 0, 255) / 255.0, look.gamma, dtype=np.float32)
    img *= np.asarray(look.tone, dtype=np.float32)
    texture = rng.standard_normal((h, w), dtype=np.float32) * look.texture_sd
    texture = cv2.GaussianBlur(texture, (0, 0), look.texture_sigma)
    texture *= look.texture_sd / max(float(texture.std()), 1e-6)
    img += texture[..., None]
    if gray:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    gx, gy = _grid(h, w)
    proj = ((gx - w / 2) * math.cos(look.light_angle) + (gy - h / 2) * math.sin(look.light_angle))
    gain = 1.0 + look.light_strength * proj / (0.5 * math.hypot(w, h))
    return img.astype(np.float32), gain.astype(np.float32)


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def _detect_landmarks(img: np.ndarray) -> np.ndarray | None:
    """68 dlib landmarks (x, y) of the single face in ``img`` (uint8), or None."""
    detector, predictor = _dlib_models()
    boxes = detector(img, 0)
    if len(boxes) != 1:
        return None
    shape = predictor(img, boxes[0])
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def _mask(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The regions stage 1 blacks out (``faces.mask_polygons``), which the expression fields
    leave still."""
    mask = np.zeros(shape, np.uint8)
    for poly in faces.mask_polygons(np.round(landmarks)):
        cv2.fillConvexPoly(mask, poly, 1)
    return mask.astype(bool)


def make_subject(seed: int, dataset: str, index: int, frame_size: Sequence[int] = (240, 320),
                 gray: bool = False) -> Subject:
    """Build pseudo-subject ``index`` of ``dataset``'s stand-in (deterministic from ``seed``).

    The look is redrawn (deterministically) until dlib finds exactly one face with
    landmarks; the landmarks of the neutral face then define the expression fields.
    """
    size = (int(frame_size[0]), int(frame_size[1]))
    for attempt in range(50):
        rng = np.random.default_rng([seed, _DATASET_IDS[dataset], 1000 + index, attempt])
        look = _draw_look(rng, index)
        base, gain = _neutral_face(look, size, gray, rng)
        landmarks = _detect_landmarks(_to_uint8(base * (gain if gray else gain[..., None])))
        if landmarks is not None:
            break
        log.debug("subject %d of %s: no face at attempt %d, redrawing", index, dataset, attempt)
    else:
        raise RuntimeError(f"no detectable face for subject {index} of {dataset} after 50 looks")
    mask = _mask(landmarks, size)
    weight = _outside_weight(mask, landmarks)
    fields = {label: _field(label, landmarks, size) * weight[..., None] for label in CLASSES}
    return Subject(look, base, gain, landmarks, fields, mask)


# ---------------------------------------------------------------------------------------------
# Expression fields
# ---------------------------------------------------------------------------------------------

def _face_frame(lm: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Inter-ocular distance and the face's 'right' and 'down' unit vectors (image coords)."""
    left, right = lm[36:42].mean(0), lm[42:48].mean(0)
    iod = float(np.linalg.norm(right - left))
    ex = (right - left) / iod
    ey = np.array([-ex[1], ex[0]], dtype=np.float32)
    return iod, ex, ey


def _bumps(label: str, lm: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(centre, displacement vector, sigma) of the Gaussian bumps of one class."""
    iod, ex, ey = _face_frame(lm)
    up = -ey
    out: list[tuple[np.ndarray, np.ndarray, float]] = []
    if label == "surprise":
        for i in range(17, 27):
            out.append((lm[i] - 0.12 * iod * ey, up, 0.28 * iod))
    elif label == "negative":
        for i in range(17, 27):
            inward = -np.sign(float((lm[i] - lm[27]) @ ex)) * ex
            inner = 1.0 if i in (19, 20, 21, 22, 23, 24) else 0.6
            out.append((lm[i], inner * (ey + 0.6 * inward), 0.24 * iod))
        for i in (31, 35):  # nostril wings pulled up (nose wrinkle)
            out.append((lm[i] - 0.05 * iod * ey, 0.9 * up, 0.16 * iod))
        for side in (-1, 1):  # skin beside the nasal bridge bunching inward and up
            out.append((lm[28] + side * 0.22 * iod * ex, 0.6 * (up - side * ex), 0.14 * iod))
    elif label == "positive":
        for eye, corner, wing, jaw in ((range(36, 42), 48, 31, 2), (range(42, 48), 54, 35, 14)):
            cheek = 0.45 * lm[list(eye)].mean(0) + 0.25 * lm[corner] + 0.30 * lm[jaw]
            out.append((cheek + 0.1 * iod * ey, up, 0.36 * iod))
            outward = lm[corner] - lm[48 + 54 - corner]
            outward = outward / np.linalg.norm(outward)
            out.append((lm[corner] + 0.14 * iod * outward, 0.8 * outward + 0.8 * up, 0.22 * iod))
            # nasolabial fold, between the nose wing and the mouth corner: up and outward
            fold = 0.5 * (lm[wing] + lm[corner]) + 0.12 * iod * outward
            out.append((fold, 0.5 * outward + 0.8 * up, 0.2 * iod))
    else:
        raise ValueError(f"no expression field for label {label!r}")
    return out


def _field(label: str, lm: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Sum of the class's Gaussian bumps, normalised to a peak displacement of 1 px."""
    gx, gy = _grid(*shape)
    field = np.zeros((*shape, 2), np.float32)
    for centre, vec, sigma in _bumps(label, lm):
        g = np.exp(-((gx - centre[0]) ** 2 + (gy - centre[1]) ** 2) / (2 * sigma**2))
        field += g[..., None] * np.asarray(vec, np.float32)
    return field / max(float(np.linalg.norm(field, axis=-1).max()), 1e-6)


def _outside_weight(mask: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """0 inside (and 1 px around) the masked polygons, rising smoothly to 1 outside."""
    iod, _, _ = _face_frame(lm)
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8))
    dist = cv2.distanceTransform((1 - grown).astype(np.uint8), cv2.DIST_L2, 5)
    t = np.clip(dist / (0.12 * iod), 0, 1)
    return (t * t * (3 - 2 * t)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Clip plans
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Clip:
    subject: int  # index
    number: int  # clip index within the subject
    label: str  # a class or DROP
    emotion: str  # original spelling
    n: int  # frames onset..offset
    apex: int  # 0-based index of the apex within the clip
    motion: str  # class whose field moves
    strength: float  # peak displacement in px
    seed: tuple[int, ...]


def _label_counts(n_total: int, with_drop: bool) -> dict[str, int]:
    n_drop = round(_DROP_FRACTION * n_total) if with_drop else 0
    mapped = n_total - n_drop
    pos = round(_CLASS_FRACTIONS["positive"] * mapped)
    sur = round(_CLASS_FRACTIONS["surprise"] * mapped)
    return {"negative": mapped - pos - sur, "positive": pos, "surprise": sur, DROP: n_drop}


def _deal_labels(n_subjects: int, per_subject: int, with_drop: bool,
                 rng: np.random.Generator) -> list[list[str]]:
    """Labels per subject: exact totals, dealt round-robin (each class spread over subjects),
    then shuffled within each subject."""
    sequence = [lab for lab, k in _label_counts(n_subjects * per_subject, with_drop).items()
                for _ in range(k)]
    dealt = [sequence[s::n_subjects] for s in range(n_subjects)]
    for labels in dealt:
        rng.shuffle(labels)
    return dealt


def _choose(rng: np.random.Generator, weights: dict[str, int]) -> str:
    names = list(weights)
    p = np.array([weights[k] for k in names], float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _plan(name: str, seed: int, n_subjects: int, per_subject: int, clip_frames: tuple[int, int],
          amplitude: float, height: int) -> list[list[_Clip]]:
    """Every clip of the dataset, per subject, fully determined by the seed."""
    rng = np.random.default_rng([seed, _DATASET_IDS[name], 1])
    dealt = _deal_labels(n_subjects, per_subject, DROP in _EMOTIONS[name], rng)
    px = amplitude * height / _REFERENCE_HEIGHT
    plans = []
    for s, labels in enumerate(dealt):
        clips = []
        for k, label in enumerate(labels):
            n = int(rng.integers(clip_frames[0], clip_frames[1] + 1))
            apex = (n - 1) // 2 if name == "smic" else int(rng.integers(
                max(1, round(0.3 * (n - 1))), min(n - 2, round(0.7 * (n - 1))) + 1))
            motion, factor = (label, 1.0) if label != DROP else (str(rng.choice(CLASSES)), 0.5)
            clips.append(_Clip(s, k, label, _choose(rng, _EMOTIONS[name][label]), n, apex, motion,
                               float(px * factor * rng.uniform(0.7, 1.3)),
                               (seed, _DATASET_IDS[name], 2, s, k)))
        plans.append(clips)
    return plans


def _profile(n: int, apex: int) -> np.ndarray:
    """Raised-cosine onset -> apex -> offset profile: 0 at both ends, 1 at the apex."""
    t = np.arange(n, dtype=np.float64)
    rise = 0.5 - 0.5 * np.cos(np.pi * t / max(apex, 1))
    fall = 0.5 + 0.5 * np.cos(np.pi * (t - apex) / max(n - 1 - apex, 1))
    return np.where(t <= apex, rise, fall)


class _Renderer:
    """Turns clip plans into uint8 frames (jitter, intensity variation and noise included)."""

    _BANK, _PAD = 8, 16

    def __init__(self, subject: Subject, rng: np.random.Generator):
        self.subject = subject
        self.rng = rng
        h, w = subject.gain.shape
        shape = (self._BANK, h + self._PAD, w + self._PAD, *subject.base.shape[2:])
        self.noise_bank = rng.standard_normal(shape, dtype=np.float32) * _NOISE_SD

    def _noise(self) -> np.ndarray:
        """Sensor noise for one frame: a random crop of a random noise-bank entry (drawing
        fresh Gaussian noise per frame was the slowest step of generation)."""
        h, w = self.subject.gain.shape
        b = int(self.rng.integers(self._BANK))
        y, x = (int(v) for v in self.rng.integers(0, self._PAD + 1, 2))
        return self.noise_bank[b, y:y + h, x:x + w]

    def frames(self, profile: Iterable[float], motion: str, strength: float,
               gain: float, offset: float) -> list[np.ndarray]:
        """One frame per profile value, all with the clip's ``gain`` and ``offset``."""
        out = []
        for p in profile:
            jitter = tuple(float(v) for v in np.clip(self.rng.normal(0, _JITTER_SD, 2), -1, 1))
            img = self.subject.render(motion, strength * float(p), jitter)
            out.append(_to_uint8(img * gain + offset + self._noise()))
        return out

    def clip(self, clip: _Clip) -> list[np.ndarray]:
        """Frames onset..offset of one planned clip."""
        gain, offset = self.rng.uniform(0.88, 1.12), self.rng.uniform(-10, 10)
        return self.frames(_profile(clip.n, clip.apex), clip.motion, clip.strength, gain, offset)


# ---------------------------------------------------------------------------------------------
# Writers, one per layout
# ---------------------------------------------------------------------------------------------

def _imwrite(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    params = _JPEG if path.suffix.lower() == ".jpg" else []
    if not cv2.imwrite(str(path), img, params):
        raise OSError(f"cv2.imwrite could not write {path}")


def _save_workbook(wb, path: Path) -> None:
    """Save an openpyxl workbook atomically with fixed timestamps (byte-reproducible)."""
    wb.properties.created = _FIXED_TIME
    raw = io.BytesIO()
    wb.save(raw)
    fixed = io.BytesIO()
    stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps 'modified' at save time
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME.timetuple()[:6]),
                         data, compress_type=zipfile.ZIP_DEFLATED)
    atomic.write_bytes(path, fixed.getvalue())


def _new_workbook():
    from openpyxl import Workbook

    return Workbook()


class _Context:
    """What every writer needs: parameters, subjects and progress reporting."""

    def __init__(self, name: str, root: Path, seed: int, params: dict, progress: bool):
        self.name, self.root, self.seed, self.params = name, root, seed, params
        self.size = tuple(params["frame_size"])
        self.plans = _plan(name, seed, params["n_subjects"], params["clips_per_subject"],
                           tuple(params["clip_frames"]), params["amplitude"], self.size[0])
        self.quirks: list[str] = []
        self.extra_dropped: dict[str, int] = {}
        from tqdm import tqdm

        total = sum(len(p) for p in self.plans)
        self.bar = tqdm(total=total, desc=f"stand-in {name}", unit="clip", disable=not progress)

    def renderer(self, s: int, gray: bool = False) -> _Renderer:
        subject = make_subject(self.seed, self.name, s, self.size, gray)
        return _Renderer(subject, np.random.default_rng([self.seed, _DATASET_IDS[self.name], 3, s]))

    def clip_rng(self, clip: _Clip) -> np.random.Generator:
        return np.random.default_rng(list(clip.seed))


def _write_casme2(ctx: _Context) -> None:
    """CASME2_RAW_selected/subNN/<Filename>/img<N>.jpg + CASME2-coding-20190701.xlsx."""
    wb = _new_workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(list(_CASME2_HEADER))
    slash_done = False
    for s, clips in enumerate(ctx.plans):
        render = ctx.renderer(s)
        names = _casme2_filenames(len(clips), np.random.default_rng([ctx.seed, 0, 5, s]))
        for clip, filename in zip(clips, names):
            rng = ctx.clip_rng(clip)
            onset = int(rng.integers(1, 300))
            folder = ctx.root / "CASME2_RAW_selected" / f"sub{s + 1:02d}" / filename
            for i, img in enumerate(render.clip(clip)):
                _imwrite(folder / f"img{onset + i}.jpg", img)
            apex: Any = onset + clip.apex
            if not slash_done and clip.label == "negative" and s == min(1, len(ctx.plans) - 1):
                apex, slash_done = "/", True
                ctx.quirks.append(f"sub{s + 1:02d} {filename}: ApexFrame '/'")
            subject: Any = f"{s + 1:02d}" if (s + clip.number) % 2 else s + 1
            ws.append([subject, filename, None, onset, apex, onset + clip.n - 1, None,
                       _ACTION_UNITS[clip.label], clip.emotion, int(rng.integers(1, 8))])
            ctx.bar.update()
    ctx.quirks.append("Subject written as text ('01') in some rows and as a number in others")
    _save_workbook(wb, ctx.root / "CASME2-coding-20190701.xlsx")


def _casme2_filenames(n: int, rng: np.random.Generator) -> list[str]:
    """CASME II style clip names (EP02_01f, EP19_05, ...), unique within a subject; the same
    names recur across subjects as in the real data."""
    episodes = rng.choice(np.arange(1, 20), size=n, replace=n > 19)
    names, seen = [], set()
    for ep in episodes:
        k = 1
        while f"EP{ep:02d}_{k:02d}" in seen:
            k += 1
        seen.add(f"EP{ep:02d}_{k:02d}")
        names.append(f"EP{ep:02d}_{k:02d}" + ("f" if ep % 3 == 0 else ""))
    return names


def _write_samm(ctx: _Context) -> None:
    """<Subject>/<Filename>/<Subject>_<5 digits>.jpg (gray) + SAMM_Micro_FACS_Codes_v2.xlsx."""
    wb = _new_workbook()
    ws = wb.active
    ws.title = "MICRO_ONLY"
    for line in _SAMM_PREAMBLE:
        ws.append([line])
    ws.append(list(_SAMM_HEADER))
    mapped = [c for clips in ctx.plans for c in clips if c.label != DROP]
    apex_outside = mapped[0] if mapped else None
    offset_unknown = mapped[1] if len(mapped) > 1 else None
    for s, clips in enumerate(ctx.plans):
        render = ctx.renderer(s, gray=True)
        subject = f"{6 + s:03d}"
        for clip in clips:
            rng = ctx.clip_rng(clip)
            onset = int(rng.integers(100, 6000))
            offset = onset + clip.n - 1
            filename = f"{subject}_{clip.number % 7 + 1}_{clip.number // 7 + 1}"
            for i, img in enumerate(render.clip(clip)):
                _imwrite(ctx.root / subject / filename / f"{subject}_{onset + i:05d}.jpg", img)
            apex, off, duration = onset + clip.apex, offset, clip.n
            if clip is apex_outside:
                apex = offset + 9
                ctx.quirks.append(f"{filename}: Apex Frame {apex} outside onset..offset")
            if clip is offset_unknown:
                off = duration = "?"
                ctx.quirks.append(f"{filename}: Offset Frame '?'")
            ws.append([subject, filename, f"{subject}_{clip.number % 7 + 1}", onset, apex, off,
                       duration, "Micro", _ACTION_UNITS[clip.label], clip.emotion,
                       int(rng.integers(1, 8)), None])
            ctx.bar.update()
    ctx.quirks.append("13 preamble rows before the header row")
    _save_workbook(wb, ctx.root / "SAMM_Micro_FACS_Codes_v2.xlsx")


def _write_smic(ctx: _Context) -> None:
    """HS/s<N>/micro/<label>/s<N>_<ne|po|sur>_<KK>/image<6 digits>.bmp (no spreadsheet)."""
    for s, clips in enumerate(ctx.plans):
        render = ctx.renderer(s)
        subject = f"s{s + 1}"
        for k, clip in enumerate(clips, start=1):
            rng = ctx.clip_rng(clip)
            start = int(rng.integers(1, 90000))
            folder = (ctx.root / "HS" / subject / "micro" / clip.emotion
                      / f"{subject}_{_SMIC_ABBREV[clip.label]}_{k:02d}")
            for i, img in enumerate(render.clip(clip)):
                _imwrite(folder / f"image{start + i:06d}.bmp", img)
            ctx.bar.update()
    ctx.quirks.append("subject folders not zero-padded (s1, s2, ..., s10)")


def _write_casme_sq(ctx: _Context) -> None:
    """rawpic/s<NN>/<NN>_<code><title>/img<N>.jpg long videos (optionally rawvideo/*.avi) +
    header-less CAS(ME)^2code_final.xlsx with micro and macro rows and the naming sheets."""
    if ctx.params["n_subjects"] > len(_CASME_SQ_FOLDERS):
        raise ValueError(f"CAS(ME)^2 stand-in supports at most {len(_CASME_SQ_FOLDERS)} subjects")
    rows: list[list[Any]] = []
    offset_zero_done = False
    macro = 0
    for s, clips in enumerate(ctx.plans):
        render = ctx.renderer(s)
        rng = np.random.default_rng([ctx.seed, _DATASET_IDS[ctx.name], 4, s])
        n_videos = min(len(_CASME_SQ_VIDEOS), max(1, math.ceil(len(clips) / 3)))
        videos = sorted(rng.choice(len(_CASME_SQ_VIDEOS), n_videos, replace=False))
        for v, video in enumerate(videos):
            code, stem, title = _CASME_SQ_VIDEOS[video]
            events = [("micro", c) for c in clips[v::n_videos]] + [("macro", None)]
            rng.shuffle(events)
            folder_name = f"{_CASME_SQ_FOLDERS[s]}_{code}{title}"
            frames: list[np.ndarray] = []
            gain, offset = rng.uniform(0.9, 1.1), rng.uniform(-8, 8)
            for k, (kind, clip) in enumerate(events, start=1):
                frames += render.frames(np.zeros(int(rng.integers(2, 6))), CLASSES[0], 0, gain, offset)
                if kind == "macro":
                    clip = _macro_clip(ctx, s, k, rng)
                    macro += 1
                elif not offset_zero_done and clip.label != DROP:
                    clip = _symmetric(clip)
                start = len(frames) + 1
                frames += render.frames(_profile(clip.n, clip.apex), clip.motion, clip.strength,
                                        gain, offset)
                off: int = start + clip.n - 1
                if kind == "micro" and not offset_zero_done and clip.label != DROP:
                    off, offset_zero_done = 0, True
                    ctx.quirks.append(f"{folder_name} {stem}_{k}: micro row with offset 0 "
                                      "(apex - onset == true offset - apex)")
                rows.append([s + 1, f"{stem}_{k}", start, start + clip.apex, off,
                             _ACTION_UNITS[clip.label], clip.emotion,
                             f"{kind}-expression", clip.emotion])
                if kind == "micro":
                    ctx.bar.update()
            frames += render.frames(np.zeros(int(rng.integers(2, 6))), CLASSES[0], 0, gain, offset)
            _write_long_video(ctx, f"s{_CASME_SQ_FOLDERS[s]}", folder_name, frames)
    ctx.extra_dropped["macro-expression rows"] = macro
    ctx.quirks.append("no header rows; macro-expression rows mixed with micro rows")
    _write_casme_sq_workbook(ctx, rows)


def _symmetric(clip: _Clip) -> _Clip:
    """The clip shortened so its apex is exactly in the middle (offset = 2 apex - onset)."""
    return replace(clip, n=2 * clip.apex + 1)


def _macro_clip(ctx: _Context, s: int, k: int, rng: np.random.Generator) -> _Clip:
    lo, hi = ctx.params["clip_frames"]
    n = int(rng.integers(lo, hi + 1))
    label = str(rng.choice(CLASSES))
    px = 3 * ctx.params["amplitude"] * ctx.size[0] / _REFERENCE_HEIGHT
    return _Clip(s, 1000 + k, label, label, n, n // 2, label, px, ())


def _write_long_video(ctx: _Context, subject: str, folder_name: str, frames: list[np.ndarray]) -> None:
    for i, img in enumerate(frames, start=1):
        _imwrite(ctx.root / "rawpic" / subject / folder_name / f"img{i}.jpg", img)
    if not ctx.params["casme_sq_videos"]:
        return
    path = ctx.root / "rawvideo" / subject / f"{folder_name}.avi"
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (w, h))
    if not writer.isOpened():
        raise OSError(f"cv2.VideoWriter could not open {path}")
    for img in frames:
        writer.write(img)
    writer.release()


def _write_casme_sq_workbook(ctx: _Context, rows: list[list[Any]]) -> None:
    wb = _new_workbook()
    ws = wb.active
    ws.title = "CASMEcode_final"
    for row in rows:
        ws.append(row)
    rule1 = wb.create_sheet("naming rule1")
    for p in range(1, ctx.params["n_subjects"] + 1):
        rule1.append([_CASME_SQ_FOLDERS[p - 1], f"s{_CASME_SQ_FOLDERS[p - 1]}", p])
    rule2 = wb.create_sheet("naming rule2")
    for i, (code, stem, _title) in enumerate(_CASME_SQ_VIDEOS):
        rule2.append([code if i % 2 else int(code), stem])
    ctx.quirks.append("naming rule2 video codes as text ('0102') and as numbers (101)")
    _save_workbook(wb, ctx.root / "CAS(ME)^2code_final.xlsx")


_WRITERS: dict[str, Callable[[_Context], None]] = {
    "casme2": _write_casme2,
    "samm": _write_samm,
    "smic": _write_smic,
    "casme_sq": _write_casme_sq,
}


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------

def _params(n_subjects: int, clips_per_subject: int, frame_size: Sequence[int],
            clip_frames: Sequence[int], amplitude: float, casme_sq_videos: bool) -> dict:
    params = {"n_subjects": int(n_subjects), "clips_per_subject": int(clips_per_subject),
              "frame_size": [int(v) for v in frame_size], "clip_frames": [int(v) for v in clip_frames],
              "amplitude": float(amplitude), "casme_sq_videos": bool(casme_sq_videos)}
    lo, hi = params["clip_frames"]
    if params["n_subjects"] < 1 or params["clips_per_subject"] < 1:
        raise ValueError(f"n_subjects and clips_per_subject must be >= 1, got {params}")
    if not 5 <= lo <= hi:
        raise ValueError(f"clip_frames must be (lo, hi) with 5 <= lo <= hi, got {clip_frames}")
    if min(params["frame_size"]) < 120:
        raise ValueError(f"frame_size {frame_size} too small for dlib (min 120 px)")
    return params


def _prepare_root(root: Path) -> None:
    """Create ``root``; clear it only if it is empty or holds a (possibly partial) stand-in."""
    if root.exists() and any(root.iterdir()):
        if not ((root / MARKER).exists() or (root / PARTIAL).exists()):
            raise FileExistsError(f"{root} exists, is not empty and is not a stand-in "
                                  f"(no {MARKER} or {PARTIAL}): refusing to overwrite it")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    atomic.write_text(root / PARTIAL, "stand-in generation in progress\n")


def generate(name: str, root: str | Path, seed: int = 0, n_subjects: int = 10,
             clips_per_subject: int = 6, frame_size: Sequence[int] = (240, 320),
             clip_frames: Sequence[int] = (12, 20), amplitude: float = 3.0,
             casme_sq_videos: bool = False, progress: bool = False) -> Path:
    """Write the stand-in of dataset ``name`` into ``root`` (the dataset's own folder).

    ``frame_size`` is (height, width), smaller than the real datasets' to stay fast;
    ``clip_frames`` the (min, max) frames of a clip onset..offset; ``amplitude`` the mean peak
    expression displacement in px at a frame height of 240; ``casme_sq_videos`` also writes
    CAS(ME)^2's ``rawvideo/*.avi`` (MJPG). A non-empty ``root`` that is not a stand-in raises
    ``FileExistsError``; an existing stand-in there is replaced. Returns ``root``.
    """
    if name not in _WRITERS:
        raise ValueError(f"unknown dataset {name!r}; choose from {list(_WRITERS)}")
    params = _params(n_subjects, clips_per_subject, frame_size, clip_frames, amplitude,
                     casme_sq_videos)
    root = Path(root)
    _prepare_root(root)
    ctx = _Context(name, root, seed, params, progress)
    try:
        _WRITERS[name](ctx)
    finally:
        ctx.bar.close()
    atomic.write_json(root / MARKER, _marker(ctx))
    (root / PARTIAL).unlink()
    log.info("stand-in %s written to %s", name, root)
    return root


def _marker(ctx: _Context) -> dict:
    clips = [c for plan in ctx.plans for c in plan]
    counts = {label: sum(c.label == label for c in clips) for label in CLASSES}
    dropped = {f"label {next(iter(_EMOTIONS[ctx.name][DROP]))}":
               sum(c.label == DROP for c in clips)} if DROP in _EMOTIONS[ctx.name] else {}
    return {
        "standin": True,
        "dataset": ctx.name,
        "display": config.dataset_info(ctx.name)["display"],
        "generator": "mer_utils.synthetic",
        "generator_version": GENERATOR_VERSION,
        "seed": ctx.seed,
        "params": ctx.params,
        "expected_counts": counts,
        "dropped_rows": {**dropped, **ctx.extra_dropped},
        "subjects": ctx.params["n_subjects"],
        "quirks": ctx.quirks,
        "note": ("Synthetic stand-in built from skimage.data.astronaut() by mer_utils.synthetic; "
                 "NOT the licensed dataset. Frames are smaller than the real ones."),
    }


def _read_marker(root: str | Path) -> dict | None:
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
    return _read_marker(root) is not None


def expected_counts(root: str | Path) -> dict[str, int]:
    """Class counts (CLASSES order) the loader must return for the stand-in in ``root``."""
    marker = _read_marker(root)
    if marker is None:
        raise ValueError(f"{Path(root) / MARKER}: missing or not a stand-in marker")
    return {label: int(marker["expected_counts"][label]) for label in CLASSES}


def generate_all(data_root: str | Path, seed: int = 0, datasets: Iterable[str] | None = None,
                 progress: bool = False, **size: Any) -> dict[str, Path]:
    """Generate every dataset (or ``datasets``) into ``data_root/<folder>`` (folder names from
    ``datasets.yaml``); ``size`` are :func:`generate`'s size parameters. A dataset whose
    marker already records the same seed, parameters and generator version is kept as is."""
    names = list(config.DATASETS if datasets is None else datasets)
    out = {}
    for name in names:
        root = Path(data_root) / config.dataset_info(name)["folder"]
        defaults = {k: v for k, v in _signature_defaults().items() if k not in size}
        params = _params(**{**defaults, **size})
        marker = _read_marker(root)
        if (marker and marker.get("dataset") == name and marker.get("seed") == seed
                and marker.get("params") == params
                and marker.get("generator_version") == GENERATOR_VERSION):
            log.info("stand-in %s in %s is up to date", name, root)
        else:
            generate(name, root, seed=seed, progress=progress, **params)
        out[name] = root
    return out


def _signature_defaults() -> dict:
    import inspect

    sig = inspect.signature(generate)
    return {k: p.default for k, p in sig.parameters.items()
            if k not in ("name", "root", "seed", "progress")}


# ---------------------------------------------------------------------------------------------
# Figure
# ---------------------------------------------------------------------------------------------

def onset_apex_figure(source, name: str | None = None, magnify: float = 8.0, crop: bool = True):
    """Figure with one row per class: onset frame, apex frame and ``magnify`` x |apex - onset|.

    ``source`` is a table from ``datasets.load`` or a dataset folder (then ``name`` is the
    dataset key, read from the stand-in marker when omitted). The first clip of each class
    with a coded apex is shown (else its first clip, with the middle frame as apex). With
    ``crop`` the panels show the face (dlib box on the onset frame, widened by half its size
    on each side; the full frame when no face is found). The difference is of the gray frames.
    """
    import pandas as pd
    from matplotlib.figure import Figure

    from . import datasets

    if not isinstance(source, pd.DataFrame):
        marker = _read_marker(source) or {}
        key = name or marker.get("dataset")
        if key is None:
            raise ValueError(f"{source}: not a stand-in; pass the dataset name")
        source = datasets.load(key, Path(source))
    fig = Figure(figsize=(9.0, 7.5), layout="constrained")
    axes = fig.subplots(len(CLASSES), 3, squeeze=False)
    for row_axes, label in zip(axes, CLASSES):
        for ax in row_axes:
            ax.set_axis_off()
        rows = source[source["label"] == label]
        if rows.empty:
            row_axes[0].set_title(f"{label}: no clip")
            continue
        with_apex = rows[rows["apex"].notna()]
        row = (with_apex if not with_apex.empty else rows).iloc[0]
        frames = list(row["frames"])
        k = len(frames) // 2
        if pd.notna(row["apex"]) and 0 <= int(row["apex"]) - int(row["onset"]) < len(frames):
            k = int(row["apex"]) - int(row["onset"])
        onset, apex = (datasets.read_frame(frames[0]), datasets.read_frame(frames[k]))
        if crop:
            onset, apex = _face_crop(onset, apex)
        diff = np.abs(_gray(apex) - _gray(onset)) * magnify
        row_axes[0].imshow(_rgb(onset), cmap="gray")
        row_axes[0].set_title(f"{label}: onset ({row['subject']} {row['clip']})", fontsize=9)
        row_axes[1].imshow(_rgb(apex), cmap="gray")
        row_axes[1].set_title(f"apex (frame {int(row['onset']) + k})", fontsize=9)
        row_axes[2].imshow(np.clip(diff, 0, 255).astype(np.uint8), cmap="inferno", vmin=0, vmax=255)
        row_axes[2].set_title(f"|apex - onset| x {magnify:g}", fontsize=9)
    return fig


def _face_crop(*images: np.ndarray) -> tuple[np.ndarray, ...]:
    """Crop every image to the widened dlib face box of the first (unchanged if none)."""
    boxes = _dlib_models()[0](images[0], 0)
    if not boxes:
        return images
    box = boxes[0]
    h, w = images[0].shape[:2]
    mx, my = box.width() // 2, box.height() // 2
    y0, y1 = max(box.top() - my, 0), min(box.bottom() + my, h)
    x0, x1 = max(box.left() - mx, 0), min(box.right() + mx, w)
    return tuple(img[y0:y1, x0:x1] for img in images)


def _gray(img: np.ndarray) -> np.ndarray:
    g = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return g.astype(np.float32)


def _rgb(img: np.ndarray) -> np.ndarray:
    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
