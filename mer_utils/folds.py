"""One fold of a run: the samples a protocol splits, the fit, and the store of finished folds.

A run (:mod:`mer_utils.experiment`) is one method under one protocol and repeat on one dataset,
described by a :class:`RunSpec`. :func:`prepare` makes its samples and folds:

- most protocols split the **clips** themselves (each sample is one clip);
- ``paper-leaky`` (``resample_before_split``) first resamples the WHOLE dataset with the
  method's augmentation and SMOTE and splits the resulting samples, so copies of one clip can
  sit in training and in test;
- ``paper-windows`` (``samples: windows``) cuts every clip into overlapping windows of
  ``n_frames`` frames (the profile's ``windows``: how many per clip and at which stride, taken
  from a longer stage-1 sampling of the clip) and splits the windows at random, so windows of
  one clip sit in training and in test. The windows do not depend on the method, so every method
  is split the same way and their comparisons stay paired.

:func:`fit_fold` then resamples the fold's training part (unless the run resampled everything
first), trains with model selection on the validation part and predicts the test part; the
selected model also predicts the (resampled) training part it was trained on, and the fold
keeps that confusion matrix (:func:`train_confusion`): whether the model fitted its training
part at all.

:func:`fold_key` is everything a fold's result depends on, and nothing else: the data digest,
the method's parameters (:meth:`mer_utils.methods.Method.params`, not its title or prose), the
protocol's split kind, folds and resampling flag, the profile values training reads, the
seeds, and the code the fit runs: the import closure of this module and of the method's
plug-in, docstrings and comments left out (:func:`code_digest`, :mod:`mer_utils.code`). Editing
a metric, a report, a page, a docstring or a method's title re-fits nothing. A fold's result is
a :class:`mer_utils.schema.FoldResult`; finished folds are kept in a :class:`FoldStore` under
the results folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import atomic, code, config, methods, models, protocols
from .config import CLASSES
from .profile import Profile
from .schema import FoldResult

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- the run's data
@dataclass
class Data:
    """The clips a page evaluates: tensors, their rows and integer labels."""

    X: np.ndarray
    rows: pd.DataFrame
    y: np.ndarray
    dataset: str
    n_excluded: int
    digest: str
    """SHA-256 of the clip tensors and rows: what fold keys know of the data."""
    windows: Any = None
    """A callable returning the denser stage-1 sampling the window protocol cuts and which clips
    it kept (:func:`mer_utils.stage1.load_clips`), or None."""


def check_clips(clips: Any) -> Data:
    """A stage-1 :class:`~mer_utils.stage1.ClipSet` as :class:`Data` (shapes and labels checked)."""
    X, rows = clips.X, clips.rows.reset_index(drop=True)
    if X.ndim != 5 or X.shape[-1] != 1:
        raise ValueError(f"clips.X must be (n, T, H, W, 1), got {X.shape}")
    if len(X) != len(rows):
        raise ValueError(f"clips.X has {len(X)} clips but clips.rows has {len(rows)} rows")
    bad = sorted(set(rows["label"]) - set(CLASSES))
    if bad:
        raise ValueError(f"labels {bad} are not among {CLASSES}")
    dataset = "+".join(sorted(set(rows["dataset"].astype(str)))) if "dataset" in rows else "unknown"
    h = hashlib.sha256(np.ascontiguousarray(X).tobytes())
    h.update(rows[[c for c in ("subject", "clip", "label") if c in rows]].to_json().encode())
    return Data(
        X,
        rows,
        config.class_codes(rows["label"]),
        dataset,
        int(len(getattr(clips, "excluded", ()))),
        h.hexdigest(),
        getattr(clips, "windows", None),
    )


@dataclass
class RunSpec:
    """Everything one run is: the data, the method, the protocol and repeat, the profile and the
    seed, and where the data came from (``source``: kind, root, annotation, data_id)."""

    data: Data
    method: methods.Method
    protocol: str
    repeat: int
    profile: Profile
    seed: int
    source: dict

    @property
    def info(self) -> dict:
        return protocols.info(self.protocol)

    @property
    def profile_name(self) -> str:
        return self.profile.name


# ----------------------------------------------------------------------------- samples and folds
@dataclass
class Plan:
    """The samples and folds of one run."""

    pool: methods.Pool
    rows: pd.DataFrame
    """Per sample: subject, clip, label (and window)."""
    folds: list[protocols.Split]
    leaky: bool
    """True where the whole dataset was resampled before the split."""
    clips: bool
    """True where every sample is one clip (the protocol splits clips, not samples)."""


def prepare(spec: RunSpec) -> Plan:
    """The run's samples (clips, resampled copies or windows) and the protocol's folds."""
    info = spec.info
    data = spec.data
    leaky = bool(info["resample_before_split"])
    if info.get("samples") == "windows":
        pool, rows = _windows(spec)
    elif leaky:  # resample everything, then split the samples
        pool = methods.resample_pool(
            spec.method.inputs,
            data.y,
            spec.method.switches,
            spec.profile,
            protocols.seed_for(spec.seed, spec.repeat, 7),
        )
        rows = _sample_rows(data.rows, pool)
    else:
        pool = methods.originals(spec.method.inputs, data.y)
        rows = _sample_rows(data.rows, pool)
    folds = protocols.splits(rows, spec.protocol, spec.seed, spec.repeat)
    return Plan(pool, rows, folds, leaky, not leaky and info.get("samples") != "windows")


def _windows(spec: RunSpec) -> tuple[methods.Pool, pd.DataFrame]:
    """Every clip cut into the profile's windows: ``per_clip`` windows of ``n_frames`` frames at
    ``stride`` frames of the longer stage-1 sampling."""
    if spec.method.reads != "frames":
        raise ValueError(f"{spec.method.name}: the window protocol needs a method reading frames")
    if spec.data.windows is None:
        raise ValueError("the window protocol needs the longer stage-1 sampling (none given)")
    long_X, keep = spec.data.windows()
    per_clip, stride = window_shape(spec.profile)
    T = int(spec.profile["n_frames"])
    clip_index = np.flatnonzero(keep)
    parts, origin, which = [], [], []
    for w in range(per_clip):
        parts.append(long_X[:, w * stride : w * stride + T])
        origin.append(clip_index)
        which.append(np.full(len(clip_index), w))
    X = np.stack(parts, axis=1).reshape((-1, T) + long_X.shape[2:])  # clip-major
    origin = np.stack(origin, axis=1).ravel()
    which = np.stack(which, axis=1).ravel()
    y = spec.data.y[origin]
    pool = methods.Pool(X, y, origin, np.full(len(y), "window"), None)
    rows = _sample_rows(spec.data.rows, pool).assign(window=which)
    return pool, rows


def count(spec: RunSpec) -> int:
    """How many folds a run has, without making its samples: protocols that split samples at
    random (clips, copies, windows) have one; subject-wise ones as many as their split gives."""
    if spec.info["split"] == "clip":
        return 1
    return len(protocols.splits(spec.data.rows, spec.protocol, spec.seed, spec.repeat))


def window_shape(profile: Profile) -> tuple[int, int]:
    """``(windows per clip, stride)`` of the profile's ``windows``."""
    w = profile.get("windows") or {}
    if not w:
        raise ValueError("the profile defines no windows (profiles.yaml: windows)")
    return int(w["per_clip"]), int(w["stride"])


