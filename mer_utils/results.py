"""The results table: one record per run, its schema, and the files that go with it.

Every number in the book is read from ``<results dir>/metrics.csv``. A record is one run: one
method (a paper variant or the flow baseline) under one protocol, one repeat, on one dataset,
with one profile and seed; :data:`KEY` names it. Writing a record whose key is already in the
table *replaces* that row (a re-run never adds a duplicate), atomically and under a lock, so
concurrent notebooks never lose each other's rows and an interrupted write never leaves a
half-written table. Nested values (counts, confusion matrices, per-fold lists) are stored as
JSON text in the columns :data:`JSON_COLUMNS`.

Beside the table: the pooled per-clip test predictions of every record
(:func:`predictions_path`, one file per key; all of them in one archive for download,
:func:`write_predictions_zip`) and the runner's ``manifest.json`` (:func:`manifest_path`).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from . import atomic
from .config import CLASSES

KEY: tuple[str, ...] = ("dataset", "variant", "protocol", "profile", "seed", "repeat")
"""The columns that identify a run: at most one record per key."""

COLUMNS: tuple[str, ...] = (
    *KEY,
    "split_seed",
    "data_kind",
    "data_root",
    "data_annotation",
    "n_clips",
    "n_excluded_stage1",
    "n_subjects",
    "n_folds",
    "n_samples",
    "augment",
    "smote",
    "class_weight",
    "method_params",
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "uf1",
    "uar",
    *(f"recall_{c}" for c in CLASSES),
    "baseline_accuracy",
    "baseline_uf1",
    "baseline_uar",
    "baseline_f1_macro",
    "baseline_f1_weighted",
    "baseline_classes",
    "confusion",
    "confusion_by_subject",
    "counts_all",
    "counts_train",
    "counts_train_resampled",
    "counts_val",
    "counts_test",
    "leak",
    "smote_k",
    "smote_info",
    "class_weights",
    "epochs",
    "best_epochs",
    "splits",
    "seconds",
    "device",
    "profile_params",
    "version_python",
    "version_numpy",
    "version_tensorflow",
    "version_keras",
    "version_sklearn",
    "version_imblearn",
    "version_dlib",
    "version_cv2",
    "timestamp",
    "predictions_file",
)
"""The results table's columns, in order (a record has exactly these keys)."""

JSON_COLUMNS: tuple[str, ...] = (
    "method_params",
    "baseline_classes",
    "confusion",
    "confusion_by_subject",
    "counts_all",
    "counts_train",
    "counts_train_resampled",
    "counts_val",
    "counts_test",
    "leak",
    "smote_k",
    "smote_info",
    "class_weights",
    "epochs",
    "best_epochs",
    "splits",
    "device",
    "profile_params",
)
"""Columns whose cells hold JSON text in the CSV (Python objects in a loaded table)."""

PREDICTION_COLUMNS: tuple[str, ...] = ("subject", "clip", "sample", "fold", "true", "pred")
"""Columns of a predictions file: one row per test sample of a run, pooled over its folds."""

TABLE = "metrics.csv"
MANIFEST = "manifest.json"
PREDICTIONS_ZIP = "predictions.zip"


def table_path(results_dir: str | Path) -> Path:
    """``<results_dir>/metrics.csv``."""
    return Path(results_dir) / TABLE


def manifest_path(results_dir: str | Path) -> Path:
    """``<results_dir>/manifest.json``: the runner's record of the latest run."""
    return Path(results_dir) / MANIFEST


def predictions_path(results_dir: str | Path, record: dict) -> Path:
    """``<results_dir>/predictions/<dataset>__<variant>__<protocol>__<profile>__seed<s>__r<k>.csv``
    (one file per record key, so no other run overwrites it)."""
    d, v, p, prof, seed, rep = (record[k] for k in KEY)
    return (
        Path(results_dir)
        / "predictions"
        / f"{d}__{v}__{p}__{prof}__seed{int(seed)}__r{int(rep)}.csv"
    )


