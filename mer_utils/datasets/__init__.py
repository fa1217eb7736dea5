"""Read the four licensed micro-expression datasets exactly as their owners distribute them.

:func:`load` returns one row per clip that maps to the three classes, with the columns
:data:`COLUMNS` (``dataset, subject, clip, emotion, label, onset, apex, offset, frames, source``)
and a load report in ``df.attrs["report"]`` (annotation file, rows read and kept, rows dropped per
reason, counted skips and adjusted rows with file and row). Label mappings live in
``data/labels.yaml`` and layout facts (spreadsheet patterns, column names, folders) in
``data/datasets.yaml``.

**Datasets are plug-ins.** Each dataset is one module of this package, named by its key in
``datasets.yaml`` (or by that row's ``module``), holding its reader ``read(name, root, info,
annotation)``. The modules only read: writing a dataset's stand-in in the same layout is
:mod:`mer_utils.standins` (its layout module ``mer_utils/standins/layouts/<key>.py``), which
nothing here imports. The rows of ``datasets.yaml`` are the registry: their order is the book's
order, ``seed_id`` fixes each dataset's stand-in seeds whatever its position. Shared helpers
sit beside them: ``_common`` (the table, the report, cells, labels), ``_sheets``
(spreadsheets), ``_frames`` (frames and videos), ``_coded`` (the coding-sheet layout CASME II
and SAMM share). Adding a dataset = its module, its rows in ``datasets.yaml`` and
``labels.yaml`` (``reference.yaml`` optionally), its chapter page ``book/chapters/<key>.md``
and, for a stand-in, its layout module in :mod:`mer_utils.standins`.

Layouts (``root`` is the dataset's own folder):

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
    ``root/CAS(ME)^2code_final.xlsx`` without header rows (naming rules: :mod:`.casme_sq`). First sheet (``CASMEcode_final`` or
    ``CASFEcode_final``: read by position, not name): participant, expression name, onset, apex,
    offset (0 = not coded), AUs, estimated emotion, type, self-report. Only micro-expression rows
    are kept (macro rows dropped and counted). Frames ``root/rawpic/sNN/<video folder>/img<N>.jpg``
    (N = 1-based frame of the long video), a clip = frames onset..offset; when ``rawpic/`` is
    absent and ``rawvideo/`` exists, frames are references ``"<video>#<N-1>"`` decoded by
    :func:`read_frame` / :func:`read_frames`. Offset 0 with a coded apex: offset =
    apex + (apex - onset), capped at the video's last frame (adjusted, logged); apex 0: ``<NA>``;
    onset 0: the row is a counted skip.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import pandas as pd

from .. import config
from ._common import (
    COLUMNS,
    DatasetError,
    class_counts,
    dataset_info,
    finish,
    label_table,
    map_label,
)
from ._frames import file_of, read_frame, read_frames, video_ref

__all__ = [
    "COLUMNS",
    "DatasetError",
    "class_counts",
    "display_name",
    "file_of",
    "find_root",
    "parts",
    "info",
    "label_table",
    "load",
    "map_label",
    "names",
    "plugin",
    "read_frame",
    "read_frames",
    "video_ref",
]


def names() -> tuple[str, ...]:
    """The registered datasets, in the book's order (the rows of ``datasets.yaml``)."""
    return tuple(config.load("datasets"))


def info(name: str) -> dict:
    """The layout facts of dataset ``name`` (its row of ``datasets.yaml``)."""
    return dataset_info(name)


def plugin(name: str) -> ModuleType:
    """The module of dataset ``name``: ``mer_utils.datasets.<name>`` or the row's ``module``."""
    return importlib.import_module(info(name).get("module") or f"{__name__}.{name}")


def display_name(name: str) -> str:
    """Return the dataset's display name (``casme_sq`` -> ``CAS(ME)²``)."""
    return info(name)["display"]


def find_root(name: str, data_root: str | os.PathLike) -> Path | None:
    """Return ``data_root/<folder>`` (folder from datasets.yaml) if it is a directory, else None.
    A composite (a row with ``parts``) has no folder of its own: ``data_root`` itself when it
    holds every part's folder."""
    facts = info(name)
    if facts.get("parts"):
        found = [find_root(part, data_root) for part in facts["parts"]]
        return Path(data_root) if all(found) else None
    candidate = Path(data_root) / facts["folder"]
    return candidate if candidate.is_dir() else None


def parts(name: str) -> tuple[str, ...]:
    """The datasets a composite is made of (``datasets.yaml``, ``parts``); () for a dataset."""
    return tuple(info(name).get("parts") or ())


def load(
    name: str, root: str | os.PathLike, annotation: str | os.PathLike | None = None
) -> pd.DataFrame:
    """Load dataset ``name`` from its own folder ``root`` with its plug-in's reader.

    Returns one row per clip that maps to the three classes with the columns :data:`COLUMNS`;
    ``onset``/``apex``/``offset`` are nullable ``Int64`` (apex may be ``<NA>``), ``frames`` a list
    of frame references ordered by frame number. ``annotation`` overrides the spreadsheet found
    by pattern (a path, absolute or relative to ``root``). ``df.attrs["report"]`` holds the load
    report. Raises :class:`DatasetError` for any input that does not follow the layout.
    """
    facts = info(name)
    root = Path(root).expanduser().absolute()
    if not root.is_dir():
        raise DatasetError(
            f"{root}: {facts['display']} dataset folder does not exist (expected the folder as "
            f"distributed, default name {facts['folder']!r} under the data root)"
        )
    records, report = plugin(name).read(name, root, facts, annotation)
    return finish(name, records, report)
