"""Pseudo-subjects: a face placed, reshaped and lit, found by dlib, with its masks and fields.

Every subject is made from ``skimage.data.astronaut()`` (the one real face photo a required
package ships): placed with its own scale, in-plane rotation, mirroring and position
(:class:`Look`), given its own face geometry by a smooth landmark-anchored warp and its own
appearance (gamma, skin tone, a lighting gradient, a skin texture). dlib's detector and 68-point
predictor, the same models stage 1 uses, find the face on the neutral frame; the landmarks give
the eye and outer-lip masks stage 1 draws, the head region where anything moves, and the fields
of head drift and blinks. :meth:`Subject.motion` asks :mod:`.motion` for the displacement field
and wrinkles of any action units; :meth:`Subject.render_roi` applies them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Sequence

import cv2
import numpy as np

from .. import faces
from . import seeds
from .motion import Motion, au_field, au_wrinkles, face_frame, grid, grid2
from .style import AUs, Style, parse_aus

if TYPE_CHECKING:
    from .subjects import ClipPlan, SubjectPlan

log = logging.getLogger("mer_utils.standins")

REFERENCE_FACE_PX = 200.0
"""``amplitude`` is the peak displacement in px on a face whose dlib box is this tall."""


_FACE_FRACTION = 0.42  # dlib box height / frame height (x the subject's scale)


@dataclass(frozen=True)
class Look:
    """Placement, geometry and appearance of one pseudo-subject (all drawn from the seed).

    Geometry values are moves in units of the inter-ocular distance (iod)."""

    scale: float  # face size relative to _FACE_FRACTION x frame height (dlib box)
    rotation: float  # degrees, in-plane
    mirror: bool
    shift: tuple[float, float]  # face-centre offset, fraction of (W, H)
    face_width: float  # cheeks and jaw outward (+) / inward (-), per side
    jaw_width: float  # lower jaw only
    chin: float  # chin down (+) / up (-)
    eye_distance: float  # eyes and brows outward, per side
    brow_height: float  # brows up (+) / down (-)
    nose_length: float  # nose tip and wings down (+) / up (-)
    mouth_width: float  # mouth corners outward, per side
    gamma: float
    tone: tuple[float, float, float]  # B, G, R gains
    light_strength: float  # gain change from frame centre to edge
    light_angle: float  # radians
    texture_sd: float  # grey levels
    texture_sigma: float  # px, relative to a 200 px face
    wrinkle: float  # how visibly the skin wrinkles (x WRINKLE_GL_PER_PX)


def draw_look(rng: np.random.Generator) -> Look:
    g = lambda a: float(rng.uniform(-a, a))  # noqa: E731
    return Look(
        scale=float(rng.uniform(0.92, 1.12)),
        rotation=g(6.0),
        mirror=bool(rng.random() < 0.5),
        shift=(g(0.06), g(0.04)),
        face_width=g(0.07),
        jaw_width=g(0.08),
        chin=g(0.08),
        eye_distance=g(0.05),
        brow_height=g(0.08),
        nose_length=g(0.07),
        mouth_width=g(0.06),
        gamma=float(rng.uniform(0.75, 1.35)),
        tone=tuple(float(v) for v in rng.uniform(0.8, 1.1) * rng.uniform(0.9, 1.1, 3)),
        light_strength=float(rng.uniform(0.12, 0.35)),
        light_angle=float(rng.uniform(0, 2 * math.pi)),
        texture_sd=float(rng.uniform(2.0, 6.0)),
        texture_sigma=float(rng.uniform(1.0, 2.5)),
        wrinkle=float(rng.uniform(0.6, 1.4)),
    )


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


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def _detect(img: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """68 dlib landmarks (x, y) and box (left, top, right, bottom) of the single face, or None."""
    detector, predictor = _dlib_models()
    boxes = detector(img, 0)
    if len(boxes) != 1:
        return None
    b = boxes[0]
    shape = predictor(img, b)
    lm = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
    return lm, (b.left(), b.top(), b.right() + 1, b.bottom() + 1)


def _place(look: Look, size: tuple[int, int]) -> np.ndarray:
    """The astronaut's face scaled, rotated, mirrored and moved into a frame of ``size``."""
    h, w = size
    src, (cx, cy), box = _astronaut()
    if look.mirror:
        src = src[:, ::-1]
        cx = src.shape[1] - 1 - cx
    k = look.scale * _FACE_FRACTION * h / box
    m = cv2.getRotationMatrix2D((cx, cy), look.rotation, k)
    m[:, 2] += (w / 2 + look.shift[0] * w - cx, 0.48 * h + look.shift[1] * h - cy)
    return cv2.warpAffine(
        np.ascontiguousarray(src), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )


