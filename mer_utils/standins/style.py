"""How a pseudo-subject expresses: action units (AUs) per class and each subject's own style.

Every class is a *set* of FACS-like AU combinations, each with the share of people whose style
draws it (:data:`AU_SETS`, after the action-unit columns of CASME II and SAMM). A subject
prefers one or two combinations per class (:func:`draw_style`), has its own intensity,
direction and spread of every AU, a left/right bias, a gain, a timing and perhaps a habit that
carries no class. What a combination does to the face is :mod:`.motion`'s; which combination a
clip shows is decided with the plan (:mod:`.subjects`). :func:`au_code` writes the Action Units
cell of the annotation files, :func:`objective_class` the Objective Classes cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..config import CLASSES

AUs = tuple[tuple[str, float, float], ...]
"""Action units of a clip: (AU, weight on side 0, weight on side 1); side 0 = image left."""


def au_key(au: str) -> int:
    return int(au)


def au_code(aus: AUs) -> str:
    """FACS-style code of action units, e.g. ``'1+2'``, ``'4+R14'`` (R/L: mostly one side;
    side 0, the image left, is the subject's right on an unmirrored face)."""
    parts = []
    for au, a, b in sorted(aus, key=lambda t: au_key(t[0])):
        side = "" if min(a, b) >= 0.5 * max(a, b) else ("R" if a > b else "L")
        parts.append(f"{side}{au}")
    return "+".join(parts)


def parse_aus(code: str) -> AUs:
    """Action units of a plain code (``'6+12'``: both sides, weight 1)."""
    return tuple((au, 1.0, 1.0) for au in code.split("+"))


# Action units (AUs). Every class is a set of AU combinations, with the share of people whose
# style draws each (FACS-coded datasets: CASME II and SAMM action-unit columns). They overlap:
# AU1 is in sadness-like negatives (1+4) and in surprise, AU6 (cheek raise) and AU7 (lid
# tightener) both lift the skin under the eye, and the mouth AUs of negative (14, 15, 17) and
# positive (12) move mostly under the outer-lip mask.
AU_SETS: dict[str, dict[str, float]] = {
    "surprise": {"1+2": 0.40, "1": 0.12, "2": 0.16, "1+2+5": 0.16, "1+2+26": 0.08, "5+26": 0.08},
    "negative": {
        "4": 0.14,
        "4+7": 0.10,
        "9": 0.06,
        "4+9": 0.08,
        "10": 0.06,
        "9+10": 0.04,
        "1+4": 0.07,
        "1+4+15": 0.05,
        "14": 0.10,
        "15": 0.07,
        "17": 0.08,
        "14+17": 0.08,
        "15+17": 0.07,
    },
    "positive": {"12": 0.45, "6+12": 0.33, "6": 0.12, "12+25": 0.10},
}
MOUTH_AUS = frozenset({"12", "14", "15", "17", "25", "26"})  # mostly under the outer-lip mask
EYE_AUS = frozenset({"5", "7"})  # mostly under the eye masks
_TWO_STYLES_P = 0.4  # share of subjects with two preferred combinations per class (else one)
_FIRST_STYLE_P = 0.65  # with two: share of the class's clips showing the first
_OFF_STYLE_P = 0.1  # share of clips showing another combination of the class's set
_ONE_SIDED_P = 0.2  # subjects whose lip-corner AUs (12, 14) act on one side (at a quarter)
_AU_INTENSITY = (0.5, 1.0)  # a subject's own intensity of each AU within a combination
_CLIP_AU_JITTER = (0.7, 1.3)  # per clip, per AU
_HABITS = {"14": 1.0, "17": 1.0, "7": 1.0, "12": 0.6, "4": 0.5, "1+2": 0.3}
_HABIT_P = 0.4  # subjects with a habitual movement (a tic: frown, brow raise, lip press...)
_HABIT_STRENGTH = (0.4, 0.8)  # its intensity relative to the subject's own AU intensity
AU_TURN_SD = 15.0  # degrees: a subject's own direction of each AU's movement (capped at 2 sd)
_AU_SPREAD = 1.25  # a subject's own spread of each AU's movement: x 1/1.25 .. 1.25
_GAIN_SIGMA = 0.3


@dataclass(frozen=True)
class Style:
    """How one pseudo-subject expresses: per class its one or two preferred AU combinations
    (with the share of the class's clips showing each), its own intensity of every AU within a
    combination, its left/right weights (side 0 = image left), the sides of its lip-corner AUs,
    its gain, its onset->apex share and its time-profile shape."""

    preferred: dict[str, tuple[tuple[str, float], ...]]
    intensity: dict[str, float]
    bend: dict[str, tuple[float, float]]  # per AU: (degrees its movement turns, spread factor)
    habit: tuple[str, float] | None  # a habitual movement (AUs, strength) in many of its clips
    sides: tuple[float, float]
    one_sided: tuple[float, float] | None
    gain: float
    apex_share: float
    shape: float

    def codes(self, label: str) -> str:
        """The preferred combinations of a class, e.g. ``'4+7 / 14'``."""
        return " / ".join(code for code, _ in self.preferred[label])

    def aus(self, code: str, jitter: Sequence[float] | None = None) -> AUs:
        """The subject's action units for combination ``code`` (its intensities and sides),
        each AU's weight multiplied by ``jitter`` (one factor per AU, in code order)."""
        out = []
        for k, au in enumerate(code.split("+")):
            w = self.intensity[au] * (1.0 if jitter is None else float(jitter[k]))
            a, b = w * self.sides[0], w * self.sides[1]
            if self.one_sided is not None and au in ("12", "14"):
                a, b = a * self.one_sided[0], b * self.one_sided[1]
            out.append((au, round(a, 4), round(b, 4)))
        return tuple(out)


def pick(rng: np.random.Generator, options: dict[str, float]) -> str:
    names = list(options)
    p = np.array([options[k] for k in names], float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def draw_style(rng: np.random.Generator) -> Style:
    """A subject's expression style: one or two preferred AU combinations per class (drawn by
    the shares of :data:`AU_SETS`), its AU intensities, sides, gain and timing."""
    preferred = {}
    for label in CLASSES:
        options = AU_SETS[label]
        names = list(options)
        p = np.array([options[k] for k in names], float)
        k = 2 if rng.random() < _TWO_STYLES_P else 1
        picked = [
            names[int(i)] for i in rng.choice(len(names), size=k, replace=False, p=p / p.sum())
        ]
        shares = (1.0,) if k == 1 else (_FIRST_STYLE_P, 1.0 - _FIRST_STYLE_P)
        preferred[label] = tuple(zip(picked, shares))
    aus = sorted(
        {au for options in AU_SETS.values() for code in options for au in code.split("+")},
        key=au_key,
    )
    intensity = {au: round(float(rng.uniform(*_AU_INTENSITY)), 4) for au in aus}
    turn = np.clip(rng.normal(0, AU_TURN_SD, len(aus)), -2 * AU_TURN_SD, 2 * AU_TURN_SD)
    spread = np.exp(rng.uniform(-1, 1, len(aus)) * math.log(_AU_SPREAD))
    bend = {au: (round(float(t), 2), round(float(f), 3)) for au, t, f in zip(aus, turn, spread)}
    habit = None
    if rng.random() < _HABIT_P:
        habit = (pick(rng, _HABITS), round(float(rng.uniform(*_HABIT_STRENGTH)), 3))
    bias = float(rng.uniform(-0.3, 0.3))
    one_sided = None
    if rng.random() < _ONE_SIDED_P:  # a one-sided smile / dimpler (contempt-like)
        one_sided = (1.0, 0.25) if rng.random() < 0.5 else (0.25, 1.0)
    gain = float(np.exp(rng.normal(-(_GAIN_SIGMA**2) / 2, _GAIN_SIGMA)))
    return Style(
        preferred=preferred,
        intensity=intensity,
        bend=bend,
        habit=habit,
        sides=(1.0 + bias, 1.0 - bias),
        one_sided=one_sided,
        gain=gain,
        apex_share=float(rng.uniform(0.25, 0.6)),
        shape=float(rng.uniform(0.6, 1.7)),
    )


def draw_combination(style: Style, motion: str, rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """An AU combination showing class ``motion`` and its per-AU intensity factors: one of the
    subject's preferred combinations or (:data:`_OFF_STYLE_P`) another of the class's set, each
    AU's intensity varied by :data:`_CLIP_AU_JITTER`."""
    if rng.random() < _OFF_STYLE_P:
        code = pick(rng, AU_SETS[motion])
    else:
        code = pick(rng, dict(style.preferred[motion]))
    return code, rng.uniform(*_CLIP_AU_JITTER, size=len(code.split("+")))


def merged(aus: AUs, extra: AUs, strength: float) -> AUs:
    """``aus`` with ``extra`` at ``strength`` added (an AU in both keeps the larger weight)."""
    out = {au: (a, b) for au, a, b in aus}
    for au, a, b in extra:
        a0, b0 = out.get(au, (0.0, 0.0))
        out[au] = (max(a0, round(strength * a, 4)), max(b0, round(strength * b, 4)))
    return tuple((au, a, b) for au, (a, b) in out.items())


# Objective classes (Davison et al. 2018) by action units, first match wins; VII = others.
_OBJECTIVE_RULES: tuple[tuple[int, frozenset[str]], ...] = (
    (6, frozenset({"1", "2", "4"})),
    (1, frozenset({"12"})),
    (1, frozenset({"6"})),
    (4, frozenset({"9"})),
    (4, frozenset({"10"})),
    (5, frozenset({"1", "4"})),
    (5, frozenset({"15"})),
    (3, frozenset({"4"})),
    (2, frozenset({"1", "2"})),
    (2, frozenset({"5"})),
    (2, frozenset({"26"})),
    (5, frozenset({"1"})),
    (2, frozenset({"2"})),
    (3, frozenset({"17"})),
)


def objective_class(aus: AUs) -> int:
    """The objective class (1-7) of a clip's action units."""
    have = {au for au, _, _ in aus}
    return next((k for k, need in _OBJECTIVE_RULES if need <= have), 7)
