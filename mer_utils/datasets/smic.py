"""SMIC-HS: the folder tree is the annotation.

``root/HS/s<N>/micro/<negative|positive|surprise>/<clip>/image<6 digits>.bmp`` (bmp/jpg/png). No
spreadsheet: the label is the folder, onset/offset the first/last frame number, apex ``<NA>``.
Subject folders ``s1`` or ``s01`` are both accepted and kept as named.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from ._common import DatasetError, Report, label_key, map_label, record, subdirs
from ._frames import list_frames, select

logger = logging.getLogger("mer_utils.datasets")


def read(name: str, root: Path, info: dict, annotation) -> tuple[list[dict], Report]:
    """SMIC-HS: the folder tree is the annotation (subject / micro / label / clip / frames)."""
    if annotation is not None:
        raise DatasetError(f"{root}: SMIC has no annotation file (the label is the folder)")
    subset = root / info["subset"]
    report = Report(name, annotation=str(subset), frames_from=str(subset))
    if not subset.is_dir():
        raise DatasetError(
            f"{subset}: SMIC subset folder does not exist (expected "
            f"{info['subset']}/s<N>/{info['micro_dir']}/<label>/<clip>/<frames>)"
        )
    pattern = re.compile(info["subject_pattern"], re.IGNORECASE)
    records = []
    for subject_dir in subdirs(subset, report, pattern):
        micro = subject_dir / info["micro_dir"]
        if not micro.is_dir():
            logger.info(
                "%s: no %s folder (subject without micro-expressions)",
                subject_dir,
                info["micro_dir"],
            )
            continue
        for label_dir in subdirs(micro, report):
            label = map_label(name, label_dir.name, str(label_dir))
            for clip_dir in subdirs(label_dir, report):
                report.rows_read += 1
                if label is None:
                    report.drop(f"label {label_key(label_dir.name)}")
                    continue
                records.append(
                    smic_clip(name, info, subject_dir.name, label_dir.name, label, clip_dir)
                )
    return records, report


def smic_clip(
    name: str, info: dict, subject: str, emotion: str, label: str, clip_dir: Path
) -> dict:
    frames = list_frames(clip_dir, info["frame_extensions"]) or {}
    if not frames:
        raise DatasetError(f"{clip_dir}: clip folder holds no frames ({info['frame_extensions']})")
    onset, offset = min(frames), max(frames)
    selected = select(frames, onset, offset, str(clip_dir), clip_dir)
    return record(
        name,
        subject,
        clip_dir.name,
        emotion,
        label,
        onset,
        None,
        offset,
        selected,
        info["subset"],
        str(clip_dir),
    )