def _sample_rows(rows: pd.DataFrame, pool: methods.Pool) -> pd.DataFrame:
    """Subject, clip and label of every sample (SMOTE interpolations: subject '(synthetic)')."""
    subjects = rows["subject"].astype(str).to_numpy()
    clips = (
        rows["clip"].astype(str).to_numpy()
        if "clip" in rows
        else np.array([str(i) for i in range(len(rows))])
    )
    synthetic = pool.kind == "synthetic"
    safe = np.where(synthetic, 0, pool.origin)
    return pd.DataFrame(
        {
            "subject": np.where(synthetic, "(synthetic)", subjects[safe]),
            "clip": np.where(synthetic, "(synthetic)", clips[safe]),
            "label": [CLASSES[i] for i in pool.y],
        }
    )


# ----------------------------------------------------------------------------- one fold
def execute(spec: RunSpec, f: int, plan: Plan | None = None) -> FoldResult:
    """The fold executor: fold ``f`` of a run, its samples and folds made first unless ``plan``
    gives them, then fitted (:func:`fit_fold`). The local run and a Dask worker both call it
    (through :func:`mer_utils.experiment.execute`)."""
    return fit_fold(spec, prepare(spec) if plan is None else plan, f)


def fit_fold(spec: RunSpec, plan: Plan, f: int) -> FoldResult:
    """Fold ``f`` of a run: resample its training part (unless the run resampled everything
    first), train, predict its test part."""
    start, cpu = time.perf_counter(), time.process_time()
    method, prof = spec.method, spec.profile
    pool, split = plan.pool, plan.folds[f]
    fold_seed = protocols.seed_for(spec.seed, spec.repeat, f)
    y_train = pool.y[split.train]
    if plan.leaky:
        X_tr, y_tr, smote_info = pool.X[split.train], y_train, None
    else:
        part = methods.resample_pool(pool.X[split.train], y_train, method.switches, prof, fold_seed)
        X_tr, y_tr, smote_info = part.X, part.y, part.smote_info
    weights = methods.training_weights(y_tr, method.switches)
    pred, fit = method.fit_predict(
        X_tr, y_tr, weights, pool.X[split.val], pool.y[split.val], pool.X[split.test], fold_seed
    )
    test = split.test
    return FoldResult(
        fold=split.name,
        n_train=len(split.train),
        n_val=len(split.val),
        n_test=len(test),
        info=split.info,
        counts={
            name: np.bincount(labels, minlength=len(CLASSES)).tolist()
            for name, labels in (
                ("train", y_train),
                ("train_resampled", y_tr),
                ("val", pool.y[split.val]),
                ("test", pool.y[test]),
            )
        },
        test={
            "subject": plan.rows["subject"].to_numpy()[test].tolist(),
            "clip": plan.rows["clip"].to_numpy()[test].tolist(),
            "sample": pool.kind[test].tolist(),
            "true": pool.y[test].tolist(),
            "pred": np.asarray(pred, dtype=int).tolist(),
        },
        leak=None if plan.clips else leak_summary(pool, split),
        smote_info=_plain_smote(smote_info),
        weights=None if weights is None else {CLASSES[k]: w for k, w in weights.items()},
        epochs=fit.get("epochs"),
        best_epoch=fit.get("best_epoch"),
        train_confusion=train_confusion(y_tr, fit["train_pred"]),
        **_by_epoch(fit),
        seconds=round(time.perf_counter() - start, 3),
        cpu_seconds=round(time.process_time() - cpu, 3),
        device=models.device_info(),
        precision=method.precision(),
    )


