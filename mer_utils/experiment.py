"""One variant of the paper under one protocol on one dataset -> one tidy record.

:func:`run` is the whole of stages 2-3 and the evaluation for one (dataset, variant, protocol):
for every split of the protocol it resamples the *training part only* (augmentation, SMOTE,
class weights, as the variant's switches in ``variants.yaml`` say), trains the 3D CNN with model
selection on the validation part, and predicts the test part. The test predictions are pooled
over folds and scored (:mod:`mer_utils.metrics`). The record (parameters, data source, counts,
metrics, majority baseline, timings, package versions) is appended atomically to a results CSV,
and the pooled per-clip predictions go to ``<results dir>/predictions/``.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import logging
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import atomic, augment, balance, config, metrics, models, protocols
from .config import CLASSES

logger = logging.getLogger(__name__)

VERSION_PACKAGES: dict[str, tuple[str, ...]] = {
    "numpy": ("numpy",),
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
    "keras": ("keras",),
    "sklearn": ("scikit-learn",),
    "imblearn": ("imbalanced-learn",),
    "dlib": ("dlib-bin", "dlib"),
    "cv2": ("opencv-python-headless", "opencv-python"),
}
"""Record column suffix -> distribution names tried (first installed one wins)."""

RECORD_COLUMNS: tuple[str, ...] = (
    "dataset", "variant", "protocol", "profile", "seed",
    "data_kind", "data_root", "data_annotation",
    "n_clips", "n_excluded_stage1", "n_subjects", "n_folds",
    "augment", "smote", "class_weight",
    "accuracy", "precision_macro", "recall_macro", "f1_macro",
    "precision_weighted", "recall_weighted", "f1_weighted", "uf1", "uar",
    *(f"recall_{c}" for c in CLASSES),
    "baseline_accuracy", "baseline_uf1", "baseline_uar", "baseline_f1_macro",
    "baseline_f1_weighted", "baseline_classes",
    "confusion",
    "counts_all", "counts_train", "counts_train_resampled", "counts_val", "counts_test",
    "smote_k", "smote_info", "class_weights",
    "epochs", "best_epochs", "splits",
    "seconds", "profile_params",
    "version_python", *(f"version_{k}" for k in VERSION_PACKAGES),
    "timestamp", "predictions_file",
)
"""The results table's columns, in order (a record has exactly these keys)."""

PREDICTION_COLUMNS: tuple[str, ...] = ("subject", "clip", "fold", "true", "pred")