def _landmark_moves(lm: np.ndarray, look: Look) -> np.ndarray:
    """Target moves (68 x 2 px) of the landmarks for the look's face geometry."""
    iod, ex, ey = face_frame(lm)
    centre = lm[27:36].mean(0)
    u = (lm - centre) @ ex / iod  # horizontal position in iod, + = image right
    side = np.sign(np.where(np.abs(u) < 0.05, 0, u))[:, None]
    moves = np.zeros_like(lm)
    jaw = np.arange(0, 17)
    moves[jaw] += look.face_width * iod * u[jaw, None] / 2 * ex
    lower = np.arange(4, 13)
    moves[lower] += look.jaw_width * iod * u[lower, None] / 2 * ex
    for i, w in ((6, 0.3), (7, 0.7), (8, 1.0), (9, 0.7), (10, 0.3)):
        moves[i] += look.chin * iod * w * ey
    eyes_brows = np.r_[17:27, 36:48]
    moves[eyes_brows] += look.eye_distance * iod * side[eyes_brows] * ex
    moves[17:27] -= look.brow_height * iod * ey
    for i, w in ((30, 0.6), (31, 1.0), (32, 1.0), (33, 1.0), (34, 1.0), (35, 1.0)):
        moves[i] += look.nose_length * iod * w * ey
    for i, w in (
        (48, 1.0),
        (54, 1.0),
        (49, 0.5),
        (53, 0.5),
        (59, 0.5),
        (55, 0.5),
        (60, 0.8),
        (64, 0.8),
    ):
        moves[i] += look.mouth_width * iod * w * side[i] * ex
    return moves