def _by_epoch(fit: dict) -> dict:
    """The per-epoch test predictions of a method that keeps them (a ``flownet`` or ``cnn`` method),
    so that the same training can be scored with another epoch choice; nothing otherwise."""
    if fit.get("test_by_epoch") is None:
        return {}
    return {
        "test_by_epoch": [[int(p) for p in preds] for preds in fit["test_by_epoch"]],
        "val_loss": [float(v) for v in fit["val_loss"]],
    }


def train_confusion(y: np.ndarray, pred: np.ndarray) -> list[int]:
    """The confusion matrix (rows true, columns predicted, CLASSES order, row-major) of the
    fitted model on the samples it was trained on: the fold's fit on its training part."""
    y, pred, k = np.asarray(y, dtype=int), np.asarray(pred, dtype=int), len(CLASSES)
    if len(y) != len(pred):
        raise ValueError(f"{len(pred)} training predictions for {len(y)} training samples")
    return np.bincount(y * k + pred, minlength=k * k).astype(int).tolist()


def _plain_smote(info: dict | None) -> dict | None:
    if info is None:
        return None
    return {k: v for k, v in info.items() if k != "sources"} | {
        "added": int(len(info.get("sources", [])))
    }


def leak_summary(pool: methods.Pool, split: protocols.Split) -> dict:
    """How much of a test part comes from clips that are also in the training part: test
    samples, augmented copies and SMOTE samples among them, and test samples made from a clip
    (for SMOTE: from either of its two clips) that also has a sample in training."""
    test = np.asarray(split.test, dtype=int)
    train_clips = pool.sources(split.train)
    leaked = sum(
        bool({int(pool.origin[i]), int(pool.origin_b[i])} - {-1} & train_clips) for i in test
    )
    return {
        "test_samples": int(len(test)),
        "test_augmented_copies": int(np.sum(pool.kind[test] == "augmented")),
        "test_synthetic": int(np.sum(pool.kind[test] == "synthetic")),
        "test_from_a_clip_in_training": int(leaked),
        "distinct_test_clips": int(len(pool.sources(test))),
    }


