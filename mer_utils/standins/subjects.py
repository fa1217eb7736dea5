"""The plan of a stand-in: its subjects and clips, everything except the pixels.

:func:`plan` follows the real structure (:func:`real_structure`, ``mer_utils/data/subjects.csv``:
every real subject with three-class clips, its clips per class and their onset..offset lengths)
exactly, adds the rows the loaders drop, deals the original label spellings, and draws every
subject's look (:mod:`.looks`) and style (:mod:`.style`) and every clip's apex, strength,
nuisances (:mod:`.nuisances`), episode and action units, all from the seed (:mod:`.seeds`).
The dataset's layout module (:mod:`.layouts`) then names the clips and numbers their frames.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources

import numpy as np

from .. import config
from ..config import CLASSES
from . import layouts, seeds
from .looks import Look, draw_look
from .nuisances import clip_extras
from .style import AUs, Style, draw_combination, draw_style, merged, pick

DROP = "others"
"""Internal name of the label every loader drops (spelled per dataset in its plug-in's
``STANDIN_LABELS``)."""


MACRO = "macro"
"""Internal label of CAS(ME)^2 macro-expression rows (dropped by the loader by type)."""
_CLIP_FACTOR = (0.8, 1.2)
_DROP_FACTOR, MACRO_FACTOR = 0.5, 4.0
_SMIC_LENGTH = (11, 47, 2.0, 3.0)  # 11 + round(47 * Beta(2, 3))
AMBIGUOUS_RATE = 0.06  # share of three-class clips showing another class's AUs (see above)
_SAME_EPISODE_P = 0.5  # a clip joins an earlier episode of its subject and class
_EPISODE_AU_JITTER = (0.9, 1.1)  # per AU between the clips of an episode
_HABIT_CLIP_P = 0.75  # share of such a subject's clips in which the habit shows


# ---------------------------------------------------------------------------------------------
# The real structure (subjects.csv)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RealSubject:
    """One row of ``subjects.csv``: a real subject's folder name, clips per class and lengths."""

    id: str
    counts: tuple[int, int, int]  # CLASSES order
    lengths: tuple[int, ...]  # onset..offset frames (empty for SMIC)


@cache
def real_structure() -> dict[str, tuple[RealSubject, ...]]:
    """``mer_utils/data/subjects.csv`` per dataset: every real subject with three-class clips."""
    text = resources.files("mer_utils").joinpath("data", "subjects.csv").read_text("utf-8")
    out: dict[str, list[RealSubject]] = {name: [] for name in config.datasets(composites=False)}
    for row in csv.DictReader(io.StringIO(text)):
        lengths = tuple(int(v) for v in (row["clip_frames_onset_to_offset"] or "").split())
        counts = tuple(int(row[c]) for c in CLASSES)
        if lengths and len(lengths) != sum(counts):
            raise ValueError(
                f"subjects.csv: {row['dataset']} {row['subject']}: "
                f"{len(lengths)} lengths for {sum(counts)} clips"
            )
        out[row["dataset"]].append(RealSubject(row["subject"], counts, lengths))
    return {name: tuple(subjects) for name, subjects in out.items()}


@cache
def composite_structure() -> dict[str, dict[str, tuple[int, int, int]]]:
    """The MEGC 2019 composite's clips per class of every subject it holds, per dataset (read
    by the composite's plug-in, :func:`mer_utils.datasets.megc2019.composite_structure`)."""
    from ..datasets.megc2019 import composite_structure as read

    return read()


