"""Annotation spreadsheets: found by pattern, read raw (every sheet, no header), header row
located by content, columns mapped by their normalised names (``datasets.yaml``)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from ._common import DatasetError, Formula, int_cell, is_blank, norm, number_in

logger = logging.getLogger("mer_utils.datasets")

MAX_HEADER_SEARCH = 60


def find_annotation(root: Path, info: dict, annotation: str | os.PathLike | None) -> Path:
    """Return the annotation spreadsheet: ``annotation`` if given, else the single file matching
    the first pattern that matches any. Two or more matches are an error naming them: which
    version of a coding file a study reads changes its labels, so it is never guessed."""
    if annotation is not None:
        path = Path(annotation)
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            raise DatasetError(f"{path}: annotation file does not exist")
        return path
    patterns = info["spreadsheet_patterns"]
    for pattern in patterns:
        hits = sorted(p for p in root.glob(pattern) if p.is_file() and not p.name.startswith("~$"))
        if len(hits) > 1:
            raise DatasetError(
                f"{root}: several {info['display']} annotation files match {pattern!r}: "
                f"{', '.join(p.name for p in hits)}; choose one with the runner's "
                f"--annotation NAME=FILE option (or datasets.load(..., annotation=FILE))"
            )
        if hits:
            return hits[0]
    raise DatasetError(
        f"{root}: no {info['display']} annotation spreadsheet found; patterns tried: {patterns}"
    )


def read_workbook(path: Path) -> dict[str, pd.DataFrame]:
    """Read every sheet of a spreadsheet as raw cells (no header, dtype object)."""
    try:
        with pd.ExcelFile(path) as book:
            sheets = {
                str(sheet): book.parse(sheet, header=None, dtype=object)
                for sheet in book.sheet_names
            }
            if book.engine == "openpyxl":
                mark_formulas(path, sheets)
            return sheets
    except Exception as exc:  # openpyxl / xlrd / zipfile raise many types for a bad file
        raise DatasetError(
            f"{path}: cannot read the annotation spreadsheet ({type(exc).__name__}: {exc})"
        ) from exc


def mark_formulas(path: Path, sheets: dict[str, pd.DataFrame]) -> None:
    """Put a :class:`~._common.Formula` where a cell holds a formula without a cached value (a
    file written by a program that does not compute formulas): read as values, such a cell is
    blank, and "onset frame is missing" would hide what is wrong."""
    import openpyxl

    book = openpyxl.load_workbook(path, data_only=False)
    try:
        for name, table in sheets.items():
            if name not in book.sheetnames:
                continue
            for line in book[name].iter_rows():
                for cell in line:
                    i, j = cell.row - 1, cell.column - 1
                    if cell.data_type == "f" and i < table.shape[0] and j < table.shape[1]:
                        if is_blank(table.iat[i, j]):
                            table.iat[i, j] = Formula(cell.value)
    finally:
        book.close()


def locate_header(table: pd.DataFrame, keys: Sequence[str]) -> int | None:
    """Return the index of the first row whose normalised cells include all ``keys``."""
    for i in range(min(len(table), MAX_HEADER_SEARCH)):
        cells = {norm(v) for v in table.iloc[i] if not is_blank(v)}
        if all(key in cells for key in keys):
            return i
    return None


def coded_table(path: Path, info: dict) -> tuple[str, int, pd.DataFrame, dict[str, int]]:
    """Find the sheet and header row of a coding spreadsheet; map fields to column positions.

    Returns (sheet name, header row index, raw table, {field: column position}).
    """
    sheets = read_workbook(path)
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
        header = locate_header(table, keys)
        if header is not None:
            return sheet, header, table, map_columns(path, sheet, header, table, info["columns"])
    raise DatasetError(
        f"{path}: no header row with {keys} found in the first {MAX_HEADER_SEARCH} rows of "
        f"sheets {order}"
    )


def map_columns(
    path: Path, sheet: str, header: int, table: pd.DataFrame, aliases: dict[str, list[str]]
) -> dict[str, int]:
    names = [norm(v) if not is_blank(v) else "" for v in table.iloc[header]]
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


def coded_frame(value: Any, what: str, where: str) -> int | None:
    try:
        return int_cell(value)
    except ValueError as exc:
        raise DatasetError(f"{where}: {what} frame: {exc}") from None


def subject(value: Any, info: dict, where: str) -> str:
    if isinstance(value, Formula):
        raise DatasetError(f"{where}: subject: {value.problem()}")
    number = number_in(value)
    if number is None:
        raise DatasetError(f"{where}: subject {value!r} carries no subject number")
    return info["subject_format"].format(number)