# ----------------------------------------------------------------------------- the fold key
TRAINING_KEYS = (
    "epochs",
    "batch_size",
    "patience",
    "learning_rate",
    "augmentation",
    "model",
    "mixed_precision",
)
"""The profile values a fold's training reads (its data fix frame size and count)."""

PROTOCOL_KEYS = ("split", "folds", "resample_before_split", "samples")
"""The protocol facts that decide a fold (not its prose)."""


def fold_key(spec: RunSpec, fold: int) -> str:
    """Everything fold ``fold`` of a run depends on, hashed (see the module docstring)."""
    info = spec.info
    payload = {
        "data": spec.data.digest,
        "method": spec.method.params(),
        "protocol": {k: info.get(k) for k in PROTOCOL_KEYS},
        "training": {k: spec.profile.get(k) for k in TRAINING_KEYS},
        "windows": _windows_key(spec) if info.get("samples") == "windows" else None,
        "seed": int(spec.seed),
        "repeat": int(spec.repeat),
        "fold": int(fold),
        "code": code_digest(spec.method),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _windows_key(spec: RunSpec) -> dict:
    """What a window run's folds depend on beyond the clips: the windows and the denser
    sampling they are cut from (its digest)."""
    long_X, keep = spec.data.windows()
    h = hashlib.sha256(np.ascontiguousarray(long_X).tobytes())
    h.update(np.asarray(keep).tobytes())
    return {"windows": spec.profile.get("windows"), "frames": h.hexdigest()}


def code_digest(method: methods.Method) -> str:
    """SHA-256 of the code a fold of ``method`` runs: the import closure of this module and of
    the method's plug-in module (:func:`mer_utils.code.digest`; docstrings and comments left
    out, so editing prose changes nothing)."""
    return code.digest(fit_roots(method))


def fit_roots(method: methods.Method) -> tuple[str, ...]:
    """The module files a fold of ``method`` starts from: this module and its plug-in's."""
    return (code.module_file(__name__), code.module_file(type(method).__module__))


def code_digests() -> dict[str, str]:
    """:func:`code_digest` of every kind of method, computed now (a process that computes fold
    keys in threads calls this first: Python 3.11's ``ast.parse`` is not safe in two threads at
    once, CPython gh-106905)."""
    here = code.module_file(__name__)
    return {
        kind: code.digest((here, code.module_file(methods.plugin(kind).__module__)))
        for kind in methods.kinds()
    }


def result_digest(result: FoldResult) -> str:
    """SHA-256 of a fold result as stored: a hand edit of its predictions breaks it."""
    return hashlib.sha256(json.dumps(result.to_json(), sort_keys=True).encode()).hexdigest()


class FoldStore:
    """Finished folds on disk, one JSON file per fold key under ``<results dir>/folds/``.

    A page that is interrupted keeps the folds it finished; re-run, it fits only the rest. On a
    Dask cluster the runner fits folds as separate tasks and puts them here, and the pages then
    only gather them. Files are written atomically with the digest of their result; an
    unreadable or foreign file, one of another shape, one whose result no longer matches its
    digest (edited by hand) and, under the runner's ``--force``, one written before the run
    started (:data:`mer_utils.config.REFIT_ENV`) are ignored (logged) and their fold refitted.
    """

    def __init__(self, results_dir: str | Path):
        self.root = Path(results_dir) / "folds"

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> FoldResult | None:
        path = self.path(key)
        try:
            stored = json.loads(path.read_text())
            if not isinstance(stored, dict) or stored.get("key") != key:
                raise ValueError("not this fold's file")
            result = FoldResult.from_json(stored.get("result"))
            if stored.get("digest") != result_digest(result):
                raise ValueError("its result does not match its digest (edited?)")
            before = os.environ.get(config.REFIT_ENV)
            if before and float(stored.get("written", 0)) < float(before):
                logger.info("fold store: %s predates this --force run; the fold is refitted", path)
                return None
            return result
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            logger.warning("fold store: %s unusable (%s); the fold is refitted", path, exc)
            return None

    def put(self, key: str, result: FoldResult) -> Path:
        plain = json.loads(json.dumps(result.to_json(), default=atomic.json_default))
        result = FoldResult.from_json(plain)  # as read back
        stored = {"key": key, "result": plain, "digest": result_digest(result)}
        return atomic.write_json(self.path(key), stored | {"written": time.time()})
