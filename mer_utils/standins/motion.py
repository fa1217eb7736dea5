"""What action units do to a face: displacement fields, wrinkles and the time profile.

Every AU is a smooth displacement field, Gaussian bumps centred on landmark regions
(:func:`au_field`), and, like real skin, a FACS-like appearance change that deepens with the
expression (:func:`au_wrinkles`): horizontal forehead lines (AU1, AU2), a vertical furrow
between the brows (AU4), lines across the nasal bridge (AU9, AU10), crow's feet at the outer eye
corners (AU6), a deeper nasolabial fold (AU12). :class:`Motion` holds both for one clip's AUs on
one subject, faded to zero inside the eye and outer-lip polygons stage 1 masks. A clip's
expression follows :func:`time_profile` from onset to apex to offset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from .style import AUs

WRINKLE_GL_PER_PX = 3.0  # grey levels of wrinkle depth per px of displacement (200 px face)


@cache
def grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.flags.writeable = gy.flags.writeable = False
    return gx, gy


@cache
def grid2(h: int, w: int) -> np.ndarray:
    """The identity map (h, w, 2) of ``cv2.remap`` (x, y per pixel)."""
    g = np.dstack(grid(h, w))
    g.flags.writeable = False
    return g


def face_frame(lm: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Inter-ocular distance and the face's 'right' and 'down' unit vectors (image coords)."""
    left, right = lm[36:42].mean(0), lm[42:48].mean(0)
    iod = float(np.linalg.norm(right - left))
    ex = ((right - left) / iod).astype(np.float32)
    ey = np.array([-ex[1], ex[0]], dtype=np.float32)
    return iod, ex, ey


@dataclass(frozen=True)
class Motion:
    """What a clip's action units do to a subject's head region (ROI-sized arrays).

    ``field`` (HxWx2, px per px of peak displacement) is the sum of the AUs' displacement fields
    divided by its peak BEFORE the masks, then faded to zero inside (and 1 px around) the eye and
    outer-lip polygons: an AU that moves mostly under a mask (AU12 at the lip corners, AU5 on the
    upper lid) keeps only the small part that shows outside it. ``wrinkles`` (the frame's
    channels) is the AUs' darkening pattern, about 1 at the apex of a unit-intensity AU, scaled
    by the local brightness and faded like the field."""

    aus: AUs
    field: np.ndarray
    wrinkles: np.ndarray

    @property
    def visible(self) -> float:
        """Peak of the field outside the masks (1 = the whole peak displacement shows)."""
        return float(np.linalg.norm(self.field, axis=-1).max())


# Action units as Gaussian bumps: (centre, displacement vector, sigma), all from landmarks.
# Side 0 is the image-left half (dlib points 17-21, 36-41, 48, 31), side 1 the image-right half.
_SIDES = (
    {
        "inner": (21, 20),
        "mid": 19,
        "outer": (17, 18),
        "eye": tuple(range(36, 42)),
        "corner_eye": 36,
        "corner": 48,
        "wing": 31,
        "jaw": 3,
        "lip": 50,
    },
    {
        "inner": (22, 23),
        "mid": 24,
        "outer": (26, 25),
        "eye": tuple(range(42, 48)),
        "corner_eye": 45,
        "corner": 54,
        "wing": 35,
        "jaw": 13,
        "lip": 52,
    },
)


