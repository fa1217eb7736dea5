"""Writing files byte-reproducibly: frames, CAS(ME)^2 videos and annotation workbooks.

Frames are JPEG (quality 90) or BMP by their file name; workbooks carry fixed timestamps
(openpyxl stamps the save time otherwise), so the same seed and parameters give byte-identical
files.
"""

from __future__ import annotations

import datetime
import io
import re
import zipfile
from pathlib import Path

import cv2
import numpy as np

from .. import atomic

_JPEG = [cv2.IMWRITE_JPEG_QUALITY, 90]


_FIXED_TIME = datetime.datetime(2024, 1, 1)


def imwrite(path: Path, img: np.ndarray) -> None:
    params = _JPEG if path.suffix.lower() == ".jpg" else []
    if not cv2.imwrite(str(path), img, params):
        raise OSError(f"cv2.imwrite could not write {path}")


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not writer.isOpened():
        raise OSError(f"cv2.VideoWriter could not open {path}")
    for img in frames:
        writer.write(img)
    writer.release()


def new_workbook():
    from openpyxl import Workbook

    return Workbook()


def save_workbook(wb, path: Path) -> None:
    """Save an openpyxl workbook atomically with fixed timestamps (byte-reproducible)."""
    wb.properties.created = _FIXED_TIME
    raw = io.BytesIO()
    wb.save(raw)
    fixed = io.BytesIO()
    stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps 'modified' at save time
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            dst.writestr(
                zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME.timetuple()[:6]),
                data,
                compress_type=zipfile.ZIP_DEFLATED,
            )
    atomic.write_bytes(path, fixed.getvalue())
