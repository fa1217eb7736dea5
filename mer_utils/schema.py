"""The record schema: what one run of the study writes, defined once.

A *run* is one method under one protocol, one repeat, on one dataset, with one profile and seed.
It writes three tidy tables, each a flat CSV a reader can open in a spreadsheet (no JSON in
cells), described here by one dataclass each:

=================  ==========================================================================
``metrics.csv``    :class:`Record`: one row per run: its key, data source, scores, baselines,
                   permutation chance levels, sizes, device, versions and time
``folds.csv``      :class:`Fold`: one row per fold of a run: sizes and class counts of its
                   parts, class weights, SMOTE, epochs, fit on the training part, test and
                   validation subjects
``confusions.csv`` :class:`Unit`: one row per test subject of a run: its confusion matrix
                   (rows of the pooled matrix, by subject; what the bootstrap and the
                   permutation tests resample)
=================  ==========================================================================

The parameters a run read (the profile and the method's settings, nested) are stored once per
distinct value in ``parameters.json`` under their digest; a record names them by
``profile_id`` and ``method_params_id``.

:data:`KEY` identifies a run. It holds the **data source** (``data_id``, a digest of the
dataset files the run read) and the **profile values** (``profile_id``), so records computed
from other data or under other profile values never replace, and never mix with, the current
ones: a page shows only the records of the data and the profile it was run with
(:func:`mer_utils.results.load`).

Every table is validated on read against its dataclass (:func:`validate`): a missing or renamed
column, a truncated row or a cell of the wrong type is an error naming the file, the row and the
column.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, get_type_hints

import pandas as pd

from .config import CLASSES

KEY: tuple[str, ...] = (
    "dataset",
    "method",
    "protocol",
    "profile",
    "seed",
    "repeat",
    "data_id",
    "profile_id",
    "selection",
)
"""The columns that identify a run: at most one row per key in ``metrics.csv``. One training
can give two runs that differ only in ``selection`` (:data:`SELECTIONS`)."""

SELECTIONS: tuple[str, ...] = ("honest", "best-test-epoch")
"""How a run's reported epoch was chosen: ``honest`` (fixed in advance, or on a validation part
of the training subjects: every method of the study) or ``best-test-epoch`` (per fold, the epoch
that scored best on the test part: a second scoring of the same training, kept to measure what
that practice of some published code adds; :mod:`mer_utils.flownets`)."""

DEFAULTS: dict[str, str] = {"selection": "honest"}
"""Columns added after tables were first written, with the value an older row means: a table
without them is read with these values (every run before them was honest)."""


@dataclasses.dataclass
class Key:
    """What identifies a run (:data:`KEY`)."""

    dataset: str
    method: str
    protocol: str
    profile: str
    seed: int
    repeat: int
    data_id: str
    """Digest of the dataset files the run read (their relative paths, sizes and times)."""
    profile_id: str
    """Digest of the profile values the run read (``parameters.json`` holds them)."""


@dataclasses.dataclass
class Record(Key):
    """One run: one row of ``metrics.csv``."""

    data_kind: str
    """``stand-in`` or ``licensed`` (read from the dataset folder itself)."""
    data_root: str
    data_annotation: str
    split_seed: int
    n_clips: int
    n_excluded_stage1: int
    n_subjects: int
    n_folds: int
    n_samples: int
    """Samples the protocol splits (clips, or windows / resampled copies under the protocols
    that split samples rather than clips)."""
    n_test: int
    """Test samples, pooled over the run's folds."""
    n_test_clips: int
    """Distinct clips behind the test samples."""
    method_kind: str
    inputs: str
    augment: bool
    smote: bool
    class_weight: bool
    method_params_id: str
    size: int
    n_frames: int
    epochs: int
    accuracy: float
    precision_macro: float
    recall_macro: float
    f1_macro: float
    precision_weighted: float
    recall_weighted: float
    f1_weighted: float
    uf1: float
    uar: float
    recall_negative: float | None
    recall_positive: float | None
    recall_surprise: float | None
    baseline_accuracy: float
    baseline_uf1: float
    baseline_uar: float
    baseline_f1_macro: float
    baseline_f1_weighted: float
    chance_uf1: float
    p_uf1: float
    chance_uar: float
    p_uar: float
    chance_accuracy: float
    p_accuracy: float
    constant_prediction: bool
    """True when every test sample got the same predicted class."""
    train_accuracy: float | None
    """Accuracy of the selected model on the samples it was trained on (the resampled training
    part), mean over the run's folds: did the model fit what it was trained on? (None in a
    record without fold fits.) ``folds.csv`` holds it per fold."""
    train_uf1: float | None
    """UF1 on the training part, mean over the run's folds (as ``train_accuracy``)."""
    leak_test_from_clip_in_training: int | None
    """Test samples whose clip also has a sample in the training part (protocols that split
    samples); None where the protocol splits clips."""
    leak_test_augmented: int | None
    leak_test_synthetic: int | None
    seconds: float
    device_kind: str
    device_name: str
    device_count: int
    precision: str
    version_python: str
    version_numpy: str | None
    version_tensorflow: str | None
    version_keras: str | None
    version_sklearn: str | None
    version_imblearn: str | None
    version_dlib: str | None
    version_cv2: str | None
    timestamp: str
    predictions_file: str | None
    selection: str = "honest"
    """:data:`SELECTIONS` (part of the run's key, :data:`KEY`)."""


