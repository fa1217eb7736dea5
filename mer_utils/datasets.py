"""Read the four licensed micro-expression datasets exactly as their owners distribute them.

:func:`load` returns one row per clip that maps to the three classes, with the columns
:data:`COLUMNS` (``dataset, subject, clip, emotion, label, onset, apex, offset, frames, source``)
and a load report in ``df.attrs["report"]`` (annotation file, rows read and kept, rows dropped per
reason, counted skips and adjusted rows with file and row). Label mappings live in
``data/labels.yaml`` and layout facts (spreadsheet patterns, column names, folders) in
``data/datasets.yaml``; this module holds only the logic of each layout.

Layouts (``root`` is the dataset's own folder; facts from shared/reference/datasets.md):

CASME II
    ``root/CASME2_RAW_selected/subNN/<Filename>/img<N>.jpg`` (``CASME2-RAW`` full clips are also
    accepted: only onset..offset frames are taken). Spreadsheet found by pattern
    (``CASME2-coding-*.xlsx`` ...); the header row is located by content and column names are
    normalised (``Onset Frame`` / ``OnsetFrame`` / ``Onset_Frame``, ``Estimated Emotion`` /
    ``Estimated_Emotion``), so the 2014 and 2019 files both read. Subject ``'01'`` or ``1`` ->
    ``sub01``; apex ``'/'`` -> ``<NA>``.
SAMM
    ``root/<Subject>/<Filename>/<Subject>_<5 digits>.jpg``; sheet ``MICRO_ONLY`` of
    ``SAMM_Micro_FACS_Codes_v2.xlsx`` whose header row (13 preamble rows in v2) is found by content.
    Missing / ``'?'`` / before-onset offsets (a documented incompleteness): the clip ends at the
    last frame present in its folder (logged, listed under ``adjusted``).
SMIC-HS
    ``root/HS/s<N>/micro/<negative|positive|surprise>/<clip>/image<6 digits>.bmp`` (bmp/jpg/png).
    No spreadsheet: the label is the folder, onset/offset the first/last frame number, apex
    ``<NA>``. Subject folders ``s1`` or ``s01`` are both accepted and kept as named.
CAS(ME)^2
    ``root/CAS(ME)^2code_final.xlsx`` without header rows. First sheet (``CASMEcode_final`` or
    ``CASFEcode_final``: read by position, not name): participant, expression name, onset, apex,
    offset (0 = not coded), AUs, estimated emotion, type, self-report. Only micro-expression rows
    are kept (macro rows dropped and counted). Frames ``root/rawpic/sNN/<video folder>/img<N>.jpg``
    (N = 1-based frame of the long video), a clip = frames onset..offset; when ``rawpic/`` is
    absent and ``rawvideo/`` exists, frames are references ``"<video>#<N-1>"`` decoded by
    :func:`read_frame` / :func:`read_frames`. Offset 0 with a coded apex: offset =
    apex + (apex - onset), capped at the video's last frame (adjusted, logged); apex 0: ``<NA>``;
    onset 0: the row is a counted skip.

CAS(ME)^2 naming rule (as public code that reads the official file applies it: dataset helpers
and MEGC spotting code, which read every sheet with ``header=None``):

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

Errors: every bad input raises :class:`DatasetError` (a ``ValueError``) naming the file and the
row or frame and what is wrong: missing dataset folder, no / unreadable spreadsheet (with the
patterns tried), unknown label, a row whose frames are not on disk, duplicate (subject, clip),
corrupt image. Rows intentionally left out (labels in the ``drop`` lists, macro rows, uncoded
onsets) are logged and counted in the report; nothing is dropped silently.
"""
from __future__ import annotations

import logging
import math
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import cv2
import numpy as np
import pandas as pd

from . import config

logger = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = (
    "dataset", "subject", "clip", "emotion", "label", "onset", "apex", "offset", "frames", "source",
)
"""Columns of the table :func:`load` returns, in this order."""

_MISSING_MARKS = {"", "/", "?", "-", "na", "n/a", "nan", "none"}
_VIDEO_REF = re.compile(r"^(?P<path>.+)#(?P<index>\d+)$")
_TRAILING_NUMBER = re.compile(r"(\d+)$")
_MAX_HEADER_SEARCH = 60


class DatasetError(ValueError):
    """A dataset folder, annotation file or frame that cannot be read as documented."""


