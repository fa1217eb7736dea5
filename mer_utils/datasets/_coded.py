"""The layout CASME II and SAMM share: one coding-spreadsheet row per clip, a folder of frames
per clip (``clip_path`` in ``datasets.yaml``)."""

from __future__ import annotations

from pathlib import Path

from ._common import (
    DatasetError,
    Report,
    checked_apex,
    inside,
    is_blank,
    label_key,
    map_label,
    record,
    text_cell,
)
from ._frames import frames_dir as find_frames_dir
from ._frames import list_frames, select
from ._sheets import coded_frame, coded_table, find_annotation
from ._sheets import subject as subject_folder


def read(name: str, root: Path, info: dict, annotation) -> tuple[list[dict], Report]:
    """CASME II and SAMM: one spreadsheet row per clip folder ``clip_path`` of frames."""
    path = find_annotation(root, info, annotation)
    sheet, header, table, cols = coded_table(path, info)
    frames_dir = find_frames_dir(root, info)
    report = Report(name, annotation=str(path), sheet=sheet, frames_from=str(root / frames_dir))
    records = []
    for i in range(header + 1, len(table)):
        cells = table.iloc[i]
        if all(is_blank(v) for v in cells):
            continue
        row = i + 1
        where = f"{path}: sheet {sheet!r} row {row}"
        report.rows_read += 1
        if is_blank(cells.iloc[cols["subject"]]) and is_blank(cells.iloc[cols["clip"]]):
            report.skip(str(path), row, "row without subject and filename")
            continue
        emotion = text_cell(cells.iloc[cols["emotion"]])
        label = map_label(name, cells.iloc[cols["emotion"]], where)
        if label is None:
            report.drop(f"label {label_key(emotion)}")
            continue
        subject = subject_folder(cells.iloc[cols["subject"]], info, where)
        clip = text_cell(cells.iloc[cols["clip"]])
        onset, apex, offset = (
            coded_frame(cells.iloc[cols[k]], k, where) for k in ("onset", "apex", "offset")
        )
        if onset is None:
            raise DatasetError(f"{where}: onset frame is missing")
        folder = root / info["clip_path"].format(frames_dir=frames_dir, subject=subject, clip=clip)
        if not inside(root, folder, report, str(path), row):
            continue
        frames = list_frames(folder, info["frame_extensions"])
        if frames is None:
            raise DatasetError(f"{where}: frames folder {folder} does not exist")
        if offset is not None and offset < onset:
            report.skip(str(path), row, "onset after offset")  # a coding error: not guessed
            continue
        if offset is None:
            offset = fallback_offset(info, frames, onset, offset, folder, report, (str(path), row))
        if apex is None:
            report.adjust(str(path), row, "apex not coded")
        apex = checked_apex(apex, onset, offset, str(path), row, report)
        records.append(
            record(
                name,
                subject,
                clip,
                emotion,
                label,
                onset,
                apex,
                offset,
                select(frames, onset, offset, where, folder),
                path.name,
                where,
            )
        )
    return records, report


def fallback_offset(
    info: dict,
    frames: dict[int, str],
    onset: int,
    offset: int | None,
    folder: Path,
    report: Report,
    at: tuple[str, int],
) -> int:
    """Offset missing or '?': the last frame in the folder where the dataset is documented to
    have such rows (``offset_fallback``), else an error. ``at`` = (file, row). (An offset before
    its onset is a coding error, not a missing code: the row is skipped and listed.)"""
    problem = "offset missing"
    where = f"{at[0]}: row {at[1]}"
    if not info.get("offset_fallback"):
        raise DatasetError(f"{where}: {problem}")
    later = [n for n in frames if n >= onset]
    if not later:
        raise DatasetError(f"{where}: {problem} and no frame >= onset {onset} in {folder}")
    last = max(later)
    report.adjust(
        at[0],
        at[1],
        "offset missing or invalid: clip ends at the last frame present",
        f"{problem}; offset set to {last}",
    )
    return last