def run(clips: Any, variant: str, protocol: str, profile: dict | str, seed: int,
        data_source: dict, results_csv: str | Path | None = None,
        progress: bool = False) -> dict:
    """Train and evaluate ``variant`` under ``protocol`` on ``clips``; return the record.

    ``clips`` has ``X`` (n, T, H, W, 1) uint8 and ``rows`` (DataFrame aligned with X, columns
    ``subject``, ``label``, optionally ``dataset`` and ``clip``), e.g. a ``faces.ClipSet``.
    ``profile`` is a profile name of ``profiles.yaml`` or a profile dict (its ``name`` key, if
    any, names it). ``data_source`` = ``{"kind": "stand-in" | "licensed", "root": ...,
    "annotation": <annotation file name>}``. With ``results_csv`` the record is appended to it
    (atomically, under a lock) and the pooled predictions are written to
    ``<results_csv dir>/predictions/<dataset>__<variant>__<protocol>__<profile>__seed<seed>.csv``.
    Clips that stage 1 excluded (``clips.excluded``, when present) are counted in the record.

    Seeds: the model is built once per run with ``seed`` (so every fold starts from the same
    initial weights and dropout seed state, restored before each fold) and fold ``f`` uses
    ``seed * 1000 + f`` for augmentation, SMOTE and shuffling; the same arguments give the same
    record.

    Nested values of the returned record (counts, confusion matrix, per-fold lists) are Python
    objects; in the CSV they are JSON strings.
    """
    start = time.perf_counter()
    profile_name, prof = _resolve_profile(profile)
    switches = config.variant(variant)
    source = _check_source(data_source)
    X, rows, y = _check_clips(clips)
    dataset = _dataset_name(rows)
    folds = protocols.splits(rows, protocol, seed)

    counts = {part: np.zeros(len(CLASSES), int) for part in
              ("train", "train_resampled", "val", "test")}
    per_fold: dict[str, list] = {"smote": [], "weights": [], "epochs": [], "best": []}
    preds, baseline_folds = [], []
    _clear_session()
    models.set_seeds(seed)
    model = models.model_for_profile(X.shape[1:], prof)
    fresh = models.snapshot(model)
    for f, split in enumerate(_progress(folds, progress, f"{dataset} {variant} {protocol}")):
        fold_seed = int(seed) * 1000 + f
        X_tr, y_tr, smote_info, weights = resample(X[split.train], y[split.train], switches,
                                                   prof, fold_seed)
        models.restore(model, fresh)
        fit = models.train(model, X_tr, y_tr, X[split.val], y[split.val], prof,
                           class_weight=weights, seed=fold_seed)
        pred = models.predict(model, X[split.test], batch_size=int(prof["batch_size"]))

        for part, labels in (("train", y[split.train]), ("train_resampled", y_tr),
                             ("val", y[split.val]), ("test", y[split.test])):
            counts[part] += np.bincount(labels, minlength=len(CLASSES))
        per_fold["smote"].append(smote_info)
        per_fold["weights"].append(weights)
        per_fold["epochs"].append(fit["epochs"])
        per_fold["best"].append(fit["best_epoch"])
        baseline_folds.append((y[split.train], y[split.test]))
        preds.append(pd.DataFrame({
            "subject": rows["subject"].to_numpy()[split.test],
            "clip": rows["clip"].to_numpy()[split.test] if "clip" in rows else split.test,
            "fold": split.name, "true": [CLASSES[i] for i in y[split.test]],
            "pred": [CLASSES[i] for i in pred]}))

    pooled = pd.concat(preds, ignore_index=True)
    scores = metrics.summarize(_codes(pooled["true"]), _codes(pooled["pred"]))
    base = metrics.majority_baseline(baseline_folds)
    record: dict[str, Any] = {
        "dataset": dataset, "variant": variant, "protocol": protocol,
        "profile": profile_name, "seed": int(seed),
        "data_kind": source["kind"], "data_root": str(source["root"]),
        "data_annotation": str(source["annotation"]),
        "n_clips": int(len(rows)),
        "n_excluded_stage1": int(len(getattr(clips, "excluded", ()))),
        "n_subjects": int(rows["subject"].nunique()),
        "n_folds": len(folds),
        "augment": bool(switches["augment"]), "smote": bool(switches["smote"]),
        "class_weight": bool(switches["class_weight"]),
        **{k: v for k, v in scores.items() if k not in ("n",)},
        **{f"baseline_{k}": v for k, v in base.items()},
        "counts_all": _by_class(np.bincount(y, minlength=len(CLASSES))),
        **{f"counts_{part}": _by_class(c) for part, c in counts.items()},
        "smote_k": [i["k_used"] for i in per_fold["smote"] if i is not None] or None,
        "smote_info": [i for i in per_fold["smote"] if i is not None] or None,
        "class_weights": ([{CLASSES[k]: w for k, w in cw.items()} for cw in per_fold["weights"]]
                          if switches["class_weight"] else None),
        "epochs": per_fold["epochs"], "best_epochs": per_fold["best"],
        "splits": [{"name": s.name, "n_train": len(s.train), "n_val": len(s.val),
                    "n_test": len(s.test), **s.info} for s in folds],
        "profile_params": prof,
        **package_versions(),
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "predictions_file": None,
    }
    if results_csv is not None:
        pred_file = predictions_path(results_csv, dataset, variant, protocol, profile_name, seed)
        atomic.write_text(pred_file, pooled.to_csv(index=False))
        record["predictions_file"] = str(pred_file)
    record["seconds"] = round(time.perf_counter() - start, 2)
    record = {k: record[k] for k in RECORD_COLUMNS}
    if results_csv is not None:
        append_record(results_csv, record)
    logger.info("%s %s %s: accuracy %.3f uf1 %.3f (baseline %.3f) in %.1f s", dataset,
                variant, protocol, record["accuracy"], record["uf1"],
                record["baseline_accuracy"], record["seconds"])
    return record


def run_protocols(clips: Any, variant: str, protocols: list[str], profile: dict | str,
                  seed: int, data_kind: str, results_dir: str | Path | None = None,
                  progress: bool = False) -> list[dict]:
    """Run ``variant`` under each of ``protocols`` (what a variant page does); return the records.

    ``clips`` is a ``faces.ClipSet`` from :func:`mer_utils.faces.load_clips`, whose ``source``
    names the dataset folder and annotation file; ``data_kind`` says whether that folder is a
    stand-in or a licensed copy. Records go to ``<results_dir>/metrics.csv`` when given.
    """
    source = {"kind": data_kind, **clips.source}
    results_csv = Path(results_dir) / "metrics.csv" if results_dir is not None else None
    return [run(clips, variant, protocol, profile, seed, source, results_csv, progress)
            for protocol in protocols]