def _bumps(au: str, side: int, lm: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
    iod, ex, ey = face_frame(lm)
    up, down = -ey, ey
    s = _SIDES[side]
    out_ = -ex if side == 0 else ex  # outward
    in_ = -out_
    corner_out = lm[s["corner"]] - lm[102 - s["corner"]]
    corner_out = corner_out / max(float(np.linalg.norm(corner_out)), 1e-6)
    mouth = lm[48:60].mean(0)
    glabella = 0.5 * (lm[21] + lm[22])
    b: list[tuple[np.ndarray, np.ndarray, float]] = []
    if au == "1":  # inner brow raiser
        for i, w in zip(s["inner"], (1.0, 0.85)):
            b.append((lm[i] + 0.08 * iod * up, w * up, 0.22 * iod))
        b.append((lm[s["mid"]] + 0.08 * iod * up, 0.45 * up, 0.22 * iod))
        b.append((glabella + 0.45 * iod * up + 0.15 * iod * out_, 0.45 * up, 0.3 * iod))
    elif au == "2":  # outer brow raiser
        for i, w in zip(s["outer"], (1.0, 0.9)):
            b.append((lm[i] + 0.08 * iod * up, w * (up + 0.25 * out_), 0.22 * iod))
        b.append((lm[s["mid"]] + 0.08 * iod * up, 0.55 * up, 0.22 * iod))
        b.append((lm[s["outer"][1]] + 0.4 * iod * up, 0.4 * up, 0.3 * iod))
    elif au == "4":  # brow lowerer: down and together
        for i, w in zip(s["inner"], (1.0, 0.85)):
            b.append((lm[i], w * (0.8 * down + 0.6 * in_), 0.22 * iod))
        b.append((lm[s["mid"]], 0.6 * down, 0.22 * iod))
        b.append((lm[s["outer"][1]], 0.35 * down, 0.22 * iod))
        b.append((glabella + 0.1 * iod * out_ + 0.05 * iod * down, 0.5 * in_, 0.12 * iod))
    elif au == "9":  # nose wrinkler
        b.append((lm[s["wing"]] + 0.05 * iod * up, 0.9 * up, 0.16 * iod))
        b.append((lm[28] + 0.22 * iod * out_, 0.6 * (up + in_), 0.14 * iod))
        b.append((lm[s["inner"][0]], 0.35 * down, 0.2 * iod))
    elif au == "10":  # upper lip raiser: skin between nose and upper lip up
        b.append((0.5 * lm[33] + 0.5 * lm[s["lip"]] + 0.12 * iod * out_, 0.8 * up, 0.13 * iod))
        b.append((lm[s["wing"]] + 0.1 * iod * out_ + 0.08 * iod * down, 0.4 * up, 0.15 * iod))
    elif au == "6":  # cheek raiser
        cheek = 0.45 * lm[list(s["eye"])].mean(0) + 0.25 * lm[s["corner"]] + 0.30 * lm[s["jaw"]]
        b.append((cheek + 0.1 * iod * down, up, 0.3 * iod))
        b.append((lm[s["corner_eye"]] + 0.2 * iod * out_, 0.3 * up + 0.4 * in_, 0.12 * iod))
    elif au == "5":  # upper lid raiser: the lid (under the eye mask) and a little skin above it
        lid = 0.5 * (lm[s["eye"][1]] + lm[s["eye"][2]])
        b.append((lid, up, 0.09 * iod))
    elif au == "7":  # lid tightener: the lower lid up and in (mostly under the eye mask)
        lid = 0.5 * (lm[s["eye"][4]] + lm[s["eye"][5]])
        b.append((lid, up + 0.3 * in_, 0.1 * iod))
        b.append((lm[s["corner_eye"]] + 0.05 * iod * out_, 0.3 * in_, 0.08 * iod))
    # Mouth AUs: the movement is centred on the lips, under the outer-lip mask; only its edge
    # (skin around the corners, the chin, the nasolabial fold) shows.
    elif au == "12":  # lip corner puller
        corner = 0.78 * lm[s["corner"]] + 0.22 * mouth
        b.append((corner, 0.8 * corner_out + 0.6 * up, 0.12 * iod))
        fold = 0.5 * (lm[s["wing"]] + lm[s["corner"]]) + 0.12 * iod * corner_out
        b.append((fold, 0.12 * corner_out + 0.2 * up, 0.15 * iod))
    elif au == "14":  # dimpler: the lip corner tightened inward
        corner = 0.8 * lm[s["corner"]] + 0.2 * mouth
        b.append((corner, -0.9 * corner_out, 0.11 * iod))
    elif au == "15":  # lip corner depressor
        corner = 0.8 * lm[s["corner"]] + 0.2 * mouth
        b.append((corner, 0.9 * down + 0.2 * corner_out, 0.12 * iod))
    elif au == "17":  # chin raiser: the lower lip and the chin boss pushed up
        lower = 0.5 * (lm[57] + lm[58 if side == 0 else 56])
        b.append((lower, up, 0.13 * iod))
        b.append(
            (
                0.4 * lm[57] + 0.6 * lm[8] + (-0.12 if side == 0 else 0.12) * iod * ex,
                0.2 * up,
                0.18 * iod,
            )
        )
    elif au == "25":  # lips part: the lower lip down (all under the mask)
        b.append(
            (0.5 * (lm[57] + lm[66]) + (-0.1 if side == 0 else 0.1) * iod * ex, down, 0.1 * iod)
        )
    elif au == "26":  # jaw drop: the lower lip and the chin move down
        b.append(
            (0.5 * (lm[57] + lm[66]) + (-0.12 if side == 0 else 0.12) * iod * ex, down, 0.14 * iod)
        )
        chin = 0.5 * (lm[57] + lm[8]) + (0.15 if side else -0.15) * iod * ex
        b.append((chin, 0.25 * down, 0.25 * iod))
    else:
        raise ValueError(f"no field for action unit {au!r}")
    return b


def au_field(
    aus: dict[str, tuple[float, float]],
    lm: np.ndarray,
    shape: tuple[int, int],
    bend: dict[str, tuple[float, float]] | None = None,
) -> np.ndarray:
    """Sum of the action units' Gaussian bumps (each side weighted), in px (not normalised).
    ``bend`` gives per AU the subject's own turn of its movement (degrees, mirror-symmetric:
    positive turns an upward movement outward on both sides) and spread (a factor on the
    bumps' sizes)."""
    field = np.zeros((*shape, 2), np.float32)
    for au, weights in aus.items():
        degrees, spread = (bend or {}).get(au, (0.0, 1.0))
        for side, w in enumerate(weights):
            a = math.radians(degrees) * (-1.0 if side == 0 else 1.0)  # image x: side 0 is left
            rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], np.float32)
            for centre, vec, sigma in _bumps(au, side, lm):
                vec = rot @ np.asarray(vec, np.float32)
                _add_gaussian(field, centre, sigma * spread, w * vec)
    return field


