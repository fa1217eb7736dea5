"""What every dataset reader shares: the table's columns, the load report, cell parsing,
the label mapping (``data/labels.yaml``), and the checks that finish a table."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import config

logger = logging.getLogger("mer_utils.datasets")

COLUMNS: tuple[str, ...] = (
    "dataset",
    "subject",
    "clip",
    "emotion",
    "label",
    "onset",
    "apex",
    "offset",
    "frames",
    "source",
)


MISSING_MARKS = {"", "/", "?", "-", "na", "n/a", "nan", "none"}


class DatasetError(ValueError):
    """A dataset folder, annotation file or frame that cannot be read as documented."""


def dataset_info(name: str) -> dict:
    """The row of ``datasets.yaml`` for ``name``; :class:`DatasetError` for an unknown name."""
    if name not in config.datasets():
        raise DatasetError(f"unknown dataset {name!r}; known: {list(config.datasets())}")
    return config.dataset_info(name)


def class_counts(df: pd.DataFrame) -> dict[str, int]:
    """Return the number of clips per class, in :data:`config.CLASSES` order (zeros included)."""
    counts = Counter(df["label"])
    return {cls: int(counts.get(cls, 0)) for cls in config.CLASSES}


_RULES: contextvars.ContextVar[dict | None] = contextvars.ContextVar("label_rules", default=None)
"""Label rules in force instead of a dataset's own (:func:`label_rule`)."""


@contextlib.contextmanager
def label_rule(name: str, table: dict):
    """Within the block, dataset ``name`` maps its labels with ``table`` (a labels.yaml entry)
    instead of its own: a composite reads each part with the part's own reader and the
    composite's rule for that part."""
    token = _RULES.set({**(_RULES.get() or {}), name: table})
    try:
        yield
    finally:
        _RULES.reset(token)


def label_table(name: str) -> dict[str, str | None]:
    """Return dataset ``name``'s mapping: normalised original label -> class, or None (dropped).

    Raises ``ValueError`` when labels.yaml lists one label under two classes.
    """
    table = (_RULES.get() or {}).get(name) or config.load("labels")[name]
    mapping: dict[str, str | None] = {}
    for target in (*config.CLASSES, "drop"):
        for label in table.get(target) or []:
            key = label_key(label)
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
    if isinstance(emotion, Formula):
        raise DatasetError(f"{where + ': ' if where else ''}label: {emotion.problem()}")
    key = label_key(emotion) if not is_blank(emotion) else ""
    if key not in mapping:
        prefix = f"{where}: " if where else ""
        raise DatasetError(
            f"{prefix}unknown {dataset_info(name)['display']} label {emotion!r}; labels.yaml maps "
            f"{sorted(k for k in mapping)} (add it to mer_utils/data/labels.yaml)"
        )
    return mapping[key]


@dataclass
class Report:
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
    excluded: list[dict] = field(default_factory=list)

    def drop(self, reason: str) -> None:
        """Count a row left out on purpose (e.g. ``label others``); logged in the summary."""
        self.dropped[reason] += 1

    def skip(self, file: str, row: Any, reason: str, detail: str = "") -> None:
        """Count and log a row skipped because the dataset itself is incomplete or faulty."""
        more = f" ({detail})" if detail else ""
        logger.warning("%s: skipped %s: %s%s", file, row_text(row), reason, more)
        self.dropped[reason] += 1
        entry = {"file": file, "row": row, "reason": reason}
        self.skipped.append(entry | ({"detail": detail} if detail else {}))

    def exclude(self, file: str, row: Any, reason: str, detail: str = "") -> None:
        """Count and list a row left out by an explicit list (e.g. a benchmark's clip list)."""
        self.dropped[reason] += 1
        self.excluded.append({"file": file, "row": row, "reason": reason, "detail": detail})

    def adjust(self, file: str, row: Any, reason: str, detail: str = "") -> None:
        """Log and list a kept row whose coding was corrected (e.g. apex outside the clip)."""
        logger.warning(
            "%s: %s: %s%s", file, row_text(row), reason, f" ({detail})" if detail else ""
        )
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
            "excluded": list(self.excluded),
            "adjusted_counts": dict(sorted(Counter(a["reason"] for a in self.adjusted).items())),
        }


def row_text(row: Any) -> str:
    return f"row {row}" if isinstance(row, int) else str(row)