def resample(X: np.ndarray, y: np.ndarray, switches: dict, profile: dict, seed: int
             ) -> tuple[np.ndarray, np.ndarray, dict | None, dict[int, float] | None]:
    """Apply the variant's training-part steps: augmentation, then SMOTE; class weights.

    Call with the *training part* of a split only. Returns ``(X, y, smote_info, weights)``;
    ``smote_info`` is None unless SMOTE ran, ``weights`` None unless the variant uses class
    weights (computed on the returned labels; augmentation copies every class equally, so
    they equal Eq. 1 on the original training labels).
    """
    smote_info = None
    if switches["augment"]:
        X, y = augment.augment_clips(X, y, int(profile["augment_factor"]), seed=seed)
    if switches["smote"]:
        X, y, smote_info = balance.smote(X, y, seed=seed)
    weights = balance.class_weights(y, len(CLASSES)) if switches["class_weight"] else None
    return X, y, smote_info, weights


def predictions_path(results_csv: str | Path, dataset: str, variant: str, protocol: str,
                     profile: str, seed: int) -> Path:
    """``<results_csv dir>/predictions/<dataset>__<variant>__<protocol>__<profile>__seed<seed>.csv``
    (one file per record key, so runs of other profiles or seeds never overwrite it)."""
    name = f"{dataset}__{variant}__{protocol}__{profile}__seed{int(seed)}.csv"
    return Path(results_csv).parent / "predictions" / name


def append_record(results_csv: str | Path, record: dict) -> Path:
    """Append ``record`` to ``results_csv`` atomically under a lock (nested values as JSON).

    The columns are :data:`RECORD_COLUMNS`; a file written with other columns keeps its own
    first, followed by the missing ones (older rows get empty cells).
    """
    def transform(old: bytes | None) -> bytes:
        old_rows: list[dict] = []
        columns = list(RECORD_COLUMNS)
        if old:
            reader = csv.DictReader(io.StringIO(old.decode("utf-8")))
            old_rows = list(reader)
            columns = list(reader.fieldnames or []) + [
                c for c in RECORD_COLUMNS if c not in (reader.fieldnames or [])]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(old_rows)
        writer.writerow({k: _cell(record.get(k)) for k in columns})
        return buf.getvalue().encode("utf-8")

    return atomic.update_file(results_csv, transform)


def package_versions() -> dict[str, str | None]:
    """Versions of Python and the study's key packages (``version_<name>`` keys)."""
    out: dict[str, str | None] = {"version_python": platform.python_version()}
    for key, dists in VERSION_PACKAGES.items():
        out[f"version_{key}"] = None
        for dist in dists:
            try:
                out[f"version_{key}"] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return out


def _resolve_profile(profile: dict | str) -> tuple[str, dict]:
    if isinstance(profile, str):
        return profile, config.profile(profile)
    prof = dict(profile)
    missing = {"epochs", "batch_size", "patience", "learning_rate", "augment_factor"} - set(prof)
    if missing:
        raise ValueError(f"profile lacks keys {sorted(missing)}")
    return str(prof.get("name", "custom")), prof


def _check_source(source: dict) -> dict:
    missing = {"kind", "root", "annotation"} - set(source)
    if missing:
        raise ValueError(f"data_source lacks keys {sorted(missing)}")
    if source["kind"] not in ("stand-in", "licensed"):
        raise ValueError(f"data_source kind must be 'stand-in' or 'licensed', "
                         f"got {source['kind']!r}")
    return source


def _check_clips(clips: Any) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    X, rows = clips.X, clips.rows.reset_index(drop=True)
    if X.ndim != 5 or X.shape[-1] != 1:
        raise ValueError(f"clips.X must be (n, T, H, W, 1), got {X.shape}")
    if len(X) != len(rows):
        raise ValueError(f"clips.X has {len(X)} clips but clips.rows has {len(rows)} rows")
    bad = sorted(set(rows["label"]) - set(CLASSES))
    if bad:
        raise ValueError(f"labels {bad} are not among {CLASSES}")
    return X, rows, _codes(rows["label"])


def _codes(labels: pd.Series) -> np.ndarray:
    return labels.map({c: i for i, c in enumerate(CLASSES)}).to_numpy(dtype=int)


def _dataset_name(rows: pd.DataFrame) -> str:
    if "dataset" not in rows:
        return "unknown"
    return "+".join(sorted(set(rows["dataset"].astype(str))))


def _by_class(counts: np.ndarray) -> dict[str, int]:
    return {c: int(n) for c, n in zip(CLASSES, counts)}


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=atomic.json_default)
    return value


def _clear_session() -> None:
    import keras

    keras.backend.clear_session()


def _progress(items: list, enabled: bool, desc: str):
    from tqdm import tqdm

    return tqdm(items, desc=desc, disable=not enabled, leave=False)