def _window(shape: tuple[int, int], centre: np.ndarray, radius: float):
    h, w = shape
    x0, x1 = max(0, int(centre[0] - radius)), min(w, int(centre[0] + radius) + 2)
    y0, y1 = max(0, int(centre[1] - radius)), min(h, int(centre[1] + radius) + 2)
    if x0 >= x1 or y0 >= y1:
        return None
    gx, gy = grid(h, w)
    return (slice(y0, y1), slice(x0, x1)), gx[y0:y1, x0:x1], gy[y0:y1, x0:x1]


def _add_gaussian(out: np.ndarray, centre, sigma: float, value) -> None:
    win = _window(out.shape[:2], centre, 3.5 * sigma)
    if win is None:
        return
    sl, gx, gy = win
    g = np.exp(-((gx - centre[0]) ** 2 + (gy - centre[1]) ** 2) / (2 * sigma**2))
    out[sl] += g[..., None] * value if out.ndim == 3 else g * value


def au_wrinkles(
    aus: dict[str, tuple[float, float]], lm: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """Darkening pattern (positive = darker) of the action units' skin folds."""
    iod, ex, ey = face_frame(lm)
    out = np.zeros(shape, np.float32)
    glabella = 0.5 * (lm[21] + lm[22])
    brows = lm[17:27].mean(0)

    def lines(centre, half_u, half_v, period, w, curve=0.0, vertical=False):
        """Parallel thin lines (across ey, or across ex if vertical) in a Gaussian envelope."""
        win = _window(shape, centre, 3.0 * max(half_u, half_v))
        if win is None:
            return
        sl, gx, gy = win
        u = (gx - centre[0]) * ex[0] + (gy - centre[1]) * ex[1]
        v = (gx - centre[0]) * ey[0] + (gy - centre[1]) * ey[1]
        v = v + curve * u * u / iod
        across = u if vertical else v
        pattern = np.maximum(np.cos(2 * np.pi * across / period), 0) ** 6
        env = np.exp(-0.5 * ((u / half_u) ** 2 + (v / half_v) ** 2))
        out[sl] += w * pattern * env

    def fold(a, b, width, w):
        """A dark line along the segment a-b."""
        win = _window(shape, 0.5 * (a + b), 0.5 * float(np.linalg.norm(b - a)) + 3 * width)
        if win is None:
            return
        sl, gx, gy = win
        ab = b - a
        t = np.clip(((gx - a[0]) * ab[0] + (gy - a[1]) * ab[1]) / float(ab @ ab), 0, 1)
        d2 = (gx - a[0] - t * ab[0]) ** 2 + (gy - a[1] - t * ab[1]) ** 2
        out[sl] += w * np.exp(-d2 / (2 * width**2)) * np.sqrt(np.abs(np.sin(np.pi * t)))

    for au, (w0, w1) in aus.items():
        for side, w in enumerate((w0, w1)):
            s = _SIDES[side]
            out_ = -ex if side == 0 else ex
            if au == "1":
                lines(
                    brows - 0.42 * iod * ey + 0.15 * iod * out_,
                    0.3 * iod,
                    0.2 * iod,
                    0.13 * iod,
                    w,
                    curve=0.3,
                )
            elif au == "2":
                lines(
                    lm[s["outer"][1]] - 0.38 * iod * ey,
                    0.25 * iod,
                    0.18 * iod,
                    0.13 * iod,
                    w,
                    curve=0.3,
                )
            elif au == "4":
                a = glabella + 0.07 * iod * out_ - 0.12 * iod * ey
                fold(a, a + 0.3 * iod * ey, 0.025 * iod, 1.2 * w)
            elif au in ("9", "10"):
                lines(
                    lm[28] + 0.1 * iod * out_,
                    0.12 * iod,
                    0.1 * iod,
                    0.07 * iod,
                    w if au == "9" else 0.5 * w,
                )
            elif au == "6":
                c = lm[s["corner_eye"]] + 0.18 * iod * out_
                lines(c, 0.08 * iod, 0.12 * iod, 0.06 * iod, w, vertical=True)
            elif au == "7":  # a fine line under the lower lid
                lid = 0.5 * (lm[s["eye"][4]] + lm[s["eye"][5]])
                lines(lid + 0.14 * iod * ey, 0.14 * iod, 0.04 * iod, 0.06 * iod, 0.6 * w)
            elif au in ("12", "14", "15"):
                corner_out = lm[s["corner"]] - lm[102 - s["corner"]]
                corner_out = corner_out / max(float(np.linalg.norm(corner_out)), 1e-6)
                c = lm[s["corner"]]
                if au == "12":  # a deeper nasolabial fold
                    a = lm[s["wing"]] + 0.12 * iod * out_ - 0.03 * iod * ey
                    fold(a, c + 0.2 * iod * corner_out + 0.12 * iod * ey, 0.035 * iod, 0.7 * w)
                elif au == "14":  # the dimple beside the corner
                    d = c + 0.12 * iod * corner_out
                    fold(d - 0.07 * iod * ey, d + 0.07 * iod * ey, 0.03 * iod, 0.8 * w)
                else:  # a short fold down from the corner
                    a = c + 0.08 * iod * corner_out + 0.05 * iod * ey
                    fold(a, a + 0.25 * iod * ey + 0.05 * iod * corner_out, 0.03 * iod, 0.7 * w)
            elif au == "17":  # the chin boss wrinkles
                chin = 0.4 * lm[57] + 0.6 * lm[8] + 0.1 * iod * out_
                lines(chin, 0.1 * iod, 0.08 * iod, 0.05 * iod, 0.6 * w, vertical=True)
    return out


def time_profile(n: int, apex: int, shape: float = 1.0) -> np.ndarray:
    """Onset -> apex -> offset profile: a raised cosine (to the power ``shape``), 0 at both
    ends and 1 at the apex."""
    t = np.arange(n, dtype=np.float64)
    rise = 0.5 - 0.5 * np.cos(np.pi * t / max(apex, 1))
    fall = 0.5 + 0.5 * np.cos(np.pi * (t - apex) / max(n - 1 - apex, 1))
    return np.clip(np.where(t <= apex, rise, fall), 0, 1) ** shape