# ----------------------------------------------------------------------------- public helpers


def display_name(name: str) -> str:
    """Return the dataset's display name (``casme_sq`` -> ``CAS(ME)^2``)."""
    return _info(name)["display"]


def find_root(name: str, data_root: str | os.PathLike) -> Path | None:
    """Return ``data_root/<folder>`` (folder from datasets.yaml) if it is a directory, else None."""
    candidate = Path(data_root) / _info(name)["folder"]
    return candidate if candidate.is_dir() else None


def class_counts(df: pd.DataFrame) -> dict[str, int]:
    """Return the number of clips per class, in :data:`config.CLASSES` order (zeros included)."""
    counts = Counter(df["label"])
    return {cls: int(counts.get(cls, 0)) for cls in config.CLASSES}


def label_table(name: str) -> dict[str, str | None]:
    """Return dataset ``name``'s mapping: normalised original label -> class, or None (dropped).

    Raises ``ValueError`` when labels.yaml lists one label under two classes.
    """
    table = config.load("labels")[name]
    mapping: dict[str, str | None] = {}
    for target in (*config.CLASSES, "drop"):
        for label in table.get(target) or []:
            key = _label_key(label)
            value = None if target == "drop" else target
            if key in mapping and mapping[key] != value:
                raise ValueError(f"labels.yaml: {name}: label {label!r} is listed twice")
            mapping[key] = value
    return mapping


def map_label(name: str, emotion: Any, where: str = "") -> str | None:
    """Map an original label of dataset ``name`` to its class, or None if the label is dropped.

    ``where`` (e.g. ``"file.xlsx: row 12"``) prefixes the error message. Raises
    :class:`DatasetError` for an empty label or one that labels.yaml does not list.
    """
    mapping = label_table(name)
    key = _label_key(emotion) if not _is_blank(emotion) else ""
    if key not in mapping:
        prefix = f"{where}: " if where else ""
        raise DatasetError(
            f"{prefix}unknown {display_name(name)} label {emotion!r}; labels.yaml maps "
            f"{sorted(k for k in mapping)} (add it to mer_utils/data/labels.yaml)"
        )
    return mapping[key]


def load(
    name: str, root: str | os.PathLike, annotation: str | os.PathLike | None = None
) -> pd.DataFrame:
    """Load dataset ``name`` (casme2, samm, smic, casme_sq) from its own folder ``root``.

    Returns one row per clip that maps to the three classes with the columns :data:`COLUMNS`;
    ``onset``/``apex``/``offset`` are nullable ``Int64`` (apex may be ``<NA>``), ``frames`` a list
    of frame references ordered by frame number. ``annotation`` overrides the spreadsheet found
    by pattern (a path, absolute or relative to ``root``). ``df.attrs["report"]`` holds the load
    report. Raises :class:`DatasetError` for any input that does not follow the layout.
    """
    info = _info(name)
    root = Path(root).expanduser().absolute()
    if not root.is_dir():
        raise DatasetError(
            f"{root}: {info['display']} dataset folder does not exist (expected the folder as "
            f"distributed, default name {info['folder']!r} under the data root)"
        )
    records, report = _LOADERS[name](name, root, info, annotation)
    return _finish(name, records, report)


def read_frame(ref: str | os.PathLike) -> np.ndarray:
    """Read one frame reference: an image path, or ``"<video>#<0-based index>"``.

    Returns BGR uint8 (H, W, 3) for colour, (H, W) uint8 for gray images. Raises
    :class:`DatasetError` naming the file when it is missing or cannot be decoded.
    """
    return read_frames([ref])[0]


def read_frames(refs: Iterable[str | os.PathLike]) -> list[np.ndarray]:
    """Read frame references in order; each video is opened once and read forward from the
    first requested index (one seek, then sequential decoding)."""
    refs = [str(ref) for ref in refs]
    frames: list[np.ndarray | None] = [None] * len(refs)
    by_video: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for pos, ref in enumerate(refs):
        video = _parse_video_ref(ref)
        if video is None:
            frames[pos] = _read_image(ref)
        else:
            by_video[video[0]].append((video[1], pos))
    for path, wanted in by_video.items():
        decoded = _decode_video(path, sorted({index for index, _ in wanted}))
        for index, pos in wanted:
            frames[pos] = decoded[index]
    return frames  # type: ignore[return-value]


