"""Frames on disk: frame folders listed by frame number, images and video frames decoded, with
a clear error naming the file when one cannot be read."""

from __future__ import annotations

import os
import re
import stat
from collections import defaultdict
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from ._common import DatasetError

VIDEO_REF = re.compile(r"^(?P<path>.+)#(?P<index>\d+)$")


TRAILING_NUMBER = re.compile(r"(\d+)$")


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
        video = parse_video_ref(ref)
        if video is None:
            frames[pos] = read_image(ref)
        else:
            by_video[video[0]].append((video[1], pos))
    for path, wanted in by_video.items():
        decoded = decode_video(path, sorted({index for index, _ in wanted}))
        for index, pos in wanted:
            frames[pos] = decoded[index]
    return frames  # type: ignore[return-value]


def video_ref(video: str | os.PathLike, index: int) -> str:
    """Return the frame reference of 0-based frame ``index`` of ``video``."""
    return f"{video}#{index}"


def list_frames(folder: Path, extensions: Iterable[str]) -> dict[int, str] | None:
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
                match = TRAILING_NUMBER.search(stem)
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
    except PermissionError:
        raise DatasetError(f"{folder}: permission denied (cannot list the frames folder)") from None
    return frames


def select(frames: dict[int, str], onset: int, offset: int, where: str, folder: Path) -> list[str]:
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


def read_image(path: str) -> np.ndarray:
    """Decode one image file; :class:`DatasetError` naming the file when it is missing, not
    readable (permission denied), truncated or corrupt.

    A truncated JPEG decodes without error, its missing part grey (libjpeg only prints "Premature
    end of JPEG file", naming no file), so the data are checked before decoding: a JPEG must end
    with its end-of-image marker, a BMP must be as long as its header says.
    """
    try:
        regular_file(path, "frame")
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise DatasetError(f"{path}: frame does not exist") from None
    except PermissionError:
        raise DatasetError(f"{path}: frame cannot be read: permission denied") from None
    except IsADirectoryError:
        raise DatasetError(f"{path}: frame is a folder, not an image file") from None
    if not data:
        raise DatasetError(f"{path}: frame is an empty file (0 bytes)")
    problem = truncation(data)
    if problem:
        raise DatasetError(f"{path}: frame is truncated or corrupt ({problem})")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_ANYCOLOR)
    if image is None:
        raise DatasetError(f"{path}: frame cannot be decoded (corrupt or not an image)")
    return image


def regular_file(path: str | os.PathLike, what: str) -> None:
    """Raise :class:`DatasetError` when ``path`` (links followed) is there but not a regular
    file: opening a FIFO named like a frame would wait forever for a writer."""
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(path)
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
        raise DatasetError(f"{path}: {what} is {kind}, not a regular file")


_JPEG_START, _JPEG_END = b"\xff\xd8", b"\xff\xd9"


def truncation(data: bytes) -> str | None:
    """Why an encoded image is incomplete, or None when nothing shows it.

    JPEG: no end-of-image marker (FF D9) after the last scan; inside entropy-coded data FF is
    always followed by 00 or a restart marker, so the marker cannot occur by chance. BMP: fewer
    bytes than the file size in its header. PNG: no IEND chunk.
    """
    if data.startswith(_JPEG_START):
        if _JPEG_END not in data[-4096:] and data.rfind(_JPEG_END) < 2:
            return "JPEG without its end-of-image marker"
    elif data.startswith(b"BM") and len(data) >= 6:
        declared = int.from_bytes(data[2:6], "little")
        if declared and len(data) < declared:
            return f"BMP of {len(data)} bytes, its header says {declared}"
    elif data.startswith(b"\x89PNG") and b"IEND" not in data[-64:]:
        return "PNG without its IEND chunk"
    return None


def parse_video_ref(ref: str) -> tuple[str, int] | None:
    match = VIDEO_REF.match(ref)
    if match is None:
        return None
    return match.group("path"), int(match.group("index"))


def video_frame_count(path: Path) -> int:
    if os.path.exists(path):
        regular_file(path, "video")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise DatasetError(f"{path}: video cannot be opened")
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()


def decode_video(path: str, indices: list[int]) -> dict[int, np.ndarray]:
    """Decode the 0-based ``indices`` (sorted) of one video: one seek, then forward reads."""
    if not os.path.exists(path):
        raise DatasetError(f"{path}: video does not exist")
    regular_file(path, "video")
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


def frames_dir(root: Path, info: dict) -> str:
    names = info.get("frames_dirs")
    if not names:
        return ""
    for candidate in names:
        if (root / candidate).is_dir():
            return candidate
    raise DatasetError(f"{root}: no frames folder found; names tried: {names}")


def file_of(ref: str) -> str:
    """The file behind a frame reference (``video#index`` refers to the video file)."""
    video = parse_video_ref(str(ref))
    return video[0] if video else str(ref)
