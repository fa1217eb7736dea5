"""CASME II: ``CASME2_RAW_selected/subNN/<Filename>/img<N>.jpg`` and the coding workbook
``CASME2-coding-20190701.xlsx``; what is particular to CASME II: names, frame numbers, quirks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import seeds
from ..files import new_workbook, save_workbook
from ..style import au_code, objective_class
from ..subjects import ClipPlan, SubjectPlan

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


def standin_layout(seed: int, plans: list[SubjectPlan], cap: int | None) -> list[SubjectPlan]:
    ids = [p.id for p in plans]
    slash = (
        "sub04" if "sub04" in ids else next((p.id for p in plans if p.counts()["negative"]), None)
    )
    out = []
    for p in plans:
        rng = seeds.rng(seed, "casme2", 3, p.index)
        names = _filenames(len(p.clips), rng)
        starts = [int(rng.integers(1, 300)) for _ in p.clips]
        quirks: list[str | None] = [None] * len(p.clips)
        if p.id == slash:  # the real file's '/' apex is sub04 EP12_01f, a negative clip
            k = next(i for i, c in enumerate(p.clips) if c.label == "negative")
            if "EP12_01f" in names:  # keep names unique: swap with the clip that had it
                names[names.index("EP12_01f")] = names[k]
            names[k], quirks[k] = "EP12_01f", "apex /"
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