def natural(text: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


# ---------------------------------------------------------------------------------------------
# Plans: everything about a stand-in except its pixels, drawn from the seed
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClipPlan:
    """One clip (or a CAS(ME)^2 macro-expression) of a subject, except its pixels."""

    name: str  # clip name in the annotation (Filename / expression name / SMIC folder)
    label: str  # a class, DROP or MACRO
    emotion: str  # original spelling
    n: int  # frames onset..offset
    apex: int  # 0-based index of the apex within the clip
    start: int  # number of the first frame on disk (CAS(ME)^2: 1-based within its video)
    motion: str  # class whose action units the clip shows (label, unless ambiguous)
    factor: float  # peak displacement / (amplitude x face / 200): subject gain x clip factor
    key: int  # seed key of the clip's random draws (noise, drift, exposure)
    blink: tuple[int, int] | None = None  # (first frame, frames) of a blink
    drift: tuple[float, float, float] = (0.0, 0.0, 0.0)  # end point (dx, dy) px at 200, bend
    quirk: str | None = None
    video: int | None = None  # CAS(ME)^2: index of the long video holding it
    aus: AUs = ()  # the action units it shows (weights per side; see Style.aus)
    ambiguous: bool = False  # labelled with one class, showing another class's AUs
    episode: int = 0  # the subject's stimulus episode (same class, same AUs)
    combination: str = ""  # the AU combination it shows (of motion's set), without the habit
    habit: bool = False  # whether the subject's habitual movement shows too


@dataclass(frozen=True)
class VideoPlan:
    """A CAS(ME)^2 long video: its folder name and segments (("rest", frames) or ("clip", k))."""

    code: str
    stem: str
    folder: str
    segments: tuple[tuple[str, int], ...]
    key: int


@dataclass(frozen=True)
class SubjectPlan:
    """One pseudo-subject: folder name, look, style and clips (everything but the pixels)."""

    dataset: str
    index: int  # position among the dataset's subjects (seed key; unchanged by ``subjects``)
    id: str  # folder name: sub01, 006, s1, s16
    look: Look
    style: Style
    clips: tuple[ClipPlan, ...]
    videos: tuple[VideoPlan, ...] = ()
    participant: int | None = None  # CAS(ME)^2 participant number (naming rule1)

    def counts(self) -> dict[str, int]:
        """Three-class clips per class (CLASSES order)."""
        return {c: sum(k.label == c for k in self.clips) for c in CLASSES}

    def video_frames(self, v: int) -> int:
        """Number of frames of CAS(ME)^2 long video ``v``."""
        return sum(n if kind == "rest" else self.clips[n].n for kind, n in self.videos[v].segments)


def _deal(rng: np.random.Generator, counts: dict[str, int], n: int) -> list[str]:
    """``n`` spellings with exactly ``counts`` when they add up to ``n``, else drawn by weight."""
    if sum(counts.values()) == n:
        out = [k for k, c in counts.items() for _ in range(c)]
    else:
        out = [pick(rng, {k: float(v) for k, v in counts.items()}) for _ in range(n)]
    rng.shuffle(out)
    return out


def _smic_length(rng: np.random.Generator) -> int:
    lo, span, a, b = _SMIC_LENGTH
    return lo + int(round(span * rng.beta(a, b)))


def _apex(rng: np.random.Generator, n: int, share: float) -> int:
    share = float(np.clip(share + rng.normal(0, 0.06), 0.15, 0.8))
    return int(np.clip(round(share * (n - 1)), 1, max(1, n - 2)))


def plan(
    name: str, seed: int = 0, subjects: int | None = None, max_clip_frames: int | None = None
) -> list[SubjectPlan]:
    """The plan of dataset ``name``'s stand-in: every subject and clip, without pixels.

    The full plan follows ``subjects.csv`` exactly (subjects, per-class counts, lengths) plus the
    dropped rows (see the module docstring). ``subjects=N`` keeps the N subjects with the most
    three-class clips (ties in table order; subjects with only dropped rows are not kept), in
    table order; ``max_clip_frames`` caps every clip's length. Both only select from and trim
    the full plan: a subject is the same person with the same clips in every subset.
    """
    kit = layouts.layout(name)
    real = real_structure()[name]
    fps = float(config.dataset_info(name)["fps"])
    ids = sorted([s.id for s in real] + list(kit.STANDIN_DROP_ONLY), key=natural)
    by_id = {s.id: s for s in real}
    largest = sorted(real, key=lambda s: -sum(s.counts))[: kit.STANDIN_DROP_IN_LARGEST]
    n_dropped = {**{s.id: 1 for s in largest}, **kit.STANDIN_DROP_ONLY}
    # original spellings: the layout's own deal per subject (CASME II), else dealt over the
    # dataset's clips of each class in table order
    spell_rng = seeds.rng(seed, name, 1)
    if hasattr(kit, "standin_spellings"):
        dealt = kit.standin_spellings(spell_rng, real)
        spellings = None
    else:
        spellings = {
            label: iter(_deal(spell_rng, kit.STANDIN_LABELS[label], sum(s.counts[i] for s in real)))
            for i, label in enumerate(CLASSES)
        }
    pool = [n for s in real for n in s.lengths]
    plans = []
    for index, sid in enumerate(ids):
        rng = seeds.rng(seed, name, 2, index)
        look, style = draw_look(rng), draw_style(rng)
        subject = by_id.get(sid, RealSubject(sid, (0, 0, 0), ()))
        labels = [c for c, k in zip(CLASSES, subject.counts) for _ in range(k)]
        if spellings is None:
            own = {c: iter(dealt.get(sid, {}).get(c, ())) for c in CLASSES}
            emotions = [next(own[c]) for c in labels]
        else:
            emotions = [next(spellings[c]) for c in labels]
        lengths = list(subject.lengths) if subject.lengths else [_smic_length(rng) for _ in labels]
        rng.shuffle(lengths)
        for _ in range(n_dropped.get(sid, 0)):
            labels.append(DROP)
            emotions.append(next(iter(kit.STANDIN_LABELS[DROP])))
            lengths.append(int(rng.choice(pool)) if pool else _smic_length(rng))
        order = rng.permutation(len(labels))
        clips = []
        for key, i in enumerate(order):
            label, n = labels[i], int(lengths[i])
            motion = label if label in CLASSES else str(rng.choice(CLASSES))
            factor = style.gain * float(rng.uniform(*_CLIP_FACTOR))
            factor *= _DROP_FACTOR if label == DROP else 1.0
            clips.append(
                ClipPlan(
                    name="",
                    label=label,
                    emotion=emotions[i],
                    n=n,
                    apex=_apex(rng, n, style.apex_share),
                    start=0,
                    motion=motion,
                    factor=factor,
                    key=key,
                    **clip_extras(rng, n, fps),
                )
            )
        plans.append(SubjectPlan(name, index, sid, look, style, tuple(clips)))
    plans = _with_aus(name, seed, plans)
    if subjects is not None:
        if int(subjects) < 1:
            raise ValueError(f"subjects must be >= 1, got {subjects}")
        ranked = sorted(
            (p for p in plans if sum(p.counts().values())), key=lambda p: -sum(p.counts().values())
        )[: int(subjects)]
        keep = {p.id for p in ranked}
        plans = [p for p in plans if p.id in keep]
    if max_clip_frames is not None:
        plans = [_capped(p, int(max_clip_frames)) for p in plans]
    return kit.standin_layout(
        seed, plans, None if max_clip_frames is None else int(max_clip_frames)
    )


def _with_aus(name: str, seed: int, plans: list[SubjectPlan]) -> list[SubjectPlan]:
    """Give every clip its episode and action units.

    Episodes: a subject's clips of one class come in episodes (one stimulus: several
    micro-expressions to the same video clip); each clip after the first of its class joins
    one of the class's earlier episodes with probability :data:`_SAME_EPISODE_P`. The clips of
    an episode show the same AU combination with the same intensities (each AU varies by
    :data:`_EPISODE_AU_JITTER` between them).

    Ambiguity: exactly ``round(AMBIGUOUS_RATE x N)`` of the N three-class clips of the (full)
    dataset, chosen at random, show another class's AUs (the subject's style for the other
    class, chosen at random): their label is what the coders estimated, not what moves."""
    three = [
        (i, k) for i, p in enumerate(plans) for k, c in enumerate(p.clips) if c.label in CLASSES
    ]
    rng = seeds.rng(seed, name, 9)
    n_ambiguous = int(round(AMBIGUOUS_RATE * len(three)))
    flipped = {three[int(j)] for j in rng.choice(len(three), size=n_ambiguous, replace=False)}
    out = []
    for i, p in enumerate(plans):
        crng, hrng = seeds.rng(seed, name, 10, p.index), seeds.rng(seed, name, 11, p.index)
        episodes: dict[str, list[int]] = {label: [] for label in CLASSES}
        drawn: dict[int, tuple[str, np.ndarray, float]] = {}  # episode -> code, factors, apex
        n_episodes = 0
        clips = []
        for k, c in enumerate(p.clips):
            motion, ambiguous = c.motion, (i, k) in flipped
            if c.label in CLASSES and episodes[c.label] and crng.random() < _SAME_EPISODE_P:
                episode = episodes[c.label][int(crng.integers(len(episodes[c.label])))]
            else:
                episode, n_episodes = n_episodes, n_episodes + 1
                if c.label in CLASSES:
                    episodes[c.label].append(episode)
            if ambiguous:
                others = [x for x in CLASSES if x != c.label]
                motion = others[int(crng.integers(len(others)))]
            apex = c.apex
            if ambiguous or episode not in drawn:
                code, factors = draw_combination(p.style, motion, crng)
                if not ambiguous:
                    drawn[episode] = (code, factors, c.apex / max(c.n - 1, 1))
            else:
                code, factors, share = drawn[episode]
                factors = factors * crng.uniform(*_EPISODE_AU_JITTER, size=len(factors))
                apex = int(np.clip(round(share * (c.n - 1)), 1, max(1, c.n - 2)))
            aus = p.style.aus(code, factors)
            habit = p.style.habit is not None and hrng.random() < _HABIT_CLIP_P
            if habit:
                aus = merged(aus, p.style.aus(p.style.habit[0]), p.style.habit[1])
            clips.append(
                replace(
                    c,
                    motion=motion,
                    ambiguous=ambiguous,
                    episode=episode,
                    combination=code,
                    habit=habit,
                    aus=aus,
                    apex=apex,
                )
            )
        out.append(replace(p, clips=tuple(clips)))
    return out


def _capped(p: SubjectPlan, cap: int) -> SubjectPlan:
    if cap < 5:
        raise ValueError(f"max_clip_frames must be >= 5, got {cap}")
    clips = []
    for c in p.clips:
        if c.n <= cap:
            clips.append(c)
            continue
        apex = int(np.clip(round(c.apex * (cap - 1) / (c.n - 1)), 1, cap - 2))
        blink = (
            None
            if c.blink is None
            else (min(c.blink[0], cap - min(c.blink[1], cap)), min(c.blink[1], cap))
        )
        clips.append(replace(c, n=cap, apex=apex, blink=blink))
    return replace(p, clips=tuple(clips))