def video_ref(video: str | os.PathLike, index: int) -> str:
    """Return the frame reference of 0-based frame ``index`` of ``video``."""
    return f"{video}#{index}"


# ----------------------------------------------------------------------------- report


@dataclass
class _Report:
    """What a load read, dropped, skipped and adjusted (becomes ``df.attrs['report']``)."""

    dataset: str
    annotation: str = ""
    sheet: str | None = None
    frames_from: str = ""
    rows_read: int = 0
    ignored: list[str] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)
    skipped: list[dict] = field(default_factory=list)
    adjusted: list[dict] = field(default_factory=list)

    def drop(self, reason: str) -> None:
        """Count a row left out on purpose (e.g. ``label others``); logged in the summary."""
        self.dropped[reason] += 1

    def skip(self, file: str, row: Any, reason: str) -> None:
        """Count and log a row skipped because the dataset itself is incomplete."""
        logger.warning("%s: skipped %s: %s", file, _row_text(row), reason)
        self.dropped[reason] += 1
        self.skipped.append({"file": file, "row": row, "reason": reason})

    def adjust(self, file: str, row: Any, reason: str, detail: str = "") -> None:
        """Log and list a kept row whose coding was corrected (e.g. apex outside the clip)."""
        logger.warning("%s: %s: %s%s", file, _row_text(row), reason, f" ({detail})" if detail else "")
        self.adjusted.append({"file": file, "row": row, "reason": reason, "detail": detail})

    def as_dict(self, rows_kept: int) -> dict:
        """Return the report as plain data and log the drop summary."""
        for reason, count in sorted(self.dropped.items()):
            logger.info("%s: dropped %d rows: %s", self.dataset, count, reason)
        return {
            "dataset": self.dataset,
            "annotation": self.annotation,
            "sheet": self.sheet,
            "frames_from": self.frames_from,
            "rows_read": self.rows_read,
            "rows_kept": rows_kept,
            "ignored": list(self.ignored),
            "dropped": dict(sorted(self.dropped.items())),
            "skipped": list(self.skipped),
            "adjusted": list(self.adjusted),
            "adjusted_counts": dict(sorted(Counter(a["reason"] for a in self.adjusted).items())),
        }


def _row_text(row: Any) -> str:
    return f"row {row}" if isinstance(row, int) else str(row)


# ----------------------------------------------------------------------------- cells


def _info(name: str) -> dict:
    if name not in config.DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known: {list(config.DATASETS)}")
    return config.dataset_info(name)


def _norm(value: Any) -> str:
    """Normalise a header cell: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", str(value).casefold())


def _label_key(value: Any) -> str:
    return " ".join(str(value).split()).casefold()


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _int_cell(value: Any) -> int | None:
    """Return an integer cell value, None for a missing mark ('/', '?', blank); raise ValueError."""
    if _is_blank(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"not a frame number: {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if float(value).is_integer():
            return int(value)
        raise ValueError(f"not an integer: {value!r}")
    text = str(value).strip()
    if text.casefold() in _MISSING_MARKS:
        return None
    if re.fullmatch(r"\d+(\.0+)?", text):
        return int(float(text))
    raise ValueError(f"not a frame number: {value!r}")


def _number_in(value: Any) -> int | None:
    """Return the number in a subject-like cell (``1``, ``'01'``, ``'sub01'``, ``'s15'``)."""
    if _is_blank(value):
        return None
    if isinstance(value, (int, np.integer, float, np.floating)) and not isinstance(value, bool):
        return int(value) if float(value).is_integer() else None
    match = re.search(r"(\d+)\s*$", str(value).strip())
    return int(match.group(1)) if match else None


def _text_cell(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


# ----------------------------------------------------------------------------- spreadsheets


def _find_annotation(root: Path, info: dict, annotation: str | os.PathLike | None) -> Path:
    """Return the annotation spreadsheet: ``annotation`` if given, else the first pattern's match."""
    if annotation is not None:
        path = Path(annotation)
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            raise DatasetError(f"{path}: annotation file does not exist")
        return path
    patterns = info["spreadsheet_patterns"]
    for pattern in patterns:
        hits = sorted(p for p in root.glob(pattern) if p.is_file() and not p.name.startswith("~$"))
        if hits:
            if len(hits) > 1:
                logger.warning(
                    "%s: several files match %r: %s; using %s (pass annotation= to choose)",
                    root, pattern, [p.name for p in hits], hits[-1].name,
                )
            return hits[-1]
    raise DatasetError(
        f"{root}: no {info['display']} annotation spreadsheet found; patterns tried: {patterns}"
    )


