"""SMIC-HS: ``HS/s<N>/micro/<label>/<clip>/image<6 digits>.bmp``, no annotation file; what is
particular to SMIC: folder names, clip names, frame numbers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .. import seeds
from ..subjects import ClipPlan, SubjectPlan

STANDIN_LABELS: dict[str, dict[str, int]] = {
    "negative": {"negative": 1},
    "positive": {"positive": 1},
    "surprise": {"surprise": 1},
}
"""Original label spellings of the real annotation file, with how many of each it holds among
the three-class clips (``subjects.DROP``: the spelling of the rows every loader drops)."""
STANDIN_DROP_ONLY: dict[str, int] = {}
"""Subjects of the real file with only dropped rows (not in subjects.csv): their dropped rows."""
STANDIN_DROP_IN_LARGEST = 0
"""How many of the largest subjects get one dropped row each."""

_ABBREV = {"negative": "ne", "positive": "po", "surprise": "sur"}


def standin_frames(p: SubjectPlan, c: ClipPlan) -> tuple[str, str]:
    """(folder relative to the dataset root, file name pattern with ``{}`` = frame number)."""
    return f"HS/{p.id}/micro/{c.emotion}/{c.name}", "image{:06d}.bmp"


def standin_layout(seed: int, plans: list[SubjectPlan], cap: int | None) -> list[SubjectPlan]:
    out = []
    for p in plans:
        rng = seeds.rng(seed, "smic", 3, p.index)
        clips = [
            replace(c, name=f"{p.id}_{_ABBREV[c.label]}_{k:02d}", start=int(rng.integers(1, 90000)))
            for k, c in enumerate(p.clips, start=1)
        ]
        out.append(replace(p, clips=tuple(clips)))
    return out


def standin_annotation(root: Path, seed: int, plans: list[SubjectPlan]) -> list[str]:
    """HS/s<N>/micro/<label>/s<N>_<ne|po|sur>_<KK>/image<6 digits>.bmp (no spreadsheet)."""
    return ["subject folders not zero-padded (s1, s2, ..., s20)"]
