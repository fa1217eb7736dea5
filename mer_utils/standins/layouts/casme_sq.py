"""CAS(ME)^2: long videos ``rawpic/s<NN>/<NN>_<code><title>/img<N>.jpg`` and the header-less
``CAS(ME)^2code_final.xlsx`` with its naming-rule sheets; what is particular to CAS(ME)^2: the
long videos, expression names, frame numbers, quirks, macro-expression rows.

Naming rule followed (the reader's, :mod:`mer_utils.datasets.casme_sq`): the first sheet's
participant number maps through sheet ``naming rule1`` (three columns: folder number, folder
name, participant, e.g. ``15 | s15 | 1``) to the subject folder (``s15``); the expression name's
stem (``disgust1`` of ``disgust1_2``) maps through sheet ``naming rule2`` to a 4-digit video code
(``0101``); the long video is ``rawpic/s15/15_0101<title>/`` (the title, e.g.
``disgustingteeth``, is part of the folder name only).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from ... import config
from ...config import CLASSES
from .. import seeds
from ..files import new_workbook, save_workbook
from ..nuisances import clip_extras
from ..style import au_code, draw_combination
from ..subjects import DROP, MACRO, MACRO_FACTOR, ClipPlan, SubjectPlan, VideoPlan

STANDIN_LABELS: dict[str, dict[str, int]] = {
    "negative": {"negative": 1},
    "positive": {"positive": 1},
    "surprise": {"surprise": 1},
    "others": {"others": 1},
}
"""Original label spellings of the real annotation file, with how many of each it holds among
the three-class clips (``subjects.DROP``: the spelling of the rows every loader drops)."""
STANDIN_DROP_ONLY: dict[str, int] = {"s15": 1}
"""Subjects of the real file with only dropped rows (not in subjects.csv): their dropped rows."""
STANDIN_DROP_IN_LARGEST = 3
"""How many of the largest subjects get one dropped row each."""

_VIDEOS: tuple[tuple[str, str, str], ...] = (
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

_FOLDERS = (
    15,
    16,
    19,
    20,
    21,
    22,
    23,
    24,
    25,
    26,
    27,
    29,
    30,
    31,
    32,
    33,
    34,
    35,
    36,
    37,
    38,
    40,
)

STANDIN_LONG_VIDEOS = True
"""Clips are cut from long videos (``rawpic/sNN/<video>/img<N>.jpg``): the generator renders
whole videos (``SubjectPlan.videos``) instead of one folder per clip."""


def standin_layout(seed: int, plans: list[SubjectPlan], cap: int | None) -> list[SubjectPlan]:
    """Spread each subject's micro clips over its long videos, with one macro-expression per
    video and a few neutral frames between events; name the rows ``<stem>_<k>``."""
    target = next(
        ((p.id, c.key) for p in plans for c in p.clips if c.label in CLASSES and c.n % 2), None
    )
    if target is None:  # only when capped to an even length: shorten one clip by a frame
        if cap is None:
            raise AssertionError("no CAS(ME)^2 clip of odd length for the offset-0 quirk")
        target = next((p.id, c.key) for p in plans for c in p.clips if c.label in CLASSES)
    out = []
    for p in plans:
        rng = seeds.rng(seed, "casme_sq", 3, p.index)
        fps = float(config.dataset_info("casme_sq")["fps"])
        micro = list(p.clips)
        n_videos = min(len(_VIDEOS), max(1, math.ceil(len(micro) / 3)))
        chosen = sorted(int(v) for v in rng.choice(len(_VIDEOS), n_videos, replace=False))
        clips: list[ClipPlan] = []
        videos = []
        folder_number = int(p.id[1:])
        for v, video in enumerate(chosen):
            code, stem, title = _VIDEOS[video]
            events: list[ClipPlan | None] = [*micro[v::n_videos], None]
            order = rng.permutation(len(events))
            segments: list[tuple[str, int]] = []
            frame = 1
            for k, e in enumerate((events[i] for i in order), start=1):
                rest = int(rng.integers(2, 6))
                segments.append(("rest", rest))
                frame += rest
                if e is None:  # a macro-expression: larger, longer
                    n = int(rng.integers(15, 31))
                    n = n if cap is None else min(n, cap)
                    label = str(rng.choice([*CLASSES, DROP]))
                    motion = label if label in CLASSES else str(rng.choice(CLASSES))
                    combo, factors = draw_combination(p.style, motion, rng)
                    e = ClipPlan(
                        "",
                        MACRO,
                        label,
                        n,
                        n // 2,
                        0,
                        motion,
                        MACRO_FACTOR * p.style.gain,
                        1000 + 10 * v + k,
                        **clip_extras(rng, n, fps),
                        combination=combo,
                        aus=p.style.aus(combo, factors),
                    )
                elif (p.id, e.key) == target:  # apex exactly mid-clip: offset 0 is recoverable
                    n = e.n if e.n % 2 else e.n - 1
                    e = replace(
                        e,
                        n=n,
                        apex=(n - 1) // 2,
                        quirk="offset 0",
                        blink=None if e.blink is None else (0, min(e.blink[1], n)),
                    )
                segments.append(("clip", len(clips)))
                clips.append(replace(e, name=f"{stem}_{k}", start=frame, video=v))
                frame += e.n
            segments.append(("rest", int(rng.integers(2, 6))))
            videos.append(
                VideoPlan(code, stem, f"{folder_number}_{code}{title}", tuple(segments), key=v)
            )
        participant = _FOLDERS.index(folder_number) + 1
        out.append(replace(p, clips=tuple(clips), videos=tuple(videos), participant=participant))
    return out


def standin_annotation(root: Path, seed: int, plans: list[SubjectPlan]) -> list[str]:
    """rawpic/s<NN>/<NN>_<code><title>/img<N>.jpg long videos (optionally rawvideo/*.avi) +
    header-less CAS(ME)^2code_final.xlsx with micro and macro rows and the naming sheets."""
    rows: list[list[Any]] = []
    quirks = []
    for p in plans:
        for c in p.clips:
            video = p.videos[c.video]
            off: int = c.start + c.n - 1
            if c.quirk == "offset 0":
                off = 0
                quirks.append(
                    f"{video.folder} {c.name}: micro row with offset 0 "
                    "(apex - onset == true offset - apex)"
                )
            kind = "macro-expression" if c.label == MACRO else "micro-expression"
            rows.append(
                [
                    p.participant,
                    c.name,
                    c.start,
                    c.start + c.apex,
                    off,
                    au_code(c.aus),
                    c.emotion,
                    kind,
                    c.emotion,
                ]
            )
    wb = new_workbook()
    ws = wb.active
    ws.title = "CASMEcode_final"
    for row in rows:
        ws.append(row)
    rule1 = wb.create_sheet("naming rule1")
    for participant, folder in enumerate(_FOLDERS, start=1):
        rule1.append([folder, f"s{folder}", participant])
    rule2 = wb.create_sheet("naming rule2")
    for i, (code, stem, _title) in enumerate(_VIDEOS):
        rule2.append([code if i % 2 else int(code), stem])
    quirks += [
        "no header rows; macro-expression rows mixed with micro rows",
        "naming rule2 video codes as text ('0102') and as numbers (101)",
    ]
    save_workbook(wb, root / "CAS(ME)^2code_final.xlsx")
    return quirks