@dataclasses.dataclass
class Fold(Key):
    """One fold of a run: one row of ``folds.csv``."""

    fold: str
    n_train: int
    n_val: int
    n_test: int
    train_negative: int
    train_positive: int
    train_surprise: int
    resampled_negative: int
    resampled_positive: int
    resampled_surprise: int
    val_negative: int
    val_positive: int
    val_surprise: int
    test_negative: int
    test_positive: int
    test_surprise: int
    weight_negative: float | None
    weight_positive: float | None
    weight_surprise: float | None
    smote_k: int | None
    smote_added: int | None
    epochs: int | None
    """Epochs trained (the profile's maximum unless early stopping ended sooner); None for a
    method without epochs."""
    best_epoch: int | None
    """The epoch whose weights were kept (lowest validation loss, 1-based)."""
    train_accuracy: float | None
    """Accuracy of the kept model on the samples it was trained on (the training part after
    resampling): how well it fitted its training part."""
    train_uf1: float | None
    """UF1 of the kept model on its training part."""
    majority: str
    """The training part's most frequent class: what the majority baseline answers."""
    seconds: float
    """Wall-clock seconds of the fold's fit (resampling, training, prediction)."""
    cpu_seconds: float | None
    """CPU seconds of the same (every thread of the process that fitted it; None for a fold
    stored before they were recorded)."""
    test_subjects: str
    """Space-separated test subjects (all of them for a clip-level split)."""
    val_subjects: str
    note: str
    """How the split was made where it departs from the rule (e.g. a stratification
    fallback), and :data:`LACKS` where the training part holds no clip of a class; empty
    otherwise."""
    selection: str = "honest"
    """:data:`SELECTIONS` (part of the run's key, :data:`KEY`)."""


LACKS = "training part lacks class"
"""How a fold's note names the classes its training part lacks (e.g. a LOSO fold whose test
subject holds every clip of a class)."""


@dataclasses.dataclass
class Unit(Key):
    """The test predictions of one subject in one run: one row of ``confusions.csv``."""

    subject: str
    negative_as_negative: int
    negative_as_positive: int
    negative_as_surprise: int
    positive_as_negative: int
    positive_as_positive: int
    positive_as_surprise: int
    surprise_as_negative: int
    surprise_as_positive: int
    surprise_as_surprise: int
    selection: str = "honest"
    """:data:`SELECTIONS` (part of the run's key, :data:`KEY`)."""