def norm(value: Any) -> str:
    """Normalise a header cell: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", str(value).casefold())


def label_key(value: Any) -> str:
    return " ".join(str(value).split()).casefold()


def is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


class Formula(str):
    """A spreadsheet cell holding a formula without a cached value (see ``_sheets``)."""

    def problem(self) -> str:
        return (
            f"a formula ({self}) without a cached value: open and save the file in a "
            "spreadsheet program, or enter the value"
        )


def int_cell(value: Any) -> int | None:
    """Return an integer cell value, None for a missing mark ('/', '?', blank); raise ValueError."""
    if isinstance(value, Formula):
        raise ValueError(value.problem())
    if is_blank(value):
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
    if text.casefold() in MISSING_MARKS:
        return None
    if re.fullmatch(r"\d+(\.0+)?", text):
        return int(float(text))
    raise ValueError(f"not a frame number: {value!r}")


def number_in(value: Any) -> int | None:
    """Return the number in a subject-like cell (``1``, ``'01'``, ``'sub01'``, ``'s15'``)."""
    if is_blank(value) or isinstance(value, Formula):
        return None
    if isinstance(value, (int, np.integer, float, np.floating)) and not isinstance(value, bool):
        return int(value) if float(value).is_integer() else None
    match = re.search(r"(\d+)\s*$", str(value).strip())
    return int(match.group(1)) if match else None


def text_cell(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def checked_apex(
    apex: int | None, onset: int, offset: int, file: str, row: Any, report: Report
) -> int | None:
    """Return ``apex``, or None (logged, listed) when it lies outside onset..offset."""
    if apex is not None and not onset <= apex <= offset:
        report.adjust(
            file, row, "apex outside onset..offset", f"apex {apex}, clip {onset}..{offset}"
        )
        return None
    return apex


def record(name, subject, clip, emotion, label, onset, apex, offset, frames, source, where) -> dict:
    return {
        "dataset": name,
        "subject": subject,
        "clip": clip,
        "emotion": emotion,
        "label": label,
        "onset": onset,
        "apex": apex,
        "offset": offset,
        "frames": frames,
        "source": source,
        "_where": where,
    }


def subdirs(folder: Path, report: Report, pattern: re.Pattern | None = None) -> list[Path]:
    """Sub-folders of ``folder`` in natural order; folders not matching ``pattern`` are logged."""
    try:
        with os.scandir(folder) as entries:
            dirs = [Path(e.path) for e in entries if e.is_dir()]
    except PermissionError:
        raise DatasetError(f"{folder}: permission denied (cannot list the folder)") from None
    if pattern is not None:
        ignored = [d for d in dirs if not pattern.match(d.name)]
        for d in ignored:
            logger.warning("%s: ignored (not a subject folder)", d)
            report.ignored.append(str(d))
        dirs = [d for d in dirs if pattern.match(d.name)]
    return sorted(dirs, key=lambda d: natural_key(d.name))


OUTSIDE = "path outside the dataset folder"
"""The reason a row is skipped whose frames path leaves the dataset folder (:func:`inside`)."""


def inside(root: Path, path: Path, report: Report, file: str, row: Any) -> bool:
    """True when ``path`` (built from cells of an annotation file) resolves, links followed,
    inside the dataset folder ``root``; else the row is a counted, listed skip naming the path
    (a ``Filename`` of ``../../elsewhere`` must not read, or digest-escape, foreign files)."""
    try:
        Path(path).resolve().relative_to(Path(root).resolve())
        return True
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a link loop (Python < 3.13)
        report.skip(file, row, OUTSIDE, f"{path} is not inside {root}")
        return False


def natural_key(text: str) -> list:
    return [int(t) if t.isdigit() else t.casefold() for t in re.split(r"(\d+)", text)]


def finish(name: str, records: list[dict], report: Report) -> pd.DataFrame:
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
            f"{report.annotation}: no {dataset_info(name)['display']} clip maps to the three classes "
            f"(rows read {report.rows_read}, dropped {dict(report.dropped)})"
        )
    df = pd.DataFrame([{c: rec[c] for c in COLUMNS} for rec in records], columns=list(COLUMNS))
    for col in ("onset", "apex", "offset"):
        df[col] = pd.array([rec[col] for rec in records], dtype="Int64")
    df.attrs["report"] = report.as_dict(len(df))
    logger.info("%s: %d clips %s", name, len(df), class_counts(df))
    return df
