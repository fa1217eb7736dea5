"""Nuisances: what moves or changes in a clip besides the expression.

A slow head drift (a smooth path of up to 1 px at 200 px over a clip; the background stays
still), blinks (15 % of clips, 0.10-0.16 s, inside the eye polygons only, so stage 1's masks
hide them), a per-frame illumination flicker (global gain, sd 1 %), a per-clip exposure change
(gain +-4 %, offset +-3 grey levels) and sensor noise (Gaussian, sd 2 grey levels, cropped from
a bank of noise frames per subject). :func:`clip_extras` draws a clip's blink and drift with its
plan; the renderer (:mod:`.render`) draws the rest, clip by clip and frame by frame.
"""

from __future__ import annotations

import math

import numpy as np

_NOISE_SD = 2.0  # sensor noise, grey levels
_FLICKER_SD = 0.01  # per-frame global gain
_CLIP_GAIN, _CLIP_OFFSET = 0.04, 3.0  # per-clip exposure change (+-)
DRIFT_MAX = 1.0  # px at 200 px, end of clip
_DRIFT_SD = 0.4  # px at 200 px, per axis (then capped at DRIFT_MAX)
_BLINK_P, _BLINK_S = 0.15, (0.10, 0.16)  # probability per clip, duration in seconds


def clip_extras(rng: np.random.Generator, n: int, fps: float) -> dict:
    """A clip's blink (first frame, frames; or None) and head drift (end point dx, dy in px at
    200 px, and the bend of its path), as :class:`~.subjects.ClipPlan` fields."""
    blink = None
    if rng.random() < _BLINK_P:
        d = int(np.clip(round(fps * rng.uniform(*_BLINK_S)), 2, n))
        blink = (int(rng.integers(0, n - d + 1)), d)
    dx, dy = rng.normal(0, _DRIFT_SD, 2)
    norm = math.hypot(dx, dy)
    if norm > DRIFT_MAX:
        dx, dy = dx * DRIFT_MAX / norm, dy * DRIFT_MAX / norm
    # One draw that is not used: an in-plane head turn of sd 0 once took it; it stays so that
    # the same seed draws the same bends, and everything after them, as before.
    rng.standard_normal()
    return {"blink": blink, "drift": (float(dx), float(dy), float(rng.uniform(-0.3, 0.3)))}


def exposure(rng: np.random.Generator) -> tuple[float, float]:
    """A clip's (or a CAS(ME)^2 long video's) exposure: (gain, offset in grey levels)."""
    return (
        1 + rng.uniform(-_CLIP_GAIN, _CLIP_GAIN),
        rng.uniform(-_CLIP_OFFSET, _CLIP_OFFSET),
    )


def flicker(rng: np.random.Generator) -> float:
    """One frame's illumination flicker: a factor on the exposure gain."""
    return 1 + _FLICKER_SD * float(np.clip(rng.standard_normal(), -2.5, 2.5))


def blink_closure(rng: np.random.Generator, n: int, blink: tuple[int, int] | None) -> np.ndarray:
    """Eye closure (0-1) per frame of a clip of ``n`` frames: a half sine over the blink."""
    closure = np.zeros(n)
    if blink is not None:
        b0, d = blink
        closure[b0 : b0 + d] = rng.uniform(0.6, 1.0) * np.sin(np.pi * (np.arange(d) + 0.5) / d)
    return closure


def drift_path(
    start: tuple[float, float], drift: tuple[float, float, float], n: int, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """The head's position (x, y px) in each of ``n`` frames: from ``start`` to ``start`` + the
    planned drift (scaled to the face, ``scale`` = face / 200 px), along a slightly bent path."""
    dx, dy, bend = (v * scale for v in drift)
    t = np.linspace(0.0, 1.0, n)
    arc = np.sin(np.pi * t)
    path_x = start[0] + dx * t - bend * dy / max(math.hypot(dx, dy), 1e-6) * arc * 0.3 * scale
    path_y = start[1] + dy * t + bend * dx / max(math.hypot(dx, dy), 1e-6) * arc * 0.3 * scale
    return path_x, path_y


class NoiseBank:
    """Sensor noise: a few frames of Gaussian noise (a little larger than the frame), drawn
    once per subject; each frame's noise is a random crop of a random one."""

    _BANK, _PAD = 6, 16

    def __init__(self, rng: np.random.Generator, frame_shape: tuple[int, ...]):
        h, w = frame_shape[:2]
        shape = (self._BANK, h + self._PAD, w + self._PAD, *frame_shape[2:])
        self.bank = rng.standard_normal(shape, dtype=np.float32) * _NOISE_SD
        self.size = (h, w)

    def frame(self, rng: np.random.Generator) -> np.ndarray:
        """Sensor noise for one frame."""
        h, w = self.size
        b = int(rng.integers(self._BANK))
        y, x = (int(v) for v in rng.integers(0, self._PAD + 1, 2))
        return self.bank[b, y : y + h, x : x + w]