def write_predictions_zip(results_dir: str | Path) -> Path:
    """Every predictions file under ``<results_dir>/predictions/`` in one archive,
    ``<results_dir>/predictions.zip`` (the reproducibility page offers it for download);
    returns its path. Atomic, and reproducible: the same files give the same bytes (sorted
    names, fixed timestamps). An empty archive when there are no predictions yet."""
    folder = Path(results_dir) / "predictions"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.glob("*.csv")):
            info = zipfile.ZipInfo(f"predictions/{path.name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return atomic.write_bytes(Path(results_dir) / PREDICTIONS_ZIP, buffer.getvalue())


def key_of(record: dict) -> tuple[str, ...]:
    """The record's key as strings (CSV cells and Python values compare alike)."""
    return tuple(str(record[k]) for k in KEY)


def write_records(results_dir: str | Path, records: Iterable[dict]) -> Path:
    """Put ``records`` into the table, replacing rows with the same :data:`KEY`.

    Atomic (temporary file + rename) and under an exclusive lock. Missing columns of an older
    table are added (older rows get empty cells); columns the table has but :data:`COLUMNS`
    does not are kept.
    """
    new = [dict(r) for r in records]
    for rec in new:
        missing = set(KEY) - set(rec)
        if missing:
            raise ValueError(f"record lacks key columns {sorted(missing)}")

    def transform(old: bytes | None) -> bytes:
        rows: list[dict] = []
        columns = list(COLUMNS)
        if old:
            reader = csv.DictReader(io.StringIO(old.decode("utf-8")))
            rows = list(reader)
            columns = list(reader.fieldnames or []) + [
                c for c in COLUMNS if c not in (reader.fieldnames or [])
            ]
        replaced = {key_of(r) for r in new}
        rows = [r for r in rows if key_of(r) not in replaced]
        buf = io.StringIO()
        writer = csv.DictWriter(
            buf, fieldnames=columns, restval="", lineterminator="\n", extrasaction="ignore"
        )
        writer.writeheader()
        writer.writerows(rows)
        writer.writerows({k: _cell(rec.get(k)) for k in columns} for rec in new)
        return buf.getvalue().encode("utf-8")

    return atomic.update_file(table_path(results_dir), transform)


def write_predictions(results_dir: str | Path, record: dict, predictions: pd.DataFrame) -> Path:
    """Atomically write a run's pooled per-sample test predictions; returns the path."""
    path = predictions_path(results_dir, record)
    atomic.write_text(path, predictions[list(PREDICTION_COLUMNS)].to_csv(index=False))
    return path


def load(
    results_dir: str | Path,
    profile: str | None = None,
    datasets: Iterable[str] | None = None,
    seed: int | None = None,
    variants: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The results table with JSON columns parsed, filtered by the given values.

    An absent table gives an empty frame with the :data:`COLUMNS` (pages then say that nothing
    was run); an unreadable one raises ``ValueError`` naming the file.
    """
    path = table_path(results_dir)
    if not path.exists():
        return pd.DataFrame(columns=list(COLUMNS))
    try:
        df = pd.read_csv(path, dtype={"seed": "Int64", "repeat": "Int64"})
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable results table ({exc})") from None
    missing = set(KEY) - set(df.columns)
    if missing:
        raise ValueError(
            f"{path}: not a results table of this study (no columns {sorted(missing)})"
        )
    for col in JSON_COLUMNS:
        if col in df:
            df[col] = df[col].map(_parse_json)
    if profile is not None:
        df = df[df["profile"] == profile]
    if datasets is not None:
        df = df[df["dataset"].isin(list(datasets))]
    if seed is not None:
        df = df[df["seed"] == seed]
    if variants is not None:
        df = df[df["variant"].isin(list(variants))]
    return df.reset_index(drop=True)


def _parse_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value else None


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=atomic.json_default)
    return value
