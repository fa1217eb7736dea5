"""CAS(ME)^2: a header-less code sheet and two naming-rule sheets; clips cut from long videos.

``root/CAS(ME)^2code_final.xlsx`` without header rows. First sheet (``CASMEcode_final`` or
``CASFEcode_final``: read by position, not name): participant, expression name, onset, apex,
offset (0 = not coded), AUs, estimated emotion, type, self-report. Only micro-expression rows
are kept (macro rows dropped and counted). Frames ``root/rawpic/sNN/<video folder>/img<N>.jpg``
(N = 1-based frame of the long video), a clip = frames onset..offset; when ``rawpic/`` is
absent and ``rawvideo/`` exists, frames are references ``"<video>#<N-1>"`` decoded by
``read_frame`` / ``read_frames``. Offset 0 with a coded apex: offset = apex + (apex - onset),
capped at the video's last frame (adjusted, logged); apex 0: ``<NA>``; onset 0: the row is a
counted skip.

Naming rule (as public code that reads the official file applies it: dataset helpers and MEGC
spotting code, which read every sheet with ``header=None``):

* sheet ``naming rule1`` has three columns ``folder number | folder name | participant``
  (e.g. ``15 | s15 | 1``; note participant 3 -> 19, so the map is not an offset). The subject
  folder is the folder name (``s15``); its number ``NN`` (two digits) is taken from it. A
  two-column form ``participant | folder number`` (``1 | 15``) is accepted too.
* sheet ``naming rule2`` has two columns ``video code | expression stem``, e.g. ``0101 | disgust1``,
  ``0401 | anger1``, ``0502 | happy1``; the code is 4 digits (stored as text ``'0101'`` or as the
  number ``101``: zero-padded to 4 digits).
* an expression name ``anger1_2`` has the stem ``anger1`` (the text before the first ``_``); its
  video code comes from ``naming rule2`` (``0401``).
* the long video's folder is the single entry of ``rawpic/sNN/`` whose name starts with
  ``NN_<code>`` (``rawpic/s15/15_0401girlcrashing``); the descriptive suffix (``girlcrashing``)
  is in no sheet and is matched by this prefix only. With only videos: the single file
  ``rawvideo/sNN/NN_<code>*.<video extension>``.
* the clip name is the expression name (``anger1_2``), unique per subject.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from .. import config
from .. import synthetic as sx
from ..config import CLASSES
from ._common import (
    DatasetError,
    Report,
    checked_apex,
    is_blank,
    label_key,
    map_label,
    norm,
    number_in,
    record,
    text_cell,
)
from ._frames import list_frames, select, video_frame_count, video_ref
from ._sheets import coded_frame, find_annotation, read_workbook

logger = logging.getLogger("mer_utils.datasets")


@dataclass
class LongVideos:
    """Finds and lists the long videos of CAS(ME)^2 (frames folders or video files), cached."""

    root: Path
    info: dict
    use_images: bool
    _listings: dict[Path, list[str]] = field(default_factory=dict)
    _frames: dict[Path, dict[int, str] | int] = field(default_factory=dict)

    @property
    def base(self) -> Path:
        """``root/rawpic`` or ``root/rawvideo``."""
        return self.root / self.info["images_dir" if self.use_images else "videos_dir"]

    def find(self, subject: str, prefix: str, where: str) -> Path:
        """Return the single frames folder / video of ``subject`` whose name starts with ``prefix``."""
        folder = self.base / subject
        if folder not in self._listings:
            try:
                with os.scandir(folder) as entries:
                    self._listings[folder] = sorted(e.name for e in entries)
            except FileNotFoundError:
                raise DatasetError(f"{where}: subject folder {folder} does not exist") from None
        exts = {e.lower() for e in self.info["video_extensions"]}
        hits = [
            n
            for n in self._listings[folder]
            if n.startswith(prefix) and (self.use_images or n.rpartition(".")[2].lower() in exts)
        ]
        if len(hits) != 1:
            kind = "frames folder" if self.use_images else "video"
            found = "none" if not hits else f"several: {hits}"
            raise DatasetError(f"{where}: expected one {kind} {folder}/{prefix}*, found {found}")
        return folder / hits[0]

    def last_frame(self, video: Path) -> int:
        """Return the last 1-based frame number available in a long video."""
        listing = self._listing(video)
        return (max(listing) if listing else 0) if isinstance(listing, dict) else listing

    def clip(self, video: Path, onset: int, offset: int, where: str) -> list[str]:
        """Return the frame references of frames onset..offset (1-based) of a long video."""
        listing = self._listing(video)
        if isinstance(listing, dict):
            return select(listing, onset, offset, where, video)
        if offset > listing:
            raise DatasetError(
                f"{where}: frames {onset}..{offset} requested, {video} has {listing} frames"
            )
        return [video_ref(video, n - 1) for n in range(onset, offset + 1)]

    def _listing(self, video: Path) -> dict[int, str] | int:
        if video not in self._frames:
            if self.use_images:
                self._frames[video] = list_frames(video, self.info["frame_extensions"]) or {}
            else:
                self._frames[video] = video_frame_count(video)
        return self._frames[video]


def read(name: str, root: Path, info: dict, annotation) -> tuple[list[dict], Report]:
    """CAS(ME)^2: header-less code sheet + naming-rule sheets -> clips of the long videos."""
    path = find_annotation(root, info, annotation)
    sheets = read_workbook(path)
    code_sheet = next(iter(sheets))
    subjects = rule1(path, rule_sheet(path, sheets, info["rule_sheets"]["subjects"]), info)
    codes = rule2(path, rule_sheet(path, sheets, info["rule_sheets"]["videos"]))
    videos = LongVideos(root, info, use_images=casme_sq_frames(root, info))
    report = Report(name, annotation=str(path), sheet=code_sheet, frames_from=str(videos.base))
    cols = info["code_columns"]
    keep, known = norm(info["keep_type"]), {norm(t) for t in info["known_types"]}
    records = []
    for i, cells in sheets[code_sheet].iterrows():
        if all(is_blank(v) for v in cells):
            continue
        row = int(i) + 1
        where = f"{path}: sheet {code_sheet!r} row {row}"
        report.rows_read += 1
        kind = norm(cells.get(cols["type"]))
        if kind not in known:
            participant = number_in(cells.get(cols["participant"]))
            if participant is None:
                report.skip(str(path), row, "not an annotation row (no participant, no type)")
                continue
            raise DatasetError(
                f"{where}: unknown expression type {cells.get(cols['type'])!r}; "
                f"known {info['known_types']}"
            )
        if kind != keep:
            report.drop(f"type {text_cell(cells.get(cols['type']))}")
            continue
        emotion = text_cell(cells.get(cols["emotion"]))
        label = map_label(name, cells.get(cols["emotion"]), where)
        if label is None:
            report.drop(f"label {label_key(emotion)}")
            continue
        record = casme_sq_row(
            name, cells, cols, subjects, codes, videos, report, str(path), row, where
        )
        if record is not None:
            records.append(record | {"emotion": emotion, "label": label, "source": path.name})
    return records, report


def casme_sq_frames(root: Path, info: dict) -> bool:
    """True: frames from ``rawpic/``; False: decoded from ``rawvideo/``."""
    if (root / info["images_dir"]).is_dir():
        return True
    if (root / info["videos_dir"]).is_dir():
        logger.info(
            "%s: no %s/ folder; frames are decoded from %s/",
            root,
            info["images_dir"],
            info["videos_dir"],
        )
        return False
    raise DatasetError(f"{root}: neither {info['images_dir']}/ nor {info['videos_dir']}/ exists")


def rule_sheet(path: Path, sheets: dict[str, pd.DataFrame], wanted: str) -> pd.DataFrame:
    for sheet, table in sheets.items():
        if norm(sheet) == norm(wanted):
            return table
    raise DatasetError(f"{path}: no sheet {wanted!r} (sheets: {list(sheets)})")


def rule_rows(table: pd.DataFrame) -> Iterable[tuple[int, list]]:
    for i, cells in table.iterrows():
        values = [v for v in cells if not is_blank(v)]
        if values:
            yield int(i) + 1, values


def rule1(path: Path, table: pd.DataFrame, info: dict) -> dict[int, str]:
    """``naming rule1``: participant number -> subject folder name (``1 -> s15``).

    Three columns ``folder number | folder name | participant`` (the official file) or two
    columns ``participant | folder number``. Rows without numbers (a header) are logged."""
    mapping: dict[int, str] = {}
    for row, values in rule_rows(table):
        if len(values) >= 3:
            folder, participant = number_in(values[1]), number_in(values[2])
        elif len(values) == 2:
            participant, folder = number_in(values[0]), number_in(values[1])
        else:
            folder = participant = None
        if folder is None or participant is None:
            logger.info(
                "%s: sheet 'naming rule1' row %d ignored (no numbers): %s", path, row, values
            )
            continue
        mapping[participant] = info["subject_format"].format(folder)
    if not mapping:
        raise DatasetError(f"{path}: sheet 'naming rule1' maps no participant to a folder")
    return mapping


def rule2(path: Path, table: pd.DataFrame) -> dict[str, str]:
    """``naming rule2``: expression stem -> 4-digit video code (``anger1 -> 0401``)."""
    mapping: dict[str, str] = {}
    for row, values in rule_rows(table):
        code = number_in(values[0]) if len(values) >= 2 else None
        if code is None:
            logger.info("%s: sheet 'naming rule2' row %d ignored (no code): %s", path, row, values)
            continue
        mapping[text_cell(values[1]).casefold()] = f"{code:04d}"
    if not mapping:
        raise DatasetError(f"{path}: sheet 'naming rule2' maps no expression name to a video code")
    return mapping


def casme_sq_row(
    name: str,
    cells: pd.Series,
    cols: dict,
    subjects: dict[int, str],
    codes: dict[str, str],
    videos: LongVideos,
    report: Report,
    file: str,
    row: int,
    where: str,
) -> dict | None:
    participant = number_in(cells.get(cols["participant"]))
    if participant not in subjects:
        raise DatasetError(
            f"{where}: participant {cells.get(cols['participant'])!r} not in sheet 'naming rule1'"
        )
    expression = text_cell(cells.get(cols["expression"]))
    stem = expression.split("_")[0].casefold()
    if stem not in codes:
        raise DatasetError(
            f"{where}: expression {expression!r}: stem {stem!r} not in sheet 'naming rule2' ({sorted(codes)})"
        )
    onset, apex, offset = (
        coded_frame(cells.get(cols[k]), k, where) or 0 for k in ("onset", "apex", "offset")
    )
    if onset == 0:
        report.skip(file, row, "onset not coded")
        return None
    subject = subjects[participant]
    video = videos.find(subject, f"{number_in(subject):02d}_{codes[stem]}", where)
    if offset == 0:
        if apex == 0:
            report.skip(file, row, "offset and apex not coded")
            return None
        offset = min(apex + (apex - onset), videos.last_frame(video))
        report.adjust(
            file, row, "offset not coded: apex + (apex - onset)", f"offset set to {offset}"
        )
    if offset < onset:
        raise DatasetError(f"{where}: offset {offset} before onset {onset}")
    if apex == 0:
        report.adjust(file, row, "apex not coded")
    apex_kept = checked_apex(apex or None, onset, offset, file, row, report)
    return record(
        name,
        subject,
        expression,
        None,
        None,
        onset,
        apex_kept,
        offset,
        videos.clip(video, onset, offset, where),
        None,
        where,
    )


# ---------------------------------------------------------------------------------------------
# Stand-in writer (called by mer_utils.synthetic, which draws the subjects, clips and pixels;
# this part knows only what is particular to CAS(ME)^2: names, frame numbers, quirks, annotation)
# ---------------------------------------------------------------------------------------------

STANDIN_LABELS: dict[str, dict[str, int]] = {
    "negative": {"negative": 1},
    "positive": {"positive": 1},
    "surprise": {"surprise": 1},
    "others": {"others": 1},
}
"""Original label spellings of the real annotation file, with how many of each it holds among
the three-class clips (``synthetic.DROP``: the spelling of the rows every loader drops)."""
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


def standin_layout(seed: int, plans: list[sx.SubjectPlan], cap: int | None) -> list[sx.SubjectPlan]:
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
        rng = sx._rng(seed, "casme_sq", 3, p.index)
        fps = float(config.dataset_info("casme_sq")["fps"])
        micro = list(p.clips)
        n_videos = min(len(_VIDEOS), max(1, math.ceil(len(micro) / 3)))
        chosen = sorted(int(v) for v in rng.choice(len(_VIDEOS), n_videos, replace=False))
        clips: list[sx.ClipPlan] = []
        videos = []
        folder_number = int(p.id[1:])
        for v, video in enumerate(chosen):
            code, stem, title = _VIDEOS[video]
            events: list[sx.ClipPlan | None] = [*micro[v::n_videos], None]
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
                    label = str(rng.choice([*CLASSES, sx.DROP]))
                    motion = label if label in CLASSES else str(rng.choice(CLASSES))
                    combo, factors = sx._draw_combination(p.style, motion, rng)
                    e = sx.ClipPlan(
                        "",
                        sx.MACRO,
                        label,
                        n,
                        n // 2,
                        0,
                        motion,
                        sx._MACRO_FACTOR * p.style.gain,
                        1000 + 10 * v + k,
                        **sx._clip_extras(rng, n, fps),
                        combination=combo,
                        aus=p.style.aus(combo, factors),
                    )
                elif (p.id, e.key) == target:  # apex exactly mid-clip: offset 0 is recoverable
                    n = e.n if e.n % 2 else e.n - 1
                    e = sx.replace(
                        e,
                        n=n,
                        apex=(n - 1) // 2,
                        quirk="offset 0",
                        blink=None if e.blink is None else (0, min(e.blink[1], n)),
                    )
                segments.append(("clip", len(clips)))
                clips.append(sx.replace(e, name=f"{stem}_{k}", start=frame, video=v))
                frame += e.n
            segments.append(("rest", int(rng.integers(2, 6))))
            videos.append(
                sx.VideoPlan(code, stem, f"{folder_number}_{code}{title}", tuple(segments), key=v)
            )
        participant = _FOLDERS.index(folder_number) + 1
        out.append(sx.replace(p, clips=tuple(clips), videos=tuple(videos), participant=participant))
    return out


def standin_annotation(root: Path, seed: int, plans: list[sx.SubjectPlan]) -> list[str]:
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
            kind = "macro-expression" if c.label == sx.MACRO else "micro-expression"
            rows.append(
                [
                    p.participant,
                    c.name,
                    c.start,
                    c.start + c.apex,
                    off,
                    sx.au_code(c.aus),
                    c.emotion,
                    kind,
                    c.emotion,
                ]
            )
    wb = sx._new_workbook()
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
    sx._save_workbook(wb, root / "CAS(ME)^2code_final.xlsx")
    return quirks