CONFUSION_COLUMNS: tuple[str, ...] = tuple(f"{t}_as_{p}" for t in CLASSES for p in CLASSES)
"""The confusion cells of :class:`Unit`, row-major (true class, then predicted class)."""

TABLES: dict[str, type] = {"metrics.csv": Record, "folds.csv": Fold, "confusions.csv": Unit}
"""Each table of the results folder and the dataclass that describes its rows."""

UNIQUE: dict[type, tuple[str, ...]] = {Record: KEY, Fold: (*KEY, "fold"), Unit: (*KEY, "subject")}
"""The columns that identify a row of each table: a run has one record, one row per fold and
one row per test subject. A repeated row would count its data twice."""

PREDICTION_COLUMNS: tuple[str, ...] = ("subject", "clip", "sample", "fold", "true", "pred")
"""Columns of a run's predictions file: one row per test sample, pooled over its folds."""


def columns(cls: type) -> tuple[str, ...]:
    """The columns of a table, in order (the dataclass's fields)."""
    return tuple(f.name for f in dataclasses.fields(cls))


def _kinds(cls: type) -> dict[str, tuple[type, bool]]:
    """Column -> (base type, nullable)."""
    out = {}
    for name, hint in get_type_hints(cls).items():
        args = getattr(hint, "__args__", None)
        if args:
            base = next(a for a in args if a is not type(None))
            out[name] = (base, type(None) in args)
        else:
            out[name] = (hint, False)
    return out


def row(obj) -> dict[str, Any]:
    """A dataclass instance as a CSV row (None -> empty cell)."""
    return {k: ("" if v is None else v) for k, v in dataclasses.asdict(obj).items()}


class SchemaError(ValueError):
    """A results table that does not follow its schema (the message names file, row, column)."""


def validate(df: pd.DataFrame, cls: type, path: str) -> pd.DataFrame:
    """Check a table read from ``path`` (all cells as text) against ``cls``; return it typed.

    Raises :class:`SchemaError` naming the file, the row (1-based, the header is row 1) and the
    column of the first problem: a missing column, an empty cell where a value is required, or
    a cell that is not of the column's type.
    """
    kinds = _kinds(cls)
    df = df.assign(**{c: v for c, v in DEFAULTS.items() if c in kinds and c not in df.columns})
    missing = [c for c in kinds if c not in df.columns]
    if missing:
        raise SchemaError(
            f"{path}: not a {cls.__name__.lower()} table of this version of the study: "
            f"missing column(s) {missing} (found {list(df.columns)[:8]}...)"
        )
    out = {}
    for name, (base, nullable) in kinds.items():
        cells = df[name].tolist()
        values = []
        for i, cell in enumerate(cells):
            try:
                values.append(_parse(cell, base, nullable))
            except ValueError as err:
                raise SchemaError(f"{path}: row {i + 2}, column {name!r}: {err}") from None
        out[name] = values
    typed = pd.DataFrame(out, index=df.index)
    for name, (base, nullable) in kinds.items():
        if base is int and not nullable:
            typed[name] = typed[name].astype("int64")
        elif base is int:
            typed[name] = typed[name].astype("Int64")
        elif base is float:
            typed[name] = typed[name].astype("float64")
        elif base is bool and not nullable:
            typed[name] = typed[name].astype(bool)
    return typed


def check_unique(df: pd.DataFrame, cls: type, path: str) -> None:
    """Raise :class:`SchemaError` naming the file and both rows (1-based, the header is row 1)
    when two rows of ``df`` share their :data:`UNIQUE` columns (a row pasted twice, or two
    tables merged by hand): read as they are, they would double the data."""
    columns = list(UNIQUE[cls])
    if df.empty or not all(c in df.columns for c in columns):
        return
    shown = ["dataset", "method", "protocol", "repeat", *columns[len(KEY) :]]
    first: dict[tuple, int] = {}
    for i, key in enumerate(df[columns].astype(str).itertuples(index=False, name=None)):
        if key in first:
            row = dict(zip(columns, key))
            named = ", ".join(f"{c} {row[c]}" for c in shown)
            raise SchemaError(
                f"{path}: row {i + 2} repeats row {first[key] + 2} ({named}): a duplicated row "
                "would count its data twice; delete one of them"
            )
        first[key] = i


