"""CASME II: ``CASME2_RAW_selected/subNN/<Filename>/img<N>.jpg`` and the coding workbook
``CASME2-coding-20190701.xlsx``; what is particular to CASME II: names, frame numbers, quirks,
and original labels that serve two rules.

The paper's rule maps disgust, repression, fear and sadness to negative. The MEGC 2019
composite (SMIC-HS + CASME II + SAMM) uses a stricter one for CASME II: negative = disgust and
repression only (its fear and sadness clips are left out), positive = happiness, surprise =
surprise; and its list leaves out five more CASME II clips, sub04 EP12_01f (disgust; its apex is
coded '/'), sub05 EP09_05f (disgust) and sub24 EP07_01, EP07_04f, EP10_03 (surprise). With the
real files that gives 88/32/25 clips over 24 subjects. The stand-in deals its labels so that
both rules give the real per-subject counts: the paper's those of ``subjects.csv``, the strict
rule without the five clips those of ``megc2019_subjects.csv``. So the fear and sadness clips sit
on the subjects where the real file has them (per subject: negatives of ``subjects.csv`` minus
the composite's minus the subject's left-out disgust clips), and the five left-out clips exist
under those subjects and names, with those labels (:data:`MEGC_LEFT_OUT`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import seeds
from ..files import new_workbook, save_workbook
from ..style import au_code, objective_class
from ..subjects import ClipPlan, RealSubject, SubjectPlan, composite_structure

STANDIN_LABELS: dict[str, dict[str, int]] = {
    "negative": {"disgust": 63, "repression": 27, "sadness": 4, "fear": 2},
    "positive": {"happiness": 1},
    "surprise": {"surprise": 1},
    "others": {"others": 1},
}
"""Original label spellings of the real annotation file, with how many of each it holds among
the three-class clips (``subjects.DROP``: the spelling of the rows every loader drops)."""
STANDIN_DROP_ONLY: dict[str, int] = {"sub18": 2}
"""Subjects of the real file with only dropped rows (not in subjects.csv): their dropped rows."""
STANDIN_DROP_IN_LARGEST = 6
"""How many of the largest subjects get one dropped row each."""
MEGC_LEFT_OUT: dict[tuple[str, str], str] = {
    ("sub04", "EP12_01f"): "disgust",
    ("sub05", "EP09_05f"): "disgust",
    ("sub24", "EP07_01"): "surprise",
    ("sub24", "EP07_04f"): "surprise",
    ("sub24", "EP10_03"): "surprise",
}
"""The five CASME II clips the MEGC 2019 composite's list leaves out: (subject, clip) -> label."""
_COMPOSITE_NEGATIVE = ("disgust", "repression")  # the composite's negative; fear, sadness left out

_HEADER = (
    "Subject",
    "Filename",
    None,
    "OnsetFrame",
    "ApexFrame",
    "OffsetFrame",
    None,
    "Action Units",
    "Estimated Emotion",
    "Objective Classes",
)


def standin_frames(p: SubjectPlan, c: ClipPlan) -> tuple[str, str]:
    """(folder relative to the dataset root, file name pattern with ``{}`` = frame number)."""
    return f"CASME2_RAW_selected/{p.id}/{c.name}", "img{}.jpg"