def _read_workbook(path: Path) -> dict[str, pd.DataFrame]:
    """Read every sheet of a spreadsheet as raw cells (no header, dtype object)."""
    try:
        with pd.ExcelFile(path) as book:
            return {
                str(sheet): book.parse(sheet, header=None, dtype=object)
                for sheet in book.sheet_names
            }
    except Exception as exc:  # openpyxl / xlrd / zipfile raise many types for a bad file
        raise DatasetError(
            f"{path}: cannot read the annotation spreadsheet ({type(exc).__name__}: {exc})"
        ) from exc


def _locate_header(table: pd.DataFrame, keys: Sequence[str]) -> int | None:
    """Return the index of the first row whose normalised cells include all ``keys``."""
    for i in range(min(len(table), _MAX_HEADER_SEARCH)):
        cells = {_norm(v) for v in table.iloc[i] if not _is_blank(v)}
        if all(key in cells for key in keys):
            return i
    return None


def _coded_table(path: Path, info: dict) -> tuple[str, int, pd.DataFrame, dict[str, int]]:
    """Find the sheet and header row of a coding spreadsheet; map fields to column positions.

    Returns (sheet name, header row index, raw table, {field: column position}).
    """
    sheets = _read_workbook(path)
    preferred = info.get("sheet")
    order = list(sheets)
    if preferred:
        if preferred in sheets:
            order = [preferred] + [s for s in order if s != preferred]
        else:
            logger.warning("%s: no sheet %r; looking for the header in %s", path, preferred, order)
    keys = info["header_keys"]
    for sheet in order:
        table = sheets[sheet]
        header = _locate_header(table, keys)
        if header is not None:
            return sheet, header, table, _map_columns(path, sheet, header, table, info["columns"])
    raise DatasetError(
        f"{path}: no header row with {keys} found in the first {_MAX_HEADER_SEARCH} rows of "
        f"sheets {order}"
    )


def _map_columns(
    path: Path, sheet: str, header: int, table: pd.DataFrame, aliases: dict[str, list[str]]
) -> dict[str, int]:
    names = [_norm(v) if not _is_blank(v) else "" for v in table.iloc[header]]
    positions: dict[str, int] = {}
    for fld, accepted in aliases.items():
        found = [i for i, n in enumerate(names) if n in accepted]
        if not found:
            raise DatasetError(
                f"{path}: sheet {sheet!r} row {header + 1}: no column for {fld!r} (accepted "
                f"names {accepted}; header has {[n for n in names if n]})"
            )
        positions[fld] = found[0]
    return positions


# ----------------------------------------------------------------------------- frames on disk


def _list_frames(folder: Path, extensions: Iterable[str]) -> dict[int, str] | None:
    """Return {frame number: path} of the image files in ``folder`` (one ``os.scandir``), or None
    if the folder does not exist. The frame number is the last digit group of the file stem."""
    exts = {e.lower().lstrip(".") for e in extensions}
    frames: dict[int, str] = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):  # hidden files, e.g. macOS '._img12.jpg'
                    continue
                stem, dot, ext = entry.name.rpartition(".")
                if not dot or ext.lower() not in exts:
                    continue
                match = _TRAILING_NUMBER.search(stem)
                if match is None:
                    continue
                number = int(match.group(1))
                if number in frames:
                    raise DatasetError(
                        f"{folder}: two files carry frame number {number}: "
                        f"{Path(frames[number]).name} and {entry.name}"
                    )
                frames[number] = os.path.join(folder, entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return frames


def _select(frames: dict[int, str], onset: int, offset: int, where: str, folder: Path) -> list[str]:
    """Return the frames onset..offset in order; raise naming the missing frame numbers."""
    missing = [n for n in range(onset, offset + 1) if n not in frames]
    if missing:
        shown = missing[:5] + (["..."] if len(missing) > 5 else [])
        have = f"{min(frames)}..{max(frames)}" if frames else "none"
        raise DatasetError(
            f"{where}: frames {onset}..{offset} expected in {folder}, {len(missing)} missing "
            f"(e.g. {shown}); frames present: {have}"
        )
    return [frames[n] for n in range(onset, offset + 1)]


def _read_image(path: str) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_ANYCOLOR)
    if image is None:
        what = "cannot be decoded (corrupt or not an image)" if os.path.exists(path) else "does not exist"
        raise DatasetError(f"{path}: frame {what}")
    return image