def _parse(cell: Any, base: type, nullable: bool):
    empty = cell is None or (isinstance(cell, float) and math.isnan(cell)) or cell == ""
    if empty:
        if nullable:
            return None
        if base is str:
            return ""
        raise ValueError("empty, but a value is required")
    text = str(cell)
    if base is bool:
        if text in ("True", "true", "1"):
            return True
        if text in ("False", "false", "0"):
            return False
        raise ValueError(f"{text!r} is not True or False")
    if base is int:
        try:
            return int(text)
        except ValueError:
            number = float(text)  # "3.0" from an older writer
            if number != int(number):
                raise ValueError(f"{text!r} is not a whole number") from None
            return int(number)
    if base is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
    return text


# ----------------------------------------------------------------------------- one fold's result
TEST_FIELDS = ("subject", "clip", "sample", "true", "pred")
"""The lists of a fold result's ``test``: one entry per test sample."""


@dataclasses.dataclass(frozen=True)
class FoldResult:
    """What one fold of a run gives (:func:`mer_utils.folds.fit_fold`), kept in the fold store
    as plain data (:meth:`to_json`, :meth:`from_json`) and assembled into a run's tables."""

    fold: str
    n_train: int
    n_val: int
    n_test: int
    info: dict
    """The split's facts: test and validation subjects, fallbacks."""
    counts: dict
    """Per class, counts of ``train``, ``train_resampled``, ``val`` and ``test``."""
    test: dict
    """The test samples (:data:`TEST_FIELDS`): subject, clip, kind of sample, true, predicted."""
    leak: dict | None
    """How much of the test part comes from clips in training (:func:`folds.leak_summary`)."""
    smote_info: dict | None
    weights: dict | None
    """The class weights of Eq. 1 by class name, where the method uses them."""
    seconds: float
    epochs: int | None = None
    best_epoch: int | None = None
    train_confusion: list | None = None
    """The fitted model's confusion matrix on its own training part (row-major)."""
    test_by_epoch: list | None = None
    """Every epoch's test predictions, for a method that keeps them."""
    val_loss: list | None = None
    cpu_seconds: float | None = None
    device: dict = dataclasses.field(default_factory=dict)
    precision: str = "float32"

    def to_json(self) -> dict:
        """The result as plain JSON data (what the fold store writes)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> "FoldResult":
        """A result read back; ``ValueError`` saying what is wrong when it has not the shape
        of one (a file of another version, one edited by hand)."""
        if not isinstance(data, dict):
            raise ValueError(f"the result is {type(data).__name__}, not an object")
        names = {f.name for f in dataclasses.fields(cls)}
        required = [f.name for f in dataclasses.fields(cls) if _required(f)]
        missing = [k for k in required if k not in data]
        if missing:
            raise ValueError(f"the result lacks {', '.join(missing)}")
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"the result has unknown fields {', '.join(unknown)}")
        test = data.get("test")
        if not isinstance(test, dict) or not all(
            isinstance(test.get(k), list) for k in TEST_FIELDS
        ):
            raise ValueError(f"the result has no test predictions ({', '.join(TEST_FIELDS)})")
        if len({len(test[k]) for k in TEST_FIELDS}) != 1 or len(test["true"]) != data["n_test"]:
            raise ValueError("the result's test lists differ in length or from n_test")
        labels = test["true"] + test["pred"]
        if not all(type(v) is int and 0 <= v < len(CLASSES) for v in labels):
            raise ValueError(f"the result's labels are not class codes 0..{len(CLASSES) - 1}")
        if not isinstance(data["counts"], dict) or not isinstance(data["info"] or {}, dict):
            raise ValueError("the result's counts or info are not objects")
        return cls(**data)


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
