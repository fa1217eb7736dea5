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
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pandas as pd

from ._common import (
    DatasetError,
    Report,
    checked_apex,
    inside,
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
    if not inside(videos.root, video, report, file, row):  # a link leading out of the folder
        return None
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