def _geometry_map(
    lm: np.ndarray, look: Look, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Backward maps (map_x, map_y) of the smooth warp that moves the landmarks by
    :func:`_landmark_moves`: a Gaussian radial-basis interpolation of the moves, with still
    anchor points on a ring around the face (computed on a coarse grid, then upsampled)."""
    h, w = size
    iod, _, _ = face_frame(lm)
    centre = lm.mean(0)
    angles = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    ring = centre + 2.3 * iod * np.c_[np.cos(angles), 1.2 * np.sin(angles)]
    points = np.vstack([lm, ring]).astype(np.float64)
    moves = np.vstack([_landmark_moves(lm, look), np.zeros_like(ring)]).astype(np.float64)
    sigma = 0.55 * iod
    d2 = ((points[:, None] - points[None]) ** 2).sum(-1)
    weights = np.linalg.solve(np.exp(-d2 / (2 * sigma**2)) + 1e-3 * np.eye(len(points)), moves)
    step = 4
    cy, cx = np.mgrid[0 : h + step : step, 0 : w + step : step].astype(np.float64)
    coarse = np.zeros((*cy.shape, 2))
    for p, wt in zip(points, weights):
        coarse += np.exp(-((cx - p[0]) ** 2 + (cy - p[1]) ** 2) / (2 * sigma**2))[..., None] * wt
    disp = cv2.resize(
        coarse.astype(np.float32),
        (cx.shape[1] * step, cx.shape[0] * step),
        interpolation=cv2.INTER_LINEAR,
    )[:h, :w]
    gx, gy = grid(h, w)
    return gx - disp[..., 0], gy - disp[..., 1]


@dataclass
class Subject:
    """One rendered pseudo-subject: its neutral frame and everything its clips move.

    ``base`` is the lit neutral frame (float32, HxWx3 BGR or HxW gray); ``roi`` = (y0, y1, x0,
    x1) the head region where anything moves; ``landmarks`` the 68 dlib points (x, y) and
    ``box`` the dlib box of the neutral face, ``face_px`` its height; ``mask`` the filled eye
    and outer-lip polygons (HxW bool); ``weight`` (ROI-sized) 0 inside (and 1 px around) the
    masks rising smoothly to 1 outside; ``lum`` the ROI's brightness relative to its median
    (wrinkles darken bright skin more); ``head`` the maps of a 1 px head drift in x and in y
    (ROI-sized HxWx2: 1 px on the head, 0 at the ROI border) and ``blink`` the eye-closing field
    (inside the eye polygons). :meth:`motion` gives the field and wrinkles of any action units.
    """

    plan: SubjectPlan
    base: np.ndarray
    roi: tuple[int, int, int, int]
    landmarks: np.ndarray
    box: tuple[int, int, int, int]
    mask: np.ndarray
    weight: np.ndarray
    lum: np.ndarray
    head: tuple[np.ndarray, np.ndarray]
    blink: np.ndarray

    @property
    def face_px(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def look(self) -> Look:
        return self.plan.look

    @property
    def style(self) -> Style:
        return self.plan.style

    @property
    def local_landmarks(self) -> np.ndarray:
        """The landmarks in ROI coordinates."""
        return self.landmarks - np.array([self.roi[2], self.roi[0]], np.float32)

    def motion(self, aus: AUs | str) -> Motion:
        """The :class:`Motion` of action units ``aus`` (a code such as ``'6+12'``: both sides,
        weight 1)."""
        if isinstance(aus, str):
            aus = parse_aus(aus)
        y0, y1, x0, x1 = self.roi
        shape = (y1 - y0, x1 - x0)
        local = self.local_landmarks
        weights = {au: (a, b) for au, a, b in aus}
        raw = au_field(weights, local, shape, self.style.bend)
        peak = float(np.linalg.norm(raw, axis=-1).max())
        field = (raw * (self.weight[..., None] / max(peak, 1e-6))).astype(np.float32)
        strongest = max((max(a, b) for _, a, b in aus), default=1.0)
        wr = au_wrinkles(weights, local, shape) * (self.weight * self.lum / max(strongest, 1e-6))
        if self.base.ndim == 3:
            wr = np.repeat(wr[..., None], 3, -1)
        return Motion(tuple(aus), field, np.ascontiguousarray(wr, dtype=np.float32))

    def render_roi(
        self,
        motion: Motion | None = None,
        disp: float = 0.0,
        wrinkle: float = 0.0,
        drift: tuple[float, float] = (0.0, 0.0),
        blink: float = 0.0,
    ) -> np.ndarray:
        """The head region with ``disp`` px of ``motion``'s field (peak), ``wrinkle`` grey
        levels of its wrinkles, head drift (dx, dy) px and eye closure ``blink`` (0-1)."""
        y0, y1, x0, x1 = self.roi
        src = self.base[y0:y1, x0:x1]
        if motion is not None and wrinkle:
            src = cv2.scaleAdd(motion.wrinkles, -float(wrinkle), src)
        m = grid2(y1 - y0, x1 - x0)
        moved = False
        if motion is not None and disp:
            m, moved = cv2.scaleAdd(motion.field, -float(disp), m), True
        if drift[0] or drift[1]:
            m = cv2.scaleAdd(self.head[0], -float(drift[0]), m)
            m, moved = cv2.scaleAdd(self.head[1], -float(drift[1]), m), True
        if blink:
            m, moved = cv2.scaleAdd(self.blink, -float(blink), m), True
        if not moved:
            return np.array(src, dtype=np.float32)
        return cv2.remap(src, m, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    def render(
        self,
        motion: Motion | None = None,
        disp: float = 0.0,
        wrinkle: float = 0.0,
        drift: tuple[float, float] = (0.0, 0.0),
        blink: float = 0.0,
    ) -> np.ndarray:
        """The whole frame (float32, no noise, no clipping); see :meth:`render_roi`."""
        out = self.base.copy()
        y0, y1, x0, x1 = self.roi
        out[y0:y1, x0:x1] = self.render_roi(motion, disp, wrinkle, drift, blink)
        return out

    def peak_px(self, amplitude: float, clip: ClipPlan) -> float:
        """Peak displacement (px) of ``clip`` in this subject's frames (before the masks)."""
        return amplitude * self.face_px / REFERENCE_FACE_PX * clip.factor


def make_subject(
    plan_: SubjectPlan, frame_size: Sequence[int], gray: bool = False, seed: int = 0
) -> Subject:
    """Render pseudo-subject ``plan_`` at ``frame_size`` (H, W): place the astronaut, warp its
    geometry, tone, texture and light it, find it with dlib, build its fields and wrinkles.

    If dlib does not find exactly one face, the look's rotation and geometry are halved and
    the subject is tried again (at most 4 times)."""
    size = (int(frame_size[0]), int(frame_size[1]))
    look = plan_.look
    for attempt in range(5):
        found = _neutral(plan_, look, size, gray, seed)
        if found is not None:
            break
        log.debug("subject %s of %s: no face at attempt %d", plan_.id, plan_.dataset, attempt)
        look = replace(
            look,
            rotation=look.rotation / 2,
            **{
                k: getattr(look, k) / 2
                for k in (
                    "face_width",
                    "jaw_width",
                    "chin",
                    "eye_distance",
                    "brow_height",
                    "nose_length",
                    "mouth_width",
                )
            },
        )
    else:
        raise RuntimeError(f"no detectable face for subject {plan_.id} of {plan_.dataset}")
    base, lm, box = found
    return _build_subject(replace(plan_, look=look), base, lm, box)


def _neutral(
    plan_: SubjectPlan, look: Look, size: tuple[int, int], gray: bool, seed: int
) -> tuple[np.ndarray, np.ndarray, tuple] | None:
    h, w = size
    placed = _place(look, size)
    first = _detect(_to_uint8(placed))
    if first is None:
        return None
    mx, my = _geometry_map(first[0], look, size)
    img = cv2.remap(placed, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    img = 255.0 * np.power(np.clip(img, 0, 255) / 255.0, look.gamma, dtype=np.float32)
    img *= np.asarray(look.tone, dtype=np.float32)
    face = first[1][3] - first[1][1]
    rng = seeds.rng(seed, plan_.dataset, 4, plan_.index)
    texture = rng.standard_normal((h, w), dtype=np.float32)
    texture = cv2.GaussianBlur(
        texture, (0, 0), max(0.6, look.texture_sigma * face / REFERENCE_FACE_PX)
    )
    texture *= look.texture_sd / max(float(texture.std()), 1e-6)
    img += texture[..., None]
    if gray:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    gx, gy = grid(h, w)
    proj = (gx - w / 2) * math.cos(look.light_angle) + (gy - h / 2) * math.sin(look.light_angle)
    gain = 1.0 + look.light_strength * proj / (0.5 * math.hypot(w, h))
    img = (img * (gain if gray else gain[..., None])).astype(np.float32)
    found = _detect(_to_uint8(img))
    if found is None:
        return None
    return img, *found


def _mask(lm: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Filled convex hulls of the eye and outer-lip landmarks, as stage 1 draws them."""
    mask = np.zeros(size, np.uint8)
    hulls = faces.mask_polygons(np.rint(lm).astype(np.int32))
    cv2.fillPoly(mask, hulls, 1, lineType=cv2.LINE_8)
    return mask.astype(bool)


def _roi(box: tuple[int, int, int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    bw, bh = right - left, bottom - top
    return (
        max(0, int(top - 0.75 * bh)),
        min(size[0], int(bottom + 0.45 * bh) + 1),
        max(0, int(left - 0.55 * bw)),
        min(size[1], int(right + 0.55 * bw) + 1),
    )


def _build_subject(plan_: SubjectPlan, base: np.ndarray, lm: np.ndarray, box: tuple) -> Subject:
    size = base.shape[:2]
    roi = _roi(box, size)
    y0, y1, x0, x1 = roi
    mask = _mask(lm, size)
    local = lm - np.array([x0, y0], np.float32)
    rmask = mask[y0:y1, x0:x1]
    weight = _outside_weight(rmask, local)
    shape = (y1 - y0, x1 - x0)
    lit = base[y0:y1, x0:x1]
    lum = ((lit if lit.ndim == 2 else lit.mean(-1)) / max(float(np.median(lit)), 1.0)).astype(
        np.float32
    )
    bw, bh = box[2] - box[0], box[3] - box[1]
    gx, gy = grid(*shape)
    cx, cy = (box[0] + box[2]) / 2 - x0, (box[1] + box[3]) / 2 - 0.15 * bh - y0
    r = np.sqrt(((gx - cx) / bw) ** 2 + ((gy - cy) / bh) ** 2)
    t = np.clip((1.0 - r) / 0.25, 0, 1)
    head_weight = (t * t * (3 - 2 * t)).astype(np.float32)
    zero = np.zeros_like(head_weight)
    head = (np.dstack([head_weight, zero]), np.dstack([zero, head_weight]))  # x and y drift maps
    return Subject(
        plan_,
        base,
        roi,
        lm,
        tuple(int(v) for v in box),
        mask,
        weight,
        lum,
        head,
        _blink_field(rmask, local, shape),
    )


def _outside_weight(mask: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """0 inside (and 1 px around) the masked polygons, rising smoothly to 1 outside."""
    iod, _, _ = face_frame(lm)
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8))
    dist = cv2.distanceTransform((1 - grown).astype(np.uint8), cv2.DIST_L2, 5)
    t = np.clip(dist / (0.12 * iod), 0, 1)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def _blink_field(mask: np.ndarray, lm: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Eye-closing field: inside each eye polygon, content is drawn from the lids (up above the
    eye's centre line, down below it) by up to the distance to the polygon edge."""
    _, _, ey = face_frame(lm)
    gx, gy = grid(*shape)
    out = np.zeros((*shape, 2), np.float32)
    for group in (faces.EYE_RIGHT, faces.EYE_LEFT):
        eye = np.zeros(shape, np.uint8)
        cv2.fillPoly(eye, [cv2.convexHull(np.rint(lm[list(group)]).astype(np.int32))], 1)
        dist = cv2.distanceTransform(eye, cv2.DIST_L2, 3)
        c = lm[list(group)].mean(0)
        above = ((gx - c[0]) * ey[0] + (gy - c[1]) * ey[1]) < 0
        sign = np.where(above, 1.0, -1.0).astype(np.float32)
        out += (dist * sign)[..., None] * ey
    return out