def standin_spellings(rng: np.random.Generator, real: tuple[RealSubject, ...]) -> dict:
    """Per subject, the original label of each of its three-class clips (CLASSES order): per
    subject as many fear or sadness clips as the composite leaves out beyond the named clips,
    the left-out clips' labels, and disgust or repression for the other negatives, all dealt
    at random over the dataset (see the module docstring). The arithmetic is checked."""
    composite = composite_structure()["casme2"]
    unknown = set(composite) - {r.id for r in real}
    if unknown:
        raise AssertionError(
            f"megc2019_subjects.csv: CASME II subjects not in subjects.csv: {unknown}"
        )
    left_out = {
        sid: {
            "negative": sum(s == sid and e == "disgust" for (s, _), e in MEGC_LEFT_OUT.items()),
            "surprise": sum(s == sid and e == "surprise" for (s, _), e in MEGC_LEFT_OUT.items()),
        }
        for sid in (r.id for r in real)
    }
    other = {}  # per subject: its fear and sadness clips
    for r in real:
        neg, pos, sur = r.counts
        c_neg, c_pos, c_sur = composite.get(r.id, (0, 0, 0))
        other[r.id] = neg - c_neg - left_out[r.id]["negative"]
        if pos != c_pos or sur != c_sur + left_out[r.id]["surprise"] or other[r.id] < 0:
            raise AssertionError(
                f"subjects.csv and megc2019_subjects.csv disagree for CASME II {r.id}: "
                f"{r.counts} against {composite.get(r.id)} and the left-out clips"
            )
    labels = STANDIN_LABELS["negative"]
    spare = {k: n for k, n in labels.items() if k not in _COMPOSITE_NEGATIVE}
    if sum(other.values()) != sum(spare.values()):
        raise AssertionError(
            f"CASME II: {sum(other.values())} negatives outside the composite, "
            f"{sum(spare.values())} fear and sadness clips in the real file"
        )
    pinned = sum(v["negative"] for v in left_out.values())
    outside = [k for k, n in spare.items() for _ in range(n)]
    inside = [k for k in _COMPOSITE_NEGATIVE for _ in range(labels[k])]
    for _ in range(pinned):  # the left-out disgust clips are disgust by name
        inside.remove("disgust")
    rng.shuffle(outside)
    rng.shuffle(inside)
    out = {}
    for r in real:
        neg, pos, sur = r.counts
        pin = left_out[r.id]["negative"]
        k = other[r.id]
        negative = ["disgust"] * pin + [outside.pop() for _ in range(k)]
        negative += [inside.pop() for _ in range(neg - pin - k)]
        out[r.id] = {
            "negative": negative,
            "positive": [next(iter(STANDIN_LABELS["positive"]))] * pos,
            "surprise": [next(iter(STANDIN_LABELS["surprise"]))] * sur,
        }
    assert not outside and not inside
    return out


def standin_layout(seed: int, plans: list[SubjectPlan], cap: int | None) -> list[SubjectPlan]:
    """Clip names (EP..), first frame numbers and quirks; the composite's left-out clips get
    their real subject and name (:data:`MEGC_LEFT_OUT`), and the real file's '/' apex is sub04
    EP12_01f (in a subset without sub04: a disgust clip of another subject, named so)."""
    ids = [p.id for p in plans]
    slash = (
        "sub04"
        if "sub04" in ids
        else next((p.id for p in plans if any(c.emotion == "disgust" for c in p.clips)), None)
    )
    out = []
    for p in plans:
        rng = seeds.rng(seed, "casme2", 3, p.index)
        names = _filenames(len(p.clips), rng)
        starts = [int(rng.integers(1, 300)) for _ in p.clips]
        quirks: list[str | None] = [None] * len(p.clips)
        wanted = [(name, e) for (sid, name), e in MEGC_LEFT_OUT.items() if sid == p.id]
        if p.id == slash and ("EP12_01f", "disgust") not in wanted:
            wanted.append(("EP12_01f", "disgust"))
        taken: set[int] = set()
        for name, emotion in wanted:
            k = next(i for i, c in enumerate(p.clips) if c.emotion == emotion and i not in taken)
            taken.add(k)
            if name in names:  # keep names unique: swap with the clip that had it
                names[names.index(name)] = names[k]
            names[k] = name
            if name == "EP12_01f" and p.id == slash:  # the real file's '/' apex
                quirks[k] = "apex /"
        clips = [
            replace(c, name=nm, start=st, quirk=q)
            for c, nm, st, q in zip(p.clips, names, starts, quirks)
        ]
        out.append(replace(p, clips=tuple(clips)))
    return out


def _filenames(n: int, rng: np.random.Generator) -> list[str]:
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


def standin_annotation(root: Path, seed: int, plans: list[SubjectPlan]) -> list[str]:
    """CASME2_RAW_selected/subNN/<Filename>/img<N>.jpg + CASME2-coding-20190701.xlsx."""
    wb = new_workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(list(_HEADER))
    quirks = []
    for p in plans:
        number = int(p.id[3:])
        for c in p.clips:
            apex: Any = c.start + c.apex
            if c.quirk == "apex /":
                apex = "/"
                quirks.append(f"{p.id} {c.name}: ApexFrame '/'")
            subject: Any = f"{number:02d}" if (number + c.key) % 2 else number
            objective = objective_class(c.aus)
            ws.append(
                [
                    subject,
                    c.name,
                    None,
                    c.start,
                    apex,
                    c.start + c.n - 1,
                    None,
                    au_code(c.aus),
                    c.emotion,
                    objective,
                ]
            )
    quirks.append("Subject written as text ('01') in some rows and as a number in others")
    save_workbook(wb, root / "CASME2-coding-20190701.xlsx")
    return quirks