def _parse_video_ref(ref: str) -> tuple[str, int] | None:
    match = _VIDEO_REF.match(ref)
    if match is None:
        return None
    return match.group("path"), int(match.group("index"))


def _video_frame_count(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise DatasetError(f"{path}: video cannot be opened")
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()


def _decode_video(path: str, indices: list[int]) -> dict[int, np.ndarray]:
    """Decode the 0-based ``indices`` (sorted) of one video: one seek, then forward reads."""
    if not os.path.exists(path):
        raise DatasetError(f"{path}: video does not exist")
    capture = cv2.VideoCapture(path)
    try:
        if not capture.isOpened():
            raise DatasetError(f"{path}: video cannot be opened")
        decoded: dict[int, np.ndarray] = {}
        position = 0
        for index in indices:
            if index != position:
                capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = capture.read()
            if not ok or frame is None:
                raise DatasetError(f"{path}: frame index {index} cannot be decoded")
            decoded[index] = frame
            position = index + 1
        return decoded
    finally:
        capture.release()


# ----------------------------------------------------------------------------- CASME II and SAMM


def _load_coded(name: str, root: Path, info: dict, annotation) -> tuple[list[dict], _Report]:
    """CASME II and SAMM: one spreadsheet row per clip folder ``clip_path`` of frames."""
    path = _find_annotation(root, info, annotation)
    sheet, header, table, cols = _coded_table(path, info)
    frames_dir = _frames_dir(root, info)
    report = _Report(name, annotation=str(path), sheet=sheet, frames_from=str(root / frames_dir))
    records = []
    for i in range(header + 1, len(table)):
        cells = table.iloc[i]
        if all(_is_blank(v) for v in cells):
            continue
        row = i + 1
        where = f"{path}: sheet {sheet!r} row {row}"
        report.rows_read += 1
        if _is_blank(cells.iloc[cols["subject"]]) and _is_blank(cells.iloc[cols["clip"]]):
            report.skip(str(path), row, "row without subject and filename")
            continue
        emotion = _text_cell(cells.iloc[cols["emotion"]])
        label = map_label(name, cells.iloc[cols["emotion"]], where)
        if label is None:
            report.drop(f"label {_label_key(emotion)}")
            continue
        subject = _subject(cells.iloc[cols["subject"]], info, where)
        clip = _text_cell(cells.iloc[cols["clip"]])
        onset, apex, offset = (
            _coded_frame(cells.iloc[cols[k]], k, where) for k in ("onset", "apex", "offset")
        )
        if onset is None:
            raise DatasetError(f"{where}: onset frame is missing")
        folder = root / info["clip_path"].format(frames_dir=frames_dir, subject=subject, clip=clip)
        frames = _list_frames(folder, info["frame_extensions"])
        if frames is None:
            raise DatasetError(f"{where}: frames folder {folder} does not exist")
        if offset is None or offset < onset:
            offset = _fallback_offset(info, frames, onset, offset, folder, report, (str(path), row))
        if apex is None:
            report.adjust(str(path), row, "apex not coded")
        apex = _checked_apex(apex, onset, offset, str(path), row, report)
        records.append(_record(
            name, subject, clip, emotion, label, onset, apex, offset,
            _select(frames, onset, offset, where, folder), path.name, where,
        ))
    return records, report


def _frames_dir(root: Path, info: dict) -> str:
    names = info.get("frames_dirs")
    if not names:
        return ""
    for candidate in names:
        if (root / candidate).is_dir():
            return candidate
    raise DatasetError(f"{root}: no frames folder found; names tried: {names}")


def _subject(value: Any, info: dict, where: str) -> str:
    number = _number_in(value)
    if number is None:
        raise DatasetError(f"{where}: subject {value!r} carries no subject number")
    return info["subject_format"].format(number)


def _coded_frame(value: Any, what: str, where: str) -> int | None:
    try:
        return _int_cell(value)
    except ValueError as exc:
        raise DatasetError(f"{where}: {what} frame: {exc}") from None


def _fallback_offset(
    info: dict, frames: dict[int, str], onset: int, offset: int | None,
    folder: Path, report: _Report, at: tuple[str, int],
) -> int:
    """Offset missing, '?' or before the onset: the last frame in the folder where the dataset is
    documented to have such rows (``offset_fallback``), else an error. ``at`` = (file, row)."""
    problem = "offset missing" if offset is None else f"offset {offset} before onset {onset}"
    where = f"{at[0]}: row {at[1]}"
    if not info.get("offset_fallback"):
        raise DatasetError(f"{where}: {problem}")
    later = [n for n in frames if n >= onset]
    if not later:
        raise DatasetError(f"{where}: {problem} and no frame >= onset {onset} in {folder}")
    last = max(later)
    report.adjust(at[0], at[1], "offset missing or invalid: clip ends at the last frame present",
                  f"{problem}; offset set to {last}")
    return last


def _checked_apex(
    apex: int | None, onset: int, offset: int, file: str, row: Any, report: _Report
) -> int | None:
    """Return ``apex``, or None (logged, listed) when it lies outside onset..offset."""
    if apex is not None and not onset <= apex <= offset:
        report.adjust(file, row, "apex outside onset..offset", f"apex {apex}, clip {onset}..{offset}")
        return None
    return apex


def _record(name, subject, clip, emotion, label, onset, apex, offset, frames, source, where) -> dict:
    return {
        "dataset": name, "subject": subject, "clip": clip, "emotion": emotion, "label": label,
        "onset": onset, "apex": apex, "offset": offset, "frames": frames, "source": source,
        "_where": where,
    }


# ----------------------------------------------------------------------------- SMIC


def _load_smic(name: str, root: Path, info: dict, annotation) -> tuple[list[dict], _Report]:
    """SMIC-HS: the folder tree is the annotation (subject / micro / label / clip / frames)."""
    if annotation is not None:
        raise DatasetError(f"{root}: SMIC has no annotation file (the label is the folder)")
    subset = root / info["subset"]
    report = _Report(name, annotation=str(subset), frames_from=str(subset))
    if not subset.is_dir():
        raise DatasetError(
            f"{subset}: SMIC subset folder does not exist (expected "
            f"{info['subset']}/s<N>/{info['micro_dir']}/<label>/<clip>/<frames>)"
        )
    pattern = re.compile(info["subject_pattern"], re.IGNORECASE)
    records = []
    for subject_dir in _subdirs(subset, report, pattern):
        micro = subject_dir / info["micro_dir"]
        if not micro.is_dir():
            logger.info("%s: no %s folder (subject without micro-expressions)",
                        subject_dir, info["micro_dir"])
            continue
        for label_dir in _subdirs(micro, report):
            label = map_label(name, label_dir.name, str(label_dir))
            for clip_dir in _subdirs(label_dir, report):
                report.rows_read += 1
                if label is None:
                    report.drop(f"label {_label_key(label_dir.name)}")
                    continue
                records.append(_smic_clip(name, info, subject_dir.name, label_dir.name, label, clip_dir))
    return records, report


def _subdirs(folder: Path, report: _Report, pattern: re.Pattern | None = None) -> list[Path]:
    """Sub-folders of ``folder`` in natural order; folders not matching ``pattern`` are logged."""
    with os.scandir(folder) as entries:
        dirs = [Path(e.path) for e in entries if e.is_dir()]
    if pattern is not None:
        ignored = [d for d in dirs if not pattern.match(d.name)]
        for d in ignored:
            logger.warning("%s: ignored (not a subject folder)", d)
            report.ignored.append(str(d))
        dirs = [d for d in dirs if pattern.match(d.name)]
    return sorted(dirs, key=lambda d: _natural_key(d.name))


def _natural_key(text: str) -> list:
    return [int(t) if t.isdigit() else t.casefold() for t in re.split(r"(\d+)", text)]


def _smic_clip(name: str, info: dict, subject: str, emotion: str, label: str, clip_dir: Path) -> dict:
    frames = _list_frames(clip_dir, info["frame_extensions"]) or {}
    if not frames:
        raise DatasetError(f"{clip_dir}: clip folder holds no frames ({info['frame_extensions']})")
    onset, offset = min(frames), max(frames)
    selected = _select(frames, onset, offset, str(clip_dir), clip_dir)
    return _record(
        name, subject, clip_dir.name, emotion, label, onset, None, offset, selected,
        info["subset"], str(clip_dir),
    )


# ----------------------------------------------------------------------------- CAS(ME)^2


@dataclass
class _LongVideos:
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
            n for n in self._listings[folder]
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
            return _select(listing, onset, offset, where, video)
        if offset > listing:
            raise DatasetError(f"{where}: frames {onset}..{offset} requested, {video} has {listing} frames")
        return [video_ref(video, n - 1) for n in range(onset, offset + 1)]

    def _listing(self, video: Path) -> dict[int, str] | int:
        if video not in self._frames:
            if self.use_images:
                self._frames[video] = _list_frames(video, self.info["frame_extensions"]) or {}
            else:
                self._frames[video] = _video_frame_count(video)
        return self._frames[video]


def _load_casme_sq(name: str, root: Path, info: dict, annotation) -> tuple[list[dict], _Report]:
    """CAS(ME)^2: header-less code sheet + naming-rule sheets -> clips of the long videos."""
    path = _find_annotation(root, info, annotation)
    sheets = _read_workbook(path)
    code_sheet = next(iter(sheets))
    subjects = _rule1(path, _rule_sheet(path, sheets, info["rule_sheets"]["subjects"]), info)
    codes = _rule2(path, _rule_sheet(path, sheets, info["rule_sheets"]["videos"]))
    videos = _LongVideos(root, info, use_images=_casme_sq_frames(root, info))
    report = _Report(name, annotation=str(path), sheet=code_sheet, frames_from=str(videos.base))
    cols = info["code_columns"]
    keep, known = _norm(info["keep_type"]), {_norm(t) for t in info["known_types"]}
    records = []
    for i, cells in sheets[code_sheet].iterrows():
        if all(_is_blank(v) for v in cells):
            continue
        row = int(i) + 1
        where = f"{path}: sheet {code_sheet!r} row {row}"
        report.rows_read += 1
        kind = _norm(cells.get(cols["type"]))
        if kind not in known:
            participant = _number_in(cells.get(cols["participant"]))
            if participant is None:
                report.skip(str(path), row, "not an annotation row (no participant, no type)")
                continue
            raise DatasetError(f"{where}: unknown expression type {cells.get(cols['type'])!r}; "
                               f"known {info['known_types']}")
        if kind != keep:
            report.drop(f"type {_text_cell(cells.get(cols['type']))}")
            continue
        emotion = _text_cell(cells.get(cols["emotion"]))
        label = map_label(name, cells.get(cols["emotion"]), where)
        if label is None:
            report.drop(f"label {_label_key(emotion)}")
            continue
        record = _casme_sq_row(name, cells, cols, subjects, codes, videos, report, str(path), row, where)
        if record is not None:
            records.append(record | {"emotion": emotion, "label": label, "source": path.name})
    return records, report


def _casme_sq_frames(root: Path, info: dict) -> bool:
    """True: frames from ``rawpic/``; False: decoded from ``rawvideo/``."""
    if (root / info["images_dir"]).is_dir():
        return True
    if (root / info["videos_dir"]).is_dir():
        logger.info("%s: no %s/ folder; frames are decoded from %s/",
                    root, info["images_dir"], info["videos_dir"])
        return False
    raise DatasetError(f"{root}: neither {info['images_dir']}/ nor {info['videos_dir']}/ exists")


def _rule_sheet(path: Path, sheets: dict[str, pd.DataFrame], wanted: str) -> pd.DataFrame:
    for sheet, table in sheets.items():
        if _norm(sheet) == _norm(wanted):
            return table
    raise DatasetError(f"{path}: no sheet {wanted!r} (sheets: {list(sheets)})")


def _rule_rows(table: pd.DataFrame) -> Iterable[tuple[int, list]]:
    for i, cells in table.iterrows():
        values = [v for v in cells if not _is_blank(v)]
        if values:
            yield int(i) + 1, values


def _rule1(path: Path, table: pd.DataFrame, info: dict) -> dict[int, str]:
    """``naming rule1``: participant number -> subject folder name (``1 -> s15``).

    Three columns ``folder number | folder name | participant`` (the official file) or two
    columns ``participant | folder number``. Rows without numbers (a header) are logged."""
    mapping: dict[int, str] = {}
    for row, values in _rule_rows(table):
        if len(values) >= 3:
            folder, participant = _number_in(values[1]), _number_in(values[2])
        elif len(values) == 2:
            participant, folder = _number_in(values[0]), _number_in(values[1])
        else:
            folder = participant = None
        if folder is None or participant is None:
            logger.info("%s: sheet 'naming rule1' row %d ignored (no numbers): %s", path, row, values)
            continue
        mapping[participant] = info["subject_format"].format(folder)
    if not mapping:
        raise DatasetError(f"{path}: sheet 'naming rule1' maps no participant to a folder")
    return mapping


def _rule2(path: Path, table: pd.DataFrame) -> dict[str, str]:
    """``naming rule2``: expression stem -> 4-digit video code (``anger1 -> 0401``)."""
    mapping: dict[str, str] = {}
    for row, values in _rule_rows(table):
        code = _number_in(values[0]) if len(values) >= 2 else None
        if code is None:
            logger.info("%s: sheet 'naming rule2' row %d ignored (no code): %s", path, row, values)
            continue
        mapping[_text_cell(values[1]).casefold()] = f"{code:04d}"
    if not mapping:
        raise DatasetError(f"{path}: sheet 'naming rule2' maps no expression name to a video code")
    return mapping


def _casme_sq_row(
    name: str, cells: pd.Series, cols: dict, subjects: dict[int, str], codes: dict[str, str],
    videos: _LongVideos, report: _Report, file: str, row: int, where: str,
) -> dict | None:
    participant = _number_in(cells.get(cols["participant"]))
    if participant not in subjects:
        raise DatasetError(
            f"{where}: participant {cells.get(cols['participant'])!r} not in sheet 'naming rule1'"
        )
    expression = _text_cell(cells.get(cols["expression"]))
    stem = expression.split("_")[0].casefold()
    if stem not in codes:
        raise DatasetError(
            f"{where}: expression {expression!r}: stem {stem!r} not in sheet 'naming rule2' ({sorted(codes)})"
        )
    onset, apex, offset = (
        _coded_frame(cells.get(cols[k]), k, where) or 0 for k in ("onset", "apex", "offset")
    )
    if onset == 0:
        report.skip(file, row, "onset not coded")
        return None
    subject = subjects[participant]
    video = videos.find(subject, f"{_number_in(subject):02d}_{codes[stem]}", where)
    if offset == 0:
        if apex == 0:
            report.skip(file, row, "offset and apex not coded")
            return None
        offset = min(apex + (apex - onset), videos.last_frame(video))
        report.adjust(file, row, "offset not coded: apex + (apex - onset)", f"offset set to {offset}")
    if offset < onset:
        raise DatasetError(f"{where}: offset {offset} before onset {onset}")
    if apex == 0:
        report.adjust(file, row, "apex not coded")
    checked_apex = _checked_apex(apex or None, onset, offset, file, row, report)
    return _record(
        name, subject, expression, None, None, onset, checked_apex, offset,
        videos.clip(video, onset, offset, where), None, where,
    )


# ----------------------------------------------------------------------------- assembling


_LOADERS: dict[str, Callable[..., tuple[list[dict], _Report]]] = {
    "casme2": _load_coded,
    "samm": _load_coded,
    "smic": _load_smic,
    "casme_sq": _load_casme_sq,
}


def _finish(name: str, records: list[dict], report: _Report) -> pd.DataFrame:
    seen: dict[tuple[str, str], str] = {}
    for rec in records:
        key = (rec["subject"], rec["clip"])
        if key in seen:
            raise DatasetError(
                f"{rec['_where']}: duplicate clip (subject {key[0]!r}, clip {key[1]!r}), "
                f"first seen at {seen[key]}"
            )
        seen[key] = rec["_where"]
    if not records:
        raise DatasetError(
            f"{report.annotation}: no {display_name(name)} clip maps to the three classes "
            f"(rows read {report.rows_read}, dropped {dict(report.dropped)})"
        )
    df = pd.DataFrame([{c: rec[c] for c in COLUMNS} for rec in records], columns=list(COLUMNS))
    for col in ("onset", "apex", "offset"):
        df[col] = pd.array([rec[col] for rec in records], dtype="Int64")
    df.attrs["report"] = report.as_dict(len(df))
    logger.info("%s: %d clips %s", name, len(df), class_counts(df))
    return df
